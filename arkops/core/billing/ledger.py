"""The ledger and its single entry point, `apply(event)`.

Every source (Events API sync, webhooks, `--full` rebuild, the legacy
payments.json import) turns its input into Stripe-shaped events and calls
`apply_events`, which applies each event id once. Each object keeps the
event time of its current state; an older event never overwrites a newer
state. Subscriptions also keep every version in their history, from which
the state at any past instant is rebuilt (`report.mrr_series` walks it for
month-end MRR).
"""

from __future__ import annotations

import bisect
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from itertools import permutations
from typing import Any, cast

from arkops.clock import from_unix, iso
from arkops.core.billing import SubscriptionStatus
from arkops.core.billing import fields as F
from arkops.core.billing.amounts import unresolved
from arkops.core.billing.records import (
    COUPONS,
    CREDIT_NOTES,
    CUSTOMER_DISCOUNTS,
    CUSTOMERS,
    DISCOUNTS,
    DISPUTES,
    INVOICES,
    PAYMENT_LINKS,
    REFUNDS,
    SUBSCRIPTIONS,
    SUBSCRIPTIONS_HISTORY,
    TAX_RATES,
    Coupon,
    CreditNote,
    Customer,
    Discount,
    Dispute,
    Invoice,
    InvoiceLine,
    Refund,
    Subscription,
    SubscriptionItem,
    Tier,
)
from arkops.store import Db
from arkops.text import counted

HANDLED = {
    "checkout.session.completed",
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.trial_will_end",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "customer.subscription.pending_update_applied",
    "customer.subscription.pending_update_expired",
    "customer.discount.created",
    "customer.discount.updated",
    "customer.discount.deleted",
    "invoice.paid",
    "invoice.payment_succeeded",  # older name of the same moment; localstripe sends it
    "invoice.payment_failed",
    "invoice.voided",
    "invoice.marked_uncollectible",
    "invoice_payment.paid",
    "charge.succeeded",
    "charge.refunded",
    "charge.refund.updated",  # older name of refund.updated
    "refund.created",
    "refund.updated",
    "refund.failed",
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
    "charge.dispute.closed",
    "credit_note.created",
    "credit_note.updated",
    "credit_note.voided",
}
INTERVALS = ("day", "week", "month", "year")
SUBSCRIPTION_STATUSES = tuple(SubscriptionStatus)
PAID_EVENTS = ("invoice.paid", "invoice.payment_succeeded")
Money = Callable[[int, str], str]  # minor units and currency, as the operator reads them


@dataclass
class Alert:
    template: str
    variables: dict[str, Any]
    key: str
    to: str | None = None  # None: the operator
    locale: str | None = None
    at: int = 0  # when the event happened (unix seconds): older ones than the alert window are not sent


@dataclass
class ApplyResult:
    applied: int = 0
    duplicates: int = 0
    ignored: int = 0  # unknown event types, recorded as seen
    alerts: list[Alert] = field(default_factory=list)
    undeliverable: list[str] = field(default_factory=list)  # customer emails not queued (bad address in Stripe)
    quiet: int = 0  # alerts about events older than the alert window (history): recorded, not sent
    notes: list[str] = field(default_factory=list)  # for the operator: what was resolved or is still unresolved

    def counts(self) -> dict[str, int]:
        return {
            "applied": self.applied,
            "duplicates": self.duplicates,
            "ignored": self.ignored,
            "alerts": len(self.alerts) - self.quiet,
            "not_alerted": self.quiet,
        }

    def summary(self) -> str:
        older = f" ({self.quiet} about older events not sent)" if self.quiet else ""
        return (
            f"{self.applied} applied, {self.duplicates} already seen, {self.ignored} ignored, "
            f"{counted(len(self.alerts) - self.quiet, 'alert')}{older}"
        )


def _newer(db: Db, table: str, key: str, at: int) -> bool:
    """True when the event at `at` is at least as new as the stored state (ties: later delivery wins)."""
    current = db.get(table, key)
    return current is None or at >= current.get("_at", 0)


def _store_versioned(db: Db, table: str, key: str, at: int, state: Mapping[str, Any]) -> bool:
    """Keep the newest state of a customer or invoice (an older event arriving late changes nothing)."""
    if _newer(db, table, key, at):
        db.put(table, key, {**state, "_at": at})
        return True
    return False


def _drop_unread_histories(db: Db) -> None:
    """Schema 2: customers and invoices no longer keep every version. Nothing read those histories (only
    subscriptions' drive month-end MRR), and they were half of a three-year ledger, parsed by every webhook."""
    for table in ("customers_history", "invoices_history"):
        db.drop_table(table)


def _invoices_archive_begin(db: Db) -> None:
    """Schema 3 changes no record: it says settled invoices may have moved to archive/ledger/
    (`billing.retention`), which an older arkops would not read (its revenue would miss them), so it
    refuses the file."""


MIGRATIONS = {1: _drop_unread_histories, 2: _invoices_archive_begin}

ARCHIVED_TABLES = ("invoices", "payment_links")  # what `billing.retention` moves, found again by key


