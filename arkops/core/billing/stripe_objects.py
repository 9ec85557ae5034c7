"""Stripe objects as the ledger keeps them: coupons, discounts, prices and their tiers, subscriptions, and the
lines of a paid invoice, read from every API version's shape into the records of `records.py`.

Each reader takes the object as an event or a listing carries it and checks every field through `fields`;
nothing here reads or writes the ledger. What a payload leaves out (a discount sent as an id, a tiered price
without its tiers) is kept as unresolved: `Known` looks such ids up in what the ledger already learned
(`discounts.known_in`), and `resolve` asks Stripe for the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from arkops.clock import months_later
from arkops.core.billing import SubscriptionStatus
from arkops.core.billing import fields as F
from arkops.core.billing.records import Coupon, Discount, InvoiceLine, Subscription, SubscriptionItem, Tier

INTERVALS = ("day", "week", "month", "year")
SUBSCRIPTION_STATUSES = tuple(SubscriptionStatus)
COUPON_DURATIONS = ("once", "repeating", "forever")
USAGE_TYPES = ("licensed", "metered")
BILLING_SCHEMES = ("per_unit", "tiered")
TIERS_MODES = ("volume", "graduated")
TAX_BEHAVIORS = ("inclusive", "exclusive", "unspecified")
ROUNDING = ("up", "down")


def read_coupon(coupon: dict) -> Coupon:
    return {
        "id": F.require_id(coupon, "coupon"),
        "percent_off": F.percent(coupon, "percent_off"),
        "amount_off": F.amount(coupon, "amount_off") or None,
        "currency": F.currency(coupon, "currency") or None,
        "duration": F.choice(coupon, "duration", COUPON_DURATIONS, "forever"),
        "duration_in_months": F.count(coupon, "duration_in_months", 0) or None,
    }


def with_coupon(discount: Discount, coupon: Coupon) -> Discount:
    """A discount's terms from its coupon; a repeating coupon without an `end` lasts `duration_in_months`."""
    end = discount["end"]
    months = coupon["duration_in_months"]
    if end is None and coupon["duration"] == "repeating" and months and discount["start"]:
        end = int(months_later(datetime.fromtimestamp(discount["start"], UTC), months).timestamp())
    return {
        **discount,
        "coupon": coupon["id"],
        "percent_off": coupon["percent_off"],
        "amount_off": coupon["amount_off"],
        "currency": coupon["currency"],
        "duration": coupon["duration"],
        "duration_in_months": months,
        "end": end,
        "resolved": True,
    }


Known = Callable[[str], Discount | Coupon | None]  # a cached discount (di_...) or coupon by id


def read_discount(entry: str | dict, known: Known = lambda _: None) -> Discount:
    """A discount as Stripe sends it: an id (events since 2024-06-20), an object with its coupon under `coupon`
    (up to 2025-03-31) or under `source.coupon` (since 2025-09-30), the coupon itself an object or an id.
    What the payload and the ledger's cache do not tell is kept as unresolved, never dropped. The promotion
    code a customer redeemed (`promotion_code`, an id or an expanded object) is kept when the payload names it."""
    discount = _read_discount(entry, known)
    if isinstance(entry, dict) and (promotion_code := F.optional(F.ident, entry, "promotion_code")):
        discount = {**discount, "promotion_code": promotion_code}
    return discount


def _read_discount(entry: str | dict, known: Known) -> Discount:
    if isinstance(entry, str):
        cached = known(entry)
        if cached is not None and "start" in cached:
            return cached  # type: ignore[return-value]
        return _unresolved(entry, None, None, None)
    discount_id = F.text(entry, "id")
    coupon = entry.get("coupon") if entry.get("coupon") is not None else F.table(entry, "source").get("coupon")
    start, end = F.moment(entry, "start"), F.moment(entry, "end")
    base = _unresolved(discount_id, None, start, end)
    if isinstance(coupon, dict):
        return with_coupon(base, read_coupon(coupon))
    if coupon is not None:
        coupon_id = F.ident({"object": "discount", "id": discount_id, "coupon": coupon}, "coupon")
        cached = known(coupon_id) if coupon_id else None
        if cached is not None and "duration_in_months" in cached and "start" not in cached:
            return with_coupon(base, cached)
        return {**base, "coupon": coupon_id}
    cached = known(discount_id) if discount_id else None
    if cached is not None and "start" in cached:
        return cached  # type: ignore[return-value]
    return base


def _unresolved(discount_id: str | None, coupon: str | None, start: int | None, end: int | None) -> Discount:
    return {
        "id": discount_id,
        "coupon": coupon,
        "percent_off": None,
        "amount_off": None,
        "currency": None,
        "duration": None,
        "duration_in_months": None,
        "start": start,
        "end": end,
        "resolved": False,
    }


def read_discounts(obj: dict, known: Known) -> list[Discount]:
    """`discounts` (ids or objects), with the singular `discount` object of API versions before 2025-03-31
    standing in for the id it names."""
    entries = F.ident_list(obj, "discounts")
    single = F.table(obj, "discount")
    if single:
        single_id = F.text(single, "id")
        entries = [
            single if (e == single_id or (isinstance(e, dict) and e.get("id") == single_id)) else e for e in entries
        ]
        if not any(e is single for e in entries):
            entries.insert(0, single)
    return [read_discount(entry, known) for entry in entries]


