"""Every command of this domain that writes to Stripe: plans push, checkout, portal, cancel, migrate.

All writes go through `StripeWriter` (live-key guard, --dry-run plan, retries, Stripe's errors as
exit codes). Each idempotency key is derived from what the command does, so the same command run
again (a retry after a timeout, a migrate resumed after a kill) gets Stripe's first answer back and
never creates a second session, price or cancellation. Stripe forgets keys after 24 hours; the keys
of sessions carry the UTC day (a checkout link asked for again tomorrow is a fresh one).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from arkops.clock import from_unix, iso
from arkops.core.billing.records import Discount, Subscription
from arkops.core.plans import PLANS_DB
from arkops.core.plans.catalog import (
    MIGRATIONS,
    PRICES,
    Account,
    Plan,
    StripeIds,
    account,
    accounts,
    customer_id,
    plan_named,
    plan_of,
    plans,
)
from arkops.core.privacy import refuse_erased
from arkops.errors import DataError, UsageError
from arkops.mail.address import normalize_email
from arkops.runtime import Runtime
from arkops.sources.stripe_api import StripeWriter

LOOKUP_PREFIX = "arkops_"


def writer(rt: Runtime, *, live: bool) -> StripeWriter:
    settings = rt.config["billing"]
    return StripeWriter(
        timeout=settings["stripe_timeout_seconds"],
        delays=settings["stripe_retry_seconds"],
        live=live,
        dry_run=rt.dry_run,
    )


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


# --- plans push ---


@dataclass
class PushResult:
    created: list[str] = field(default_factory=list)  # plan ids whose price was created now
    found: list[str] = field(default_factory=list)  # found again by lookup key, recorded
    configured: list[str] = field(default_factory=list)  # stripe_price set in arkops.toml: left alone
    free: list[str] = field(default_factory=list)
    planned: list[str] = field(default_factory=list)  # --dry-run: the requests it would send

    def summary(self) -> str:
        parts = [f"{len(self.created)} created", f"{len(self.found)} found in Stripe"]
        if self.configured:
            parts.append(f"{len(self.configured)} set in arkops.toml")
        if self.free:
            parts.append(f"{len(self.free)} free (no price)")
        return ", ".join(parts)


def _matches(price: dict, plan: Plan) -> bool:
    recurring = price.get("recurring") or {}
    return (
        price.get("unit_amount") == plan.price
        and str(price.get("currency", "")).upper() == plan.currency
        and recurring.get("interval") == plan.interval
        and (recurring.get("interval_count") or 1) == 1
    )


def push(rt: Runtime, *, live: bool, now: datetime) -> PushResult:
    """Create in Stripe the product and price of each paid plan without a `stripe_price`; record their ids.

    A price is found again by its lookup key `arkops_<plan>`, so a second push creates nothing; when the
    plan's amount, currency or interval changed, a new price takes the lookup key over
    (`transfer_lookup_key`) and the old one keeps billing its subscribers until `billing migrate`.
    """
    result = PushResult()
    stripe = writer(rt, live=live)
    for plan in plans(rt).values():
        if plan.free:
            result.free.append(plan.id)
            continue
        if rt.config["plans"][plan.id]["stripe_price"]:
            result.configured.append(plan.id)
            continue
        lookup = f"{LOOKUP_PREFIX}{plan.id}"
        listed = stripe.list(
            "/v1/prices", {"lookup_keys": [lookup], "active": "true"}, what=f"looking up the price of {plan.id}"
        )
        existing = next((p for p in listed if p.get("lookup_key") == lookup), None)
        if existing is not None and _matches(existing, plan):
            _record(rt, plan, existing, now)
            result.found.append(plan.id)
            continue
        product = (existing or {}).get("product") or plan.stripe_product
        if product is None:
            made = stripe.post(
                "/v1/products",
                {"name": plan.name, "metadata": {"arkops_plan": plan.id}},
                idempotency_key=f"arkops-plans-push-{plan.id}-product",
                what=f"creating the product of {plan.id}",
            )
            product = made["id"] if made else f"(product of {plan.id})"
        terms = {
            "product": product,
            "unit_amount": plan.price,
            "currency": plan.currency.lower(),
            "recurring": {"interval": plan.interval},
            "lookup_key": lookup,
            "transfer_lookup_key": existing is not None,
            "nickname": plan.name,
            "metadata": {"arkops_plan": plan.id},
        }
        price = stripe.post(
            "/v1/prices",
            terms,
            idempotency_key=f"arkops-plans-push-{plan.id}-price-{plan.price}-{plan.currency}-{plan.interval}",
            what=f"creating the price of {plan.id}",
        )
        if price is not None:
            _record(rt, plan, {**price, "product": price.get("product") or product}, now)
        result.created.append(plan.id)
    result.planned = [request.line() for request in stripe.planned]
    return result


def _record(rt: Runtime, plan: Plan, price: dict, now: datetime) -> None:
    product = price.get("product")
    record: StripeIds = {
        "price": price["id"],
        "product": product if isinstance(product, str) else (product or {}).get("id"),
        "amount": plan.price,
        "currency": plan.currency,
        "interval": plan.interval,
        "at": cast(str, iso(now)),
    }
    with rt.store.transaction(PLANS_DB) as db:
        if PRICES.get(db, plan.id) != record:
            PRICES.put(db, plan.id, record)


def record_price_ids(rt: Runtime, plan_id: str, price: str, product: str | None, *, now: datetime) -> None:
    """Record a plan's Stripe ids as `plans push` does (the demo's prices, a price made in the dashboard)."""
    plan = plan_named(rt, plan_id)
    _record(rt, plan, {"id": price, "product": product}, now)


# --- checkout and portal ---


@dataclass
class Link:
    id: str | None
    url: str | None
    expires_at: str | None
    planned: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "expires_at": self.expires_at}


def _promotion_code(stripe: StripeWriter, code: str) -> str:
    """The id of the active promotion code `code`, read from Stripe (not from the promo domain's store)."""
    for promo in stripe.list(
        "/v1/promotion_codes", {"code": code, "active": "true"}, what=f"looking up promotion code {code}"
    ):
        if str(promo.get("code", "")).upper() == code.upper() and promo.get("active", True):
            return promo["id"]
    raise DataError(f"no active promotion code {code!r} in Stripe (see `arkops promo push`)")


def checkout(
    rt: Runtime,
    email: str,
    plan_id: str,
    *,
    trial_days: int | None,
    promo: str | None,
    success_url: str | None,
    cancel_url: str | None,
    live: bool,
    now: datetime,
) -> Link:
    """A Checkout Session in subscription mode for the plan's price; its URL, id and expiry."""
    email = normalize_email(email)
    refuse_erased(rt, email)  # her payments would be kept under a pseudonym nobody could find her by
    plan = plan_named(rt, plan_id)
    if plan.free:
        raise DataError(f"plan {plan.id!r} is free: there is nothing to pay, so no checkout")
    if not plan.stripe_price:
        raise DataError(f"plan {plan.id!r} has no Stripe price yet: run `arkops billing plans push`")
    settings = rt.config["billing"]
    success = success_url or settings["checkout_success_url"]
    if not success:
        raise DataError("no success URL: set [billing] checkout_success_url in arkops.toml or pass --success-url")
    cancel = cancel_url or settings["checkout_cancel_url"] or success
    days = settings["checkout_trial_days"] if trial_days is None else trial_days
    stripe = writer(rt, live=live)
    customer = customer_id(rt, email)
    params: dict[str, Any] = {
        "mode": "subscription",
        "line_items": [{"price": plan.stripe_price, "quantity": 1}],
        "success_url": success,
        "cancel_url": cancel,
    }
    if customer:
        params["customer"] = customer
    else:
        params["customer_email"] = email
    if days:
        params["subscription_data"] = {"trial_period_days": days}
        params["payment_method_collection"] = "if_required"  # a trial without card
    if promo:
        params["discounts"] = [{"promotion_code": _promotion_code(stripe, promo)}]
    else:
        params["allow_promotion_codes"] = True
    params["metadata"] = {"arkops_plan": plan.id}
    key = f"arkops-checkout-{_digest(email, params)}-{now.date().isoformat()}"
    session = stripe.post("/v1/checkout/sessions", params, idempotency_key=key, what="creating a checkout session")
    if session is None:
        return Link(None, None, None, [r.line() for r in stripe.planned])
    expires = session.get("expires_at")
    return Link(session.get("id"), session.get("url"), iso(from_unix(expires)) if expires else None)


def portal(rt: Runtime, email: str, *, live: bool, now: datetime) -> Link:
    """A billing-portal session for the customer of `email`."""
    email = normalize_email(email)
    customer = customer_id(rt, email)
    if customer is None:
        raise DataError(f"no Stripe customer for {email} in the ledger (run `arkops stripe sync`)")
    stripe = writer(rt, live=live)
    params: dict[str, Any] = {"customer": customer}
    if rt.config["billing"]["portal_return_url"]:
        params["return_url"] = rt.config["billing"]["portal_return_url"]
    # a portal session lives about five minutes: the same command within the same five minutes is one session
    slot = int(now.timestamp()) // 300
    session = stripe.post(
        "/v1/billing_portal/sessions",
        params,
        idempotency_key=f"arkops-portal-{customer}-{slot}",
        what="creating a billing portal session",
    )
    if session is None:
        return Link(None, None, None, [r.line() for r in stripe.planned])
    return Link(session.get("id"), session.get("url"), None)


# --- one customer's subscription: cancel, show, refresh ---


def _current(rt: Runtime, email: str) -> Account:
    email = normalize_email(email)
    found = account(rt, email)
    if found.subscription is None:
        raise DataError(f"{email} has no current subscription in the ledger (run `arkops stripe sync`)")
    return found


def apply_subscription(rt: Runtime, obj: dict, *, now: datetime) -> None:
    """Write a subscription Stripe just answered into the ledger, through the ledger's one `apply` path."""
    from arkops.core.billing.service import apply_events

    event = {
        "id": f"arkops:{obj['id']}:{_digest(obj)}",
        "type": "customer.subscription.updated",
        "created": int(now.timestamp()),
        "data": {"object": obj},
    }
    apply_events(rt, [event], now=now, batch_size=None)


@dataclass
class Cancellation:
    email: str
    subscription: str
    at_period_end: bool
    period_end: str | None
    status: str | None
    planned: list[str] = field(default_factory=list)


def cancel_target(rt: Runtime, email: str) -> Account:
    """The subscription `billing cancel` would cancel (checked before the confirmation question)."""
    return _current(rt, email)


def cancel(rt: Runtime, email: str, *, immediately: bool, live: bool, now: datetime) -> Cancellation:
    """Cancel at the period's end (default) or now; the ledger learns Stripe's answer at once."""
    target = _current(rt, email)
    sub = cast(Subscription, target.subscription)
    stripe = writer(rt, live=live)
    path = f"/v1/subscriptions/{sub['id']}"
    if immediately:
        answer = stripe.delete(path, {}, idempotency_key=f"arkops-cancel-{sub['id']}-now", what="canceling")
    else:
        answer = stripe.post(
            path,
            {"cancel_at_period_end": True},
            idempotency_key=f"arkops-cancel-{sub['id']}-period-end",
            what="canceling at the period's end",
        )
    if answer is None:
        return Cancellation(target.email, sub["id"], not immediately, None, None, [r.line() for r in stripe.planned])
    apply_subscription(rt, answer, now=now)
    end = sub.get("current_period_end")
    return Cancellation(
        target.email, sub["id"], not immediately, iso(from_unix(end)) if end else None, answer.get("status")
    )


def subscription(rt: Runtime, email: str, *, refresh: bool, now: datetime) -> dict[str, Any]:
    """Status, plan, period end, cancel_at_period_end and discount of the customer's subscription."""
    email = normalize_email(email)
    if refresh:
        customer = customer_id(rt, email)
        if customer is None:
            raise DataError(f"no Stripe customer for {email} in the ledger (run `arkops stripe sync`)")
        reader = writer(rt, live=True)  # reads only
        for obj in reader.list(
            "/v1/subscriptions", {"customer": customer, "status": "all"}, what=f"reading the subscriptions of {email}"
        ):
            apply_subscription(rt, obj, now=now)
    found = _current(rt, email)
    sub = cast(Subscription, found.subscription)
    discounts = [d for d in sub.get("discounts", []) if d.get("resolved") is not False]
    end = sub.get("current_period_end")
    return {
        "email": found.email,
        "subscription": sub["id"],
        "status": sub["status"],
        "plan": found.plan.id if found.plan else None,
        "price": sub["items"][0]["price"] if sub["items"] else None,
        "current_period_end": iso(from_unix(end)) if end else None,
        "cancel_at_period_end": sub["cancel_at_period_end"],
        "discount": ", ".join(_discount_text(d) for d in discounts) or None,
        "trial_end": iso(from_unix(sub["trial_end"])) if sub.get("trial_end") else None,
    }


def _discount_text(discount: Discount) -> str:
    off = (
        f"{discount['percent_off']:g} % off"
        if discount.get("percent_off")
        else f"{discount.get('amount_off')} {discount.get('currency') or ''} off".strip()
    )
    return f"{discount.get('coupon') or discount.get('id')}: {off}, {discount.get('duration') or 'forever'}"


# --- migrate ---


@dataclass
class Change:
    email: str | None
    subscription: str
    item: str | None
    old_plan: str
    new_plan: str
    old_price: str
    new_price: str
    mrr_before: int
    mrr_after: int
    currency: str
    state: str  # planned, done (an earlier run), migrated (this run), skipped (why)

    def as_row(self) -> dict[str, Any]:
        return {
            "customer_email": self.email,
            "subscription": self.subscription,
            "old_plan": self.old_plan,
            "new_plan": self.new_plan,
            "old_price": self.old_price,
            "new_price": self.new_price,
            "mrr_before": self.mrr_before,
            "mrr_after": self.mrr_after,
            "currency": self.currency,
            "state": self.state,
        }


@dataclass
class MigrationPlan:
    changes: list[Change]
    currency: str
    planned: list[str] = field(default_factory=list)

    @property
    def mrr_change(self) -> int:
        return sum(c.mrr_after - c.mrr_before for c in self.changes if not c.state.startswith("skipped"))

    def summary(self) -> str:
        done = sum(c.state == "migrated" for c in self.changes)
        earlier = sum(c.state == "done" for c in self.changes)
        skipped = sum(c.state.startswith("skipped") for c in self.changes)
        return f"{len(self.changes)} subscriptions, {done} migrated now, {earlier} done before, {skipped} skipped"


def parse_map(pairs: list[str], rt: Runtime) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old or not new:
            raise UsageError(f"--map {pair!r}: expected OLD=NEW (plan ids, e.g. starter=pro)")
        for plan_id in (old, new):
            plan = plan_named(rt, plan_id)
            if not plan.stripe_price:
                raise DataError(f"plan {plan_id!r} has no Stripe price yet: run `arkops billing plans push`")
        if plan_named(rt, new).free:
            raise DataError(f"--map {pair}: {new!r} is free; cancel those subscriptions instead")
        if old in mapping:
            raise UsageError(f"--map {old}=...: given twice")
        mapping[old] = new
    if not mapping:
        raise UsageError("give at least one --map OLD=NEW")
    return mapping


def _moved(sub: Subscription, item_id: str | None, new: Plan) -> Subscription:
    """The subscription as it will be after the move: the item at the new plan's price and interval."""
    items = [
        {
            **item,
            "price": new.stripe_price,
            "product": new.stripe_product,
            "unit_amount": new.price,
            "unit_amount_decimal": None,
            "currency": new.currency,
            "interval": new.interval,
            "interval_count": 1,
            "billing_scheme": "per_unit",
            "tiers": None,
            "divide_by": None,
        }
        if item.get("id") == item_id
        else item
        for item in sub["items"]
    ]
    return cast(Subscription, {**sub, "items": items})


def plan_migration(rt: Runtime, mapping: dict[str, str], *, now: datetime) -> MigrationPlan:
    """Each current subscription on an OLD plan, with its MRR now and on the NEW plan."""
    from arkops.core.billing.amounts import subscription_mrr
    from arkops.core.billing.report import load
    from arkops.money import Converter

    known = plans(rt)
    convert = Converter(rt.config.currency, rt.config["fx"])
    ledger = load(rt)
    at = int(now.timestamp())
    with rt.store.transaction(PLANS_DB) as db:
        done = {key for key, _ in MIGRATIONS.items(db)}
    changes = []
    for sub in sorted(ledger.subscriptions.values(), key=lambda s: s["id"]):
        if sub.get("status") not in ("active", "trialing", "past_due"):
            continue
        old = plan_of(sub, known)
        if old is None or old.id not in mapping:
            continue
        new = known[mapping[old.id]]
        item = next(
            (
                i
                for i in sub["items"]
                if i.get("price") == old.stripe_price or (old.stripe_product and i.get("product") == old.stripe_product)
            ),
            None,
        )
        extra = ledger.customer_discounts.get(sub.get("customer") or "", [])
        item_id = item.get("id") if item else None

        def mrr(state: Subscription, extra: list = extra) -> int:
            return round(subscription_mrr(state, at, convert, customer_discounts=extra, tax_rates=ledger.tax_rates))

        old_price = (item.get("price") if item else None) or ""
        key = f"{sub['id']}:{new.stripe_price}"
        state = "done" if key in done else "planned"
        if state == "planned" and not item_id:
            state = "skipped: the ledger lacks the item id (run `arkops stripe sync --full`)"
        changes.append(
            Change(
                ledger.customer_email(sub.get("customer")),
                sub["id"],
                item_id,
                old.id,
                new.id,
                old_price,
                cast(str, new.stripe_price),
                mrr(sub),
                mrr(_moved(sub, item_id, new)) if item_id else mrr(sub),
                convert.reporting,
                state,
            )
        )
    return MigrationPlan(changes, convert.reporting)


def migrate(
    rt: Runtime,
    mapping: dict[str, str],
    *,
    apply: bool,
    prorate: bool,
    live: bool,
    now: datetime,
    progress: Callable[[str], None] = lambda _: None,
) -> MigrationPlan:
    """The plan of changes; with `apply`, each subscription moved in Stripe one at a time, and recorded.

    Resumable: a subscription is recorded as done (with its `plan_migration` email queued) in one
    transaction right after Stripe answered, and a later run skips it. A run killed between Stripe's
    answer and that record sends the same request with the same idempotency key again, and Stripe
    answers the first answer: no customer is moved or emailed twice.
    """
    from arkops.core.notify import batched, notify

    result = plan_migration(rt, mapping, now=now)
    if not apply:
        return result
    stripe = writer(rt, live=live)
    known = plans(rt)
    effective = now.astimezone(rt.config.tz).date().isoformat()
    for change in result.changes:
        if change.state != "planned":
            continue
        params = {
            "items": [{"id": change.item, "price": change.new_price}],
            "proration_behavior": "create_prorations" if prorate else "none",
            "metadata": {"arkops_plan": change.new_plan},
        }
        answer = stripe.post(
            f"/v1/subscriptions/{change.subscription}",
            params,
            idempotency_key=f"arkops-migrate-{change.subscription}-{change.old_price}-{change.new_price}",
            what=f"moving {change.subscription} to {change.new_plan}",
        )
        if answer is None:  # --dry-run
            continue
        with rt.store.transaction(PLANS_DB) as db, batched(rt):
            MIGRATIONS.put(
                db,
                f"{change.subscription}:{change.new_price}",
                {
                    "email": change.email,
                    "subscription": change.subscription,
                    "old_price": change.old_price,
                    "new_price": change.new_price,
                    "at": cast(str, iso(now)),
                },
            )
            if change.email:
                notify(
                    rt,
                    "plan_migration",
                    {
                        "old_plan": known[change.old_plan].name,
                        "new_plan": known[change.new_plan].name,
                        "effective_date": effective,
                    },
                    key=f"plan_migration:{change.subscription}:{change.new_price}",
                    now=now,
                    to=change.email,
                )
        apply_subscription(rt, answer, now=now)
        change.state = "migrated"
        progress(f"{change.subscription} ({change.email}): {change.old_plan} -> {change.new_plan}")
    result.planned = [r.line() for r in stripe.planned]
    return result


def plan_rows(rt: Runtime) -> list[dict[str, Any]]:
    """Each plan with its terms, Stripe price id, limits, and how many customers are on it now."""
    from arkops.core.plans import USAGE_DB
    from arkops.core.plans.catalog import free_plan
    from arkops.core.plans.usage import USAGE

    known = plans(rt)
    counts: dict[str, int] = {}
    on_plan = accounts(rt, known)
    for found in on_plan.values():
        if found.plan is not None:
            counts[found.plan.id] = counts.get(found.plan.id, 0) + 1
    free = free_plan(known)
    if free is not None:  # free customers are not in the ledger: those with usage and no current subscription
        with rt.store.transaction(USAGE_DB) as db:
            emails = {u["email"] for u in USAGE.values(db)}
        counts[free.id] = counts.get(free.id, 0) + len(emails - set(on_plan))
    return [
        {
            "plan": plan.id,
            "name": plan.name,
            "price": plan.price,
            "currency": plan.currency,
            "interval": plan.interval,
            "stripe_price": plan.stripe_price,
            "limits": plan.limits,
            "customers": counts.get(plan.id, 0),
        }
        for plan in known.values()
    ]
