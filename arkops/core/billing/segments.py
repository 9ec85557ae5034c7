"""`payments report --by plan|currency`: MRR, customers, ARPU and movements per segment of the items billed.

Each subscription item belongs to one segment (its plan, its currency); a subscription's MRR is shared
among its items (`amounts.item_mrrs`), so the segments add up to the report's MRR. A customer counts in
every segment where they pay at a month's end. Movements are netted at month end per customer and
segment, named after the customer's own movement: MRR appearing in a segment is new or reactivation when
the customer was paying nothing before, else expansion (a plan added or switched to); MRR leaving a
segment is churn when the customer pays nothing after, else contraction (a plan dropped or switched
from). So new, reactivation and churn add up to the report's; expansion and contraction each add up to
it only net of each other (a switch from one plan to a dearer one is a contraction of one and an
expansion of the other). The plans domain names the plans (`arkops.core.plans.revenue`); by currency,
each segment is in its own currency, unconverted, with its revenue. Fields: docs/billing.md, "By plan".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from arkops.clock import iso
from arkops.core.billing.amounts import Convert, item_mrrs
from arkops.core.billing.records import Discount, Subscription, SubscriptionItem, TaxRate
from arkops.core.billing.report import (
    MOVEMENT_KINDS,
    History,
    ended_before,
    histories_by_customer,
    history,
    revenue_by_currency,
    takes_off,
    version_series,
)
from arkops.runtime import Runtime

OTHER = "other"  # the segment of items no plan names


@dataclass(frozen=True)
class Segment:
    key: str  # the plan id, "other", or the currency code
    name: str  # for people: the plan's name, or the currency code
    currency: str  # what its amounts are in


def segment_snapshots(
    histories: dict[str, list[list[Subscription]]],
    points: list[int],
    convert: Convert,
    segment_of: Callable[[SubscriptionItem], str],
    *,
    customer_discounts: Mapping[str, list[Discount]],
    tax_rates: Mapping[str, TaxRate],
) -> dict[str, dict[str, list[float]]]:
    """Segment -> customer -> their MRR in it at each point (the items' parts of `report.mrr_snapshots`)."""
    found: dict[str, dict[str, list[float]]] = {}

    def parts(extra: list[Discount], state: Subscription, at: int) -> dict[str, float]:
        shares: dict[str, float] = {}
        values = item_mrrs(state, at, convert, customer_discounts=extra, tax_rates=tax_rates)
        for item, value in zip(state.get("items", []), values, strict=True):
            key = segment_of(item)
            shares[key] = shares.get(key, 0.0) + value
        return shares

    for customer, subscriptions in histories.items():
        extra = [d for d in customer_discounts.get(customer, []) if takes_off(d)]
        for versions in subscriptions:
            last = versions[-1]
            if not extra and last["_at"] <= points[0] and ended_before(last, points[0]):
                continue  # over before the first point: nothing at any (what `version_series` finds, unwalked)
            empty: dict[str, float] = {}
            series = version_series(versions, points, partial(parts, extra), empty, customer_discounts=bool(extra))
            for i, shares in enumerate(series):
                for key, value in shares.items():
                    segment = found.get(key)
                    if segment is None:
                        segment = found[key] = {}  # a segment billed, even at 0 (an ended item's part)
                    if value:  # a customer at 0 in every point moves nothing and counts nowhere: not kept
                        row = segment.get(customer)
                        if row is None:
                            row = segment[customer] = [0.0] * len(points)
                        row[i] += value
    return found


def segment_kind(before: float, after: float, customer_kind: str | None, customer_after: float) -> str | None:
    """How a customer's MRR in one segment moved, named after the customer's own movement (see the module)."""
    if before <= 0 < after:
        return customer_kind if customer_kind in ("new", "reactivation") else "expansion"
    if after <= 0 < before:
        return "churn" if customer_after <= 0 else "contraction"
    if after > before:
        return "expansion"
    if after < before:
        return "contraction"
    return None


def segment_months(
    built: History,
    kinds: list[dict[str, str]],
    snapshots: dict[str, list[float]],
    revenue: list[float] | None,
    first: int,
) -> list[dict[str, Any]]:
    """One segment's months from the grid's month `first` on: MRR, customers, ARPU and movements (and revenue when
    given). `snapshots` start at the end of the month before `first`; `kinds` is each customer's own movement of
    each month of the grid, as the report classed it."""
    rows = []
    for j, name in enumerate(built.grid.names[first:]):
        i = first + j
        moved = dict.fromkeys(MOVEMENT_KINDS, 0.0)
        mrr = 0.0
        customers = 0
        for customer, snap in snapshots.items():
            before, after = snap[j], snap[j + 1]
            mrr += after
            customers += after > 0
            kind = segment_kind(before, after, kinds[i].get(customer), built.snapshots[customer][i + 1])
            if kind is not None:
                moved[kind] += after - before
        row: dict[str, Any] = {
            "month": name,
            "mrr": round(mrr),
            "customers": customers,
            "arpu": round(mrr / customers) if customers else 0,
            **{kind: round(value) for kind, value in moved.items()},
        }
        if revenue is not None:
            row["revenue"] = round(revenue[i])
        rows.append(row)
    return rows


def segment_report(
    rt: Runtime,
    *,
    now: datetime,
    months: int,
    by: str,
    segments: list[Segment],
    segment_of: Callable[[SubscriptionItem], str],
    currency: str | None = None,
) -> dict[str, Any]:
    """`payments report --by`: the `segments` named (in their order), then any other that holds MRR.

    By currency (`by="currency"`), amounts stay in each segment's own currency and revenue is given too.
    """
    built = history(rt, now=now, months=months, currency=currency)
    own_currency = by == "currency"
    ledger = built.ledger
    first = max(len(built.grid.names) - months, 0)  # the first month shown: the segments' MRR is needed from there
    snapshots = segment_snapshots(
        histories_by_customer(ledger),
        built.grid.snapshot_points[first:],
        (lambda minor, _code: minor) if own_currency else built.convert,
        segment_of,
        customer_discounts=ledger.customer_discounts,
        tax_rates=ledger.tax_rates,
    )
    revenue = revenue_by_currency(ledger, built.grid.boundaries) if own_currency else {}
    kinds = built.kinds
    named = {segment.key: segment for segment in segments}
    others = sorted((set(snapshots) | set(revenue)) - set(named))
    shown = []
    for key in [*named, *others]:
        segment = named.get(key) or Segment(key, key, key if own_currency else built.currency)
        rows = segment_months(built, kinds, snapshots.get(key, {}), revenue.get(key) if own_currency else None, first)
        last = rows[-1]
        shown.append(
            {
                "segment": segment.key,
                "name": segment.name,
                "currency": segment.currency,
                "mrr": last["mrr"],
                "customers": last["customers"],
                "arpu": last["arpu"],
                "months": rows,
            }
        )
    return {"by": by, "currency": built.currency, "as_of": iso(now), "segments": shown}


def by_currency(rt: Runtime, *, now: datetime, months: int) -> dict[str, Any]:
    """Each currency billed, in its own minor units: MRR, customers, ARPU, movements and revenue; the
    configured currency first."""
    home = rt.config.currency.upper()
    return segment_report(
        rt,
        now=now,
        months=months,
        by="currency",
        segments=[Segment(home, home, home)],
        segment_of=lambda item: item["currency"].upper(),
    )
