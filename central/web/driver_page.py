"""The driver's route page: one HTML document, phone first, that works without JavaScript.

Each report is a plain form posted to the route's action endpoint. Every rendered form carries
its own fresh `id` (DriverEventIn's idempotency key), so sending the same form twice, or the
browser re-posting it, counts once. All text from the route is escaped.
"""

from __future__ import annotations

import html
import uuid
from datetime import datetime
from http import HTTPStatus

from central.routes_schemas import RouteAlertPublic, RouteStatusPublic, StopStatusPublic
from central.web.driver_links import driver_actions_path
from central.web.route_format import (
    OPEN_STATES,
    changed_eta,
    clock,
    in_sequence,
    late_minutes,
    next_stop,
    quantity,
    state_label,
    window,
)

FAILURE_REASONS = (
    "Customer closed",
    "Nobody to receive",
    "Refused by customer",
    "Goods damaged",
    "No access to site",
    "Wrong address",
    "Out of time",
)
_REASONS_ID = "failure-reasons"

_CSS = """
*{box-sizing:border-box}
body{margin:0;font:16px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:#1a1a1a;background:#f2f3f5}
header.top{background:#1f3a5f;color:#fff;padding:12px 16px}
header.top h1{margin:0;font-size:1.5rem}
header.top p{margin:4px 0 0}
header.top a{color:#fff}
main{padding:12px;max-width:40rem;margin:0 auto}
.message{background:#fff8d6;border:1px solid #e0c200;border-radius:8px;padding:12px;
font-weight:600}
.alerts{background:#fdecea;border:1px solid #d93025;border-radius:8px;padding:8px 12px;
margin:12px 0}
.alerts h2{font-size:1rem;margin:0 0 4px;color:#a50e0e}
.alerts ul{margin:0;padding-left:20px}
ol.stops{list-style:none;margin:0;padding:0}
.card{background:#fff;border-radius:10px;padding:12px;margin:12px 0;
box-shadow:0 1px 3px rgba(0,0,0,.15);border-left:6px solid #9aa0a6}
.card.next{border-left-color:#1a73e8;box-shadow:0 0 0 3px #1a73e8}
.card.stop-delivered{border-left-color:#188038;opacity:.75}
.card.stop-failed{border-left-color:#d93025;opacity:.75}
.card h2{margin:0;font-size:1.15rem}
.seq{display:inline-block;min-width:2rem;padding:2px 6px;margin-right:6px;border-radius:6px;
background:#1f3a5f;color:#fff;text-align:center;font-weight:700}
.badge{display:inline-block;padding:2px 8px;border-radius:12px;background:#e8eaed;
font-size:.85rem}
.next-label{color:#1a73e8;font-weight:700}
.late{color:#d93025;font-weight:700}
.muted{color:#5f6368}
dl{display:grid;grid-template-columns:auto 1fr;gap:2px 12px;margin:8px 0}
dt{color:#5f6368}dd{margin:0}
ul.sscc{margin:4px 0;padding-left:20px;font-family:ui-monospace,monospace}
.instructions{background:#e8f0fe;border-radius:6px;padding:6px 8px}
form{margin:10px 0 0;display:grid;gap:8px}
label{display:grid;gap:2px;font-size:.95rem}
input{font:inherit;padding:10px;border:1px solid #9aa0a6;border-radius:6px;width:100%}
button{font:inherit;font-weight:700;min-height:48px;border:0;border-radius:8px;
padding:10px 16px;color:#fff;background:#1a73e8;width:100%}
button.ok{background:#188038}
button.bad{background:#d93025}
details.fail{margin-top:10px}
details.fail>summary{color:#d93025;font-weight:600;padding:8px 0}
"""