class ArchiveReach:
    """Lets a transaction find archived invoices and payment links by key (`Db.reach_archive`): a refund,
    dispute or late event about an invoice settled long ago brings it back into the hot ledger.

    Every archived invoice was last changed before `sync.archived.before`, so an event about an invoice
    created since then cannot concern an archived one: the index is not even opened (most webhooks).
    """

    def __init__(self, db: Db) -> None:
        from arkops.store.archive import Archive, ArchiveIndex

        self.archive = Archive.of(db)
        self.index = ArchiveIndex(self.archive)
        self.before = (db.get("sync", "archived") or {}).get("before", 0)
        self.lookups = {table: partial(self.archive.find, table, index=self.index) for table in ARCHIVED_TABLES}

    def reach(self, db: Db, event: dict) -> None:
        obj = event["data"]["object"]
        created = obj.get("created")
        fresh = event["type"].startswith("invoice.") and isinstance(created, int) and created >= self.before
        for table, lookup in self.lookups.items():
            db.reach_archive(table, None if fresh else lookup)


def every_invoice(db: Db) -> list[Invoice]:
    """The hot invoices and the archived ones (the hot copy wins: a late event brought it back)."""
    from arkops.store.archive import Archive

    invoices = dict(INVOICES.items(db))
    for invoice in Archive.of(db).values("invoices"):
        invoices.setdefault(invoice["id"], cast(Invoice, invoice))
    return list(invoices.values())


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