def read_tiers(price: dict) -> list[Tier] | None:
    """A tiered price's tiers, or None when the payload does not carry them (they need `expand[]=...tiers`)."""
    if price.get("tiers") is None:
        return None
    tiers: list[Tier] = []
    for tier in F.listing(price, "tiers"):
        up_to = tier.get("up_to")
        tiers.append(
            {
                "up_to": None if up_to in (None, "inf") else F.count(tier, "up_to", 0),
                "unit_amount": F.decimal_amount(tier, "unit_amount_decimal") or str(F.amount(tier, "unit_amount")),
                "flat_amount": F.decimal_amount(tier, "flat_amount_decimal") or str(F.amount(tier, "flat_amount")),
            }
        )
    return tiers


def read_item(item: dict, fallback: str, known: Known) -> SubscriptionItem:
    price = F.table(item, "price") or F.table(item, "plan")
    recurring = F.table(price, "recurring")
    transform = F.table(price, "transform_quantity") or F.table(price, "transform_usage")
    divide_by = F.count(transform, "divide_by", 0) or None
    legacy_amount = "unit_amount" not in price
    unit_amount = price.get("amount") if legacy_amount else price.get("unit_amount")
    return {
        "id": F.optional(F.text, item, "id"),
        "price": F.text(price, "id"),
        "product": F.optional(F.ident, price, "product"),
        "unit_amount": F.amount(price, "amount" if legacy_amount else "unit_amount"),
        "unit_amount_decimal": F.decimal_amount(price, "amount_decimal" if legacy_amount else "unit_amount_decimal")
        if unit_amount is None
        else None,
        "currency": F.currency(price, "currency", fallback),
        "interval": F.choice(recurring, "interval", INTERVALS, "")
        if recurring.get("interval")
        else F.choice(price, "interval", INTERVALS, "month"),
        "interval_count": F.count(recurring, "interval_count", 0) or F.count(price, "interval_count", 1) or 1,
        "quantity": F.count(item, "quantity", 1),
        "usage_type": F.choice(recurring, "usage_type", USAGE_TYPES, "")
        if recurring.get("usage_type")
        else F.choice(price, "usage_type", USAGE_TYPES, "licensed"),
        "billing_scheme": F.choice(price, "billing_scheme", BILLING_SCHEMES, "per_unit"),
        "tiers_mode": F.choice(price, "tiers_mode", TIERS_MODES, "volume") if price.get("tiers_mode") else None,
        "tiers": read_tiers(price),
        "divide_by": divide_by,
        "round": F.choice(transform, "round", ROUNDING, "down") if divide_by else None,
        "tax_behavior": F.choice(price, "tax_behavior", TAX_BEHAVIORS, "unspecified"),
        "discounts": [read_discount(entry, known) for entry in F.ident_list(item, "discounts")],
    }


def normalize_subscription(sub: dict, known: Known = lambda _: None) -> Subscription:
    fallback = F.currency(sub, "currency")
    pause = F.table(sub, "pause_collection")
    state: Subscription = {
        "id": F.require_id(sub, "subscription"),
        "customer": F.ident(sub, "customer"),
        "status": F.choice(sub, "status", SUBSCRIPTION_STATUSES, "incomplete"),
        "items": [read_item(item, fallback, known) for item in F.listing(sub, "items")],
        "discounts": read_discounts(sub, known),
        "trial_start": F.optional(F.moment, sub, "trial_start"),
        "trial_end": F.optional(F.moment, sub, "trial_end"),
        "cancel_at_period_end": F.optional(F.flag, sub, "cancel_at_period_end"),
        "canceled_at": F.optional(F.moment, sub, "canceled_at"),
        "ended_at": F.moment(sub, "ended_at"),
        "start_date": F.optional(F.moment, sub, "start_date") or F.optional(F.moment, sub, "created"),
        "pause_collection": {
            "behavior": F.optional(F.text, pause, "behavior"),
            "resumes_at": F.optional(F.moment, pause, "resumes_at"),
        }
        if pause
        else None,
        "current_period_start": F.optional_part(partial(_period, sub, "current_period_start"), None),
        "current_period_end": F.optional_part(partial(_period, sub, "current_period_end"), None),
    }
    return state


def _period(sub: dict, key: str) -> int | None:
    """The current period's bound: on the subscription before API 2025-03-31, on its first item since."""
    own = F.moment(sub, key)
    if own is not None:
        return own
    items = F.listing(sub, "items")
    return F.moment(items[0], key) if items else None


def subscription_lines(obj: dict) -> list[InvoiceLine] | None:
    """The lines that bill a subscription item for the period (no prorations, no one-off items), read in
    every shape: `type = subscription` with `price` and `tax_amounts` before 2025-03-31, `parent` with
    `pricing.price_details` and `taxes` since. None when Stripe did not send every line (`has_more`)."""
    if F.flag(F.table(obj, "lines"), "has_more"):
        return None
    out: list[InvoiceLine] = []
    for line in F.listing(obj, "lines"):
        parent = F.table(line, "parent")
        if parent:
            details = F.table(parent, "subscription_item_details")
            recurring = F.text(parent, "type") == "subscription_item_details" and not F.flag(details, "proration")
        else:
            recurring = F.text(line, "type") == "subscription" and not F.flag(line, "proration")
        if not recurring:
            continue
        included = [t for t in F.listing(line, "tax_amounts") if F.flag(t, "inclusive")] + [
            t for t in F.listing(line, "taxes") if F.text(t, "tax_behavior") == "inclusive"
        ]
        discounts: dict[str, int] = {}
        for share in F.listing(line, "discount_amounts"):
            key = F.ident(share, "discount") or ""
            discounts[key] = discounts.get(key, 0) + F.amount(share, "amount")
        out.append(
            {
                "price": F.ident(line, "price") or F.ident(F.table(F.table(line, "pricing"), "price_details"), "price"),
                "amount": F.signed_amount(line, "amount") - sum(F.amount(t, "amount") for t in included),
                "discounts": discounts,
            }
        )
    return out
