"""Subscriptions in the ledger: `customer.subscription.*` events, each version kept in a history by event
time, the newest one the current state.

The history is what month-end MRR is rebuilt from (`report.mrr_series`), so a late event is inserted where
it happened, not appended. Versions of the same second are ordered by what each event says it followed
(`previous_attributes`), else by lifecycle (`order_ties`). A subscription that first becomes active brings
the customer's welcome notice when `[billing] notify_subscription_welcome` is on.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from collections.abc import Mapping, Sequence
from itertools import permutations
from typing import Any

from arkops.core.billing.alerts import Alert, trial_will_end_alert, welcome_alert
from arkops.core.billing.customers import customer_email
from arkops.core.billing.discounts import known_in, learn_from, track_unresolved
from arkops.core.billing.records import SUBSCRIPTIONS, SUBSCRIPTIONS_HISTORY, Subscription
from arkops.core.billing.stripe_objects import Known, normalize_subscription
from arkops.store import Db


def apply_subscription(
    db: Db, event_type: str, obj: dict, data: dict, at: int, settings: Mapping[str, Any]
) -> list[Alert]:
    """Store this version of the subscription; the welcome notice when it has just become active."""
    known = known_in(db)
    state = normalize_subscription(obj, known)
    learn_from(db, state)
    was_active = (db.get("flags", f"active:{state['id']}") or {}).get("value")
    current = _store_version(db, state, at, event_type, state_before(event_type, obj, data, known))
    if event_type == "customer.subscription.trial_will_end":
        email = customer_email(db, state["customer"])
        found = trial_will_end_alert(state, obj, email) if email and settings.get("notify_trial_will_end") else None
        return [found] if found else []
    if current["status"] != "active" or was_active:
        return []
    db.put("flags", f"active:{state['id']}", {"value": True})
    email = customer_email(db, current["customer"])
    return [welcome_alert(current, email)] if settings.get("notify_subscription_welcome") and email else []


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


def _store_version(db: Db, state: Subscription, at: int, event_type: str, before: str | None) -> Subscription:
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
    track_unresolved(db, state["id"], versions)
    return versions[-1]
