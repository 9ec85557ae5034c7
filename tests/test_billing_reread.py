"""With a key, a webhook whose second holds several states in no certain order re-reads the subscription
from Stripe (a local Stripe-shaped server via STRIPE_API_BASE); one whose order is certain does not."""

# ruff: noqa: F811  (tests take the fixtures imported below as arguments)

from __future__ import annotations

from itertools import permutations

import pytest
from stripe_server import stripe_server  # noqa: F401  (a fixture)
from stripe_shapes import event, shaped_subscription, ts
from test_billing import ingest, signed  # noqa: F401  (signed: a fixture)
from test_billing_shapes import deliver, subscriptions

VERSION = "2025-09-30"
SECOND = ts("2026-02-03")


def seats(quantity: int) -> dict:
    return shaped_subscription(VERSION, "sub_1", "cus_1", amount=1000, quantity=quantity)


def same_second_updates(with_previous: bool, quantities: tuple[int, int] = (2, 3)) -> list[dict]:
    """From one seat to `quantities[0]`, then to `quantities[1]`, within one second."""
    updates = []
    for n, quantity in enumerate(quantities, start=1):
        evt = event(f"evt_{n}", "customer.subscription.updated", seats(quantity), SECOND)
        if with_previous:  # what Stripe sends: the item's quantity before
            before = seats((1, *quantities)[n - 1])
            evt["data"]["previous_attributes"] = {"items": before["items"]}
        updates.append(evt)
    return updates


def reads(stripe_server) -> list[str]:
    return [path for path, _ in stripe_server.requests if path == "/v1/subscriptions/sub_1"]


@pytest.mark.parametrize("quantities", [(2, 3), (3, 2)], ids=["2-then-3", "3-then-2"])
@pytest.mark.parametrize("order", list(permutations(range(2))), ids=lambda o: "-".join(map(str, o)))
def test_an_ambiguous_second_is_read_again_from_stripe(
    cli, workspace, signed, monkeypatch, stripe_server, order, quantities
):
    """Without the re-read, one of the two histories ends on the wrong quantity whatever the delivery order
    (the same guess for both); Stripe's answer settles it."""
    monkeypatch.setenv("ARKOPS_NOW", "2026-02-03T00:00:30Z")
    stripe_server.objects["/v1/subscriptions/sub_1"] = seats(quantities[-1])
    deliver(cli, workspace, signed, event("evt_0", "customer.subscription.created", seats(1), ts("2026-02-01")))
    updates = same_second_updates(with_previous=False, quantities=quantities)
    first, second = (updates[i] for i in order)
    deliver(cli, workspace, signed, first)
    assert reads(stripe_server) == []  # one state in that second: nothing to doubt
    payload, header = signed(second)
    result = ingest(cli, workspace, payload, header)
    assert result.code == 0, result.err
    assert "several states in one second: read sub_1 from Stripe" in result.err
    assert reads(stripe_server) == ["/v1/subscriptions/sub_1"]
    assert "discounts.source.coupon" in stripe_server.expands("/v1/subscriptions/sub_1")
    row = subscriptions(cli)["sub_1"]
    assert (row["plan"], row["mrr"]) == (f"prod_sub_1 x{quantities[-1]} /1month", 1000 * quantities[-1])
    # a redelivery is already seen: not read again
    assert ingest(cli, workspace, payload, header).code == 0
    assert len(reads(stripe_server)) == 1


def test_a_second_ordered_by_previous_attributes_is_not_read_again(cli, workspace, signed, monkeypatch, stripe_server):
    monkeypatch.setenv("ARKOPS_NOW", "2026-02-03T00:00:30Z")
    deliver(cli, workspace, signed, event("evt_0", "customer.subscription.created", seats(1), ts("2026-02-01")))
    later, earlier = same_second_updates(with_previous=True)[::-1]
    deliver(cli, workspace, signed, later, earlier)
    assert reads(stripe_server) == []
    assert subscriptions(cli)["sub_1"]["mrr"] == 3000


def test_an_ambiguous_second_stays_applied_when_stripe_cannot_be_asked(cli, workspace, signed, monkeypatch):
    from conftest import free_port

    (workspace / "arkops.toml").write_text("[billing]\nstripe_retry_seconds = []\n")
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_" + "shapedserver0123456789")
    monkeypatch.setenv("STRIPE_API_BASE", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("ARKOPS_NOW", "2026-02-03T00:00:30Z")
    deliver(cli, workspace, signed, *same_second_updates(with_previous=False)[:1])
    payload, header = signed(same_second_updates(with_previous=False)[1])
    result = ingest(cli, workspace, payload, header)
    assert result.code == 0
    assert "left unresolved until the next stripe sync: Stripe unreachable" in result.err
    assert subscriptions(cli)["sub_1"]["status"] == "active"
