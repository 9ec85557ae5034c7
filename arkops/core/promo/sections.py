"""Promo codes' part of `arkops status`, the HTML report and the weekly email (`arkops.core.sections`)."""

from __future__ import annotations

from datetime import datetime

from arkops.core.promo.queries import list_codes
from arkops.core.sections import Figure, Section, formats, table
from arkops.runtime import Runtime


def status(rt: Runtime, *, now: datetime) -> list[Section]:
    """Slots left of each active code (as `promo list` counts them)."""
    fmt = formats(rt)
    active = [row for row in list_codes(rt) if row["active"]]
    if not active:
        return []
    figures = [
        Figure(
            f"slots_left_{row['code']}",
            f"{row['code']} slots left",
            row["remaining"],
            f"{fmt.number(row['remaining'])} of {fmt.number(row['slots'])}"
            if row["slots"] is not None
            else "unlimited",
        )
        for row in active
    ]
    return [Section("promo", "Promo codes", figures)]


def report(rt: Runtime, *, now: datetime, months: int) -> list[Section]:
    """Each code's results: slots used, through Stripe, who still pays, who left, what they paid."""
    from arkops.core.promo.stats import stats

    rows = stats(rt, None, now=now)
    if not rows:
        return []
    fmt = formats(rt)
    results = table(
        "promo_results",
        "Promo results",
        [
            ("code", "Code"),
            ("discount", "Discount"),
            ("used", "Used"),
            ("remaining", "Left"),
            ("redeemed_through_stripe", "At Checkout"),
            ("paying_now", "Paying now"),
            ("churned", "Left since"),
            ("paid", "Paid"),
            ("monthly_revenue_after_discount", "MRR after discount"),
        ],
        rows,
        {"paid": fmt.money, "monthly_revenue_after_discount": fmt.money},
    )
    shown = status(rt, now=now)
    return [Section("promo", "Promo codes", shown[0].figures if shown else [], tables=[results])]
