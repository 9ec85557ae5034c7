"""Revenue reporting from the ledger. The definitions (MRR, movements, churn, ARPU, LTV, revenue) are in docs/billing.md."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from arkops.clock import from_unix, iso, months_later
from arkops.core.billing import LEDGER_DB, PaymentStatus, SubscriptionStatus
from arkops.core.billing.amounts import Convert, discount_active, monthly, subscription_mrr, unresolved
from arkops.core.billing.ledger import every_invoice
from arkops.core.billing.records import (
    CREDIT_NOTES,
    CUSTOMER_DISCOUNTS,
    CUSTOMERS,
    DISPUTES,
    REFUNDS,
    SUBSCRIPTIONS,
    SUBSCRIPTIONS_HISTORY,
    TAX_RATES,
    CreditNote,
    Customer,
    Discount,
    Dispute,
    Invoice,
    Refund,
    Subscription,
    SubscriptionHistory,
    TaxRate,
)
from arkops.core.billing.refunds import NOT_REFUNDED
from arkops.errors import DataError
from arkops.money import Converter, only_in
from arkops.runtime import Runtime

__all__ = ["discount_active", "monthly", "subscription_mrr"]  # the MRR maths lives in `amounts`

CHURN_MONTHS = 6  # LTV divides ARPU by the average logo churn rate of the last six months


def mrr_series(
    versions: list[Subscription],
    instants: list[int],
    convert: Convert,
    *,
    customer_discounts: list[Discount] | None = None,
    tax_rates: Mapping[str, TaxRate] | None = None,
) -> list[float]:
    """A subscription's MRR at each of the sorted `instants`, walking its versions once.

    A version whose MRR cannot change with time (no discount, own or the customer's) has the same MRR
    at every instant it covers before its end date, and none after, so it is computed once.
    """
    out: list[float] = []
    index, count = 0, len(versions)
    constant: float | None = None
    extra = [d for d in customer_discounts or [] if _takes_off(d)]  # one that takes nothing off changes no MRR
    varies: bool | None = None  # of the current version, worked out once
    for at in instants:
        while index < count and versions[index]["_at"] <= at:
            index += 1
            constant = varies = None
        if index == 0:
            out.append(0.0)
            continue
        state = versions[index - 1]
        if varies is None:
            varies = bool(extra) or _varies(state)
        if varies:
            out.append(subscription_mrr(state, at, convert, customer_discounts=extra, tax_rates=tax_rates))
            continue
        ended_at = state.get("ended_at")
        if ended_at and ended_at <= at:
            out.append(0.0)  # what subscription_mrr says of an ended subscription
            continue
        if constant is None:
            constant = subscription_mrr(state, at, convert, tax_rates=tax_rates)
        out.append(constant)
    return out


def _varies(state: Subscription) -> bool:
    """Whether a version's MRR can change with time other than by ending (its discounts start and end)."""
    return any(_takes_off(d) for d in state.get("discounts") or ()) or any(
        _takes_off(d) for item in state.get("items", []) for d in item.get("discounts") or ()
    )


def _takes_off(discount: Discount) -> bool:
    return bool(discount.get("percent_off") or discount.get("amount_off"))


def month_starts(tz: tzinfo, first: datetime, last: datetime) -> list[datetime]:
    """The first instant (in tz) of each calendar month from first's month through the month after last's."""
    a, b = first.astimezone(tz), last.astimezone(tz)
    start, end = a.year * 12 + a.month - 1, b.year * 12 + b.month - 1
    return [datetime(i // 12, i % 12 + 1, 1, tzinfo=tz) for i in range(start, end + 2)]


@dataclass(frozen=True)
class Ledger:
    """The ledger's current states, read in one transaction."""

    customers: dict[str, Customer]
    subscriptions: dict[str, Subscription]
    history: dict[str, SubscriptionHistory]
    invoices: list[Invoice]
    refunds: list[Refund]
    disputes: list[Dispute] = field(default_factory=list)
    credit_notes: list[CreditNote] = field(default_factory=list)
    customer_discounts: dict[str, list[Discount]] = field(default_factory=dict)
    tax_rates: dict[str, TaxRate] = field(default_factory=dict)

    @property
    def first_activity(self) -> int | None:
        """The time of the oldest subscription version or invoice: where the business's months begin."""
        versions = (history["versions"][0]["_at"] for history in self.history.values())
        invoices = (invoice.get("paid_at") or invoice.get("_at") for invoice in self.invoices)
        return min((at for at in (*versions, *invoices) if at), default=None)

    def customer_email(self, customer_id: str | None) -> str | None:
        customer = self.customers.get(customer_id) if customer_id else None
        return customer.get("email") if customer else None


def load(rt: Runtime) -> Ledger:
    with rt.store.transaction(LEDGER_DB) as db:
        return Ledger(
            customers=dict(CUSTOMERS.items(db)),
            subscriptions=dict(SUBSCRIPTIONS.items(db)),
            history=dict(SUBSCRIPTIONS_HISTORY.items(db)),
            invoices=every_invoice(db),
            refunds=REFUNDS.values(db),
            disputes=DISPUTES.values(db),
            credit_notes=CREDIT_NOTES.values(db),
            customer_discounts={key: record["discounts"] for key, record in CUSTOMER_DISCOUNTS.items(db)},
            tax_rates=dict(TAX_RATES.items(db)),
        )


@dataclass(frozen=True)
class MonthGrid:
    """The calendar months of a report, in the configured time zone.

    From the month of the ledger's first activity, or the first month shown when that is earlier, through
    the current month.
    """

    names: list[str]  # YYYY-MM
    boundaries: list[int]  # unix time each month starts, then the start of the month after the last
    instants: list[int]  # when each month's MRR is taken: its last second, or now for the current month

    @property
    def snapshot_points(self) -> list[int]:
        """The MRR snapshots: the second before the first month, then each month's instant."""
        return [self.boundaries[0] - 1, *self.instants]


def month_grid(tz: tzinfo, now: datetime, months: int, first_activity: int | None) -> MonthGrid:
    now_ts = int(now.timestamp())
    first = now if first_activity is None else min(datetime.fromtimestamp(first_activity, UTC), now)
    shown_from = months_later(
        now.astimezone(tz).replace(day=1, hour=0, minute=0, second=0, microsecond=0), -(months - 1)
    )
    starts = month_starts(tz, min(first, shown_from), now)
    boundaries = [int(s.timestamp()) for s in starts]
    return MonthGrid(
        names=[s.strftime("%Y-%m") for s in starts[:-1]],
        boundaries=boundaries,
        instants=[min(b - 1, now_ts) for b in boundaries[1:]],
    )


def histories_by_customer(ledger: Ledger) -> dict[str, list[list[Subscription]]]:
    """Each customer's subscriptions, as their version lists (a subscription without a customer stands alone)."""
    histories: dict[str, list[list[Subscription]]] = defaultdict(list)
    for sub_id, history in ledger.history.items():
        versions = history["versions"]
        histories[versions[-1].get("customer") or sub_id].append(versions)
    return histories


def mrr_snapshots(
    histories: dict[str, list[list[Subscription]]],
    points: list[int],
    convert: Convert,
    *,
    customer_discounts: Mapping[str, list[Discount]] | None = None,
    tax_rates: Mapping[str, TaxRate] | None = None,
) -> dict[str, list[float]]:
    """Each customer's MRR at each point, summed over their subscriptions."""
    snapshots = {}
    for customer, subscriptions in histories.items():
        series = [0.0] * len(points)
        extra = (customer_discounts or {}).get(customer)
        for versions in subscriptions:
            values = mrr_series(versions, points, convert, customer_discounts=extra, tax_rates=tax_rates)
            for i, value in enumerate(values):
                series[i] += value
        snapshots[customer] = series
    return snapshots


def revenue_by_month(ledger: Ledger, boundaries: list[int], convert: Convert) -> list[float]:
    """Paid invoices by the month they were paid, less refunds (not failed) by the month they were made, less
    credit notes that are not refunds by the month they took effect (back when voided), less disputed funds
    by the month they were withdrawn (back when reinstated)."""
    revenue = [0.0] * (len(boundaries) - 1)

    def book(at: int | None, amount: float, currency: str) -> None:
        index = bisect.bisect_right(boundaries, at) - 1 if at else -1
        if 0 <= index < len(revenue):
            revenue[index] += convert(amount, currency)

    for invoice in ledger.invoices:
        if invoice.get("status") == "paid":
            book(invoice.get("paid_at"), invoice["amount_paid"], invoice["currency"])
    for refund in ledger.refunds:
        if refund.get("status") not in NOT_REFUNDED:
            book(refund["created"], -refund["amount"], refund["currency"])
    for note in ledger.credit_notes:
        book(note["created"], -note["amount"], note["currency"])
        book(note["voided_at"], note["amount"], note["currency"])
    for dispute in ledger.disputes:
        book(dispute["withdrawn_at"], -dispute["amount"], dispute["currency"])
        book(dispute["reinstated_at"], dispute["amount"], dispute["currency"])
    return revenue


@dataclass(frozen=True)
class MonthMovement:
    """One month's row of the report: MRR at its end and how it moved since the month before (unrounded)."""

    month: str
    mrr: float
    new: float
    expansion: float
    contraction: float
    churn: float
    reactivation: float
    paying_customers: int
    churned_customers: int
    paying_before: int  # customers paying at the end of the month before
    revenue: float
    mrr_before: float = 0.0  # MRR at the end of the month before

    @property
    def logo_churn_rate(self) -> float:
        return round(self.churned_customers / self.paying_before, 4) if self.paying_before else 0.0

    @property
    def revenue_churn_rate(self) -> float:
        """Gross revenue churn: the MRR lost to churn and contraction, of the MRR the month began with."""
        lost = abs(self.churn + self.contraction)  # both are zero or below
        return round(lost / self.mrr_before, 4) if self.mrr_before > 0 else 0.0

    def as_row(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "mrr": round(self.mrr),
            "new": round(self.new),
            "expansion": round(self.expansion),
            "contraction": round(self.contraction),
            "churn": round(self.churn),
            "reactivation": round(self.reactivation),
            "paying_customers": self.paying_customers,
            "churned_customers": self.churned_customers,
            "logo_churn_rate": self.logo_churn_rate,
            "revenue_churn_rate": self.revenue_churn_rate,
            "revenue": round(self.revenue),
        }


MOVEMENT_KINDS = ("new", "expansion", "contraction", "churn", "reactivation")


def movement_kind(before: float, after: float, *, ever_paid: bool) -> str | None:
    """How a customer's MRR moved from `before` to `after`: new (first time > 0), reactivation (> 0 again),
    expansion, contraction (still > 0), churn (to 0); None when it did not move."""
    if before <= 0 < after:
        return "reactivation" if ever_paid else "new"
    if after <= 0 < before:
        return "churn"
    if after > before:
        return "expansion"
    if after < before:
        return "contraction"
    return None


def movements(snapshots: dict[str, list[float]], grid: MonthGrid, revenue: list[float]) -> list[MonthMovement]:
    """Every month of the grid; a customer paying again after stopping is a reactivation, not new."""
    ever_paid = {customer for customer, snap in snapshots.items() if snap[0] > 0}
    return [month_movement(name, i, snapshots, ever_paid, revenue[i]) for i, name in enumerate(grid.names)]


def month_movement(
    name: str, i: int, snapshots: dict[str, list[float]], ever_paid: set[str], revenue: float
) -> MonthMovement:
    """Month i compares snapshot i (the end of the month before) with snapshot i + 1; adds to `ever_paid`."""
    moved = dict.fromkeys(MOVEMENT_KINDS, 0.0)
    total = total_before = 0.0
    churned = paying = paying_before = 0
    for customer, snap in snapshots.items():
        before, after = snap[i], snap[i + 1]
        total += after
        total_before += before
        paying += after > 0
        paying_before += before > 0
        kind = movement_kind(before, after, ever_paid=customer in ever_paid)
        if kind is None:
            continue
        moved[kind] += after - before
        churned += kind == "churn"
        if after > 0:
            ever_paid.add(customer)
    return MonthMovement(
        month=name,
        mrr=total,
        new=moved["new"],
        expansion=moved["expansion"],
        contraction=moved["contraction"],
        churn=moved["churn"],
        reactivation=moved["reactivation"],
        paying_customers=paying,
        churned_customers=churned,
        paying_before=paying_before,
        revenue=revenue,
        mrr_before=total_before,
    )


def summary(rows: list[MonthMovement], *, shown: int, currency: str, now: datetime) -> dict[str, Any]:
    """The headline figures from the last month (MRR, ARR, ARPU) and the recent churn (LTV), then the months shown."""
    mrr = round(rows[-1].mrr)
    paying_now = rows[-1].paying_customers
    arpu = round(mrr / paying_now) if paying_now else 0
    recent = [row.logo_churn_rate for row in rows[-CHURN_MONTHS:]]
    average_churn = sum(recent) / len(recent)
    return {
        "currency": currency,
        "as_of": iso(now),
        "mrr": mrr,
        "arr": 12 * mrr,
        "paying_customers": paying_now,
        "arpu": arpu,
        "ltv": round(arpu / average_churn) if average_churn else None,
        "months": [row.as_row() for row in rows[-shown:]],
    }


def build_report(
    rt: Runtime, *, now: datetime, months: int, currency: str | None = None, ledger: Ledger | None = None
) -> dict[str, Any]:
    if months < 1:
        raise DataError("--months must be at least 1")
    config = rt.config
    reporting = (currency or config.currency).upper()
    convert = Converter(reporting, config["fx"], base=config.currency)
    convert.factor(reporting)  # an unknown report currency fails now, not only when an amount needs it
    ledger = ledger or load(rt)
    grid = month_grid(config.tz, now, months, ledger.first_activity)
    snapshots = mrr_snapshots(
        histories_by_customer(ledger),
        grid.snapshot_points,
        convert,
        customer_discounts=ledger.customer_discounts,
        tax_rates=ledger.tax_rates,
    )
    rows = movements(snapshots, grid, revenue_by_month(ledger, grid.boundaries, convert))
    # The months before the business's first subscription or invoice hold nothing: they are not shown (nor
    # averaged into the churn behind LTV); a new installation's report is its current month.
    first = ledger.first_activity
    begun = datetime.fromtimestamp(first, config.tz).strftime("%Y-%m") if first is not None else rows[-1].month
    shown_rows = [row for row in rows if row.month >= begun] or rows[-1:]
    return summary(shown_rows, shown=months, currency=reporting, now=now) | {
        "not_converted": not_converted(ledger, grid, months, convert)
    }


def unrated_currency(subscriptions: list[Subscription], convert: Converter) -> str | None:
    """The currency of these subscriptions (one customer's, or one) when it has no `[fx]` rate: their MRR is
    then shown in it rather than as 0 in the reporting currency."""
    codes = {item["currency"].upper() for sub in subscriptions for item in sub["items"] if item["currency"]}
    if len(codes) != 1:
        return None
    code = codes.pop()
    convert.factor(code)
    return code if code in convert.missing else None


def not_converted(ledger: Ledger, grid: MonthGrid, shown: int, convert: Converter) -> list[dict[str, Any]]:
    """What the figures leave out for want of an `[fx]` rate, each in its own currency: the MRR now and the
    revenue of the months shown (`{"figure", "currency", "amount_minor"}`), so that every other figure
    still stands and the operator sees what is missing from it."""
    out: list[dict[str, Any]] = []
    histories = histories_by_customer(ledger)
    for code in sorted(convert.missing):
        own = only_in(code)
        mrr = sum(
            values[0]
            for values in mrr_snapshots(
                histories,
                grid.instants[-1:],
                own,
                customer_discounts=ledger.customer_discounts,
                tax_rates=ledger.tax_rates,
            ).values()
        )
        revenue = sum(revenue_by_month(ledger, grid.boundaries, own)[-shown:])
        out += [
            {"figure": figure, "currency": code, "amount_minor": round(amount)}
            for figure, amount in (("mrr", mrr), ("revenue", revenue))
            if round(amount)
        ]
    return out


def payment_rows(rt: Runtime, *, month: str | None, status: str | None) -> list[dict]:
    if status is not None and status not in tuple(PaymentStatus):
        raise DataError(f"--status {status!r} is not one of {', '.join(PaymentStatus)}")
    tz = rt.config.tz
    rows = []
    for invoice in load(rt).invoices:
        kind = payment_kind(invoice)
        moment = invoice.get("paid_at") or invoice.get("_at")
        local_month = datetime.fromtimestamp(moment, tz).strftime("%Y-%m") if moment else None
        if (status and kind != status) or (month and local_month != month):
            continue
        rows.append(
            (
                moment or 0,
                {
                    "invoice": invoice["id"],
                    "customer_email": invoice.get("customer_email"),
                    "status": kind,
                    "amount": invoice["amount_paid"] if invoice["status"] == "paid" else invoice["amount_due"],
                    "refunded": invoice.get("refunded", 0),
                    "credited": invoice.get("credited", 0),
                    "disputed": invoice.get("disputed", 0),
                    "currency": invoice["currency"],
                    "paid_at": iso(from_unix(invoice["paid_at"])) if invoice.get("paid_at") else None,
                },
            )
        )
    if month and not _is_month(month):
        raise DataError(f"--month {month!r} is not YYYY-MM")
    return [row for _, row in sorted(rows, key=lambda pair: (pair[0], pair[1]["invoice"]))]


def payment_kind(invoice: Invoice) -> str:
    """How `payments list` names an invoice's state: what happened to the money last matters most."""
    status = invoice["status"]
    if status in ("void", "uncollectible"):
        return status
    if status == "paid":
        if invoice.get("disputed"):
            return "disputed"
        return "refunded" if invoice.get("refunded") else "paid"
    return "failed" if invoice.get("payment_failed") else status


def _is_month(text: str) -> bool:
    try:
        datetime.strptime(text, "%Y-%m")
    except ValueError:
        return False
    return True


def failed_rows(rt: Runtime, ledger: Ledger | None = None, *, now: datetime, old: bool = False) -> list[dict]:
    """Unpaid invoices whose payment failed (dunning cases), oldest failure first. An invoice whose last failure
    is more than `[billing] failed_open_days` before `now` is an old failure (`"old": true`: history, such as a
    year of imported payments, not a case to chase): left out unless `old`."""
    horizon = (now - timedelta(days=rt.config["billing"]["failed_open_days"])).timestamp()
    rows = []
    for invoice in (ledger or load(rt)).invoices:
        if (
            invoice["status"] == "paid"
            or not invoice.get("payment_failed")
            or invoice["status"] in ("void", "uncollectible")
        ):
            continue
        failed_at = invoice.get("_at", 0)
        if failed_at < horizon and not old:
            continue
        rows.append(
            {
                "invoice": invoice["id"],
                "customer_email": invoice.get("customer_email"),
                "amount": invoice["amount_due"],
                "currency": invoice["currency"],
                "attempts": invoice.get("attempt_count", 0),
                "failed_at": iso(from_unix(failed_at)) if failed_at else None,
                "next_attempt": iso(from_unix(invoice["next_payment_attempt"]))
                if invoice.get("next_payment_attempt")
                else None,
                "old": failed_at < horizon,
            }
        )
    return sorted(rows, key=lambda r: (r["failed_at"] or "", r["invoice"]))


SUBSCRIPTION_STATUSES = tuple(SubscriptionStatus)


def subscription_rows(rt: Runtime, *, status: str | None, now: datetime) -> list[dict]:
    if status is not None and status not in SUBSCRIPTION_STATUSES:
        raise DataError(f"--status {status!r} is not a Stripe subscription status ({', '.join(SUBSCRIPTION_STATUSES)})")
    convert = Converter(rt.config.currency, rt.config["fx"])
    ledger = load(rt)
    at = int(now.timestamp())
    rows = []
    for sub in ledger.subscriptions.values():
        if status and sub["status"] != status:
            continue
        email = ledger.customer_email(sub["customer"])
        extra = ledger.customer_discounts.get(sub["customer"] or "", [])
        pause = sub.get("pause_collection")
        plan = ", ".join(
            f"{i['product'] or i['price']} x{i['quantity']} /{i['interval_count']}{i['interval']}" for i in sub["items"]
        )
        unconverted = unrated_currency([sub], convert)
        worth = only_in(unconverted) if unconverted else convert
        rows.append(
            {
                "subscription": sub["id"],
                "customer_email": email,
                "status": sub["status"],
                "plan": plan,
                "mrr": round(subscription_mrr(sub, at, worth, customer_discounts=extra, tax_rates=ledger.tax_rates)),
                "currency": unconverted or convert.reporting,
                "paused": _paused(sub["status"], pause),
                "unresolved": "; ".join(unresolved(sub, extra)) or None,
                "cancel_at_period_end": sub["cancel_at_period_end"],
                "started": iso(from_unix(sub["start_date"])) if sub.get("start_date") else None,
                "ended": iso(from_unix(sub["ended_at"])) if sub.get("ended_at") else None,
            }
        )
    return sorted(rows, key=lambda r: r["subscription"])


def _paused(status: str | None, pause: dict | None) -> str | None:
    """ "paused" (the subscription), or the collection pause and until when, or None."""
    if status == "paused":
        return "paused"
    if not pause:
        return None
    until = f" until {iso(from_unix(pause['resumes_at']))}" if pause.get("resumes_at") else ""
    return f"collection paused ({pause.get('behavior') or 'paused'}){until}"
