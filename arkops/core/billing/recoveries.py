"""Recovered payments: invoices paid after their payment failed, and the operator's daily digest of them.

An invoice is *recovered* when it is paid (`status` paid, `paid_at` set) after at least one failed payment
(`failed_at`, where the dunning sequence starts). A voided or uncollectible invoice is lost, not recovered.
Its *recovered MRR* is the MRR its subscription had when the payment failed (the MRR that was at risk), or,
when that was 0 (a first invoice of a subscription not yet counted), the MRR once paid; an invoice without a
subscription recovers revenue but no MRR. Amounts are in the report's currency through `[fx]`.

The `dunning` job sends the operator `payment_recoveries` once per local day, with the recoveries paid since
the last digest (up to the day's start) and the recovered MRR of that month; nothing when there is none.
The digest's day is its key (`recoveries:<day>`), and the ledger keeps how far digests went, so a job run
twice, or two at once, sends one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from arkops.core.billing import LEDGER_DB
from arkops.core.billing.records import Invoice
from arkops.runtime import Runtime

DAY = 86400
FLAG = "recoveries_reported"  # in the ledger's `flags`: {"until": unix}, where the last digest stopped


@dataclass(frozen=True)
class Recovery:
    invoice: str
    customer: str | None
    email: str | None
    amount: int  # what was paid, minor units of `currency`
    currency: str
    revenue: float  # the same in the report's currency (minor units; 0 without an [fx] rate)
    mrr: float  # the recovered MRR, minor units of the report's currency
    failed_at: int
    paid_at: int

    @property
    def days(self) -> int:
        """Whole days from the first failed payment to the payment."""
        return max(0, (self.paid_at - self.failed_at) // DAY)


def recoveries(rt: Runtime, *, since: int, until: int, currency: str | None = None) -> list[Recovery]:
    """The invoices recovered with a payment in [since, until), oldest payment first (hot and archived)."""
    from arkops.core.billing.amounts import subscription_mrr
    from arkops.core.billing.reconcile import version_at
    from arkops.core.billing.report import load, reporting_converter

    ledger = load(rt)
    convert = reporting_converter(rt, currency)
    found = []
    for invoice in _paid_since(rt, ledger.invoices, since):
        paid_at, failed_at = invoice["paid_at"] or 0, invoice.get("failed_at") or 0
        if not failed_at or not since <= paid_at < until:
            continue
        history = ledger.history.get(invoice["subscription"] or "")
        versions = history["versions"] if history else []
        extra = ledger.customer_discounts.get(invoice["customer"] or "", [])

        def mrr_at(at: int, versions: list = versions, extra: list = extra) -> float:
            state = version_at(versions, at)
            return subscription_mrr(state, at, convert, customer_discounts=extra, tax_rates=ledger.tax_rates)

        found.append(
            Recovery(
                invoice=invoice["id"],
                customer=invoice["customer"],
                email=invoice["customer_email"] or ledger.customer_email(invoice["customer"]),
                amount=invoice["amount_paid"],
                currency=invoice["currency"],
                revenue=convert(invoice["amount_paid"], invoice["currency"]),
                mrr=mrr_at(failed_at) or mrr_at(paid_at),
                failed_at=failed_at,
                paid_at=paid_at,
            )
        )
    return sorted(found, key=lambda r: (r.paid_at, r.invoice))


def _paid_since(rt: Runtime, hot: list[Invoice], since: int) -> list[Invoice]:
    """The hot invoices, and the archived ones of the months that can hold a payment since `since`.

    An archive month is the UTC month of an invoice's last change, never before its payment, so only the
    months from `since`'s on are read: the cost stays that of the recent months, whatever the history.
    """
    from arkops.store.archive import Archive

    invoices = {invoice["id"]: invoice for invoice in hot}
    archive = Archive(rt.store, LEDGER_DB)
    oldest = datetime.fromtimestamp(since, UTC).strftime("%Y-%m")
    months = [month for month in archive.months() if month >= oldest]
    for invoice in archive.values("invoices", months) if months else ():
        invoices.setdefault(invoice["id"], invoice)  # type: ignore[arg-type]  # an archived Invoice
    return [invoice for invoice in invoices.values() if invoice.get("status") == "paid"]


def day_start(moment: datetime, tz: tzinfo) -> datetime:
    """The local midnight that begins `moment`'s day in `tz`."""
    return moment.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)


def month_to_date(rt: Runtime, *, now: datetime, currency: str | None = None) -> dict[str, Any]:
    """This month's recoveries so far: `{"month", "invoices", "mrr", "revenue"}` (minor units of the report's
    currency: `currency`, else the configured one)."""
    from arkops.core.billing.summaries import month_start

    stamp = int(now.timestamp())
    found = recoveries(rt, since=month_start(stamp, rt.config.tz), until=stamp + 1, currency=currency)
    return {
        "month": now.astimezone(rt.config.tz).strftime("%Y-%m"),
        "invoices": len(found),
        "mrr": round(sum(r.mrr for r in found)),
        "revenue": round(sum(r.revenue for r in found)),
    }


def send_digest(rt: Runtime, *, now: datetime) -> int:
    """Queue today's `payment_recoveries` when payments were recovered since the last one; 1 if queued."""
    from arkops.core.billing.summaries import month_start
    from arkops.core.notify import notify
    from arkops.money import format_money

    tz = rt.config.tz
    today = day_start(now, tz)
    cut = int(today.timestamp())
    with rt.store.transaction(LEDGER_DB) as db:
        flag = db.get("flags", FLAG)
    # A first run reports the day before only: a first sync of old history tells nobody of old recoveries.
    since = int(flag["until"]) if flag else int((today - timedelta(days=1)).timestamp())
    if since >= cut:
        return 0
    found = recoveries(rt, since=since, until=cut)
    queued = 0
    if found:
        last_day = datetime.fromtimestamp(cut - 1, tz)  # the digest's month is that of the day it closes
        to_date = recoveries(rt, since=month_start(cut - 1, tz), until=cut)
        currency = rt.config.currency
        operator_locale = rt.config.operator_locale

        def money(minor: float) -> str:
            return format_money(round(minor), currency, operator_locale)

        variables = {
            "recoveries": [
                {
                    "email": r.email or r.customer or "unknown",
                    "invoice_id": r.invoice,
                    "amount": format_money(r.amount, r.currency.upper(), operator_locale),
                    "mrr": money(r.mrr),
                    "days": r.days,
                }
                for r in found
            ],
            "mrr": money(sum(r.mrr for r in found)),
            "month": last_day.strftime("%Y-%m"),
            "month_mrr": money(sum(r.mrr for r in to_date)),
            "month_count": len(to_date),
        }
        made = notify(rt, "payment_recoveries", variables, key=f"recoveries:{today.date().isoformat()}", now=now)
        queued = sum(1 for item in made if item.created)
    if not rt.dry_run:
        with rt.store.transaction(LEDGER_DB) as db:
            current = db.get("flags", FLAG)
            if not current or int(current["until"]) < cut:
                db.put("flags", FLAG, {"until": cut})
    return queued
