"""Revenue reporting from the ledger: MRR, movements, churn, retention (NRR, GRR, quick ratio), ARPU, LTV, revenue.

The definitions are in docs/billing.md. `history` works out every month once (each customer's MRR at each
month end, the month rows); `payments report` (`build_report`), `cohorts` and `segments` read it. The archive's
settled invoices count through their monthly summaries (`summaries`), not read one by one.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, TypeVar

from arkops.clock import from_unix, iso, months_later
from arkops.core.billing import LEDGER_DB, PaymentStatus, SubscriptionStatus
from arkops.core.billing.amounts import Convert, discount_active, monthly, subscription_mrr, unresolved
from arkops.core.billing.ledger import every_invoice
from arkops.core.billing.records import (
    CREDIT_NOTES,
    CUSTOMER_DISCOUNTS,
    CUSTOMERS,
    DISPUTES,
    INVOICES,
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

if TYPE_CHECKING:
    from arkops.core.billing.summaries import ArchivedRevenue

__all__ = ["discount_active", "monthly", "subscription_mrr"]  # the MRR maths lives in `amounts`

CHURN_MONTHS = 6  # LTV divides ARPU by the average logo churn rate of the last six months
TRAILING_MONTHS = 12  # nrr_ttm and grr_ttm
T = TypeVar("T")


def mrr_series(
    versions: list[Subscription],
    instants: list[int],
    convert: Convert,
    *,
    customer_discounts: list[Discount] | None = None,
    tax_rates: Mapping[str, TaxRate] | None = None,
) -> list[float]:
    """A subscription's MRR at each of the sorted `instants`, walking its versions once."""
    extra = [d for d in customer_discounts or [] if takes_off(d)]  # one that takes nothing off changes no MRR

    def mrr(state: Subscription, at: int) -> float:
        return subscription_mrr(state, at, convert, customer_discounts=extra, tax_rates=tax_rates)

    return version_series(versions, instants, mrr, 0.0, customer_discounts=bool(extra))


def version_series(
    versions: list[Subscription],
    instants: list[int],
    measure: Callable[[Subscription, int], T],
    nothing: T,
    *,
    customer_discounts: bool,
) -> list[T]:
    """`measure` of the subscription's state at each of the sorted `instants` (`nothing` before it existed).

    A version whose worth cannot change with time (no discount, own or the customer's) has the same worth
    at every instant it covers before its end date, and none after, so it is measured once.
    """
    out: list[T] = []
    index, count = 0, len(versions)
    constant: T | None = None
    varies: bool | None = None  # of the current version, worked out once
    for at in instants:
        while index < count and versions[index]["_at"] <= at:
            index += 1
            constant = varies = None
        if index == 0:
            out.append(nothing)
            continue
        state = versions[index - 1]
        if varies is None:
            varies = customer_discounts or _varies(state)
        if varies:
            out.append(measure(state, at))
            continue
        ended_at = state.get("ended_at")
        if ended_at and ended_at <= at:
            out.append(nothing)  # what the measure says of an ended subscription
            continue
        if constant is None:
            constant = measure(state, at)
        out.append(constant)
    return out


def ended_before(state: Subscription, at: int) -> bool:
    """Whether a version is worth nothing from `at` on whatever the measure: it has ended by then, and has no
    discount of its own that could make the measure look at it (the caller checks the customer's)."""
    ended_at = state.get("ended_at")
    if not ended_at:
        return False
    return ended_at <= at and not _varies(state)


def _varies(state: Subscription) -> bool:
    """Whether a version's MRR can change with time other than by ending (its discounts start and end)."""
    return any(takes_off(d) for d in state.get("discounts") or ()) or any(
        takes_off(d) for item in state.get("items", []) for d in item.get("discounts") or ()
    )


def takes_off(discount: Discount) -> bool:
    return bool(discount.get("percent_off") or discount.get("amount_off"))