def _months_later(start: int, months: int) -> int:
    moment = from_unix(start)
    assert moment is not None
    index = moment.year * 12 + moment.month - 1 + months
    day = min(moment.day, 28)  # Stripe ends a repeating coupon on the same day of the month, or the last one
    return int(moment.replace(year=index // 12, month=index % 12 + 1, day=day).timestamp())


def with_coupon(discount: Discount, coupon: Coupon) -> Discount:
    """A discount's terms from its coupon; a repeating coupon without an `end` lasts `duration_in_months`."""
    end = discount["end"]
    months = coupon["duration_in_months"]
    if end is None and coupon["duration"] == "repeating" and months and discount["start"]:
        end = _months_later(discount["start"], months)
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
    if isinstance(entry, dict) and (promotion_code := F.ident(entry, "promotion_code")):
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
        "id": F.text(item, "id"),
        "price": F.text(price, "id"),
        "product": F.ident(price, "product"),
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
        "trial_start": F.moment(sub, "trial_start"),
        "trial_end": F.moment(sub, "trial_end"),
        "cancel_at_period_end": F.flag(sub, "cancel_at_period_end"),
        "canceled_at": F.moment(sub, "canceled_at"),
        "ended_at": F.moment(sub, "ended_at"),
        "start_date": F.moment(sub, "start_date") or F.moment(sub, "created"),
        "pause_collection": {
            "behavior": F.text(pause, "behavior"),
            "resumes_at": F.moment(pause, "resumes_at"),
        }
        if pause
        else None,
        "current_period_start": _period(sub, "current_period_start"),
        "current_period_end": _period(sub, "current_period_end"),
    }
    return state


def _period(sub: dict, key: str) -> int | None:
    """The current period's bound: on the subscription before API 2025-03-31, on its first item since."""
    own = F.moment(sub, key)
    if own is not None:
        return own
    items = F.listing(sub, "items")
    return F.moment(items[0], key) if items else None


# Same-second ordering. Stripe does not promise delivery order, and Checkout sends `created` (incomplete),
# `invoice.paid` and `updated` (active) within one second. Versions of one second are put in the order in
# which each one's `previous_attributes` (its state before) matches the state before it; without that,
# lifecycle order: an earlier status (incomplete, trialing) never comes after a later one.
LIFECYCLE = {"incomplete": 0, "trialing": 1, "canceled": 3, "incomplete_expired": 3}  # the others: 2
TIE_SEARCH = 7  # more versions in one second than this: lifecycle order only


def identity(state: Mapping[str, Any] | None) -> str:
    """A digest of what makes one subscription state differ from another (not the terms learned later)."""
    if not state:
        return ""
    shape = [
        state.get("status"),
        [(i.get("price"), i.get("quantity"), [d.get("id") for d in i.get("discounts", [])]) for i in state["items"]],
        [d.get("id") or d.get("coupon") for d in state.get("discounts", [])],
        state.get("cancel_at_period_end"),
        state.get("pause_collection"),
        state.get("ended_at"),
        state.get("trial_end"),
    ]
    return hashlib.sha1(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:16]


def _merged(obj: Any, previous: Any) -> Any:
    """The object as it was before the event: `previous_attributes` laid over it (nested objects merged)."""
    if not isinstance(obj, dict) or not isinstance(previous, dict):
        return previous
    return {**obj, **{key: _merged(obj.get(key), value) for key, value in previous.items()}}


def state_before(event_type: str, obj: dict, data: dict, known: Known) -> str | None:
    """The identity of the state an event started from: "" for a creation, None when the event does not say."""
    if event_type.endswith(".created"):
        return ""
    previous = data.get("previous_attributes")
    if not isinstance(previous, dict) or not previous:
        return None
    return identity(normalize_subscription(_merged(obj, previous), known))


def _lifecycle(version: Mapping[str, Any]) -> int:
    return LIFECYCLE.get(version.get("status") or "", 2)


def ambiguous_second(versions: Sequence[Subscription], at: int) -> bool:
    """Several different states in the second `at`, and not every one says which state it followed
    (`previous_attributes`): their order, and so the state after that second, is a guess."""
    group = [version for version in versions if version["_at"] == at]
    return len({identity(v) for v in group}) > 1 and any(v.get("_before") is None for v in group)


def order_ties(group: list[Subscription], before: str) -> list[Subscription]:
    """The versions of one second in the order Stripe made them, as far as the events tell."""
    if len(group) < 2:
        return group
    if len(group) > TIE_SEARCH:
        return sorted(group, key=_lifecycle)

    def rank(order: Sequence[Subscription]) -> tuple[int, str]:
        score, current, stage = 0, before, -1
        for version in order:
            claimed = version.get("_before")
            if claimed is not None:  # evidence outweighs every lifecycle step of the group
                score += 2 * TIE_SEARCH if claimed == current else -2 * TIE_SEARCH
            stage_now = _lifecycle(version)
            score -= stage_now < stage
            current, stage = identity(version), stage_now
        # equal evidence: the same choice whatever the delivery order
        return score, " ".join(f"{3 - _lifecycle(v)}{identity(v)}" for v in order)

    best: tuple[Subscription, ...] = max(permutations(group), key=rank)
    return list(best)


def _store_subscription(db: Db, state: Subscription, at: int, event_type: str, before: str | None) -> Subscription:
    """Insert this version in the history by event time (ties ordered by `order_ties`); the last one is current."""
    history = SUBSCRIPTIONS_HISTORY.get(db, state["id"]) or {"versions": []}
    versions = history["versions"]
    times = [v["_at"] for v in versions]
    version: Subscription = {**state, "_at": at, "_type": event_type, "_before": before}
    low = bisect.bisect_left(times, at)
    versions.insert(bisect.bisect_right(times, at), version)
    # This second's versions are ordered again, and so is every later second's: the state a tie group
    # started from (the version before it) may be what just arrived late.
    while low < len(versions):
        high = bisect.bisect_right([v["_at"] for v in versions], versions[low]["_at"])
        versions[low:high] = order_ties(versions[low:high], identity(versions[low - 1]) if low else "")
        low = high
    SUBSCRIPTIONS_HISTORY.put(db, state["id"], history)
    SUBSCRIPTIONS.put(db, state["id"], versions[-1])
    _track_unresolved(db, state["id"], versions)
    return versions[-1]


def _known(db: Db) -> Known:
    def lookup(key: str) -> Discount | Coupon | None:
        return DISCOUNTS.get(db, key) or COUPONS.get(db, key)

    return lookup


UNRESOLVED = "unresolved"  # subscription id (or customer:<id>) -> {"what": [...]}; empty when all is known


def _track_unresolved(db: Db, key: str, versions: list[Subscription]) -> None:
    missing = sorted({what for version in versions for what in unresolved(version)})
    if missing or db.get(UNRESOLVED, key):
        db.put(UNRESOLVED, key, {"what": missing})


def pending(db: Db) -> dict[str, list[str]]:
    """What is still unresolved, by subscription id (or customer:<id>)."""
    return {key: entry["what"] for key, entry in db.items(UNRESOLVED) if entry.get("what")}


def _learn_from(db: Db, state: Subscription) -> None:
    """Discounts and tiers this payload resolved become known for the versions that only had their ids."""
    discounts = [d for d in state["discounts"] if d.get("resolved") is not False]
    tiers: dict[str, list[Tier]] = {}
    for item in state["items"]:
        discounts += [d for d in item.get("discounts", []) if d.get("resolved") is not False]
        if item.get("tiers") and item["price"]:
            tiers[item["price"]] = item["tiers"]  # type: ignore[assignment]
    learn(db, discounts=discounts, tiers=tiers)


def learn(
    db: Db,
    *,
    discounts: Sequence[Discount] = (),
    coupons: Sequence[Coupon] = (),
    tiers: Mapping[str, list[Tier]] | None = None,
) -> int:
    """Cache resolved discounts and coupons, and fill them (and price tiers) into every stored version that
    only knew their ids. `discounts` may include unresolved ones that name their coupon: the link from the
    discount id to the coupon is what they teach. Returns how many subscriptions or customers became fully
    known."""
    links = {d["id"]: d for d in discounts if d.get("id")}
    fresh_coupons = {c["id"]: c for c in coupons}
    for discount in discounts:
        coupon_id = discount["coupon"]
        if discount.get("resolved") is not False and coupon_id and coupon_id not in fresh_coupons:
            fresh_coupons[coupon_id] = _coupon_of(discount)
    for coupon_id, coupon in fresh_coupons.items():
        if COUPONS.get(db, coupon_id) != coupon:
            COUPONS.put(db, coupon_id, coupon)
    tiers = tiers or {}

    def fill(discount: Discount) -> Discount:
        if discount.get("resolved") is not False:
            return discount
        link = links.get(discount.get("id") or "")
        if link is not None:
            discount = {
                **discount,
                "coupon": discount["coupon"] or link["coupon"],
                "start": discount["start"] or link["start"],
                "end": discount["end"] or link["end"],
            }
            if "promotion_code" in link:
                discount["promotion_code"] = link["promotion_code"]
        coupon = fresh_coupons.get(discount["coupon"] or "") or COUPONS.get(db, discount["coupon"] or "")
        return with_coupon(discount, coupon) if coupon else discount

    for link in links.values():
        filled = fill(link)
        if filled.get("resolved") is not False and not DISCOUNTS.get(db, filled["id"] or ""):
            DISCOUNTS.put(db, filled["id"] or "", filled)
    if not (links or fresh_coupons or tiers):
        return 0
    done = 0
    for key in pending(db):
        if key.startswith("customer:"):
            customer_id = key.removeprefix("customer:")
            record = CUSTOMER_DISCOUNTS.get(db, customer_id)
            if record:
                record["discounts"] = [fill(d) for d in record["discounts"]]
                CUSTOMER_DISCOUNTS.put(db, customer_id, record)
                _track_customer(db, customer_id)
            done += not pending(db).get(key)
            continue
        history = SUBSCRIPTIONS_HISTORY.get(db, key)
        if not history:
            continue
        for version in history["versions"]:
            version["discounts"] = [fill(d) for d in version["discounts"]]
            for item in version["items"]:
                item["discounts"] = [fill(d) for d in item.get("discounts", [])]
                if item.get("billing_scheme") == "tiered" and not item.get("tiers") and item["price"] in tiers:
                    item["tiers"] = tiers[item["price"]]  # type: ignore[index]
        SUBSCRIPTIONS_HISTORY.put(db, key, history)
        SUBSCRIPTIONS.put(db, key, history["versions"][-1])
        _track_unresolved(db, key, history["versions"])
        done += not pending(db).get(key)
    return done


def _coupon_of(discount: Discount) -> Coupon:
    return {
        "id": discount["coupon"] or "",
        "percent_off": discount["percent_off"],
        "amount_off": discount["amount_off"],
        "currency": discount["currency"],
        "duration": discount["duration"],
        "duration_in_months": discount.get("duration_in_months"),
    }


def _track_customer(db: Db, customer_id: str) -> None:
    record = CUSTOMER_DISCOUNTS.get(db, customer_id)
    missing = [
        f"discount {d.get('id') or d.get('coupon')}"
        for d in (record or {"discounts": []})["discounts"]
        if d.get("resolved") is False
    ]
    key = f"customer:{customer_id}"
    if missing or db.get(UNRESOLVED, key):
        db.put(UNRESOLVED, key, {"what": missing})


def _apply_discount_event(db: Db, event_type: str, obj: dict, at: int) -> None:
    """customer.discount.*: a customer's own discount is kept with its start and end (the removal, when
    deleted); one on a subscription or item only teaches the ledger its terms."""
    discount = read_discount(obj, _known(db))
    if discount.get("resolved") is not False:
        learn(db, discounts=[discount])
    if F.ident(obj, "subscription") or F.ident(obj, "subscription_item") or F.ident(obj, "invoice"):
        return
    customer_id = F.ident(obj, "customer")
    if not customer_id:
        return
    if event_type == "customer.discount.deleted":
        discount = {**discount, "end": min(discount["end"] or at, at)}
    _keep_customer_discount(db, customer_id, discount)


def _keep_customer_discount(db: Db, customer_id: str, discount: Discount) -> None:
    record = CUSTOMER_DISCOUNTS.get(db, customer_id) or {"discounts": []}
    kept = [d for d in record["discounts"] if d.get("id") != discount.get("id")]
    same = [d for d in record["discounts"] if d.get("id") == discount.get("id")]
    if same and same[0]["end"] is not None and (discount["end"] is None or same[0]["end"] < discount["end"]):
        discount = {**discount, "end": same[0]["end"]}  # a removal already seen stays, whatever arrives later
    record["discounts"] = sorted([*kept, discount], key=lambda d: d["start"] or 0)
    CUSTOMER_DISCOUNTS.put(db, customer_id, record)
    _track_customer(db, customer_id)


def _customer_discount_from(db: Db, customer_id: str, obj: dict, at: int) -> None:
    """A customer payload: its `discount` is the customer's discount now; none means any open one ended."""
    if "discount" not in obj:
        return
    if isinstance(obj.get("discount"), dict):
        discount = read_discount(obj["discount"], _known(db))
        if discount.get("resolved") is not False:
            learn(db, discounts=[discount])
        _keep_customer_discount(db, customer_id, discount)
        return
    record = CUSTOMER_DISCOUNTS.get(db, customer_id)
    if record and any(d["end"] is None and (d["start"] or 0) <= at for d in record["discounts"]):
        record["discounts"] = [
            {**d, "end": at} if d["end"] is None and (d["start"] or 0) <= at else d for d in record["discounts"]
        ]
        CUSTOMER_DISCOUNTS.put(db, customer_id, record)


def _customer_email(db: Db, customer_id: str | None) -> str | None:
    customer = CUSTOMERS.get(db, customer_id) if customer_id else None
    return customer.get("email") if customer else None


def _apply_customer(db: Db, obj: dict, at: int, deleted: bool) -> None:
    customer_id = F.require_id(obj, "customer")
    previous: Customer | dict[str, Any] = CUSTOMERS.get(db, customer_id) or {}
    state: Customer = {
        "id": customer_id,
        "email": F.text(obj, "email") or previous.get("email"),
        "name": F.text(obj, "name") or previous.get("name"),
        "created": F.moment(obj, "created") or previous.get("created"),
        "deleted": deleted,
    }
    _store_versioned(db, "customers", customer_id, at, state)
    if not deleted:
        _customer_discount_from(db, customer_id, obj, at)


def _apply_subscription(
    db: Db, event_type: str, obj: dict, data: dict, at: int, result: ApplyResult, settings: Mapping[str, Any]
) -> None:
    known = _known(db)
    state = normalize_subscription(obj, known)
    _learn_from(db, state)
    was_active = (db.get("flags", f"active:{state['id']}") or {}).get("value")
    current = _store_subscription(db, state, at, event_type, state_before(event_type, obj, data, known))
    if current["status"] == "active" and not was_active:
        db.put("flags", f"active:{state['id']}", {"value": True})
        email = _customer_email(db, current["customer"])
        if settings.get("notify_subscription_welcome") and email:
            item = current["items"][0] if current["items"] else None
            # the Stripe price id; `apply_events` names it as arkops.toml does (plan_names)
            plan = (item["price"] or item["product"] or "") if item else ""
            result.alerts.append(
                Alert(
                    "subscription_welcome",
                    {"plan": plan or "your plan"},
                    f"subscription:{state['id']}:welcome",
                    to=email,
                )
            )


CLOSING_EVENTS = {"invoice.voided": "void", "invoice.marked_uncollectible": "uncollectible"}


def _apply_invoice(
    db: Db, obj: dict, at: int, event_type: str, result: ApplyResult, settings: Mapping[str, Any], money: Money
) -> None:
    paid = event_type in PAID_EVENTS
    previous = INVOICES.get(db, F.require_id(obj, "invoice"))
    state = _invoice_state(db, obj, at, paid, previous)
    if event_type in CLOSING_EVENTS:
        state["status"] = CLOSING_EVENTS[event_type]
        state["payment_failed"] = bool(previous and previous.get("payment_failed"))
        state["next_payment_attempt"] = None
    if previous and previous.get("status") == "paid" and not paid:
        _keep_paid(state, previous)
    _store_versioned(db, "invoices", state["id"], at, state)
    _link_payments(db, obj, state)
    if paid:
        _learn_tax_rates(db, obj, at)
        if state["amount_paid"] > 0:  # a trial's 0 invoice or a 100 % coupon is not revenue
            result.alerts += _paid_alerts(db, state, money(state["amount_paid"], state["currency"]), settings)
    elif event_type == "invoice.payment_failed":
        result.alerts += _failed_alerts(state, money(state["amount_due"], state["currency"]), settings)


def _link_payments(db: Db, obj: dict, invoice: Invoice) -> None:
    """Remember which charge and payment intent paid this invoice (before 2025-03-31 the invoice names them;
    since, its `payments` do), so refunds and disputes that name only a charge find their invoice."""
    link = {"invoice": invoice["id"], "customer": invoice["customer"]}
    for key in ("charge", "payment_intent"):
        if found := F.ident(obj, key):
            PAYMENT_LINKS.put(db, found, link)  # type: ignore[arg-type]
    for payment in F.listing(obj, "payments"):
        details = F.table(payment, "payment")
        for key in ("charge", "payment_intent"):
            if found := F.ident(details, key):
                PAYMENT_LINKS.put(db, found, link)  # type: ignore[arg-type]


def _apply_invoice_payment(db: Db, obj: dict) -> None:
    """invoice_payment.paid (since 2025-03-31): the payment intent or charge that paid an invoice."""
    invoice_id = F.ident(obj, "invoice")
    if not invoice_id:
        return
    invoice = INVOICES.get(db, invoice_id)
    details = F.table(obj, "payment")
    for key in ("charge", "payment_intent"):
        if found := F.ident(details, key):
            PAYMENT_LINKS.put(db, found, {"invoice": invoice_id, "customer": invoice["customer"] if invoice else None})


def _learn_tax_rates(db: Db, obj: dict, at: int) -> None:
    """The rate of tax included in each price, from the latest paid invoice's lines: `tax_amounts` before
    2025-03-31, `taxes` since."""
    for line in F.listing(obj, "lines"):
        price = F.ident(line, "price") or F.ident(F.table(F.table(line, "pricing"), "price_details"), "price")
        inclusive = [t for t in F.listing(line, "tax_amounts") if F.flag(t, "inclusive")] + [
            t for t in F.listing(line, "taxes") if F.text(t, "tax_behavior") == "inclusive"
        ]
        taxable = max((F.amount(t, "taxable_amount") for t in inclusive), default=0)  # each rate names the same base
        if not price or not inclusive or not taxable:
            continue
        known = TAX_RATES.get(db, price)
        if known is None or known["at"] <= at:
            TAX_RATES.put(db, price, {"rate": sum(F.amount(t, "amount") for t in inclusive) / taxable, "at": at})


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


def _invoice_state(db: Db, obj: dict, at: int, paid: bool, previous: Invoice | None) -> Invoice:
    """The invoice as this event shows it, keeping what only earlier events told (email, paid time, attempts, refunds)."""
    known: Invoice | dict[str, Any] = previous or {}
    transitions = F.table(obj, "status_transitions")
    customer = F.ident(obj, "customer")
    return {
        "id": F.require_id(obj, "invoice"),
        "customer": customer,
        "customer_email": F.text(obj, "customer_email") or _customer_email(db, customer) or known.get("customer_email"),
        "subscription": F.ident(obj, "subscription")
        or F.ident(F.table(F.table(obj, "parent"), "subscription_details"), "subscription"),
        "status": "paid" if paid else (F.text(obj, "status") or "open"),
        "currency": F.currency(obj, "currency"),
        "amount_paid": F.amount(obj, "amount_paid"),
        "amount_due": F.amount(obj, "amount_due"),
        "billing_reason": F.text(obj, "billing_reason"),
        "paid_at": (F.moment(transitions, "paid_at") or at) if paid else known.get("paid_at"),
        "attempt_count": F.count(obj, "attempt_count", 0) or known.get("attempt_count") or 0,
        "next_payment_attempt": None if paid else F.moment(obj, "next_payment_attempt"),
        "payment_failed": (not paid) or known.get("payment_failed", False),
        "refunded": known.get("refunded", 0),
        "lines": subscription_lines(obj) if paid else known.get("lines"),
    } | _promotion_codes(db, obj, known)  # type: ignore[return-value]


def _promotion_codes(db: Db, obj: dict, known: Invoice | dict[str, Any]) -> dict[str, list[str]]:
    """`{"promotion_codes": [...]}` when the invoice's discounts (objects, or ids the ledger has resolved) name a
    promotion code, else what an earlier event told; nothing at all for the invoices (most) without one."""
    entries = [*F.ident_list(obj, "discounts"), *([F.table(obj, "discount")] if F.table(obj, "discount") else [])]
    codes: list[str] = []
    for entry in entries:
        code = F.ident(entry, "promotion_code") if isinstance(entry, dict) else None
        if code is None and isinstance(entry, str):
            cached = DISCOUNTS.get(db, entry)
            code = cached.get("promotion_code") if cached else None
        if code and code not in codes:
            codes.append(code)
    codes = codes or list(known.get("promotion_codes") or [])
    return {"promotion_codes": codes} if codes else {}


def _keep_paid(state: Invoice, previous: Invoice) -> None:
    """Paid is final: a later failure or update of a paid invoice leaves it paid, when and for what it was."""
    state.update({"status": "paid", "paid_at": previous["paid_at"], "amount_paid": previous["amount_paid"]})


def _paid_alerts(db: Db, invoice: Invoice, amount: str, settings: Mapping[str, Any]) -> list[Alert]:
    """The operator's first-revenue alert (once per ledger), and the customer's receipt when enabled."""
    invoice_id, email = invoice["id"], invoice["customer_email"]
    alerts = []
    if db.insert_new("flags", "first_revenue", {"invoice": invoice_id}):
        alerts.append(
            Alert(
                "first_revenue",
                {"email": email or invoice["customer"] or "unknown", "amount": amount, "invoice_id": invoice_id},
                "alert:first_revenue",
            )
        )
    if settings.get("notify_payment_received") and email:
        alerts.append(
            Alert(
                "payment_received",
                {"amount": amount, "invoice_id": invoice_id},
                f"invoice:{invoice_id}:received",
                to=email,
            )
        )
    return alerts


def _failed_alerts(invoice: Invoice, amount: str, settings: Mapping[str, Any]) -> list[Alert]:
    """The operator's alert for this attempt, and the customer's notice when enabled; keyed by attempt."""
    invoice_id, email = invoice["id"], invoice["customer_email"]
    attempt = invoice["attempt_count"] or 1
    variables = {
        "email": email or invoice["customer"] or "unknown",
        "amount": amount,
        "invoice_id": invoice_id,
        "attempt_count": attempt,
        "next_attempt": iso_day(invoice["next_payment_attempt"]),
    }
    alerts = [Alert("payment_failed", variables, f"invoice:{invoice_id}:failed:{attempt}")]
    if settings.get("notify_payment_failed_customer") and email:
        customer_vars = {k: variables[k] for k in ("amount", "invoice_id", "next_attempt")}
        alerts.append(
            Alert(
                "payment_failed_customer",
                customer_vars,
                f"invoice:{invoice_id}:failed-customer:{attempt}",
                to=email,
            )
        )
    return alerts


def iso_day(seconds: int | None) -> str:
    if not seconds:
        return "none scheduled"
    return from_unix(seconds).strftime("%Y-%m-%d")  # type: ignore[union-attr]


REFUND_STAGE = {"pending": 0, "requires_action": 0, "succeeded": 1, "failed": 2, "canceled": 2}
REFUND_STATUSES = tuple(REFUND_STAGE)
NOT_REFUNDED = ("failed", "canceled")


def _invoice_of(db: Db, obj: dict) -> str | None:
    """The invoice a charge, refund or dispute belongs to: named on it (before 2025-03-31), or through the
    charge or payment intent the ledger saw paying it."""
    if invoice_id := F.ident(obj, "invoice"):
        return invoice_id
    for key in ("charge", "payment_intent", "id"):
        found = F.ident(obj, key)
        if found and (link := PAYMENT_LINKS.get(db, found)):
            return link["invoice"]
    return None


def _keep_refund(db: Db, record: Refund) -> None:
    """A refund's status only moves forward (pending, succeeded, then failed or canceled), whatever the
    delivery order; a real refund replaces the stand-in made from its charge's amount_refunded."""
    known = REFUNDS.get(db, record["id"])
    if known and REFUND_STAGE.get(known.get("status", "succeeded"), 1) > REFUND_STAGE.get(
        record.get("status", "succeeded"), 1
    ):
        record = {**record, "status": known.get("status", "succeeded")}
    REFUNDS.put(db, record["id"], record)
    if not record.get("synthetic"):
        stand_ins = [r for r in REFUNDS.values(db) if r["charge"] == record["charge"] and r.get("synthetic")]
        covered = record["amount"] if not known else 0
        for stand_in in stand_ins:
            take = min(covered, stand_in["amount"])
            stand_in["amount"] -= take
            covered -= take
            REFUNDS.put(db, stand_in["id"], stand_in)


def _refund_record(db: Db, refund: dict, charge: dict, at: int) -> Refund:
    charge_id = F.ident(refund, "charge") or F.require_id(charge, "charge")
    return {
        "id": F.require_id(refund, "refund"),
        "charge": charge_id,
        "invoice": _invoice_of(db, refund) or _invoice_of(db, charge) if charge else _invoice_of(db, refund),
        "customer": F.ident(charge, "customer") if charge else None,
        "amount": F.amount(refund, "amount"),
        "currency": F.currency(refund, "currency", F.currency(charge, "currency") if charge else ""),
        "created": F.moment(refund, "created") or at,
        "status": F.choice(refund, "status", REFUND_STATUSES, "succeeded"),
    }


def _apply_refund(db: Db, charge: dict, at: int) -> None:
    """charge.refunded: the charge's refunds when it lists them (before 2022-11-15), otherwise the part of
    `amount_refunded` the ledger has not seen as refunds yet."""
    charge_id = F.require_id(charge, "charge")
    _link_charge(db, charge)
    for refund in F.listing(charge, "refunds"):
        _keep_refund(db, _refund_record(db, refund, charge, at))
    refunded = F.amount(charge, "amount_refunded")
    seen = sum(
        r["amount"] for r in REFUNDS.values(db) if r["charge"] == charge_id and r.get("status") not in NOT_REFUNDED
    )
    if refunded > seen:
        stand_in = {"id": f"{charge_id}:{refunded}", "amount": refunded - seen, "created": at, "charge": charge_id}
        _keep_refund(db, {**_refund_record(db, stand_in, charge, at), "synthetic": True})
    _total_refunds(db, _invoice_of(db, charge))


def _apply_refund_object(db: Db, refund: dict, at: int) -> None:
    """refund.created/updated/failed: one refund; a failed one no longer counts."""
    charge_id = F.ident(refund, "charge")
    charge = {"object": "charge", "id": charge_id, **_link_of(db, charge_id)} if charge_id else {}
    record = _refund_record(db, refund, charge, at) if charge_id else None
    if record is None:
        return  # a refund of no charge (e.g. a customer balance) does not touch invoice revenue
    _keep_refund(db, record)
    _total_refunds(db, record["invoice"])


def _link_of(db: Db, charge_id: str) -> dict:
    link = PAYMENT_LINKS.get(db, charge_id)
    return {"invoice": link["invoice"], "customer": link["customer"]} if link else {}


def _link_charge(db: Db, charge: dict) -> None:
    """A charge names its payment intent (always) and its invoice (before 2025-03-31): remember the pair."""
    charge_id = F.require_id(charge, "charge")
    invoice_id = _invoice_of(db, charge)
    if invoice_id and not PAYMENT_LINKS.get(db, charge_id):
        PAYMENT_LINKS.put(db, charge_id, {"invoice": invoice_id, "customer": F.ident(charge, "customer")})


def _total_refunds(db: Db, invoice_id: str | None) -> None:
    if invoice_id and (invoice := INVOICES.get(db, invoice_id)):
        invoice["refunded"] = sum(
            r["amount"]
            for r in REFUNDS.values(db)
            if r["invoice"] == invoice_id and r.get("status") not in NOT_REFUNDED
        )
        INVOICES.put(db, invoice_id, invoice)


DISPUTE_STATUSES = (
    "warning_needs_response",
    "warning_under_review",
    "warning_closed",
    "needs_response",
    "under_review",
    "won",
    "lost",
    "prevented",
)


def _apply_dispute(db: Db, event_type: str, obj: dict, at: int) -> None:
    """charge.dispute.*: funds withdrawn leave revenue when they leave, and come back when reinstated."""
    dispute_id = F.require_id(obj, "dispute")
    known: Dispute | None = DISPUTES.get(db, dispute_id)
    status = F.choice(obj, "status", DISPUTE_STATUSES, "needs_response")
    withdrawn = known["withdrawn_at"] if known else None
    reinstated = known["reinstated_at"] if known else None
    if event_type == "charge.dispute.funds_withdrawn" or (status == "lost" and withdrawn is None):
        withdrawn = min(withdrawn or at, at)
    if event_type == "charge.dispute.funds_reinstated" or (status == "won" and withdrawn is not None):
        reinstated = max(reinstated or at, at)
    if known and known["status"] in ("won", "lost") and event_type != "charge.dispute.closed":
        status = known["status"]  # closed is final, whatever arrives after
    record: Dispute = {
        "id": dispute_id,
        "charge": F.ident(obj, "charge"),
        "invoice": _invoice_of(db, obj),
        "customer": (known["customer"] if known else None)
        or _link_of(db, F.ident(obj, "charge") or "").get("customer"),
        "amount": F.amount(obj, "amount"),
        "currency": F.currency(obj, "currency"),
        "status": status,
        "created": F.moment(obj, "created") or at,
        "withdrawn_at": withdrawn,
        "reinstated_at": reinstated if withdrawn is not None else None,
    }
    DISPUTES.put(db, dispute_id, record)
    _total_disputes(db, record["invoice"])


def _total_disputes(db: Db, invoice_id: str | None) -> None:
    if invoice_id and (invoice := INVOICES.get(db, invoice_id)):
        invoice["disputed"] = sum(
            d["amount"]
            for d in DISPUTES.values(db)
            if d["invoice"] == invoice_id and d["withdrawn_at"] is not None and d["reinstated_at"] is None
        )
        INVOICES.put(db, invoice_id, invoice)


def _apply_credit_note(db: Db, event_type: str, obj: dict, at: int) -> None:
    """credit_note.*: the part of a credit note after payment that is not a refund (credit to the customer's
    balance, or out of band) lowers its invoice's revenue; before payment it lowered the amount paid already."""
    note_id = F.require_id(obj, "credit_note")
    if F.choice(obj, "type", ("pre_payment", "post_payment", "mixed"), "post_payment") == "pre_payment":
        return
    total = F.amount(obj, "amount")
    refunded = sum(F.amount(r, "amount_refunded") for r in F.listing(obj, "refunds"))
    if single := F.ident(obj, "refund"):  # before 2025-03-31: one refund, by id
        known_refund = REFUNDS.get(db, single)
        refunded += known_refund["amount"] if known_refund else total
    voided = event_type == "credit_note.voided" or F.text(obj, "status") == "void"
    known = CREDIT_NOTES.get(db, note_id)
    record: CreditNote = {
        "id": note_id,
        "invoice": F.ident(obj, "invoice"),
        "customer": F.ident(obj, "customer"),
        "amount": max(total - refunded, 0),
        "currency": F.currency(obj, "currency"),
        "created": F.moment(obj, "effective_at") or F.moment(obj, "created") or at,
        "voided_at": (known and known["voided_at"]) or ((F.moment(obj, "voided_at") or at) if voided else None),
    }
    CREDIT_NOTES.put(db, note_id, record)
    if record["invoice"] and (invoice := INVOICES.get(db, record["invoice"])):
        invoice["credited"] = sum(
            n["amount"] for n in CREDIT_NOTES.values(db) if n["invoice"] == record["invoice"] and n["voided_at"] is None
        )
        INVOICES.put(db, record["invoice"], invoice)


def _apply_checkout(db: Db, session: dict, at: int) -> None:
    customer_id = F.ident(session, "customer")
    details = F.table(session, "customer_details")
    email = F.text(details, "email") or F.text(session, "customer_email")
    if customer_id and email and not _customer_email(db, customer_id):
        _store_versioned(
            db,
            "customers",
            customer_id,
            at,
            {
                "id": customer_id,
                "email": email,
                "name": F.text(details, "name"),
                "created": at,
                "deleted": False,
            },
        )


def apply_event(
    db: Db, event: dict, *, now: datetime, settings: Mapping[str, Any], money: Money, result: ApplyResult
) -> None:
    """Apply one event inside a ledger transaction; an event id already seen does nothing."""
    event_id = event["id"]
    if db.get("events", event_id) is not None:
        result.duplicates += 1
        return
    event_type = event.get("type", "")
    at = int(event.get("created") or now.timestamp())
    obj = (event.get("data") or {}).get("object") or {}
    db.put("events", event_id, {"type": event_type, "created": at, "applied_at": iso(now)})
    if event_type not in HANDLED:
        result.ignored += 1
        return
    first_alert = len(result.alerts)
    data = event.get("data") or {}
    if event_type.startswith("customer.subscription."):
        _apply_subscription(db, event_type, obj, data, at, result, settings)
    elif event_type.startswith("customer.discount."):
        _apply_discount_event(db, event_type, obj, at)
    elif event_type.startswith("customer."):
        _apply_customer(db, obj, at, deleted=event_type == "customer.deleted")
    elif event_type == "invoice_payment.paid":
        _apply_invoice_payment(db, obj)
    elif event_type.startswith("invoice."):
        _apply_invoice(db, obj, at, event_type, result, settings, money)
    elif event_type == "charge.refunded":
        _apply_refund(db, obj, at)
    elif event_type == "charge.succeeded":
        _link_charge(db, obj)
    elif event_type in ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated"):
        _apply_refund_object(db, obj, at)
    elif event_type.startswith("charge.dispute."):
        _apply_dispute(db, event_type, obj, at)
    elif event_type.startswith("credit_note."):
        _apply_credit_note(db, event_type, obj, at)
    elif event_type == "checkout.session.completed":
        _apply_checkout(db, obj, at)
    for alert in result.alerts[first_alert:]:
        alert.at = at
    result.applied += 1


def first_payment_by_email(db: Db) -> dict[str, int]:
    """When each customer email first paid: an invoice paid for more than 0, or a subscription active (not
    trialing) and worth more than 0 (a 100 % coupon is not a payment)."""
    from arkops.core.billing.amounts import subscription_mrr

    emails = {cid: (c.get("email") or "").strip().lower() for cid, c in CUSTOMERS.items(db)}
    first: dict[str, int] = {}

    def email_of(customer: str | None) -> str | None:
        return emails.get(customer) if customer else None

    def seen(email: str | None, at: int | None) -> None:
        if email and at and (email not in first or at < first[email]):
            first[email] = at

    for invoice in every_invoice(db):
        if invoice.get("status") == "paid" and invoice.get("amount_paid", 0) > 0:
            seen(
                (invoice.get("customer_email") or email_of(invoice.get("customer")) or "").strip().lower(),
                invoice.get("paid_at"),
            )
    for history in SUBSCRIPTIONS_HISTORY.values(db):
        for version in history["versions"]:
            if subscription_mrr(version, version["_at"], lambda minor, _currency: minor) > 0:
                seen(email_of(version.get("customer")), version["_at"])
                break
    return first
