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
        item["price"].update(
            id=f"price_{product}_{interval}{count}", unit_amount=amount, currency=currency, product=product
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