def render_driver_page(route: RouteStatusPublic, *, token: str, message: str | None = None) -> str:
    """The route's driver page; `message` (a report's outcome or an error) shows on top."""
    action = driver_actions_path(route.route_id, token)
    upcoming = next_stop(route)
    stops_open = route.state != "completed"
    parts: list[str] = []
    if message:
        parts.append(f'<p class="message" role="status">{_e(message)}</p>')
    if route.alerts:
        parts.append(_alerts(route))
    if route.state == "planned":
        parts.append(_form(action, "departed", button="Departed", css="ok"))
    parts.append('<ol class="stops">')
    for stop in in_sequence(route):
        is_next = upcoming is not None and stop.sequence == upcoming.sequence
        parts.append(_card(route, stop, action, is_next=is_next, actions=stops_open))
    parts.append("</ol>")
    if route.state == "under_way":
        parts.append(_back_at_site(route, action))
    parts.append('<p class="muted">All times UTC.</p>')
    if stops_open:
        # Suggestions for the failed-delivery reason; the driver may type any other.
        options = "".join(f'<option value="{_e(reason)}">' for reason in FAILURE_REASONS)
        parts.append(f'<datalist id="{_REASONS_ID}">{options}</datalist>')
    title = f"{route.vehicle_ref} · {route.date.isoformat()}"
    return _document(title, _top(route, upcoming), "\n".join(parts))


