"""A top view of a load plan as SVG: positions, pallet ids, stops, supports and the doors.

The front wall is on the left, the doors on the right; a double deck is drawn as two floors, and
a stacked position shows the bottom pallet above the top one.
"""

from __future__ import annotations

from decimal import Decimal
from xml.sax.saxutils import escape

from central.optimizers.loading_model import LoadPlan, Placement, TrailerType

_SCALE = 80  # pixels per metre
_MARGIN = 40
_DECK_GAP = 60
_COLOURS = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)


def _px(metres: Decimal) -> float:
    return float(metres) * _SCALE


def _label(placement: Placement) -> str:
    short = placement.pallet_id[-6:]
    return f"{short} S{placement.stop_index}"


def trailer_svg(plan: LoadPlan, trailer: TrailerType) -> str:
    """The plan drawn on the trailer's floor (one floor per deck), as an SVG document."""
    length = _px(trailer.length_m)
    width = _px(trailer.position_width_m * trailer.columns)
    left = _MARGIN + max(0.0, -_px(trailer.kingpin_m))
    deck_height = width + _DECK_GAP
    total_w = left + max(length, _px(trailer.rear_axle_m)) + 2 * _MARGIN + 40
    total_h = _MARGIN + trailer.decks * deck_height + 70
    by_slot: dict[tuple[int, int, int], list[Placement]] = {}
    for pl in plan.placements:
        by_slot.setdefault((pl.deck, pl.row, pl.column), []).append(pl)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w:.0f}" height="{total_h:.0f}" '
        f'font-family="sans-serif" font-size="11">',
        f"<title>{escape(trailer.name)}: {plan.status.value}</title>",
    ]
    cell_l = _px(trailer.position_length_m)
    cell_w = _px(trailer.position_width_m)
    for deck in range(trailer.decks):
        top = _MARGIN + deck * deck_height
        name = f"deck {deck + 1}" if trailer.decks > 1 else "floor"
        out.append(f'<text x="{left:.1f}" y="{top - 8:.1f}">{escape(name)} (front wall)</text>')
        out.append(
            f'<rect x="{left:.1f}" y="{top:.1f}" width="{length:.1f}" height="{width:.1f}" '
            'fill="#f4f4f4" stroke="#333" stroke-width="2"/>'
        )
        door_x = left + length
        out.append(
            f'<line x1="{door_x:.1f}" y1="{top:.1f}" x2="{door_x:.1f}" y2="{top + width:.1f}" '
            'stroke="#c00" stroke-width="6"/>'
        )
        out.append(
            f'<text x="{door_x + 8:.1f}" y="{top + width / 2:.1f}" fill="#c00" '
            f'transform="rotate(90 {door_x + 8:.1f} {top + width / 2:.1f})" '
            'text-anchor="middle">DOORS</text>'
        )
        for row in range(trailer.rows):
            for column in range(trailer.columns):
                x = left + row * cell_l
                y = top + column * cell_w
                stack = sorted(by_slot.get((deck, row, column), []), key=lambda p: p.level)
                fill = _COLOURS[(stack[0].stop_index - 1) % len(_COLOURS)] if stack else "#ffffff"
                out.append(
                    f'<rect x="{x + 2:.1f}" y="{y + 2:.1f}" width="{cell_l - 4:.1f}" '
                    f'height="{cell_w - 4:.1f}" fill="{fill}" fill-opacity="0.55" stroke="#666"/>'
                )
                for n, pl in enumerate(stack):
                    text = _label(pl) + (" (top)" if pl.level else "")
                    out.append(
                        f'<text x="{x + cell_l / 2:.1f}" y="{y + cell_w / 2 + 4 + 13 * n:.1f}" '
                        f'text-anchor="middle">{escape(text)}</text>'
                    )
    base = _MARGIN + trailer.decks * deck_height - _DECK_GAP + 20
    for label, at in (("kingpin", trailer.kingpin_m), ("rear axles", trailer.rear_axle_m)):
        cx = left + _px(at)
        out.append(f'<path d="M{cx:.1f},{base:.1f} l-7,12 h14 z" fill="#333"/>')
        out.append(
            f'<text x="{cx:.1f}" y="{base + 25:.1f}" text-anchor="middle">{escape(label)}</text>'
        )
    if plan.cog_m is not None:
        cx = left + _px(plan.cog_m)
        out.append(
            f'<line x1="{cx:.1f}" y1="{_MARGIN:.1f}" x2="{cx:.1f}" y2="{base:.1f}" '
            'stroke="#000" stroke-dasharray="4 3"/>'
        )
    caption = (
        f"{plan.status.value}: {len(plan.placements)} pallets, {plan.load_kg} kg; "
        f"kingpin {plan.kingpin_kg} kg, rear {plan.rear_kg} kg, "
        f"CoG {plan.cog_m} m, left/right {plan.lateral_imbalance_kg} kg"
    )
    if plan.left_out:
        caption += f"; left out: {len(plan.left_out)}"
    out.append(f'<text x="{_MARGIN}" y="{base + 45:.1f}">{escape(caption)}</text>')
    out.append("</svg>")
    return "\n".join(out)
