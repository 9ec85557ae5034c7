"""Demo part: Stripe events for every paying person, applied through the ledger's apply(event) path."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from arkops.core.billing.service import apply_events
from arkops.core.demo import Person, World
from arkops.store import atomic_write_bytes


class Events:
    def __init__(self) -> None:
        self.items: list[dict] = []

    def add(self, kind: str, obj: dict, at: datetime) -> None:
        self.items.append(
            {
                "id": f"evt_demo_{len(self.items) + 1:05d}",
                "object": "event",
                "type": kind,
                "created": int(at.timestamp()),
                "data": {"object": obj},
            }
        )


def _price(world: World, plan: str, interval: str) -> dict:
    monthly = world.rt.config["plans"][plan]["price"]
    amount = monthly * 10 if interval == "year" else monthly  # annual: two months free
    return {
        "id": f"price_{plan}_{interval}",
        "object": "price",
        "product": f"prod_{plan}",
        "unit_amount": amount,
        "currency": "eur",
        "recurring": {"interval": interval, "interval_count": 1},
    }


def _subscription(sub_id: str, customer: str, price: dict, status: str, start: datetime, **extra) -> dict:
    return {
        "id": sub_id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "currency": "eur",
        "items": {
            "object": "list",
            "data": [{"id": f"si_{sub_id}", "object": "subscription_item", "quantity": 1, "price": price}],
        },
        "discounts": [],
        "start_date": int(start.timestamp()),
        "cancel_at_period_end": False,
        "canceled_at": None,
        "ended_at": None,
        "trial_start": None,
        "trial_end": None,
        **extra,
    }


def _invoice(
    inv_id: str,
    person: Person,
    customer: str,
    sub_id: str,
    amount: int,
    at: datetime,
    *,
    paid: bool,
    attempt: int = 1,
    next_attempt: datetime | None = None,
) -> dict:
    return {
        "id": inv_id,
        "object": "invoice",
        "customer": customer,
        "customer_email": person.email,
        "subscription": sub_id,
        "currency": "eur",
        "amount_paid": amount if paid else 0,
        "amount_due": amount,
        "status": "paid" if paid else "open",
        "billing_reason": "subscription_cycle",
        "attempt_count": attempt,
        "next_payment_attempt": int(next_attempt.timestamp()) if next_attempt else None,
        "status_transitions": {"paid_at": int(at.timestamp()) if paid else None},
    }


def _periods(start: datetime, end: datetime, interval: str) -> list[datetime]:
    moments, current, step = [], start, 0
    while current < end:
        moments.append(current)
        step += 12 if interval == "year" else 1
        index = start.month - 1 + step
        current = start.replace(year=start.year + index // 12, month=index % 12 + 1, day=min(start.day, 28))
    return moments


def _person_events(world: World, events: Events, n: int, person: Person) -> None:
    customer, sub_id = f"cus_demo{n:03d}", f"sub_demo{n:03d}"
    start = person.pays_from
    assert start is not None
    events.add(
        "customer.created",
        {
            "id": customer,
            "object": "customer",
            "email": person.email,
            "name": person.email.split("@")[0],
            "created": int(start.timestamp()),
        },
        start,
    )
    price = _price(world, person.plan, person.interval)
    events.add("customer.subscription.created", _subscription(sub_id, customer, price, "active", start), start)
    end = person.cancel_at or world.now
    if person.cancel_at:
        notice = person.cancel_at - timedelta(days=12)
        events.add(
            "customer.subscription.updated",
            _subscription(sub_id, customer, price, "active", start, cancel_at_period_end=True),
            notice,
        )
        events.add(
            "customer.subscription.deleted",
            _subscription(
                sub_id,
                customer,
                price,
                "canceled",
                start,
                ended_at=int(end.timestamp()),
                canceled_at=int(notice.timestamp()),
            ),
            end,
        )
    for k, moment in enumerate(_periods(start, end, person.interval)):
        if person.upgrade_at and moment >= person.upgrade_at:
            price = _price(world, "pro", person.interval)
        inv_id = f"in_demo{n:03d}_{k:02d}"
        amount = price["unit_amount"]
        if person.failed_payment and k == 1:
            retry = moment + timedelta(days=3)
            events.add(
                "invoice.payment_failed",
                _invoice(inv_id, person, customer, sub_id, amount, moment, paid=False, next_attempt=retry),
                moment,
            )
            events.add(
                "invoice.paid", _invoice(inv_id, person, customer, sub_id, amount, retry, paid=True, attempt=2), retry
            )
        else:
            events.add("invoice.paid", _invoice(inv_id, person, customer, sub_id, amount, moment, paid=True), moment)
        if person.refund and k == 0:
            refund_at = moment + timedelta(days=2)
            events.add(
                "charge.refunded",
                {
                    "id": f"ch_demo{n:03d}",
                    "object": "charge",
                    "invoice": inv_id,
                    "customer": customer,
                    "currency": "eur",
                    "amount_refunded": amount // 2,
                    "refunds": {
                        "object": "list",
                        "data": [
                            {
                                "id": f"re_demo{n:03d}",
                                "object": "refund",
                                "amount": amount // 2,
                                "currency": "eur",
                                "created": int(refund_at.timestamp()),
                            }
                        ],
                    },
                },
                refund_at,
            )
    if person.upgrade_at:
        events.add(
            "customer.subscription.updated",
            _subscription(sub_id, customer, _price(world, "pro", person.interval), "active", start),
            person.upgrade_at,
        )


def build(world: World) -> None:
    events = Events()
    for n, person in enumerate(world.people):
        if person.pays_from:
            _person_events(world, events, n, person)
    events.items.sort(key=lambda e: e["created"])
    atomic_write_bytes(
        world.workspace / "app" / "stripe-events.json", json.dumps(events.items, indent=1).encode("utf-8")
    )
    result = apply_events(world.rt, events.items, now=world.now)
    world.lines.append(f"app/stripe-events.json: {result.applied} Stripe events applied to the ledger")