def month_starts(tz: tzinfo, first: datetime, last: datetime) -> list[datetime]:
    """The first instant (in tz) of each calendar month from first's month through the month after last's."""
    a, b = first.astimezone(tz), last.astimezone(tz)
    start, end = a.year * 12 + a.month - 1, b.year * 12 + b.month - 1
    return [datetime(i // 12, i % 12 + 1, 1, tzinfo=tz) for i in range(start, end + 2)]


@dataclass(frozen=True)
class Ledger:
    """The ledger's current states, read in one transaction.

    `invoices` are the hot ledger's, and the archived ones too when loaded with `archived=True`; otherwise
    `archived_revenue` is what the reports need of the archive (`summaries`).
    """

    customers: dict[str, Customer]
    subscriptions: dict[str, Subscription]
    history: dict[str, SubscriptionHistory]
    invoices: list[Invoice]
    refunds: list[Refund]
    disputes: list[Dispute] = field(default_factory=list)
    credit_notes: list[CreditNote] = field(default_factory=list)
    customer_discounts: dict[str, list[Discount]] = field(default_factory=dict)
    tax_rates: dict[str, TaxRate] = field(default_factory=dict)
    archived_revenue: ArchivedRevenue | None = None

    @property
    def first_activity(self) -> int | None:
        """The time of the oldest subscription version or invoice: where the business's months begin."""
        versions = (history["versions"][0]["_at"] for history in self.history.values())
        invoices = (invoice.get("paid_at") or invoice.get("_at") for invoice in self.invoices)
        return min((at for at in (*versions, *invoices) if at), default=None)

    def customer_email(self, customer_id: str | None) -> str | None:
        customer = self.customers.get(customer_id) if customer_id else None
        return customer.get("email") if customer else None


def load(rt: Runtime, *, archived: bool = False) -> Ledger:
    """The ledger, read once per invocation while its file is unchanged (status and the report's sections share
    it). `archived`: with every archived invoice (`payments list`, doctor, promo outcomes); without, the
    archive's revenue comes from its monthly summaries (`summaries`), and the cost does not grow with it."""
    return rt.store.memoized(
        rt.memo, f"billing-ledger:{'all' if archived else 'hot'}", LEDGER_DB, lambda: _read(rt, archived=archived)
    )


def _read(rt: Runtime, *, archived: bool) -> Ledger:
    from arkops.core.billing.summaries import archived_revenue

    with rt.store.transaction(LEDGER_DB) as db:
        hot = dict(INVOICES.items(db))
        return Ledger(
            customers=dict(CUSTOMERS.items(db)),
            subscriptions=dict(SUBSCRIPTIONS.items(db)),
            history=dict(SUBSCRIPTIONS_HISTORY.items(db)),
            invoices=every_invoice(db) if archived else list(hot.values()),
            refunds=REFUNDS.values(db),
            disputes=DISPUTES.values(db),
            credit_notes=CREDIT_NOTES.values(db),
            customer_discounts={key: record["discounts"] for key, record in CUSTOMER_DISCOUNTS.items(db)},
            tax_rates=dict(TAX_RATES.items(db)),
            archived_revenue=None if archived else archived_revenue(rt, hot),
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
        series: list[float] | None = None
        extra = (customer_discounts or {}).get(customer)
        for versions in subscriptions:
            values = mrr_series(versions, points, convert, customer_discounts=extra, tax_rates=tax_rates)
            series = values if series is None else [a + b for a, b in zip(series, values, strict=True)]
        snapshots[customer] = series if series is not None else [0.0] * len(points)
    return snapshots


def revenue_by_currency(ledger: Ledger, boundaries: list[int]) -> dict[str, list[float]]:
    """Each currency's revenue in each month of the grid, in minor units of that currency: paid invoices by
    the month they were paid, less refunds (not failed) by the month they were made, less credit notes that
    are not refunds by the month they took effect (back when voided), less disputed funds by the month they
    were withdrawn (back when reinstated)."""
    months = len(boundaries) - 1
    revenue: dict[str, list[float]] = {}

    def book(at: int | None, amount: float, currency: str) -> None:
        index = bisect.bisect_right(boundaries, at) - 1 if at else -1
        if 0 <= index < months:
            revenue.setdefault(currency.upper(), [0.0] * months)[index] += amount

    archived = ledger.archived_revenue
    for invoice in [*ledger.invoices, *(archived.invoices if archived else ())]:
        if invoice.get("status") == "paid":
            book(invoice.get("paid_at"), invoice["amount_paid"], invoice["currency"])
    if archived:

        def add(index: int, amount: float, currency: str) -> None:
            revenue.setdefault(currency.upper(), [0.0] * months)[index] += amount

        archived.book(boundaries, add)
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


def revenue_by_month(ledger: Ledger, boundaries: list[int], convert: Convert) -> list[float]:
    """The revenue of each month of the grid (`revenue_by_currency`), in the reporting currency."""
    by_currency = revenue_by_currency(ledger, boundaries)
    return [sum(convert(values[i], code) for code, values in by_currency.items()) for i in range(len(boundaries) - 1)]


def fraction(numerator: float, denominator: float) -> float | None:
    """A ratio as the JSON gives it, rounded to four decimals; None (not 0) when there is nothing to divide by."""
    return round(numerator / denominator, 4) + 0.0 if denominator > 0 else None  # + 0.0: never -0.0


@dataclass(frozen=True)
class MonthMovement:
    """One month's row of the report: MRR at its end and how it moved since the month before (unrounded).

    Churn and contraction are negative; the retention ratios follow ChartMogul's definitions with the
    month's start MRR (the end of the month before) as their base (docs/billing.md, "Retention").
    """

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
    new_customers: int = 0

    @property
    def logo_churn_rate(self) -> float:
        return round(self.churned_customers / self.paying_before, 4) if self.paying_before else 0.0

    @property
    def nrr(self) -> float | None:
        return fraction(self.mrr_before + self.expansion + self.contraction + self.churn, self.mrr_before)

    @property
    def grr(self) -> float | None:
        return fraction(self.mrr_before + self.contraction + self.churn, self.mrr_before)

    @property
    def mrr_churn_rate(self) -> float | None:
        return fraction(-(self.churn + self.contraction), self.mrr_before)

    @property
    def net_mrr_churn_rate(self) -> float | None:
        return fraction(-(self.churn + self.contraction + self.expansion + self.reactivation), self.mrr_before)

    @property
    def quick_ratio(self) -> float | None:
        return fraction(self.new + self.expansion + self.reactivation, -(self.churn + self.contraction))

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
            "customers": self.paying_customers,
            "new_customers": self.new_customers,
            "nrr": self.nrr,
            "grr": self.grr,
            "mrr_churn_rate": self.mrr_churn_rate,
            "net_mrr_churn_rate": self.net_mrr_churn_rate,
            "quick_ratio": self.quick_ratio,
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


def customer_kinds(snapshots: dict[str, list[float]], months: int) -> list[dict[str, str]]:
    """For each month, how each customer who moved moved (month i compares snapshot i, the end of the month
    before, with snapshot i + 1); a customer paying again after stopping is a reactivation, not new."""
    kinds: list[dict[str, str]] = [{} for _ in range(months)]
    for customer, snap in snapshots.items():
        ever_paid = snap[0] > 0
        for i in range(months):
            before, after = snap[i], snap[i + 1]
            if before == after:
                continue
            kind = movement_kind(before, after, ever_paid=ever_paid)
            if kind is not None:
                kinds[i][customer] = kind
                ever_paid = ever_paid or after > 0
    return kinds


def movements(
    snapshots: dict[str, list[float]],
    grid: MonthGrid,
    revenue: list[float],
    kinds: list[dict[str, str]] | None = None,
) -> list[MonthMovement]:
    """Every month of the grid, netted per customer at month end (`kinds`: `customer_kinds` of the snapshots,
    when the caller has them)."""
    months = len(grid.names)
    kinds = kinds if kinds is not None else customer_kinds(snapshots, months)
    ends = list(zip(*snapshots.values(), strict=True)) if snapshots else [()] * (months + 1)
    rows = []
    for i, name in enumerate(grid.names):
        moves = {
            customer: (kind, snapshots[customer][i + 1] - snapshots[customer][i]) for customer, kind in kinds[i].items()
        }
        rows.append(month_movement(name, ends[i], ends[i + 1], moves, revenue[i]))
    return rows


def month_movement(
    name: str, before: Sequence[float], after: Sequence[float], moves: dict[str, tuple[str, float]], revenue: float
) -> MonthMovement:
    """A month from every customer's MRR at the end of the month before and at its own end (in one order), and
    each mover's kind and change."""
    moved = dict.fromkeys(MOVEMENT_KINDS, 0.0)
    counted = dict.fromkeys(MOVEMENT_KINDS, 0)
    for kind, change in moves.values():
        moved[kind] += change
        counted[kind] += 1
    return MonthMovement(
        month=name,
        mrr=sum(after),
        new=moved["new"],
        expansion=moved["expansion"],
        contraction=moved["contraction"],
        churn=moved["churn"],
        reactivation=moved["reactivation"],
        paying_customers=sum(1 for value in after if value > 0),
        churned_customers=counted["churn"],
        paying_before=sum(1 for value in before if value > 0),
        revenue=revenue,
        mrr_before=sum(before),
        new_customers=counted["new"],
    )


def trailing_retention(snapshots: dict[str, list[float]], grid: MonthGrid) -> tuple[float | None, float | None]:
    """NRR and GRR over the trailing twelve months, by the cohort method: the customers paying at the end of the
    same month a year ago, their MRR at the end of the grid against their MRR then; GRR counts each customer at
    most at their MRR then (no expansion). None without a year of history or with nobody paying a year ago."""
    end = len(grid.snapshot_points) - 1
    start = end - TRAILING_MONTHS
    if start < 0:
        return None, None
    base = kept = held = 0.0
    for snap in snapshots.values():
        then = snap[start]
        if then > 0:
            base += then
            kept += snap[end]
            held += min(snap[end], then)
    return fraction(kept, base), fraction(held, base)


def summary(
    rows: list[MonthMovement],
    *,
    shown: int,
    currency: str,
    now: datetime,
    trailing: tuple[float | None, float | None] = (None, None),
) -> dict[str, Any]:
    """The headline figures from the last month (MRR, ARR, ARPU), the recent churn (LTV), the trailing year's
    NRR and GRR (`trailing_retention`), then the months shown."""
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
        "nrr_ttm": trailing[0],
        "grr_ttm": trailing[1],
        "months": [row.as_row() for row in rows[-shown:]],
    }


def report_of(built: History, *, shown: int, now: datetime) -> dict[str, Any]:
    """`payments report`'s document from a history: its headline figures and its last `shown` months."""
    trailing = trailing_retention(built.snapshots, built.grid)
    # The months before the business's first subscription or invoice hold nothing: they are not shown (nor
    # averaged into the churn behind LTV); a new installation's report is its current month.
    first = built.ledger.first_activity
    begun = bisect.bisect_right(built.grid.boundaries, first) - 1 if first is not None else len(built.rows) - 1
    rows = built.rows[max(begun, 0) :] or built.rows[-1:]
    return summary(rows, shown=shown, currency=built.currency, now=now, trailing=trailing) | {
        "not_converted": not_converted(built.ledger, built.grid, shown, built.convert)
    }


@dataclass(frozen=True)
class History:
    """The ledger's months in the configured time zone, each customer's MRR at every month end, the rows."""

    grid: MonthGrid
    snapshots: dict[str, list[float]]
    rows: list[MonthMovement]
    currency: str
    convert: Converter
    ledger: Ledger
    kinds: list[dict[str, str]]  # each month's movers and how they moved (`customer_kinds`)


def reporting_converter(rt: Runtime, currency: str | None) -> Converter:
    """Minor units of any currency to the report's (`currency`, or the configured one) through `[fx]`."""
    config = rt.config
    reporting = (currency or config.currency).upper()
    convert = Converter(reporting, config["fx"], base=config.currency)
    convert.factor(reporting)  # an unknown report currency fails now, not only when an amount needs it
    return convert


def history(
    rt: Runtime, *, now: datetime, months: int, currency: str | None = None, ledger: Ledger | None = None
) -> History:
    """Every month from the ledger's first activity (or `months` back, when that is earlier) through now; worked
    out once per invocation for the same ledger and arguments (status's and the report's sections share it)."""
    if months < 1:
        raise DataError("--months must be at least 1")
    convert = reporting_converter(rt, currency)
    ledger = ledger or load(rt)
    key = f"billing-history:{iso(now)}:{months}:{convert.reporting}"
    cached = rt.memo.get(key)
    if cached is not None and cached[0] is ledger:
        return cached[1]
    grid = month_grid(rt.config.tz, now, months, ledger.first_activity)
    snapshots = mrr_snapshots(
        histories_by_customer(ledger),
        grid.snapshot_points,
        convert,
        customer_discounts=ledger.customer_discounts,
        tax_rates=ledger.tax_rates,
    )
    kinds = customer_kinds(snapshots, len(grid.names))
    rows = movements(snapshots, grid, revenue_by_month(ledger, grid.boundaries, convert), kinds)
    built = History(grid, snapshots, rows, convert.reporting, convert, ledger, kinds)
    rt.memo[key] = (ledger, built)
    return built


def build_report(
    rt: Runtime, *, now: datetime, months: int, currency: str | None = None, ledger: Ledger | None = None
) -> dict[str, Any]:
    """`payments report`: the headline figures, this month's recovered payments and the last `months` months
    (docs/billing.md)."""
    from arkops.core.billing.recoveries import month_to_date

    report = report_of(history(rt, now=now, months=months, currency=currency, ledger=ledger), shown=months, now=now)
    return report | {"recovered": month_to_date(rt, now=now, currency=currency)}


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
    for invoice in load(rt, archived=True).invoices:
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
