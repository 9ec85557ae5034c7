"""The plans arkops.toml describes, their Stripe ids, and which customer is on which plan (from the ledger).

A subscription item belongs to a plan when its price is the plan's price id (`stripe_price` in
arkops.toml, else the one `billing plans push` recorded) or its product is the product push recorded
(so the yearly price of the same product counts too). A customer without a current subscription is on
the free plan, when one is configured (price 0): free customers have usage and quotas, no subscription.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TypedDict

from arkops.core.billing.records import Subscription, SubscriptionItem
from arkops.core.plans import PLANS_DB
from arkops.errors import DataError
from arkops.runtime import Runtime
from arkops.store.tables import Table

CURRENT = ("active", "trialing", "past_due")  # a subscription the customer has now (canceled, unpaid, ... do not)


class StripeIds(TypedDict):
    """What `billing plans push` created (or found by lookup key) for one plan, keyed by the plan id."""

    price: str
    product: str | None
    amount: int
    currency: str
    interval: str
    at: str


class Migration(TypedDict):
    """One subscription moved by `billing migrate`, keyed `<subscription>:<new price>`."""

    email: str | None
    subscription: str
    old_price: str
    new_price: str
    at: str


PRICES = Table[StripeIds]("prices")
MIGRATIONS = Table[Migration]("migrations")


@dataclass(frozen=True)
class Plan:
    id: str
    name: str
    price: int
    currency: str
    interval: str
    limits: dict[str, int]
    stripe_price: str | None  # arkops.toml's value wins over the recorded one
    stripe_product: str | None

    @property
    def free(self) -> bool:
        return self.price == 0


def plans(rt: Runtime) -> dict[str, Plan]:
    with rt.store.transaction(PLANS_DB) as db:
        recorded = dict(PRICES.items(db))
    found = {}
    for plan_id, plan in rt.config["plans"].items():
        ids = recorded.get(plan_id)
        found[plan_id] = Plan(
            id=plan_id,
            name=plan["name"] or plan_id,
            price=plan["price"],
            currency=plan["currency"],
            interval=plan["interval"],
            limits=dict(plan["limits"]),
            stripe_price=plan["stripe_price"] or (ids["price"] if ids else None),
            stripe_product=ids["product"] if ids else None,
        )
    return found


def plan_named(rt: Runtime, plan_id: str) -> Plan:
    known = plans(rt)
    if plan_id not in known:
        raise DataError(f"plan {plan_id!r} is not a configured plan ({', '.join(sorted(known))})")
    return known[plan_id]


def free_plan(known: dict[str, Plan]) -> Plan | None:
    return next((p for p in known.values() if p.free), None)


def plan_of(sub: Subscription, known: dict[str, Plan]) -> Plan | None:
    """The plan of the subscription's first item that belongs to one."""
    for item in sub.get("items", []):
        plan = plan_of_item(item, known)
        if plan is not None:
            return plan
    return None


def plan_of_item(item: SubscriptionItem, known: dict[str, Plan]) -> Plan | None:
    """The plan whose price (or pushed product) the item bills, or None."""
    for plan in known.values():
        if plan.stripe_price and item.get("price") == plan.stripe_price:
            return plan
        if plan.stripe_product and item.get("product") == plan.stripe_product:
            return plan
    return None


def month_period(moment: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
    """The calendar month (in the configured time zone) holding `moment`."""
    local = moment.astimezone(tz)
    start = datetime(local.year, local.month, 1, tzinfo=tz)
    following = datetime(local.year + local.month // 12, local.month % 12 + 1, 1, tzinfo=tz)
    return start, following


@dataclass(frozen=True)
class Account:
    """A customer as the quotas see them: their plan now and the billing period their usage counts in."""

    email: str
    plan: Plan | None
    status: str  # the subscription's status, or "free"
    subscription: Subscription | None
    customer: str | None  # the Stripe customer id

    def period(self, moment: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
        """The subscription's current period when the ledger knows it and it holds `moment`, else the month."""
        sub = self.subscription
        start, end = (sub.get("current_period_start"), sub.get("current_period_end")) if sub else (None, None)
        if start and end and start <= moment.timestamp() < end:
            from arkops.clock import from_unix

            return from_unix(start), from_unix(end)  # type: ignore[return-value]
        return month_period(moment, tz)


def accounts(rt: Runtime, known: dict[str, Plan] | None = None) -> dict[str, Account]:
    """Every ledger customer with a current subscription, by lower-cased email (the newest subscription wins)."""
    from arkops.core.billing.report import load

    known = known if known is not None else plans(rt)
    ledger = load(rt)
    found: dict[str, Account] = {}
    for sub in sorted(ledger.subscriptions.values(), key=lambda s: s.get("start_date") or 0):
        if sub.get("status") not in CURRENT:
            continue
        email = (ledger.customer_email(sub.get("customer")) or "").strip().lower()
        if not email:
            continue
        found[email] = Account(email, plan_of(sub, known), sub["status"] or "", sub, sub.get("customer"))
    return found


def account(rt: Runtime, email: str, known: dict[str, Plan] | None = None) -> Account:
    """One customer: their current subscription's plan, else the free plan (status `free`)."""
    known = known if known is not None else plans(rt)
    found = accounts(rt, known).get(email)
    if found is not None:
        return found
    return Account(email, free_plan(known), "free", None, customer_id(rt, email))


def customer_id(rt: Runtime, email: str) -> str | None:
    """The Stripe customer of this email in the ledger (the newest one when several share it)."""
    from arkops.core.billing import LEDGER_DB
    from arkops.core.billing.records import CUSTOMERS

    with rt.store.transaction(LEDGER_DB) as db:
        matches = [
            c for c in CUSTOMERS.values(db) if (c.get("email") or "").strip().lower() == email and not c.get("deleted")
        ]
    matches.sort(key=lambda c: c.get("created") or 0)
    return matches[-1]["id"] if matches else None
