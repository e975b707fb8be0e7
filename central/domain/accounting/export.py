"""Exports of the journal: beancount (checked by bean-check) and CSV."""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date

from central.domain.accounting.accounts import Account, ChartOfAccounts
from central.domain.accounting.journal import JournalEntry

CSV_COLUMNS = (
    "entry_id",
    "sequence",
    "posting_date",
    "occurred_at",
    "site",
    "event_id",
    "movement_type",
    "kind",
    "reverses",
    "late",
    "rules_version",
    "line_no",
    "account",
    "account_name",
    "line_site",
    "item",
    "quantity",
    "debit",
    "credit",
    "currency",
    "memo",
)


def beancount_account(account: Account) -> str:
    """The beancount name of an account, e.g. "Liabilities:2150-GRIRClearing"."""
    words = re.findall(r"[A-Za-z0-9]+", account.name)
    return f"{account.type.value}:{account.code}-{''.join(w[0].upper() + w[1:] for w in words)}"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_beancount(
    entries: Sequence[JournalEntry], accounts: ChartOfAccounts, *, open_on: date | None = None
) -> str:
    """Render entries as a beancount ledger: open directives, then one transaction each.

    Args:
        entries: journal entries (any order; beancount sorts by date).
        accounts: the chart the entries were posted with.
        open_on: date of the open directives; the earliest posting date by default.
    """
    currencies: dict[str, set[str]] = defaultdict(set)
    for entry in entries:
        for line in entry.lines:
            currencies[line.account].add(line.currency)
    first = open_on or min((e.posting_date for e in entries), default=date(1970, 1, 1))
    out: list[str] = []
    for account in accounts.accounts():
        used = ",".join(sorted(currencies.get(account.code, ())))
        out.append(f"{first.isoformat()} open {beancount_account(account)} {used}".rstrip())
        out.append(f"  name: {_quoted(account.name)}")
    for entry in entries:
        out.append("")
        title = f"{entry.movement_type} at site {entry.site}"
        out.append(f"{entry.posting_date.isoformat()} * {_quoted(title)}")
        out.append(f"  entry_id: {_quoted(str(entry.entry_id))}")
        out.append(f"  event_id: {_quoted(str(entry.event_id))}")
        out.append(f"  kind: {_quoted(entry.kind.value)}")
        out.append(f"  occurred_at: {_quoted(entry.occurred_at.isoformat())}")
        if entry.reverses is not None:
            out.append(f"  reverses: {_quoted(str(entry.reverses))}")
        if entry.late:
            out.append('  late: "true"')
        for line in entry.lines:
            name = beancount_account(accounts.by_code(line.account))
            amount = line.amount if line.amount else abs(line.amount)
            out.append(f"  {name}  {amount:f} {line.currency}")
            out.append(f"    site: {_quoted(line.site)}")
            if line.item is not None:
                out.append(f"    item: {_quoted(line.item)}")
            if line.quantity is not None:
                out.append(f"    quantity: {_quoted(f'{line.quantity:f}')}")
            if line.memo:
                out.append(f"    memo: {_quoted(line.memo)}")
    return "\n".join(out) + "\n"


def to_csv(entries: Iterable[JournalEntry], accounts: ChartOfAccounts) -> str:
    """One CSV row per journal line, with its entry's header fields (CSV_COLUMNS)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        for line in e.lines:
            writer.writerow(
                (
                    e.entry_id,
                    e.sequence,
                    e.posting_date.isoformat(),
                    e.occurred_at.isoformat(),
                    e.site,
                    e.event_id,
                    e.movement_type.value,
                    e.kind.value,
                    e.reverses or "",
                    "true" if e.late else "false",
                    e.rules_version,
                    line.line_no,
                    line.account,
                    accounts.by_code(line.account).name,
                    line.site,
                    line.item or "",
                    "" if line.quantity is None else f"{line.quantity:f}",
                    f"{line.debit:f}",
                    f"{line.credit:f}",
                    line.currency,
                    line.memo,
                )
            )
    return buffer.getvalue()
