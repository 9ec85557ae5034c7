"""What each code brought in: redemptions by plan and by day, slots left, the monthly revenue after discount
(from the plan prices), and from the billing ledger how many redeemers pay now, what they paid, and how
many left when their discount ended."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from arkops.clock import iso, parse_iso
from arkops.core.promo import PROMO_DB
from arkops.core.promo.codes import CODES, REDEMPTIONS, discounted, normalize_code, plan_price, settings_row
from arkops.core.promo.redeem import ledger_uses, remaining_doc, usage
from arkops.errors import DataError
from arkops.money import Converter
from arkops.runtime import Runtime


def _months_later(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    return moment.replace(year=index // 12, month=index % 12 + 1, day=min(moment.day, 28))


def discount_end(duration: str, months: int | None, redeemed: datetime) -> datetime | None:
    """When the discount of a redemption stops: after its months (repeating), after the first invoice's
    month (once), never (forever)."""
    if duration == "forever":
        return None
    return _months_later(redeemed, months or 1)


def stats(rt: Runtime, code: str | None, *, now: datetime) -> list[dict[str, Any]]:
    from arkops.core.billing.promotions import load_ledger, redeemer_outcomes

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
    tz = rt.config.tz
    out = []
    for record in records:
        assert record is not None
        found = usages[record["code"]]
        since: dict[str, datetime] = {}
        for r in redemptions:
            if r["code"] == record["code"] and r["state"] == "redeemed":
                since[r["email"]] = parse_iso(r["redeemed_at"])
        ends: dict[str, datetime | None] = {}
        for group in record.get("stripe", []):
            for use in uses.get(group["promotion_code"] or "", []):
                who = use["email"] or f"customer:{use['customer']}"
                if who in found.from_stripe:
                    since[who] = datetime.fromtimestamp(use["at"], UTC)
                if use.get("end"):
                    ends[who] = datetime.fromtimestamp(use["end"], UTC)
        by_plan: dict[str, int] = {}
        by_day: dict[str, int] = {}
        monthly = 0.0
        for who, plan in found.by_email.items():
            by_plan[plan] = by_plan.get(plan, 0) + 1
            day = since[who].astimezone(tz).date().isoformat() if who in since else "unknown"
            by_day[day] = by_day.get(day, 0) + 1
            if plan in rt.config["plans"]:
                price, currency, interval = plan_price(rt, plan)
                after = discounted(record, price, currency, plan)
                monthly += convert(after / 12 if interval == "year" else after, currency)
        redeemers = [
            (
                who,
                int(at.timestamp()),
                _stamp(ends[who] if who in ends else discount_end(record["duration"], record["months"], at)),
            )
            for who, at in since.items()
            if not who.startswith("customer:")
        ]
        outcomes = redeemer_outcomes(ledger, redeemers, now=int(now.timestamp()), convert=convert)
        counter = remaining_doc(record, found.used)
        out.append(
            {
                **settings_row(record),
                "used": counter["used"],
                "remaining": counter["remaining"],
                "percent_filled": counter["percent_filled"],
                "redeemed_through_stripe": len(found.from_stripe),
                "by_plan": dict(sorted(by_plan.items())),
                "by_day": dict(sorted(by_day.items())),
                "currency": rt.config.currency,
                "monthly_revenue_after_discount": round(monthly),
                "paying_now": sum(1 for o in outcomes.values() if o.paying_now),
                "paid": round(sum(o.paid for o in outcomes.values())),
                "churned": sum(1 for o in outcomes.values() if o.churned),
                "churned_at_discount_end": sum(1 for o in outcomes.values() if o.churned_at_discount_end),
                "as_of": iso(now),
            }
        )
    return out


def _stamp(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())
