"""What a subscription is worth per month: each item's amount, its discounts, the subscription's MRR.

The definitions follow Stripe's MRR glossary and ChartMogul (see docs/billing.md, "Metric definitions"):
an item's amount per billing interval is its price applied to its quantity (per unit, package
through `transform_quantity`, volume or graduated tiers), excluding tax when the price includes it;
metered items and quantity 0 count nothing; recurring discounts (forever, or repeating while they
last) are subtracted, one-off (`once`) ones are not.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

from arkops.core.billing.records import Discount, Subscription, SubscriptionItem, TaxRate, Tier

MRR_STATUSES = {"active", "past_due"}
MONTHS_PER_INTERVAL = {"day": 12 / 365, "week": 12 / 52, "month": 1.0, "year": 12.0}

Convert = Callable[[float, str], float]  # minor units of a currency to minor units of the reporting currency


def monthly(amount: float, interval: str, interval_count: int) -> float:
    """An amount billed every `interval_count` `interval`s, as a monthly amount."""
    return amount / (MONTHS_PER_INTERVAL.get(interval, 1.0) * (interval_count or 1))


def billed_quantity(item: SubscriptionItem) -> int:
    """The quantity the price is applied to: packages of `divide_by`, rounded up or down."""
    quantity = item["quantity"]
    divide_by = item.get("divide_by")
    if not divide_by:
        return quantity
    packages = quantity / divide_by
    return math.ceil(packages) if item.get("round") == "up" else math.floor(packages)


def tiered_amount(tiers: list[Tier], mode: str | None, quantity: int) -> float:
    """Volume: every unit at the tier the whole quantity falls in. Graduated: each unit at the tier it falls in."""
    if quantity <= 0 or not tiers:
        return 0.0
    if mode == "graduated":
        total, below = Decimal(0), 0
        for tier in tiers:
            top = tier["up_to"]
            units = (quantity if top is None else min(quantity, top)) - below
            if units <= 0:
                break
            total += Decimal(tier["unit_amount"]) * units + Decimal(tier["flat_amount"])
            if top is None or quantity <= top:
                break
            below = top
        return float(total)
    for tier in tiers:
        if tier["up_to"] is None or quantity <= tier["up_to"]:
            return float(Decimal(tier["unit_amount"]) * quantity + Decimal(tier["flat_amount"]))
    return 0.0  # beyond the last tier: Stripe refuses such a quantity


def item_amount(item: SubscriptionItem, tax_rates: Mapping[str, TaxRate] | None = None) -> float:
    """The item's recurring amount per billing interval, excluding tax; 0 for metered usage or tiers not known yet."""
    if item.get("usage_type") == "metered":
        return 0.0  # usage is billed in arrears and varies: not recurring revenue
    quantity = billed_quantity(item)
    if quantity <= 0:
        return 0.0
    if item.get("billing_scheme") == "tiered":
        tiers = item.get("tiers")
        gross = tiered_amount(tiers, item.get("tiers_mode"), quantity) if tiers else 0.0
    else:
        decimal = item.get("unit_amount_decimal")
        unit = float(Decimal(decimal)) if decimal is not None else float(item["unit_amount"])
        gross = unit * quantity
    price = item.get("price")
    if item.get("tax_behavior") == "inclusive" and tax_rates and price and price in tax_rates:
        gross /= 1 + tax_rates[price]["rate"]
    return gross


def discount_active(discount: Discount, at: int) -> bool:
    """A recurring discount in force at `at`; unresolved ones (terms not known yet) take nothing off."""
    if discount.get("duration") == "once" or discount.get("resolved") is False:
        return False  # a one-off reduction of one invoice is not recurring revenue
    start, end = discount.get("start"), discount.get("end")
    return (start is None or start <= at) and (end is None or at < end)