def render_driver_error(message: str, status: int) -> str:
    """A page for a link that does not open a route (bad or expired token, unknown route)."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    header = f'<header class="top"><h1>{status} {_e(reason)}</h1></header>'
    main = (
        f'<p class="message" role="alert">{_e(message)}</p>\n'
        "<p>Ask the dispatcher for a new link to your route.</p>"
    )
    return _document(f"{status} {reason}", header, main)


def _document(title: str, header: str, main: str) -> str:
    # The token is in the page's URL: no referrer leaves the page with it.
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="robots" content="noindex, nofollow">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"{header}\n<main>\n{main}\n</main>\n</body>\n</html>\n"
    )


def _top(route: RouteStatusPublic, upcoming: StopStatusPublic | None) -> str:
    done = sum(1 for stop in route.stops if stop.state not in OPEN_STATES)
    lines = [
        f"<h1>{_e(route.vehicle_ref)}</h1>",
        f"<p>{_e(route.site)} · {route.date.isoformat()} · "
        f'<strong class="route-state">{_e(state_label(route.state))}</strong> · '
        f"{done}/{len(route.stops)} stops done</p>",
    ]
    if upcoming is not None:
        if upcoming.state == "arrived":
            status = "arrived" + _at(route, upcoming.arrived_at)
        else:
            eta = upcoming.predicted_eta or upcoming.eta
            status = f"ETA {clock(eta, day=route.date)}"
        lines.append(
            f'<p class="next-stop">Next: <a href="#stop-{upcoming.sequence}">'
            f"{upcoming.sequence}. {_e(upcoming.customer)}</a> · {status}</p>"
        )
    return '<header class="top">' + "".join(lines) + "</header>"


def _alerts(route: RouteStatusPublic) -> str:
    items = "".join(_alert(route, alert) for alert in route.alerts)
    return f'<section class="alerts" aria-label="Alerts"><h2>Alerts</h2><ul>{items}</ul></section>'


def _alert(route: RouteStatusPublic, alert: RouteAlertPublic) -> str:
    return (
        f'<li class="alert alert-{_e(alert.kind)}">{_e(alert.message)} '
        f'<span class="muted">{clock(alert.created_at, day=route.date)}</span></li>'
    )


def _card(
    route: RouteStatusPublic,
    stop: StopStatusPublic,
    action: str,
    *,
    is_next: bool,
    actions: bool,
) -> str:
    css = f"card stop-{_e(stop.state)}" + (" next" if is_next else "")
    parts = [
        f'<li class="{css}" id="stop-{stop.sequence}">',
        '<span class="next-label">Next stop</span>' if is_next else "",
        f'<h2><span class="seq">{stop.sequence}</span>{_e(stop.customer)}</h2>',
        f'<span class="badge">{_e(state_label(stop.state))}</span>',
    ]
    if stop.address:
        parts.append(
            f'<p class="address">{_e(stop.address)} '
            f'<a href="geo:{stop.lat},{stop.lon}?q={stop.lat},{stop.lon}">Map</a></p>'
        )
    parts.append(_times(route, stop))
    parts.append(_pallets(stop, is_next=is_next))
    if stop.instructions:
        parts.append(f'<p class="instructions">{_e(stop.instructions)}</p>')
    outcome = _outcome(route, stop)
    if outcome:
        parts.append(f'<p class="outcome">{outcome}</p>')
    if actions and stop.state in OPEN_STATES:
        parts.append(_stop_forms(stop, action))
    parts.append("</li>")
    return "\n".join(part for part in parts if part)


def _times(route: RouteStatusPublic, stop: StopStatusPublic) -> str:
    eta = clock(stop.eta, day=route.date)
    moved = changed_eta(stop)
    if moved is not None:
        eta += f' <span class="predicted">now {clock(moved, day=route.date)}</span>'
    late = late_minutes(stop)
    if late:
        eta += f' <strong class="late">late by {late} min</strong>'
    return (
        f"<dl><dt>Ref</dt><dd>{_e(stop.reference)}</dd>"
        f"<dt>Window</dt><dd>{window(stop.window_earliest, stop.window_latest)}</dd>"
        f"<dt>ETA</dt><dd>{eta}</dd></dl>"
    )


def _pallets(stop: StopStatusPublic, *, is_next: bool) -> str:
    summary = f"{stop.demand_pallets} pallets · {quantity(stop.demand_kg)} kg"
    if not stop.pallets:
        return f'<p class="pallets">{summary}</p>'
    codes = "".join(f"<li>{_e(code)}</li>" for code in stop.pallets)
    # Open at the stop the driver is heading to: those are the SSCCs to unload now.
    opened = " open" if is_next else ""
    return (
        f'<details class="pallets"{opened}><summary>{summary}</summary>'
        f'<ul class="sscc">{codes}</ul></details>'
    )


def _outcome(route: RouteStatusPublic, stop: StopStatusPublic) -> str:
    if stop.state == "delivered":
        text = "Delivered" + _at(route, stop.done_at)
        return text + (f", received by {_e(stop.received_by)}" if stop.received_by else "")
    if stop.state == "failed":
        text = "Failed" + _at(route, stop.done_at)
        return text + (f": {_e(stop.failed_reason)}" if stop.failed_reason else "")
    if stop.state == "arrived":
        return "Arrived" + _at(route, stop.arrived_at)
    return ""


def _at(route: RouteStatusPublic, when: datetime | None) -> str:
    return "" if when is None else f" at {clock(when, day=route.date)}"


def _stop_forms(stop: StopStatusPublic, action: str) -> str:
    forms = []
    if stop.state == "pending":
        forms.append(_form(action, "arrived", stop=stop.sequence, button="Arrived"))
    forms.append(
        _form(
            action,
            "delivered",
            stop=stop.sequence,
            button="Delivered",
            css="ok",
            fields=(
                '<label>Received by <input name="received_by" required maxlength="120" '
                'pattern=".*\\S.*" autocomplete="off"></label>'
                '<label>Note <input name="note" maxlength="500"></label>'
            ),
        )
    )
    failed = _form(
        action,
        "failed",
        stop=stop.sequence,
        button="Failed",
        css="bad",
        fields=(
            f'<label>Reason <input name="reason" list="{_REASONS_ID}" required maxlength="200" '
            'pattern=".*\\S.*" autocomplete="off"></label>'
            '<label>Note <input name="note" maxlength="500"></label>'
        ),
    )
    # Behind a fold: a failed delivery is the exception, and should take a deliberate tap.
    forms.append(f'<details class="fail"><summary>Could not deliver…</summary>{failed}</details>')
    return "\n".join(forms)


def _back_at_site(route: RouteStatusPublic, action: str) -> str:
    still_open = sum(1 for stop in route.stops if stop.state in OPEN_STATES)
    warning = (
        f'<p class="late">{still_open} stop{"" if still_open == 1 else "s"} not done yet.</p>'
        if still_open
        else ""
    )
    return warning + _form(action, "returned", button="Back at site")


def _form(
    action: str,
    event: str,
    *,
    button: str,
    stop: int | None = None,
    css: str = "",
    fields: str = "",
) -> str:
    hidden = [
        f'<input type="hidden" name="id" value="{uuid.uuid4()}">',
        f'<input type="hidden" name="type" value="{event}">',
    ]
    if stop is not None:
        hidden.append(f'<input type="hidden" name="stop" value="{stop}">')
    button_css = f' class="{css}"' if css else ""
    return (
        f'<form method="post" action="{_e(action)}" class="action action-{event}">'
        + "".join(hidden)
        + fields
        + f'<button type="submit"{button_css}>{button}</button></form>'
    )


def _e(text: str) -> str:
    return html.escape(text, quote=True)
