"""MRR changes as they happened: the log of ChartMogul's activities and Stripe's "MRR changes".

`payments report` nets each customer's movements at month end (an upgrade then a downgrade in one month
is one small expansion, or nothing); this lists every change of a customer's MRR at the instant it took
effect. Both read the same subscription versions through the same MRR function (`report.mrr_snapshots`),
so a month's changes add up to the report's net movement of that month.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from arkops.clock import from_unix, iso
from arkops.core.billing.records import Discount, Subscription
from arkops.core.billing.report import histories_by_customer, load, movement_kind, mrr_snapshots, unrated_currency
from arkops.money import Converter, only_in
from arkops.runtime import Runtime


def change_points(subscriptions: Iterable[list[Subscription]], customer_discounts: Iterable[Discount]) -> list[int]:
    """Every instant a customer's MRR can change: each version's event time, each end of a subscription,
    and each start and end of a discount (its own, its items', the customer's)."""
    points: set[int] = set()
    discounts = list(customer_discounts)
    for versions in subscriptions:
        for version in versions:
            points.add(version["_at"])
            if version.get("ended_at"):
                points.add(version["ended_at"])  # type: ignore[arg-type]
            discounts += version.get("discounts", [])
            for item in version.get("items", []):
                discounts += item.get("discounts", [])
    for discount in discounts:
        points.update(edge for edge in (discount.get("start"), discount.get("end")) if edge)
    return sorted(points)


def mrr_changes(
    rt: Runtime, *, now: datetime, since: datetime | None = None, until: datetime | None = None
) -> list[dict]:
    """Each change of a customer's MRR in [since, until) (until: up to `now`), oldest first.

    A change is classified as in the report (new, expansion, contraction, churn, reactivation), against
    the customer's whole history: a customer who left before `since` and returns after is a reactivation.
    """
    config = rt.config
    start = None if since is None else since.timestamp()
    end = None if until is None else until.timestamp()
    convert = Converter(config.currency, config["fx"])
    ledger = load(rt)
    now_ts = int(now.timestamp())
    found: list[tuple[int, str, dict]] = []
    for customer, subscriptions in histories_by_customer(ledger).items():
        extra = ledger.customer_discounts.get(customer, [])
        points = [at for at in change_points(subscriptions, extra) if at <= now_ts]
        unconverted = unrated_currency([version for versions in subscriptions for version in versions], convert)
        series = mrr_snapshots(
            {customer: subscriptions},
            points,
            only_in(unconverted) if unconverted else convert,
            customer_discounts=ledger.customer_discounts,
            tax_rates=ledger.tax_rates,
        ).get(customer, [])
        before, ever_paid = 0, False
        for at, value in zip(points, series, strict=True):
            after = round(value)  # minor units as shown: a fraction of a cent is no movement
            kind = movement_kind(before, after, ever_paid=ever_paid)
            if kind is None:
                continue
            if (start is None or at >= start) and (end is None or at < end):
                found.append(
                    (
                        at,
                        customer,
                        {
                            "date": iso(from_unix(at)),
                            "customer": customer,
                            "customer_email": ledger.customer_email(customer),
                            "kind": kind,
                            "from": before,
                            "to": after,
                            "change": after - before,
                            "currency": unconverted or convert.reporting,
                        },
                    )
                )
            ever_paid = ever_paid or after > 0
            before = after
    return [row for _, _, row in sorted(found, key=lambda entry: (entry[0], entry[1]))]
