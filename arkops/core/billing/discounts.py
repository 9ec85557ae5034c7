"""Discounts in the ledger: what is known of each discount and coupon, what is still unresolved, and the
customer's own discounts.

Since API 2024-06-20 an event names a subscription's discounts by id; their terms come later, from
another payload or from `resolve` asking Stripe. The ledger caches every resolved discount (`DISCOUNTS`)
and coupon (`COUPONS`), keeps a list of what each subscription or customer still misses (`UNRESOLVED`,
read by `pending`), and `learn` fills what it is taught into every stored version that only knew an id.
A customer's own discount (not a subscription's) is kept with its start and end (`CUSTOMER_DISCOUNTS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from arkops.core.billing import fields as F
from arkops.core.billing.amounts import unresolved
from arkops.core.billing.records import (
    COUPONS,
    CUSTOMER_DISCOUNTS,
    DISCOUNTS,
    SUBSCRIPTIONS,
    SUBSCRIPTIONS_HISTORY,
    Coupon,
    Discount,
    Subscription,
    Tier,
)
from arkops.core.billing.stripe_objects import Known, read_discount, with_coupon
from arkops.store import Db

UNRESOLVED = "unresolved"  # subscription id (or customer:<id>) -> {"what": [...]}; empty when all is known
CUSTOMER_KEY = "customer:"  # the prefix of a customer's entry in UNRESOLVED


def known_in(db: Db) -> Known:
    """Looks a discount (di_...) or coupon up in what the ledger has learned."""

    def lookup(key: str) -> Discount | Coupon | None:
        return DISCOUNTS.get(db, key) or COUPONS.get(db, key)

    return lookup


def track_unresolved(db: Db, key: str, versions: list[Subscription]) -> None:
    missing = sorted({what for version in versions for what in unresolved(version)})
    if missing or db.get(UNRESOLVED, key):
        db.put(UNRESOLVED, key, {"what": missing})


def _track_customer(db: Db, customer_id: str) -> None:
    record = CUSTOMER_DISCOUNTS.get(db, customer_id)
    missing = [
        f"discount {d.get('id') or d.get('coupon')}"
        for d in (record or {"discounts": []})["discounts"]
        if d.get("resolved") is False
    ]
    key = CUSTOMER_KEY + customer_id
    if missing or db.get(UNRESOLVED, key):
        db.put(UNRESOLVED, key, {"what": missing})


def pending(db: Db) -> dict[str, list[str]]:
    """What is still unresolved, by subscription id (or customer:<id>)."""
    return {key: entry["what"] for key, entry in db.items(UNRESOLVED) if entry.get("what")}


def _resolved(db: Db, key: str) -> bool:
    return not (db.get(UNRESOLVED, key) or {}).get("what")


def learn_from(db: Db, state: Subscription) -> None:
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
    lesson = _Lesson.of(db, discounts, coupons, tiers or {})
    lesson.remember()
    if lesson.empty:
        return 0
    done = 0
    for key in pending(db):
        if key.startswith(CUSTOMER_KEY):
            _refill_customer(db, key.removeprefix(CUSTOMER_KEY), lesson)
        elif not _refill_subscription(db, key, lesson):
            continue
        done += _resolved(db, key)
    return done


@dataclass
class _Lesson:
    """What one `learn` call teaches: discounts by id (resolved, or naming their coupon), coupons by id, and
    the tiers of tiered prices."""

    db: Db
    links: dict[str | None, Discount]
    coupons: dict[str, Coupon]
    tiers: Mapping[str, list[Tier]]

    @classmethod
    def of(
        cls, db: Db, discounts: Sequence[Discount], coupons: Sequence[Coupon], tiers: Mapping[str, list[Tier]]
    ) -> _Lesson:
        fresh = {c["id"]: c for c in coupons}
        for discount in discounts:  # a resolved discount carries its coupon's terms
            coupon_id = discount["coupon"]
            if discount.get("resolved") is not False and coupon_id and coupon_id not in fresh:
                fresh[coupon_id] = _coupon_of(discount)
        return cls(db, {d["id"]: d for d in discounts if d.get("id")}, fresh, tiers)

    @property
    def empty(self) -> bool:
        return not (self.links or self.coupons or self.tiers)

    def remember(self) -> None:
        """Cache the coupons that changed and the discounts now resolved, so an id seen again resolves at once."""
        for coupon_id, coupon in self.coupons.items():
            if COUPONS.get(self.db, coupon_id) != coupon:
                COUPONS.put(self.db, coupon_id, coupon)
        for link in self.links.values():
            filled = self.fill(link)
            if filled.get("resolved") is not False and not DISCOUNTS.get(self.db, filled["id"] or ""):
                DISCOUNTS.put(self.db, filled["id"] or "", filled)

    def fill(self, discount: Discount) -> Discount:
        """An unresolved discount with what this lesson (or the cache) tells of it; a resolved one as it is."""
        if discount.get("resolved") is not False:
            return discount
        link = self.links.get(discount.get("id") or "")
        if link is not None:
            discount = {
                **discount,
                "coupon": discount["coupon"] or link["coupon"],
                "start": discount["start"] or link["start"],
                "end": discount["end"] or link["end"],
            }
            if "promotion_code" in link:
                discount["promotion_code"] = link["promotion_code"]
        coupon_id = discount["coupon"] or ""
        coupon = self.coupons.get(coupon_id) or COUPONS.get(self.db, coupon_id)
        return with_coupon(discount, coupon) if coupon else discount


def _coupon_of(discount: Discount) -> Coupon:
    return {
        "id": discount["coupon"] or "",
        "percent_off": discount["percent_off"],
        "amount_off": discount["amount_off"],
        "currency": discount["currency"],
        "duration": discount["duration"],
        "duration_in_months": discount.get("duration_in_months"),
    }


def _refill_customer(db: Db, customer_id: str, lesson: _Lesson) -> None:
    record = CUSTOMER_DISCOUNTS.get(db, customer_id)
    if record:
        record["discounts"] = [lesson.fill(d) for d in record["discounts"]]
        CUSTOMER_DISCOUNTS.put(db, customer_id, record)
        _track_customer(db, customer_id)


def _refill_subscription(db: Db, subscription_id: str, lesson: _Lesson) -> bool:
    """Every stored version of the subscription, its discounts and its items' discounts and tiers filled in;
    False when the ledger has no history of it."""
    history = SUBSCRIPTIONS_HISTORY.get(db, subscription_id)
    if not history:
        return False
    for version in history["versions"]:
        version["discounts"] = [lesson.fill(d) for d in version["discounts"]]
        for item in version["items"]:
            item["discounts"] = [lesson.fill(d) for d in item.get("discounts", [])]
            if item.get("billing_scheme") == "tiered" and not item.get("tiers") and item["price"] in lesson.tiers:
                item["tiers"] = lesson.tiers[item["price"]]  # type: ignore[index]
    SUBSCRIPTIONS_HISTORY.put(db, subscription_id, history)
    SUBSCRIPTIONS.put(db, subscription_id, history["versions"][-1])
    track_unresolved(db, subscription_id, history["versions"])
    return True


def apply_discount_event(db: Db, event_type: str, obj: dict, at: int) -> None:
    """customer.discount.*: a customer's own discount is kept with its start and end (the removal, when
    deleted); one on a subscription or item only teaches the ledger its terms."""
    discount = read_discount(obj, known_in(db))
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


def customer_discount_from(db: Db, customer_id: str, obj: dict, at: int) -> None:
    """A customer payload: its `discount` is the customer's discount now; none means any open one ended."""
    if "discount" not in obj:
        return
    if isinstance(obj.get("discount"), dict):
        discount = read_discount(obj["discount"], known_in(db))
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
