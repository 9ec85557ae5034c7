"""Demo part: LAUNCH30, redeemed through arkops by customers from the trials and at Stripe Checkout by others,
with a few abandoned checkouts released, and some Checkout customers leaving when their discount ended.

It runs after the billing part (its Checkout customers are Stripe events through the same `apply(event)`
path), keeps its own random generator (so the shared one stays as the other parts expect it), and adds
the code's figures to the demo's summary.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta

from arkops.clock import parse_moment
from arkops.core.billing.service import apply_events
from arkops.core.demo import World
from arkops.core.promo.codes import StripeGroup, create, new_code
from arkops.core.promo.push import remember_groups
from arkops.core.promo.redeem import redeem, release, remaining
from arkops.core.promo.stats import discount_end, stats
from arkops.money import format_money
from arkops.store import atomic_write_bytes, ensure_dir

MONTHS = 3
PERCENT = {"starter": 25, "pro": 33}
PROMO_IDS = {"pro": "promo_demoLAUNCH30pro", "starter": "promo_demoLAUNCH30starter"}


def _event(events: list[dict], kind: str, obj: dict, at: datetime) -> None:
    events.append(
        {
            "id": f"evt_demo_promo_{len(events) + 1:04d}",
            "object": "event",
            "type": kind,
            "created": int(at.timestamp()),
            "data": {"object": obj},
        }
    )


def _checkout_events(world: World, events: list[dict], n: int, plan: str, start: datetime, leaves: bool) -> None:
    """A customer who subscribes at Checkout with LAUNCH30 (and, `leaves`, cancels when the discount ends)."""
    customer, sub_id = f"cus_demo_launch{n:02d}", f"sub_demo_launch{n:02d}"
    email = f"launch{n:02d}@example.net"
    price_amount = world.rt.config["plans"][plan]["price"]
    ends = discount_end("repeating", MONTHS, start)
    assert ends is not None
    coupon = {
        "id": f"LAUNCH30-{plan.upper()}",
        "object": "coupon",
        "percent_off": PERCENT[plan],
        "amount_off": None,
        "currency": None,
        "duration": "repeating",
        "duration_in_months": MONTHS,
    }
    discount = {
        "id": f"di_demo_launch{n:02d}",
        "object": "discount",
        "promotion_code": PROMO_IDS[plan],
        "source": {"type": "coupon", "coupon": coupon},
        "start": int(start.timestamp()),
        "end": int(ends.timestamp()),
    }
    price = {
        "id": f"price_{plan}_month",
        "object": "price",
        "product": f"prod_{plan}",
        "unit_amount": price_amount,
        "currency": "eur",
        "recurring": {"interval": "month", "interval_count": 1},
    }

    def state(status: str, **extra: object) -> dict:
        return {
            "id": sub_id,
            "object": "subscription",
            "customer": customer,
            "status": status,
            "currency": "eur",
            "items": {"object": "list", "data": [{"id": f"si_{sub_id}", "quantity": 1, "price": price}]},
            "discounts": [discount] if status != "canceled" else [],
            "start_date": int(start.timestamp()),
            "cancel_at_period_end": False,
            "canceled_at": None,
            "ended_at": None,
            "trial_start": None,
            "trial_end": None,
            **extra,
        }

    _event(events, "customer.created", {"id": customer, "object": "customer", "email": email}, start)
    _event(events, "customer.subscription.created", state("active"), start)
    end = ends + timedelta(days=2) if leaves and ends < world.now else world.now
    k, moment = 0, start
    while moment < end:
        amount = price_amount if moment >= ends else round(price_amount * (100 - PERCENT[plan]) / 100)
        invoice = {
            "id": f"in_demo_launch{n:02d}_{k:02d}",
            "object": "invoice",
            "customer": customer,
            "customer_email": email,
            "subscription": sub_id,
            "currency": "eur",
            "amount_paid": amount,
            "amount_due": amount,
            "status": "paid",
            "billing_reason": "subscription_cycle",
            "discounts": [discount] if moment < ends else [],
            "status_transitions": {"paid_at": int(moment.timestamp()) + 5},
        }
        _event(events, "invoice.paid", invoice, moment + timedelta(seconds=5))
        k += 1
        index = start.month - 1 + k
        moment = start.replace(year=start.year + index // 12, month=index % 12 + 1, day=min(start.day, 28))
    if end < world.now:
        _event(
            events,
            "customer.subscription.deleted",
            state("canceled", ended_at=int(end.timestamp()), canceled_at=int(end.timestamp())),
            end,
        )


def build(world: World) -> None:
    rt, now = world.rt, world.now
    rng = random.Random(30)
    opens = now - timedelta(days=110)
    tz = rt.config.tz
    code = new_code(
        rt,
        "LAUNCH30",
        discounts=[f"{plan}={percent}" for plan, percent in PERCENT.items()],
        amount_off=None,
        currency=None,
        plans=[],
        months=MONTHS,
        forever=False,
        slots=30,
        valid_from=parse_moment(opens.astimezone(tz).date().isoformat(), now=now, tz=tz),
        valid_until=parse_moment(
            (now + timedelta(days=20)).astimezone(tz).date().isoformat(), now=now, tz=tz, end_of_day=True
        ),
        now=opens - timedelta(days=1),
    )
    create(rt, code)
    groups: list[StripeGroup] = [
        {"plans": [plan], "coupon": f"LAUNCH30-{plan.upper()}", "promotion_code": PROMO_IDS[plan],
         "code": f"LAUNCH30-{plan.upper()}", "active": True}
        for plan in sorted(PERCENT)
    ]  # fmt: skip
    remember_groups(rt, "LAUNCH30", groups, now=opens - timedelta(days=1))  # as `promo push` leaves it
    # trial customers who paid after the code opened redeemed it on the site, through arkops
    payers = sorted(
        (p for p in world.people if p.pays_from and p.pays_from > opens and p.plan in PERCENT and p.signed_up_at),
        key=lambda p: p.pays_from or now,
    )
    redeemed = 0
    for person in payers[:12]:
        at = (person.pays_from or now) - timedelta(minutes=3)
        if redeem(rt, "LAUNCH30", person.email, person.plan, locale=person.locale, now=at).valid:
            redeemed += 1
    for person in payers[12:14]:  # tried, then abandoned the checkout: their slot came back
        at = (person.pays_from or now) - timedelta(days=1)
        redeem(rt, "LAUNCH30", person.email, person.plan, locale=person.locale, now=at)
        release(rt, "LAUNCH30", person.email, now=at + timedelta(hours=1))
    events: list[dict] = []
    for n in range(9):
        start = opens + timedelta(days=3 + n * 9, hours=rng.uniform(8, 20))
        _checkout_events(world, events, n, rng.choice(sorted(PERCENT)), start, leaves=n < 2)
    events.sort(key=lambda e: e["created"])
    folder = ensure_dir(world.workspace / "app")
    atomic_write_bytes(folder / "stripe-promo-events.json", json.dumps(events, indent=1).encode("utf-8"))
    result = apply_events(rt, events, now=now)
    counter, _ = remaining(rt, "LAUNCH30", write=folder / "promo-launch30.json")
    world.lines.append(
        f"LAUNCH30: {redeemed} redemptions through arkops, 2 released, 9 at Stripe Checkout "
        f"({result.applied} events); {counter['remaining']} of 30 slots left in app/promo-launch30.json"
    )
    figures = stats(rt, "LAUNCH30", now=now)[0]
    world.figures["promo"] = figures
    money = rt.config.currency
    world.lines.append(
        f"LAUNCH30 figures: {figures['used']} of 30 slots used, {format_money(figures['monthly_revenue_after_discount'], money)}"
        f" a month after discount, {figures['paying_now']} redeemers paying now, {format_money(figures['paid'], money)} paid,"
        f" {figures['churned_at_discount_end']} left when their discount ended (arkops promo stats LAUNCH30)"
    )
