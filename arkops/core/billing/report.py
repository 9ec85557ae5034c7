"""Revenue reporting from the ledger. The definitions are in the README (MRR, movements, churn, ARPU, LTV, revenue)."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

from arkops.clock import from_unix, iso
from arkops.core.billing.ledger import DB
from arkops.errors import DataError
from arkops.money import Converter
from arkops.runtime import Runtime

MRR_STATUSES = {"active", "past_due"}
MONTHS_PER_INTERVAL = {"day": 12 / 365, "week": 12 / 52, "month": 1.0, "year": 12.0}


def monthly(amount: float, interval: str, interval_count: int) -> float:
    """An amount billed every `interval_count` `interval`s, as a monthly amount."""
    return amount / (MONTHS_PER_INTERVAL.get(interval, 1.0) * (interval_count or 1))


def discount_active(discount: dict, at: int) -> bool:
    if discount.get("duration") == "once":
        return False  # a one-off reduction of one invoice is not recurring revenue
    start, end = discount.get("start"), discount.get("end")
    return (start is None or start <= at) and (end is None or at < end)


def subscription_mrr(sub: dict | None, at: int, convert: Callable[[float, str], float]) -> float:
    """MRR of one subscription state at unix time `at`, in the reporting currency (unrounded)."""
    if not sub or sub.get("status") not in MRR_STATUSES:
        return 0.0
    if sub.get("ended_at") and sub["ended_at"] <= at:
        return 0.0
    total = 0.0
    for item in sub.get("items", []):
        gross = monthly(item["unit_amount"] * item["quantity"], item["interval"], item["interval_count"])
        net = gross
        for discount in sub.get("discounts", []):
            if not discount_active(discount, at):
                continue
            if discount.get("percent_off"):
                net -= gross * discount["percent_off"] / 100
        total += convert(net, item["currency"])
    # amount_off applies once per invoice of the subscription: normalise by the first item's interval
    if sub.get("items"):
        first = sub["items"][0]
        for discount in sub.get("discounts", []):
            if discount.get("amount_off") and discount_active(discount, at):
                off = monthly(discount["amount_off"], first["interval"], first["interval_count"])
                total -= convert(off, discount.get("currency") or first["currency"])
    return max(total, 0.0)


def mrr_series(versions: list[dict], instants: list[int], convert: Callable[[float, str], float]) -> list[float]:
    """A subscription's MRR at each of the sorted `instants`, walking its versions once.

    A version without discounts or an end date has the same MRR at every
    instant it covers, so it is computed once.
    """
    out: list[float] = []
    index, count = 0, len(versions)
    constant: float | None = None
    for at in instants:
        while index < count and versions[index]["_at"] <= at:
            index += 1
            constant = None
        if index == 0:
            out.append(0.0)
            continue
        state = versions[index - 1]
        if state.get("discounts") or state.get("ended_at"):
            out.append(subscription_mrr(state, at, convert))
            continue
        if constant is None:
            constant = subscription_mrr(state, at, convert)
        out.append(constant)
    return out


def month_starts(tz, first: datetime, last: datetime) -> list[datetime]:
    """The first instant (in tz) of each calendar month from first's month through the month after last's."""
    a, b = first.astimezone(tz), last.astimezone(tz)
    start, end = a.year * 12 + a.month - 1, b.year * 12 + b.month - 1
    return [datetime(i // 12, i % 12 + 1, 1, tzinfo=tz) for i in range(start, end + 2)]


def load(rt: Runtime) -> dict:
    with rt.store.transaction(DB) as db:
        return {
            "customers": dict(db.items("customers")),
            "subscriptions": dict(db.items("subscriptions")),
            "history": dict(db.items("subscriptions_history")),
            "invoices": db.values("invoices"),
            "refunds": db.values("refunds"),
        }


def build_report(rt: Runtime, *, now: datetime, months: int, currency: str | None = None) -> dict:
    if months < 1:
        raise DataError("--months must be at least 1")
    config = rt.config
    reporting = (currency or config.currency).upper()
    convert = Converter(reporting, config["fx"], base=config.currency)
    convert.factor(reporting)  # an unknown report currency fails now, not only when an amount needs it
    tz = config.tz
    ledger = load(rt)
    now_ts = int(now.timestamp())

    subs_by_customer: dict[str, list[list[dict]]] = defaultdict(list)
    earliest = now_ts
    for sub_id, history in ledger["history"].items():
        versions = history["versions"]
        customer = versions[-1].get("customer") or sub_id
        subs_by_customer[customer].append(versions)
        earliest = min(earliest, versions[0]["_at"])

    first_month = min(from_unix(earliest), now)  # type: ignore[type-var]
    shown_from = _add_months(
        now.astimezone(tz).replace(day=1, hour=0, minute=0, second=0, microsecond=0), -(months - 1)
    )
    starts = month_starts(tz, min(first_month, shown_from), now)  # type: ignore[type-var]
    # snapshot instants: the last second of each month, or now for the current month
    boundaries = [int(s.timestamp()) for s in starts]
    instants = [min(b - 1, now_ts) for b in boundaries[1:]]
    month_names = [s.strftime("%Y-%m") for s in starts[:-1]]
    before_first = boundaries[0] - 1

    points = [before_first, *instants]
    snapshots = {}
    for customer, histories in subs_by_customer.items():
        series = [0.0] * len(points)
        for versions in histories:
            for i, value in enumerate(mrr_series(versions, points, convert)):
                series[i] += value
        snapshots[customer] = series

    revenue = [0.0] * len(month_names)
    for invoice in ledger["invoices"]:
        if invoice.get("status") == "paid" and invoice.get("paid_at"):
            index = bisect.bisect_right(boundaries, invoice["paid_at"]) - 1
            if 0 <= index < len(revenue):
                revenue[index] += convert(invoice["amount_paid"], invoice["currency"])
    for refund in ledger["refunds"]:
        index = bisect.bisect_right(boundaries, refund["created"]) - 1
        if 0 <= index < len(revenue):
            revenue[index] -= convert(refund["amount"], refund["currency"])

    rows = []
    ever_paid: set[str] = {c for c, snap in snapshots.items() if snap[0] > 0}
    for i, name in enumerate(month_names):
        movement = {"new": 0.0, "expansion": 0.0, "contraction": 0.0, "churn": 0.0, "reactivation": 0.0}
        churned = paying = paying_before = 0
        total = 0.0
        for customer, snap in snapshots.items():
            before, after = snap[i], snap[i + 1]
            total += after
            paying += after > 0
            paying_before += before > 0
            if before <= 0 < after:
                movement["reactivation" if customer in ever_paid else "new"] += after
                ever_paid.add(customer)
            elif after <= 0 < before:
                movement["churn"] -= before
                churned += 1
            elif after > before:
                movement["expansion"] += after - before
            elif after < before:
                movement["contraction"] -= before - after
        rows.append(
            {
                "month": name,
                "mrr": round(total),
                **{k: round(v) for k, v in movement.items()},
                "paying_customers": paying,
                "churned_customers": churned,
                "logo_churn_rate": round(churned / paying_before, 4) if paying_before else 0.0,
                "revenue": round(revenue[i]),
            }
        )
    shown = rows[-months:]
    mrr = rows[-1]["mrr"] if rows else 0
    paying_now = rows[-1]["paying_customers"] if rows else 0
    arpu = round(mrr / paying_now) if paying_now else 0
    recent = [r["logo_churn_rate"] for r in rows[-6:]]
    average_churn = sum(recent) / len(recent) if recent else 0
    return {
        "currency": reporting,
        "as_of": iso(now),
        "mrr": mrr,
        "arr": 12 * mrr,
        "paying_customers": paying_now,
        "arpu": arpu,
        "ltv": round(arpu / average_churn) if average_churn else None,
        "months": shown,
    }


def _add_months(moment: datetime, delta: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + delta
    return moment.replace(year=index // 12, month=index % 12 + 1)


def payment_rows(rt: Runtime, *, month: str | None, status: str | None) -> list[dict]:
    if status not in (None, "paid", "failed", "refunded"):
        raise DataError(f"--status {status!r} is not paid, failed or refunded")
    tz = rt.config.tz
    rows = []
    for invoice in load(rt)["invoices"]:
        kind = (
            "refunded"
            if invoice.get("refunded")
            else (
                "paid"
                if invoice["status"] == "paid"
                else ("failed" if invoice.get("payment_failed") else invoice["status"])
            )
        )
        moment = invoice.get("paid_at") or invoice.get("_at")
        local_month = from_unix(moment).astimezone(tz).strftime("%Y-%m") if moment else None
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
                    "currency": invoice["currency"],
                    "paid_at": iso(from_unix(invoice["paid_at"])) if invoice.get("paid_at") else None,
                },
            )
        )
    if month and not _is_month(month):
        raise DataError(f"--month {month!r} is not YYYY-MM")
    return [row for _, row in sorted(rows, key=lambda pair: (pair[0], pair[1]["invoice"]))]


def _is_month(text: str) -> bool:
    try:
        datetime.strptime(text, "%Y-%m")
    except ValueError:
        return False
    return True


def failed_rows(rt: Runtime) -> list[dict]:
    rows = []
    for invoice in load(rt)["invoices"]:
        if (
            invoice["status"] != "paid"
            and invoice.get("payment_failed")
            and invoice["status"] not in ("void", "uncollectible")
        ):
            rows.append(
                {
                    "invoice": invoice["id"],
                    "customer_email": invoice.get("customer_email"),
                    "amount": invoice["amount_due"],
                    "currency": invoice["currency"],
                    "attempts": invoice.get("attempt_count", 0),
                    "next_attempt": iso(from_unix(invoice["next_payment_attempt"]))
                    if invoice.get("next_payment_attempt")
                    else None,
                }
            )
    return sorted(rows, key=lambda r: r["invoice"])


SUBSCRIPTION_STATUSES = (
    "incomplete",
    "incomplete_expired",
    "trialing",
    "active",
    "past_due",
    "canceled",
    "unpaid",
    "paused",
)


def subscription_rows(rt: Runtime, *, status: str | None, now: datetime) -> list[dict]:
    if status is not None and status not in SUBSCRIPTION_STATUSES:
        raise DataError(f"--status {status!r} is not a Stripe subscription status ({', '.join(SUBSCRIPTION_STATUSES)})")
    convert = Converter(rt.config.currency, rt.config["fx"])
    ledger = load(rt)
    at = int(now.timestamp())
    rows = []
    for sub in ledger["subscriptions"].values():
        if status and sub["status"] != status:
            continue
        email = (ledger["customers"].get(sub["customer"]) or {}).get("email")
        plan = ", ".join(
            f"{i['product'] or i['price']} x{i['quantity']} /{i['interval_count']}{i['interval']}" for i in sub["items"]
        )
        rows.append(
            {
                "subscription": sub["id"],
                "customer_email": email,
                "status": sub["status"],
                "plan": plan,
                "mrr": round(subscription_mrr(sub, at, convert)),
                "currency": convert.reporting,
                "cancel_at_period_end": sub["cancel_at_period_end"],
                "started": iso(from_unix(sub["start_date"])) if sub.get("start_date") else None,
                "ended": iso(from_unix(sub["ended_at"])) if sub.get("ended_at") else None,
            }
        )
    return sorted(rows, key=lambda r: r["subscription"])
