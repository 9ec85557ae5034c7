"""Order-safe subscription state: Stripe delivers in any order, and several events share one second."""

# ruff: noqa: F811  (tests take the fixtures imported below as arguments)

from __future__ import annotations

import json
import tempfile
from itertools import permutations
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from stripe_shapes import event, invoice, shaped_subscription, ts
from test_billing import signed  # noqa: F401  (a fixture)
from test_billing_shapes import deliver, subscriptions

from arkops.core.billing.amounts import subscription_mrr
from arkops.core.billing.stripe_objects import normalize_subscription

VERSION = "2025-09-30"
CHECKOUT = ts("2026-02-03")


def checkout_events(with_previous: bool) -> list[dict]:
    """Checkout in one second: the subscription created incomplete, its first invoice paid, then active."""
    created = shaped_subscription(VERSION, "sub_1", "cus_1", amount=2900, status="incomplete", start="2026-02-03")
    active = shaped_subscription(VERSION, "sub_1", "cus_1", amount=2900, start="2026-02-03")
    updated = event("evt_updated", "customer.subscription.updated", active, CHECKOUT)
    if with_previous:
        updated["data"]["previous_attributes"] = {"status": "incomplete"}
    paid = invoice("in_1", "cus_1", 2900, paid_at=CHECKOUT, subscription="sub_1")
    return [
        event("evt_created", "customer.subscription.created", created, CHECKOUT),
        event("evt_paid", "invoice.paid", paid, CHECKOUT),
        updated,
    ]


@pytest.mark.parametrize("with_previous", [True, False], ids=["previous_attributes", "lifecycle-only"])
@pytest.mark.parametrize("order", list(permutations(range(3))), ids=lambda o: "-".join(map(str, o)))
def test_checkouts_three_events_in_any_order_leave_a_paying_customer(
    cli, workspace, signed, monkeypatch, order, with_previous
):
    events = checkout_events(with_previous)
    deliver(cli, workspace, signed, *(events[i] for i in order))
    monkeypatch.setenv("ARKOPS_NOW", "2026-02-10T00:00:00Z")
    row = subscriptions(cli)["sub_1"]
    assert (row["status"], row["mrr"]) == ("active", 2900)
    report = json.loads(cli("payments", "report", "--months", "1", "--format", "json").out)
    assert (report["mrr"], report["months"][0]["new"], report["months"][0]["revenue"]) == (2900, 2900, 2900)


def test_paused_and_resumed_subscriptions(cli, workspace, signed, monkeypatch):
    running = shaped_subscription(VERSION, "sub_1", "cus_1", amount=2900)
    paused = {**running, "status": "paused"}
    collection_paused = {**running, "pause_collection": {"behavior": "void", "resumes_at": ts("2026-05-01")}}
    deliver(
        cli,
        workspace,
        signed,
        event("e1", "customer.subscription.created", running, ts("2026-01-01")),
        event("e2", "customer.subscription.paused", paused, ts("2026-02-10")),
    )
    monkeypatch.setenv("ARKOPS_NOW", "2026-02-20T00:00:00Z")
    row = subscriptions(cli)["sub_1"]
    assert (row["status"], row["paused"], row["mrr"]) == ("paused", "paused", 0)
    deliver(
        cli,
        workspace,
        signed,
        event("e3", "customer.subscription.resumed", running, ts("2026-03-01")),
        event("e4", "customer.subscription.updated", collection_paused, ts("2026-03-10")),
    )
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-20T00:00:00Z")
    row = subscriptions(cli)["sub_1"]
    assert (row["status"], row["paused"], row["mrr"]) == (
        "active",
        "collection paused (void) until 2026-05-01T00:00:00Z",
        0,
    )
    months = json.loads(cli("payments", "report", "--months", "3", "--format", "json").out)["months"]
    assert [m["mrr"] for m in months] == [2900, 0, 0]


PRICES = {"price_a": 900, "price_b": 2900, "price_c": 9900}  # a price id has one amount, as in Stripe
STATES = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["active", "past_due", "unpaid", "canceled"]),
        "price": st.sampled_from(sorted(PRICES)),
        "quantity": st.integers(min_value=0, max_value=3),
    }
)


def raw(state: dict) -> dict:
    sub = shaped_subscription(VERSION, "sub_p", "cus_p", amount=PRICES[state["price"]], quantity=state["quantity"])
    sub["status"] = state["status"]
    sub["items"]["data"][0]["price"]["id"] = state["price"]
    return sub


def previous_attributes(before: dict, after: dict) -> dict:
    """What Stripe puts in `previous_attributes`: the old value of each top-level field that changed."""
    return {key: value for key, value in before.items() if after.get(key) != value}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    first=STATES,
    updates=st.lists(STATES, min_size=1, max_size=5),
    gaps=st.lists(st.sampled_from([0, 0, 1]), min_size=5, max_size=5),
    shuffle=st.randoms(use_true_random=False),
)
def test_final_mrr_is_that_of_the_last_state_whatever_the_delivery_order(workspace, first, updates, gaps, shuffle):
    """Stripe's order is the sequence; delivery is any permutation; ties in one second are common."""
    from arkops.clock import from_unix
    from arkops.core.billing.service import apply_events
    from arkops.runtime import Runtime

    states = [first]
    for update in updates:
        if update != states[-1]:  # Stripe sends customer.subscription.updated only when something changed
            states.append(update)
    # A state seen twice inside one second (A -> B -> A) leaves no trace of which came last in any payload:
    # only a read of the object can say, which needs a key. Such sequences are outside what order-safety promises.
    second, seen = 0, [[states[0]]]
    for n, state in enumerate(states[1:]):
        if gaps[n]:
            second += 1
            seen.append([])
        seen[second].append(state)
    assume(all(len({tuple(sorted(s.items())) for s in group}) == len(group) for group in seen))
    at = ts("2026-01-01")
    events = [event("evt_0", "customer.subscription.created", raw(states[0]), at)]
    for n, state in enumerate(states[1:], start=1):
        at += gaps[n - 1]
        evt = event(f"evt_{n}", "customer.subscription.updated", raw(state), at)
        evt["data"]["previous_attributes"] = previous_attributes(raw(states[n - 1]), raw(state))
        events.append(evt)
    delivered = events[:]
    shuffle.shuffle(delivered)
    with tempfile.TemporaryDirectory(dir=workspace) as folder:
        (Path(folder) / "data").mkdir()
        rt = Runtime(Path(folder) / "data", workspace / "arkops.toml", workspace / ".env")
        for evt in delivered:  # one webhook at a time
            apply_events(rt, [evt], now=from_unix(at + 60))
        stored = json.loads((Path(folder) / "data" / "ledger.json").read_text())["subscriptions"]["sub_p"]
    same = lambda minor, _currency: minor  # noqa: E731
    expected = subscription_mrr(normalize_subscription(raw(states[-1])), at + 30, same)
    assert subscription_mrr(stored, at + 30, same) == expected
    assert (stored["status"], stored["items"][0]["price"], stored["items"][0]["quantity"]) == (
        states[-1]["status"],
        states[-1]["price"],
        states[-1]["quantity"],
    )
