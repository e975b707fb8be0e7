"""Posting throughput: goods movements per second through the books on a SQLite file.

One deterministic stream of mixed movements (receipts at varying prices, consumption, scrap,
count differences, deliveries, transfers out and in, returns to the vendor, revaluations),
each in its own write transaction as the ops commands run them:
- baseline: only the stock moves, booked with central.stock_booking.book_stock_move;
- postings: the same stock moves plus `post_movement` (journal entry, valuation layers,
  document, idempotency record, hash chain) in the same transaction.
Each runs on its own fresh database, twice, alternating; the best run of each counts. The
figure that matters is the ratio postings / baseline time; absolute rates vary by machine.
After the timed runs the books are checked with `check_books` (not timed).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory
from uuid import UUID, uuid4

from sqlalchemy import Engine
from sqlmodel import Session

from central.domain.accounting import LedgerConfig, Movement, MovementType
from central.ledger import check_books, post_movement
from central.stock_booking import StockBooking, book_stock_move
from central.store import tables as t
from central.store.db import UnitOfWork, make_engine, upgrade
from contracts.envelope import utc_now
from firmware_sim import gs1

SITES = ("BENCH1", "BENCH2")
ITEMS = tuple(gs1.gtin14("4012345", n) for n in range(1, 21))
BIN = "BIN-1"
SEED = 2026
T = MovementType
CONFIG = LedgerConfig()
_ZERO = Decimal(0)


@dataclass(frozen=True)
class Step:
    """One movement and the stock moves it books: (site, signed quantity)."""

    movement: Movement
    stock: tuple[tuple[str, Decimal], ...]


@dataclass(frozen=True)
class PostingFigures:
    """Best-of-runs figures for one stream."""

    movements: int
    stock_moves: int
    kinds: dict[str, int]
    baseline_s: float
    postings_s: float
    baseline_transactions_per_s: float
    postings_per_s: float
    ratio: float
    overhead_ms_per_movement: float
    runs: int
    books_ok: bool


@dataclass
class _Model:
    """What the generator needs to keep every movement valid."""

    rng: random.Random
    at: datetime
    on_hand: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    receipts: list[tuple[UUID, str, str, Decimal]] = field(default_factory=list)
    in_transit: list[tuple[UUID, str, str, Decimal]] = field(default_factory=list)

    def movement(
        self,
        kind: MovementType,
        site: str,
        item: str,
        qty: Decimal,
        *,
        unit_price: Decimal | None = None,
        reference: UUID | None = None,
        to_site: str | None = None,
    ) -> Movement:
        self.at += timedelta(minutes=1)
        return Movement(
            uuid4(),
            kind,
            site,
            item,
            qty,
            self.at,
            unit_price=unit_price,
            reference=reference,
            to_site=to_site,
        )

    def stocked(self) -> tuple[str, str] | None:
        places = sorted(k for k, q in self.on_hand.items() if q > 0)
        return self.rng.choice(places) if places else None

    def change(self, site: str, item: str, qty: Decimal) -> tuple[str, Decimal]:
        self.on_hand[(site, item)] = self.on_hand.get((site, item), _ZERO) + qty
        return site, qty


def _receipt(m: _Model) -> Step:
    site, item = m.rng.choice(SITES), m.rng.choice(ITEMS)
    qty = Decimal(m.rng.randint(5, 50))
    price = Decimal(m.rng.randint(100, 2000)).scaleb(-2)
    movement = m.movement(T.GOODS_RECEIPT, site, item, qty, unit_price=price)
    m.receipts.append((movement.event_id, site, item, qty))
    return Step(movement, (m.change(site, item, qty),))


def _next(m: _Model) -> Step:
    """A random valid movement; a receipt when the drawn kind has nothing to work on."""
    roll = m.rng.random()
    place = m.stocked()
    if roll < 0.30 or place is None:
        return _receipt(m)
    site, item = place
    on_hand = m.on_hand[place]
    qty = min(on_hand, Decimal(m.rng.randint(1, 10)))
    if roll < 0.55:
        kind = m.rng.choice([T.CONSUMPTION, T.CONSUMPTION, T.SCRAP, T.COUNT_SHORTAGE])
        return Step(m.movement(kind, site, item, qty), (m.change(site, item, -qty),))
    if roll < 0.60:
        return Step(m.movement(T.COUNT_SURPLUS, site, item, qty), (m.change(site, item, qty),))
    if roll < 0.70:
        movement = m.movement(T.DELIVERY_DISPATCH, site, item, qty)
        return Step(movement, (m.change(site, item, -qty),))
    if roll < 0.80:
        to_site = SITES[1 - SITES.index(site)]
        movement = m.movement(T.TRANSFER_DISPATCH, site, item, qty, to_site=to_site)
        m.in_transit.append((movement.event_id, to_site, item, qty))
        return Step(movement, (m.change(site, item, -qty),))
    if roll < 0.90:
        if not m.in_transit:
            return _receipt(m)
        dispatch, to_site, item, qty = m.in_transit.pop(0)
        movement = m.movement(T.TRANSFER_RECEIPT, to_site, item, qty, reference=dispatch)
        return Step(movement, (m.change(to_site, item, qty),))
    if roll < 0.95:
        for n, (receipt, r_site, r_item, r_qty) in enumerate(m.receipts):
            back = min(r_qty, m.on_hand.get((r_site, r_item), _ZERO), Decimal(3))
            if back > 0:
                m.receipts[n] = (receipt, r_site, r_item, r_qty - back)
                movement = m.movement(T.RETURN_TO_VENDOR, r_site, r_item, back, reference=receipt)
                return Step(movement, (m.change(r_site, r_item, -back),))
        return _receipt(m)
    price = Decimal(m.rng.randint(100, 2000)).scaleb(-2)
    return Step(m.movement(T.REVALUATION, site, item, on_hand, unit_price=price), ())


def stream(count: int, *, seed: int = SEED) -> list[Step]:
    """`count` valid mixed movements, the same for a given seed."""
    model = _Model(random.Random(seed), utc_now() - timedelta(days=60))
    return [_next(model) for _ in range(count)]


def _seed(engine: Engine) -> tuple[dict[str, t.Location], dict[str, t.Item]]:
    with Session(engine, expire_on_commit=False) as session:
        for site in SITES:
            session.add(t.Site(code=site, name=f"bench {site}", created_at=utc_now()))
        session.flush()
        bins = {
            site: t.Location(site_code=site, code=BIN, kind="bin", x=_ZERO, y=_ZERO, z=_ZERO)
            for site in SITES
        }
        items = {gtin: t.Item(gtin=gtin, name=f"item {gtin}") for gtin in ITEMS}
        session.add_all([*bins.values(), *items.values()])
        session.commit()
    return bins, items


def _run(workdir: Path, name: str, steps: list[Step], *, post: bool) -> tuple[float, bool]:
    """Seconds to book the stream; and whether check_books found the books sound."""
    url = f"sqlite:///{workdir / f'{name}.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        bins, items = _seed(engine)
        start = time.perf_counter()
        for step in steps:
            if not post and not step.stock:
                continue  # a revaluation moves no stock: nothing for the baseline to do
            with UnitOfWork(engine, write_lock=True) as uow:
                m = step.movement
                for site, qty in step.stock:
                    location = bins[site]
                    book_stock_move(
                        uow.session,
                        StockBooking(
                            site,
                            location if qty < 0 else None,
                            location if qty > 0 else None,
                            items[m.item],
                            None,
                            None,
                            abs(qty),
                            m.event_id,
                        ),
                        now=m.occurred_at,
                    )
                if post:
                    post_movement(uow.session, m, config=CONFIG)
                uow.commit()
        elapsed = time.perf_counter() - start
        sound = True
        if post:
            with Session(engine) as session:
                sound = check_books(session, CONFIG) == []
        return elapsed, sound
    finally:
        engine.dispose()


def run(movements: int = 1000, *, runs: int = 2) -> PostingFigures:
    """Time the stream without and with postings, `runs` times each, alternating."""
    steps = stream(movements)
    baseline: list[float] = []
    postings: list[float] = []
    sound = True
    with TemporaryDirectory() as tmp:
        for n in range(runs):
            baseline.append(_run(Path(tmp), f"baseline-{n}", steps, post=False)[0])
            elapsed, ok = _run(Path(tmp), f"postings-{n}", steps, post=True)
            postings.append(elapsed)
            sound = sound and ok
    kinds = Counter(step.movement.movement_type.value for step in steps)
    transactions = sum(1 for s in steps if s.stock)
    base, with_postings = min(baseline), min(postings)
    return PostingFigures(
        movements=len(steps),
        stock_moves=sum(len(s.stock) for s in steps),
        kinds=dict(sorted(kinds.items())),
        baseline_s=round(base, 3),
        postings_s=round(with_postings, 3),
        baseline_transactions_per_s=round(transactions / base, 1),
        postings_per_s=round(len(steps) / with_postings, 1),
        ratio=round(with_postings / base, 2),
        overhead_ms_per_movement=round((with_postings - base) / len(steps) * 1000, 2),
        runs=runs,
        books_ok=sound,
    )


def _table(f: PostingFigures) -> str:
    rows = [
        ("movements in the stream", f"{f.movements} ({f.stock_moves} stock moves)"),
        (
            "stock moves only (baseline)",
            f"{f.baseline_s:.2f} s, {f.baseline_transactions_per_s} tx/s",
        ),
        ("stock moves + postings", f"{f.postings_s:.2f} s, {f.postings_per_s} postings/s"),
        ("ratio postings / baseline", f"{f.ratio}x"),
        ("posting overhead per movement", f"{f.overhead_ms_per_movement} ms"),
        ("books sound after the run", "yes" if f.books_ok else "NO"),
    ]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def main(results_dir: Path, *, movements: int = 1000) -> dict[str, object]:
    """Run, write results/postings.json, print a small table, return the figures."""
    figures = run(movements)
    result = asdict(figures)
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "postings.json").write_text(json.dumps(result, indent=2))
    sys.stdout.write(_table(figures) + "\n")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.postings")
    parser.add_argument("--movements", type=int, default=1000, help="length of the stream")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    main(Path(__file__).with_name("results"), movements=args.movements)
