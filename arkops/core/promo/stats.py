"""What each code brought in: redemptions by plan and by day, slots left, the monthly revenue after discount
(from the plan prices), and from the billing ledger how many redeemers pay now, what they paid, and how
many left when their discount ended."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from arkops.clock import iso, months_later, parse_iso
from arkops.core.promo import PROMO_DB
from arkops.core.promo.codes import (
    CODES,
    REDEMPTIONS,
    Code,
    Redemption,
    discounted,
    normalize_code,
    plan_price,
    settings_row,
)
from arkops.core.promo.redeem import Usage, ledger_uses, remaining_doc, usage
from arkops.errors import DataError
from arkops.money import Converter
from arkops.runtime import Runtime

if TYPE_CHECKING:  # the billing code is loaded only when stats run
    from arkops.core.billing.report import Ledger


def discount_end(duration: str, months: int | None, redeemed: datetime) -> datetime | None:
    """When the discount of a redemption stops: after its months (repeating), after the first invoice's
    month (once), never (forever)."""
    if duration == "forever":
        return None
    return months_later(redeemed, months or 1)


def stats(rt: Runtime, code: str | None, *, now: datetime) -> list[dict[str, Any]]:
    """`promo stats`: one row for the code named, or for every code (see the module)."""
    from arkops.core.billing.promotions import load_ledger

    uses = ledger_uses(rt)
    with rt.store.transaction(PROMO_DB) as db:
        wanted = [normalize_code(code)] if code else sorted(name for name, _ in CODES.items(db))
        records = [CODES.get(db, name) for name in wanted]
        if code and records[0] is None:
            raise DataError(f"unknown promo code {wanted[0]}")
        redemptions = REDEMPTIONS.values(db)
        usages = {r["code"]: usage(db, r, uses) for r in records if r}
    ledger = load_ledger(rt)
    convert = Converter(rt.config.currency, rt.config["fx"])
    out = []
    for record in records:
        assert record is not None
        found = usages[record["code"]]
        redeemed = _redeemed(record, found, redemptions, uses)
        counter = remaining_doc(record, found.used)
        out.append(
            {
                **settings_row(record),
                "used": counter["used"],
                "remaining": counter["remaining"],
                "percent_filled": counter["percent_filled"],
                "redeemed_through_stripe": len(found.from_stripe),
                **_redemptions_by_plan_and_day(found, redeemed, rt.config.tz),
                "currency": rt.config.currency,
                "monthly_revenue_after_discount": round(_monthly_after_discount(rt, record, found, convert)),
                **_outcomes(record, redeemed, ledger, now=now, convert=convert),
                "as_of": iso(now),
            }
        )
    return out


@dataclass
class _Redeemed:
    """When each holder of a slot redeemed (email, or customer:cus_... for a Stripe customer without one), and
    when a Stripe discount says theirs ends."""

    since: dict[str, datetime] = field(default_factory=dict)
    ends: dict[str, datetime] = field(default_factory=dict)


def _redeemed(record: Code, found: Usage, redemptions: list[Redemption], uses: dict[str, list[dict]]) -> _Redeemed:
    """arkops redemptions still held, then those seen only at Stripe (from the time the discount started)."""
    redeemed = _Redeemed()
    for r in redemptions:
        if r["code"] == record["code"] and r["state"] == "redeemed":
            redeemed.since[r["email"]] = parse_iso(r["redeemed_at"])
    for group in record.get("stripe", []):
        for use in uses.get(group["promotion_code"] or "", []):
            who = use["email"] or f"customer:{use['customer']}"
            if who in found.from_stripe:
                redeemed.since[who] = datetime.fromtimestamp(use["at"], UTC)
            if use.get("end"):
                redeemed.ends[who] = datetime.fromtimestamp(use["end"], UTC)
    return redeemed


def _redemptions_by_plan_and_day(found: Usage, redeemed: _Redeemed, tz: tzinfo) -> dict[str, dict[str, int]]:
    by_plan: dict[str, int] = {}
    by_day: dict[str, int] = {}
    for who, plan in found.by_email.items():
        by_plan[plan] = by_plan.get(plan, 0) + 1
        day = redeemed.since[who].astimezone(tz).date().isoformat() if who in redeemed.since else "unknown"
        by_day[day] = by_day.get(day, 0) + 1
    return {"by_plan": dict(sorted(by_plan.items())), "by_day": dict(sorted(by_day.items()))}


def _monthly_after_discount(rt: Runtime, record: Code, found: Usage, convert: Converter) -> float:
    """What the holders' plans bring in a month at the discounted price (yearly plans over twelve months)."""
    monthly = 0.0
    for plan in found.by_email.values():
        if plan in rt.config["plans"]:
            price, currency, interval = plan_price(rt, plan)
            after = discounted(record, price, currency, plan)
            monthly += convert(after / 12 if interval == "year" else after, currency)
    return monthly


def _outcomes(
    record: Code, redeemed: _Redeemed, ledger: Ledger, *, now: datetime, convert: Converter
) -> dict[str, int]:
    """What the redeemers with an email did since, from the ledger (a Stripe customer without one is not followed):
    how many pay now, what they paid, how many left, and how many of those left when their discount ended."""
    from arkops.core.billing.promotions import redeemer_outcomes

    redeemers = []
    for who, at in redeemed.since.items():
        if who.startswith("customer:"):
            continue
        end = redeemed.ends.get(who) if who in redeemed.ends else discount_end(record["duration"], record["months"], at)
        redeemers.append((who, int(at.timestamp()), None if end is None else int(end.timestamp())))
    outcomes = redeemer_outcomes(ledger, redeemers, now=int(now.timestamp()), convert=convert).values()
    return {
        "paying_now": sum(1 for o in outcomes if o.paying_now),
        "paid": round(sum(o.paid for o in outcomes)),
        "churned": sum(1 for o in outcomes if o.churned),
        "churned_at_discount_end": sum(1 for o in outcomes if o.churned_at_discount_end),
    }