def _discounted(gross: float, discounts: Iterable[Discount], at: int, *, amounts: bool) -> float:
    """`gross` per interval, less each active percentage of it, and with `amounts` less fixed amounts too."""
    net = gross
    for discount in discounts:
        if not discount_active(discount, at):
            continue
        if percent_off := discount.get("percent_off"):
            net -= gross * percent_off / 100
        if amounts and (amount_off := discount.get("amount_off")):
            net -= amount_off
    return max(net, 0.0)


def subscription_mrr(
    sub: Subscription | None,
    at: int,
    convert: Convert,
    *,
    customer_discounts: Iterable[Discount] = (),
    tax_rates: Mapping[str, TaxRate] | None = None,
) -> float:
    """MRR of one subscription state at unix time `at`, in the reporting currency (unrounded).

    Item-level discounts apply to their item; subscription-level ones to the whole invoice; the
    customer's discount only when the subscription has none of its own (Stripe's precedence).
    """
    return _worth(sub, at, convert, customer_discounts, tax_rates)[0]


def item_mrrs(
    sub: Subscription,
    at: int,
    convert: Convert,
    *,
    customer_discounts: Iterable[Discount] = (),
    tax_rates: Mapping[str, TaxRate] | None = None,
) -> list[float]:
    """Each item's part of `subscription_mrr` (they add up to it), in the order of `sub["items"]`.

    A fixed amount off the whole invoice has no item of its own: each item bears it in proportion to its
    amount after its own discounts.
    """
    total, nets = _worth(sub, at, convert, customer_discounts, tax_rates)
    gross = sum(nets)
    return [net * total / gross if gross > 0 else 0.0 for net in nets]


def _worth(
    sub: Subscription | None,
    at: int,
    convert: Convert,
    customer_discounts: Iterable[Discount],
    tax_rates: Mapping[str, TaxRate] | None,
) -> tuple[float, list[float]]:
    """The subscription's MRR, and each item's monthly amount after its own and the invoice's percentage
    discounts (before a fixed amount off the invoice)."""
    items = sub.get("items", []) if sub else []
    nothing = (0.0, [0.0] * len(items))
    if not sub or sub.get("status") not in MRR_STATUSES or sub.get("pause_collection"):
        return nothing
    ended_at = sub.get("ended_at")
    if (ended_at and ended_at <= at) or not items:
        return nothing
    own = sub.get("discounts", [])
    invoice_discounts = list(own) if own else list(customer_discounts)
    nets = []
    for item in items:
        gross = item_amount(item, tax_rates)
        net = _discounted(gross, item.get("discounts", []), at, amounts=True)  # item level: once per invoice line
        net = _discounted(net, invoice_discounts, at, amounts=False)
        nets.append(convert(monthly(net, item["interval"], item["interval_count"]), item["currency"]))
    total = 0.0
    for net in nets:
        total += net
    # a fixed amount off applies once per invoice: normalise it by the subscription's billing interval
    first = items[0]
    for discount in invoice_discounts:
        if (amount_off := discount.get("amount_off")) and discount_active(discount, at):
            off = monthly(amount_off, first["interval"], first["interval_count"])
            total -= convert(off, discount.get("currency") or first["currency"])
    return max(total, 0.0), nets


def unresolved(sub: Subscription, customer_discounts: Iterable[Discount] = ()) -> list[str]:
    """What the ledger could not read of this subscription yet: discounts known by id only, tiers not sent."""
    missing = []
    for discount in [*sub.get("discounts", []), *customer_discounts]:
        if discount.get("resolved") is False:
            missing.append(f"discount {discount.get('id') or discount.get('coupon')}")
    for item in sub.get("items", []):
        for discount in item.get("discounts", []):
            if discount.get("resolved") is False:
                missing.append(f"discount {discount.get('id') or discount.get('coupon')} on {item.get('id')}")
        if item.get("billing_scheme") == "tiered" and not item.get("tiers"):
            missing.append(f"tiers of {item.get('price')}")
    return missing
