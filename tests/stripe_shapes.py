"""Stripe-shaped objects for tests, built from Stripe's published fixtures (tests/fixtures/stripe)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "stripe"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def subscription(
    sub_id: str,
    customer: str,
    items: list[tuple],
    *,
    status: str = "active",
    start: str = "2026-01-01",
    discounts: list[dict] | None = None,
    ended_at: int | None = None,
    cancel_at_period_end: bool = False,
    trial_end: int | None = None,
) -> dict:
    """items: (unit_amount, currency, interval, interval_count, quantity, product)."""
    sub = fixture("subscription")
    template = sub["items"]["data"][0]
    sub_items = []
    for n, (amount, currency, interval, count, quantity, product) in enumerate(items):
        item = copy.deepcopy(template)
        item["id"] = f"si_{sub_id}_{n}"
        item["quantity"] = quantity
        # a plain per-unit price: the fixture's placeholder package size (transform_quantity) is not one
        item["price"].update(
            id=f"price_{product}_{interval}{count}",
            unit_amount=amount,
            unit_amount_decimal=str(amount),
            currency=currency,
            product=product,
            transform_quantity=None,
        )
        item["price"]["recurring"].update(interval=interval, interval_count=count)
        sub_items.append(item)
    sub["items"]["data"] = sub_items
    sub.update(
        id=sub_id,
        customer=customer,
        status=status,
        start_date=ts(start),
        created=ts(start),
        discounts=discounts or [],
        ended_at=ended_at,
        canceled_at=ended_at,
        cancel_at_period_end=cancel_at_period_end,
        trial_end=trial_end,
        pause_collection=None,  # the fixture's placeholder pauses collection
    )
    return sub


def percent_discount(percent: float, start: str, months: int | None, *, newer_api: bool = True) -> dict:
    coupon = {
        "id": f"co_{percent}",
        "object": "coupon",
        "percent_off": percent,
        "amount_off": None,
        "currency": None,
        "duration": "repeating" if months else "forever",
        "duration_in_months": months,
    }
    begin = ts(start)
    end = None
    if months:
        moment = datetime.fromtimestamp(begin, UTC)
        index = moment.year * 12 + moment.month - 1 + months
        end = int(moment.replace(year=index // 12, month=index % 12 + 1).timestamp())
    discount = {"id": "di_1", "object": "discount", "start": begin, "end": end}
    if newer_api:
        discount["source"] = {"coupon": coupon, "type": "coupon"}
    else:
        discount["coupon"] = coupon
    return discount


def customer(customer_id: str, email: str) -> dict:
    obj = fixture("customer")
    obj.update(id=customer_id, email=email, name=email.split("@")[0])
    return obj


def invoice(
    invoice_id: str,
    customer_id: str,
    amount: int,
    *,
    currency: str = "eur",
    paid_at: int | None = None,
    email: str | None = None,
    attempt_count: int = 1,
    next_attempt: int | None = None,
    subscription: str | None = None,
) -> dict:
    obj = fixture("invoice")
    obj.update(
        id=invoice_id,
        customer=customer_id,
        customer_email=email,
        currency=currency,
        amount_paid=amount if paid_at else 0,
        amount_due=amount,
        status="paid" if paid_at else "open",
        attempt_count=attempt_count,
        next_payment_attempt=next_attempt,
        billing_reason="subscription_cycle",
    )
    obj["status_transitions"]["paid_at"] = paid_at
    obj["parent"] = {
        "type": "subscription_details",
        "subscription_details": {"subscription": subscription, "metadata": {}},
    }
    return obj


def charge_refunded(charge_id: str, invoice_id: str, amount: int, created: int, currency: str = "eur") -> dict:
    obj = fixture("charge")
    obj.update(id=charge_id, invoice=invoice_id, amount_refunded=amount, refunded=True, currency=currency)
    obj["refunds"] = {
        "object": "list",
        "data": [
            {
                "id": f"re_{charge_id}",
                "object": "refund",
                "amount": amount,
                "currency": currency,
                "created": created,
                "charge": charge_id,
            }
        ],
        "has_more": False,
    }
    return obj


def event(event_id: str, event_type: str, obj: dict, created: int) -> dict:
    evt = fixture("event")
    evt.update(id=event_id, type=event_type, created=created, data={"object": obj})
    return evt


# Shapes by API version (tests/fixtures/stripe/versions): the same objects as Stripe published them for
# 2024-06-20, 2025-03-31 (basil) and 2025-09-30 (clover).
VERSIONS = ("2024-06-20", "2025-03-31", "2025-09-30")


def shape(version: str, name: str) -> dict:
    return copy.deepcopy(json.loads((FIXTURES / "versions" / f"{version}.json").read_text())[name])


def shaped_coupon(
    version: str,
    coupon_id: str,
    *,
    percent_off: float | None = None,
    amount_off: int | None = None,
    months: int | None = None,
) -> dict:
    coupon = shape(version, "coupon")
    coupon.update(
        id=coupon_id,
        percent_off=percent_off,
        amount_off=amount_off,
        currency="eur" if amount_off else None,
        duration="repeating" if months else "forever",
        duration_in_months=months,
    )
    return coupon


def months_after(start: str, months: int) -> int:
    moment = datetime.fromtimestamp(ts(start), UTC)
    index = moment.year * 12 + moment.month - 1 + months
    return int(moment.replace(year=index // 12, month=index % 12 + 1).timestamp())


def shaped_discount(
    version: str, discount_id: str, coupon: dict, start: str, *, coupon_as_id: bool = False, **fields
) -> dict:
    """A discount as `version` sends it: the coupon under `coupon`, or under `source.coupon` (object or id)."""
    discount = shape(version, "discount")
    months = coupon.get("duration_in_months") if coupon.get("duration") == "repeating" else None
    discount.update(id=discount_id, start=ts(start), end=months_after(start, months) if months else None, **fields)
    if "source" in discount:
        discount["source"] = {"type": "coupon", "coupon": coupon["id"] if coupon_as_id else coupon}
    else:
        discount["coupon"] = coupon
    return discount


def shaped_subscription(
    version: str,
    sub_id: str,
    customer_id: str,
    *,
    amount: int | None = 5000,
    quantity: int = 1,
    price: dict | None = None,
    discounts: list | None = None,
    discount: dict | None = None,
    item_discounts: list | None = None,
    status: str = "active",
    start: str = "2026-01-01",
) -> dict:
    """A subscription in `version`'s shape with one monthly EUR item; `price` overrides price fields."""
    sub = shape(version, "subscription")
    item = sub["items"]["data"][0]
    item.update(id=f"si_{sub_id}", quantity=quantity, discounts=item_discounts or [], subscription=sub_id)
    plain = {
        "id": f"price_{sub_id}",
        "product": f"prod_{sub_id}",
        "currency": "eur",
        "unit_amount": amount,
        "unit_amount_decimal": None if amount is None else str(amount),
        "billing_scheme": "per_unit",
        "tiers_mode": None,
        "transform_quantity": None,
        "tax_behavior": "unspecified",
    }
    item["price"].update({**plain, **(price or {})})
    if not price or "recurring" not in price:
        item["price"]["recurring"].update(interval="month", interval_count=1)
    sub.update(
        id=sub_id,
        customer=customer_id,
        status=status,
        currency="eur",
        start_date=ts(start),
        created=ts(start),
        discounts=discounts or [],
        ended_at=None,
        canceled_at=None,
        cancel_at=None,
        cancel_at_period_end=False,
        trial_start=None,
        trial_end=None,
        pause_collection=None,
    )
    if "discount" in sub or discount is not None:
        sub["discount"] = discount
    return sub
