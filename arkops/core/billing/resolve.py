"""Asking Stripe for what an event did not carry: discounts sent as ids, coupons sent as ids, price tiers.

Since API 2024-06-20 a subscription in an event lists its discounts by id, and a tiered price carries
its tiers only when expanded. The ledger records such values as unresolved (`discounts.pending`); this
module fetches them (`stripe sync`, and webhooks when a key is set) and fills them in everywhere
(`discounts.learn`). The network calls happen outside the ledger lock.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from arkops.core.billing import LEDGER_DB
from arkops.core.billing import fields as F
from arkops.core.billing.discounts import learn, pending
from arkops.core.billing.records import (
    CUSTOMER_DISCOUNTS,
    SUBSCRIPTIONS_HISTORY,
    Coupon,
    Discount,
    Tier,
)
from arkops.core.billing.stripe_objects import normalize_subscription, read_coupon, read_discount, read_tiers
from arkops.core.billing.subscriptions import ambiguous_second
from arkops.runtime import Runtime

SUBSCRIPTION_EXPAND = ["discounts.source.coupon", "items.data.discounts", "items.data.price.tiers"]


@dataclass
class Wanted:
    """What to ask Stripe for, read from the ledger in one transaction."""

    subscriptions: list[str] = field(default_factory=list)  # discounts known by id only
    customers: list[str] = field(default_factory=list)
    coupons: set[str] = field(default_factory=set)
    prices: set[str] = field(default_factory=set)  # tiered prices without their tiers


@dataclass
class Resolution:
    resolved: int = 0  # subscriptions or customers now fully known
    remaining: int = 0  # still unresolved (e.g. a discount removed before it could be read)

    def summary(self) -> str:
        left = f", {self.remaining} still unresolved" if self.remaining else ""
        return f"{self.resolved} resolved{left}"


def _wanted(rt: Runtime, only: Collection[str] | None) -> Wanted:
    wanted = Wanted()
    with rt.store.transaction(LEDGER_DB) as db:
        for key in pending(db):
            if only is not None and key not in only:
                continue
            if key.startswith("customer:"):
                customer_id = key.removeprefix("customer:")
                record = CUSTOMER_DISCOUNTS.get(db, customer_id)
                if _needs_owner(record["discounts"] if record else [], wanted):
                    wanted.customers.append(customer_id)
                continue
            history = SUBSCRIPTIONS_HISTORY.get(db, key)
            for version in history["versions"] if history else []:
                discounts = [*version["discounts"], *(d for i in version["items"] for d in i.get("discounts", []))]
                if _needs_owner(discounts, wanted) and key not in wanted.subscriptions:
                    wanted.subscriptions.append(key)
                for item in version["items"]:
                    if item.get("billing_scheme") == "tiered" and not item.get("tiers") and item["price"]:
                        wanted.prices.add(item["price"])
    return wanted


def _needs_owner(discounts: list[Discount], wanted: Wanted) -> bool:
    """A discount whose coupon id is known needs only the coupon (added to `wanted`); one known by id only
    needs its owner (the subscription or customer) read again."""
    owner = False
    for discount in discounts:
        if discount.get("resolved") is not False:
            continue
        if discount["coupon"]:
            wanted.coupons.add(discount["coupon"])
        else:
            owner = True
    return owner


def resolve_pending(
    rt: Runtime, *, delays: Sequence[float] | None = None, only: Collection[str] | None = None
) -> Resolution:
    """Fetch what the ledger could not read (all of it, or the subscriptions/customers in `only`) and fill
    it in. ServiceError when Stripe cannot be reached; DataError when it answers with something malformed."""
    from functools import partial

    from arkops.sources import stripe_api

    wanted = _wanted(rt, only)
    if not (wanted.subscriptions or wanted.customers or wanted.coupons or wanted.prices):
        return Resolution()
    billing = rt.config["billing"]
    waits = billing["stripe_retry_seconds"] if delays is None else delays
    client = stripe_api.client(timeout=billing["stripe_timeout_seconds"])

    def get(path: str, what: str, **params: Any) -> dict:
        found = stripe_api.call(partial(client.raw_request, "get", path, **params), what=what, delays=waits).data
        if not isinstance(found, dict):
            from arkops.errors import DataError

            raise DataError(f"Stripe answered {path} with {found!r}, not an object")
        return found

    discounts: list[Discount] = []
    tiers: dict[str, list[Tier]] = {}
    for sub_id in wanted.subscriptions:
        sub = get(f"/v1/subscriptions/{sub_id}", f"reading subscription {sub_id}", expand=SUBSCRIPTION_EXPAND)
        state = normalize_subscription(sub)
        for discount in [*state["discounts"], *(d for i in state["items"] for d in i.get("discounts", []))]:
            _keep(discount, discounts, wanted)
        for item in state["items"]:
            if item.get("tiers") and item["price"]:
                tiers[item["price"]] = item["tiers"]  # type: ignore[assignment]
    for customer_id in wanted.customers:
        customer = get(
            f"/v1/customers/{customer_id}", f"reading customer {customer_id}", expand=["discount.source.coupon"]
        )
        if isinstance(customer.get("discount"), dict):
            _keep(read_discount(customer["discount"]), discounts, wanted)
    coupons: list[Coupon] = [
        read_coupon(get(f"/v1/coupons/{coupon_id}", f"reading coupon {coupon_id}"))
        for coupon_id in sorted(wanted.coupons)
    ]
    for price_id in sorted(wanted.prices - set(tiers)):
        price = get(f"/v1/prices/{price_id}", f"reading price {price_id}", expand=["tiers"])
        if (found := read_tiers(price)) is not None:
            tiers[price_id] = found
    with rt.store.transaction(LEDGER_DB) as db:
        resolved = learn(db, discounts=discounts, coupons=coupons, tiers=tiers)
        return Resolution(resolved=resolved, remaining=len(pending(db)))


def _keep(discount: Discount, into: list[Discount], wanted: Wanted) -> None:
    if discount.get("resolved") is not False:
        into.append(discount)
    elif discount["coupon"]:
        wanted.coupons.add(discount["coupon"])
        into.append(discount)  # its id and dates; the coupon's terms join it when learned


def key_of(event: dict) -> str | None:
    """The ledger key an event may leave unresolved: its subscription, or its customer's discount."""
    obj = (event.get("data") or {}).get("object") or {}
    kind = event.get("type") or ""
    if kind.startswith("customer.subscription."):
        return F.text(obj, "id")
    if kind in ("customer.created", "customer.updated") or kind.startswith("customer.discount."):
        customer = (
            F.text(obj, "id")
            if kind.startswith("customer.") and not kind.startswith("customer.discount.")
            else F.ident(obj, "customer")
        )
        return f"customer:{customer}" if customer else None
    return None


