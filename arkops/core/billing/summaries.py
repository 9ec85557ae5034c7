"""The ledger archive's monthly summaries: what the reports need from settled invoices, without reading them.

`payments report`, `payments cohorts`, `arkops status` and the HTML report
read, from `archive/ledger/`, only the revenue of the paid invoices there
(MRR comes from subscriptions, which stay in the hot ledger). Each month
file keeps a summary (`archive/ledger/summaries/<YYYY-MM>.json`, see
`arkops.store.archive`): the amount paid on its invoices by the local month
they were paid in (keyed by that month's first instant) and currency, and
the ids of the invoices counted, which name no person. It is written by the
retention run that archives the month (`refresh_summaries` runs after
`archive_settled_invoices`), made again by the next run when missing or
stale, and all dropped and made again by `arkops retention
--rebuild-summaries`.

A summary is never trusted blindly. A reader takes the month file itself
when the summary was made from another version of it (size, modification
time or SHA-256 differ: `privacy forget` rewrote it, a run was killed
between the two writes), under another time zone or recipe, or when it
counts an invoice that is in the hot ledger again (a refund or dispute
brought it back) or that another summary counts too. Invoices read from
month files count once each (the copy changed last), and never when the hot
ledger or a summary in use counts them.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from arkops.core.billing import LEDGER_DB
from arkops.core.billing.records import Invoice
from arkops.runtime import Runtime
from arkops.store.archive import Archive

VERSION = 1  # of what a summary holds: a new version makes every summary stale


def recipe(tz: tzinfo) -> str:
    """How a summary is made: its version and the time zone its months are in."""
    return f"ledger revenue v{VERSION} {tz}"


def month_start(moment: int, tz: tzinfo) -> int:
    """The first instant (unix) of the local calendar month holding `moment`."""
    local = datetime.fromtimestamp(moment, tz)
    return int(datetime(local.year, local.month, 1, tzinfo=tz).timestamp())


def summarize_month(tables: dict[str, dict[str, Any]], tz: tzinfo) -> dict[str, Any]:
    """One month file's paid invoices: their revenue by the local month they were paid (its first instant, unix,
    as text) and currency, in minor units, and their ids."""
    revenue: dict[str, dict[str, int]] = {}
    ids = []
    for invoice in tables.get("invoices", {}).values():
        if invoice.get("status") == "paid" and invoice.get("paid_at") and invoice.get("amount_paid"):
            bucket = revenue.setdefault(str(month_start(invoice["paid_at"], tz)), {})
            currency = invoice["currency"].upper()
            bucket[currency] = bucket.get(currency, 0) + invoice["amount_paid"]
            ids.append(invoice["id"])
    return {"revenue": revenue, "invoices": sorted(ids)}


@dataclass
class ArchivedRevenue:
    """The revenue of the archived invoices: summed by summaries, plus the invoices read from month files."""

    by_month: dict[int, dict[str, int]] = field(default_factory=dict)  # local month start -> currency -> minor
    invoices: list[Invoice] = field(default_factory=list)
    months_read: list[str] = field(default_factory=list)  # month files read in full (no summary to trust)

    def book(self, boundaries: list[int], add: Any) -> None:
        """Hand each amount to `add(index of the month in boundaries, amount, currency)`."""
        months = len(boundaries) - 1
        for start, amounts in self.by_month.items():
            index = bisect.bisect_right(boundaries, start) - 1
            if 0 <= index < months:
                for currency, amount in amounts.items():
                    add(index, amount, currency)


def archived_revenue(rt: Runtime, hot_invoices: Iterable[str]) -> ArchivedRevenue:
    """The archive's revenue for a report: each month's summary when it can be trusted, the month file when not."""
    archive = Archive(rt.store, LEDGER_DB)
    how = recipe(rt.config.tz)
    hot = set(hot_invoices)
    found = ArchivedRevenue()
    trusted: list[dict[str, Any]] = []
    counted: set[str] = set()
    for month in archive.months():
        summary = archive.summary(month, how)
        ids = summary.get("invoices") if isinstance(summary, dict) else None
        if not isinstance(ids, list) or not hot.isdisjoint(ids) or not counted.isdisjoint(ids):
            found.months_read.append(month)
            continue
        counted.update(ids)
        trusted.append(summary)  # type: ignore[arg-type]
    for summary in trusted:
        for start, amounts in summary["revenue"].items():
            bucket = found.by_month.setdefault(int(start), {})
            for currency, amount in amounts.items():
                bucket[currency] = bucket.get(currency, 0) + amount
    newest: dict[str, Invoice] = {}
    for month in found.months_read:
        for invoice in archive.read(month).get("invoices", {}).values():
            key = invoice["id"]
            if key in hot or key in counted:
                continue
            if key not in newest or invoice.get("_at", 0) >= newest[key].get("_at", 0):
                newest[key] = invoice
    found.invoices = list(newest.values())
    return found


def refresh_summaries(rt: Runtime, *, now: datetime) -> dict[str, int]:
    """Retention rule: make the summary of every archive month that has none, or a stale one."""
    archive = Archive(rt.store, LEDGER_DB)
    how = recipe(rt.config.tz)
    months = archive.months()
    if not months:
        return {}
    stale = [month for month in months if archive.summary(month, how) is None]
    if rt.dry_run or not stale:
        return {"ledger archive summaries written": len(stale)}
    tz = rt.config.tz
    with rt.store.lock(LEDGER_DB.name, what="database ledger.json"):
        for month in stale:
            archive.summarize(month, how, lambda tables: summarize_month(tables, tz))
    return {"ledger archive summaries written": len(stale)}