def reread_if_ambiguous(rt: Runtime, event: dict, *, now: datetime, delays: Sequence[float] = ()) -> bool:
    """After a subscription event whose second holds states in no certain order (`ambiguous_second`):
    read the subscription from Stripe and apply it as its state now. True when it was read.
    ServiceError when Stripe cannot be reached; the event stays applied either way."""
    from functools import partial

    from arkops.core.billing.service import apply_events
    from arkops.errors import DataError
    from arkops.sources import stripe_api

    kind, obj = event.get("type") or "", (event.get("data") or {}).get("object") or {}
    sub_id = F.text(obj, "id") if kind.startswith("customer.subscription.") else None
    if not sub_id:
        return False
    with rt.store.transaction(LEDGER_DB) as db:
        history = SUBSCRIPTIONS_HISTORY.get(db, sub_id)
        if not history or not ambiguous_second(history["versions"], int(event["created"])):
            return False
    billing = rt.config["billing"]
    client = stripe_api.client(timeout=billing["stripe_timeout_seconds"])
    path = f"/v1/subscriptions/{sub_id}"
    request = partial(client.raw_request, "get", path, expand=SUBSCRIPTION_EXPAND)
    sub = stripe_api.call(request, what=f"reading subscription {sub_id}", delays=delays).data
    if not isinstance(sub, dict) or sub.get("id") != sub_id:
        raise DataError(f"Stripe answered {path} with {sub!r}, not the subscription")
    stamp = int(now.timestamp())
    reread = {"id": f"reread:{sub_id}:{event['id']}", "type": "customer.subscription.updated", "created": stamp}
    apply_events(rt, [{**reread, "data": {"object": sub}}], now=now)
    return True


@dataclass
class RefundLinks:
    linked: int = 0  # refunds now linked to the invoice their payment intent paid
    not_invoiced: int = 0  # payment intents Stripe knows no invoice payment of: not an invoice's money

    def summary(self) -> str:
        apart = f", {self.not_invoiced} not an invoice's payment" if self.not_invoiced else ""
        return f"{self.linked} linked to their invoice{apart}"


def find_refund_invoices(
    rt: Runtime, *, delays: Sequence[float] | None = None, charges: Collection[str] | None = None
) -> RefundLinks:
    """Since API 2025-03-31 a charge no longer names its invoice: for each refund not linked to one (of the
    `charges` given, or all), ask Stripe which invoice its payment intent paid (`GET /v1/invoice_payments` with
    `payment[type]=payment_intent&payment[payment_intent]=pi_...`) and link it. ServiceError when Stripe cannot
    be reached (what was found before is kept); the refunds left stay unlinked for the next sync."""

    from arkops.core.billing.records import INVOICES, PAYMENT_LINKS, REFUNDS
    from arkops.core.billing.refunds import link_refunds, unlinked_refunds
    from arkops.sources import stripe_api

    with rt.store.transaction(LEDGER_DB) as db:
        intents = sorted(
            {
                intent
                for r in unlinked_refunds(db)
                if (intent := r.get("payment_intent")) and (charges is None or r["charge"] in charges)
            }
        )
    if not intents:
        return RefundLinks()
    billing = rt.config["billing"]
    waits = billing["stripe_retry_seconds"] if delays is None else delays
    client = stripe_api.client(timeout=billing["stripe_timeout_seconds"])
    found: dict[str, str | None] = {}

    def invoice_paid_by(intent: str) -> str | None:
        params = {"payment": {"type": "payment_intent", "payment_intent": intent}}
        listed = stripe_api.iter_list(
            client, "/v1/invoice_payments", params, what=f"looking up the invoice paid by {intent}", delays=waits
        )
        for payment in listed:
            if isinstance(payment, dict) and F.text(payment, "status") == "paid":
                return F.ident(payment, "invoice")
        return None

    result = RefundLinks()
    try:
        for intent in intents:
            found[intent] = invoice_paid_by(intent)
    finally:
        if found:
            with rt.store.transaction(LEDGER_DB) as db:
                for intent, invoice_id in found.items():
                    if invoice_id is None:
                        result.not_invoiced += 1
                        for refund in REFUNDS.values(db):
                            if refund.get("payment_intent") == intent and refund["invoice"] is None:
                                REFUNDS.put(db, refund["id"], {**refund, "invoice_lookup": "none"})
                        continue
                    invoice = INVOICES.get(db, invoice_id)
                    link = {"invoice": invoice_id, "customer": invoice["customer"] if invoice else None}
                    PAYMENT_LINKS.put(db, intent, link)  # type: ignore[arg-type]
                    before = len(unlinked_refunds(db))
                    link_refunds(db, {intent: invoice_id})
                    result.linked += before - len(unlinked_refunds(db))
    return result
