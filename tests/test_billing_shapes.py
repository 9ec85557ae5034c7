"""Stripe as real accounts send it: discounts in every API version's shape, and every price shape's MRR.

Payloads come from Stripe's published fixtures per API version (tests/fixtures/stripe/versions), go
through the signed webhook path, and what they name by id only is fetched from a local Stripe-shaped
server (STRIPE_API_BASE).
"""

# ruff: noqa: F811  (tests take the fixtures imported above as arguments)

from __future__ import annotations

import json

import pytest
from stripe_server import stripe_server  # noqa: F401  (a fixture)
from stripe_shapes import (
    VERSIONS,
    event,
    invoice,
    shape,
    shaped_coupon,
    shaped_discount,
    shaped_subscription,
    ts,
)
from test_billing import ingest, signed  # noqa: F401  (signed: a fixture)


def deliver(cli, workspace, signed, *events: dict) -> None:
    for evt in events:
        payload, header = signed(evt)
        result = ingest(cli, workspace, payload, header)
        assert result.code == 0, result.err


def subscriptions(cli) -> dict[str, dict]:
    result = cli("billing", "subscriptions", "--format", "json")
    assert result.code == 0, result.err
    return {row["subscription"]: row for row in json.loads(result.out)}


def expanded(version: str, sub_id: str, coupon: dict) -> dict:
    """The subscription with its discount expanded, as each version sends it."""
    discount = shaped_discount(version, "di_1", coupon, "2026-01-01", subscription=sub_id, customer="cus_1")
    if version == "2024-06-20":  # the singular object, with the list of ids next to it
        return shaped_subscription(version, sub_id, "cus_1", discount=discount, discounts=["di_1"])
    return shaped_subscription(version, sub_id, "cus_1", discounts=[discount])


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("months", "during", "after"), [(None, 4000, 4000), (3, 4000, 5000)], ids=["forever", "3-months"]
)
def test_a_coupon_in_each_versions_shape_lowers_mrr_while_it_lasts(
    cli, workspace, signed, monkeypatch, version, months, during, after
):
    coupon = shaped_coupon(version, "co_20", percent_off=20, months=months)
    sub = expanded(version, "sub_1", coupon)
    deliver(cli, workspace, signed, event("evt_1", "customer.subscription.created", sub, ts("2026-01-01")))
    monkeypatch.setenv("ARKOPS_NOW", "2026-02-15T00:00:00Z")
    row = subscriptions(cli)["sub_1"]
    assert (row["mrr"], row["unresolved"]) == (during, None)
    monkeypatch.setenv("ARKOPS_NOW", "2026-06-15T00:00:00Z")
    assert subscriptions(cli)["sub_1"]["mrr"] == after
    months_json = json.loads(cli("payments", "report", "--months", "6", "--format", "json").out)["months"]
    assert [m["mrr"] for m in months_json] == [during, during, during, after, after, after]  # ends April 1


def test_a_once_coupon_is_not_recurring_revenue(cli, workspace, signed, monkeypatch):
    coupon = {**shaped_coupon("2025-09-30", "co_once", percent_off=50), "duration": "once"}
    deliver(
        cli,
        workspace,
        signed,
        event("e1", "customer.subscription.created", expanded("2025-09-30", "sub_1", coupon), ts("2026-01-01")),
    )
    monkeypatch.setenv("ARKOPS_NOW", "2026-01-15T00:00:00Z")
    assert subscriptions(cli)["sub_1"]["mrr"] == 5000


@pytest.mark.parametrize("version", VERSIONS)
def test_discount_ids_are_recorded_unresolved_shown_and_resolved_by_the_next_sync(
    cli, workspace, signed, monkeypatch, stripe_server, version
):
    monkeypatch.delenv("STRIPE_SECRET_KEY")  # offline ingest: nothing can be asked yet
    monkeypatch.setenv("ARKOPS_NOW", "2026-02-15T00:00:00Z")
    ids_only = shaped_subscription(version, "sub_1", "cus_1", discounts=["di_1"])
    deliver(cli, workspace, signed, event("evt_1", "customer.subscription.created", ids_only, ts("2026-01-01")))
    row = subscriptions(cli)["sub_1"]
    assert (row["mrr"], row["unresolved"]) == (5000, "discount di_1")
    doctor = {c["check"]: c for c in json.loads(cli("doctor", "--format", "json").out)}
    assert doctor["ledger unresolved"]["status"] == "warn"
    assert "sub_1: discount di_1" in doctor["ledger unresolved"]["detail"]

    # Stripe answers the expanded subscription; since 2025-09-30 the coupon may still be an id.
    coupon = shaped_coupon(version, "co_25", percent_off=25, months=3)
    discount = shaped_discount(version, "di_1", coupon, "2026-01-01", coupon_as_id=True, subscription="sub_1")
    stripe_server.objects["/v1/subscriptions/sub_1"] = shaped_subscription(
        version, "sub_1", "cus_1", discounts=[discount]
    )
    stripe_server.objects["/v1/coupons/co_25"] = coupon
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_" + "shapedserver0123456789")
    result = cli("stripe", "sync")
    assert result.code == 0, result.err
    assert "discounts and price tiers sent by id: 1 resolved" in result.err
    assert "discounts.source.coupon" in stripe_server.expands("/v1/subscriptions/sub_1")
    row = subscriptions(cli)["sub_1"]
    assert (row["mrr"], row["unresolved"]) == (3750, None)
    doctor = {c["check"]: c for c in json.loads(cli("doctor", "--format", "json").out)}
    assert doctor["ledger unresolved"]["status"] == "ok"
    months_json = json.loads(cli("payments", "report", "--months", "2", "--format", "json").out)["months"]
    assert [m["mrr"] for m in months_json] == [3750, 3750]  # history too: the discount ran from January


def test_a_webhook_with_a_key_reads_the_discount_at_once(cli, workspace, signed, monkeypatch, stripe_server):
    monkeypatch.setenv("ARKOPS_NOW", "2026-01-15T00:00:00Z")
    coupon = shaped_coupon("2025-03-31", "co_10", amount_off=1000)
    discount = shaped_discount("2025-03-31", "di_9", coupon, "2026-01-01", subscription="sub_9")
    stripe_server.objects["/v1/subscriptions/sub_9"] = shaped_subscription(
        "2025-03-31", "sub_9", "cus_9", discounts=[discount]
    )
    ids_only = shaped_subscription("2025-03-31", "sub_9", "cus_9", discounts=["di_9"])
    deliver(cli, workspace, signed, event("evt_9", "customer.subscription.created", ids_only, ts("2026-01-01")))
    row = subscriptions(cli)["sub_9"]
    assert (row["mrr"], row["unresolved"]) == (4000, None)  # 50.00 less a fixed 10.00 per monthly invoice
    # the discount is cached: the same id in a later event resolves without asking again
    asked = len(stripe_server.requests)
    again = shaped_subscription("2025-03-31", "sub_9", "cus_9", quantity=2, discounts=["di_9"])
    deliver(cli, workspace, signed, event("evt_10", "customer.subscription.updated", again, ts("2026-01-10")))
    assert subscriptions(cli)["sub_9"]["mrr"] == 9000 and len(stripe_server.requests) == asked


def test_a_webhook_stays_applied_when_stripe_cannot_be_asked(cli, workspace, signed, monkeypatch):
    from conftest import free_port

    write = workspace / "arkops.toml"
    write.write_text("[billing]\nstripe_retry_seconds = []\n")
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_" + "shapedserver0123456789")
    monkeypatch.setenv("STRIPE_API_BASE", f"http://127.0.0.1:{free_port()}")
    ids_only = shaped_subscription("2025-09-30", "sub_1", "cus_1", discounts=["di_1"])
    payload, header = signed(event("evt_1", "customer.subscription.created", ids_only, ts("2026-01-01")))
    result = ingest(cli, workspace, payload, header)
    assert result.code == 0 and "applied" in result.err
    assert "left unresolved until the next stripe sync: Stripe unreachable" in result.err
    assert subscriptions(cli)["sub_1"]["unresolved"] == "discount di_1"


def test_a_customer_discount_applies_to_subscriptions_without_their_own(cli, workspace, signed, monkeypatch):
    version = "2025-09-30"
    coupon = shaped_coupon(version, "co_half", percent_off=50)
    own = shaped_coupon(version, "co_10pc", percent_off=10)
    customer_discount = shaped_discount(version, "di_c", coupon, "2026-01-05", customer="cus_1", subscription=None)
    deliver(
        cli,
        workspace,
        signed,
        event("e1", "customer.subscription.created", shaped_subscription(version, "sub_a", "cus_1"), ts("2026-01-01")),
        event("e2", "customer.subscription.created", expanded(version, "sub_b", own), ts("2026-01-01")),
        event("e3", "customer.discount.created", customer_discount, ts("2026-01-05")),
    )
    monkeypatch.setenv("ARKOPS_NOW", "2026-01-20T00:00:00Z")
    rows = subscriptions(cli)
    assert (rows["sub_a"]["mrr"], rows["sub_b"]["mrr"]) == (2500, 4500)  # sub_b keeps its own 10 %
    deliver(cli, workspace, signed, event("e4", "customer.discount.deleted", customer_discount, ts("2026-02-10")))
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-20T00:00:00Z")
    assert subscriptions(cli)["sub_a"]["mrr"] == 5000
    months_json = json.loads(cli("payments", "report", "--months", "3", "--format", "json").out)["months"]
    assert [m["mrr"] for m in months_json] == [2500 + 4500, 5000 + 4500, 5000 + 4500]


def test_an_item_level_discount_applies_to_its_item(cli, workspace, signed, monkeypatch):
    version = "2025-09-30"
    coupon = shaped_coupon(version, "co_item", percent_off=40)
    item_discount = shaped_discount(version, "di_i", coupon, "2026-01-01", subscription_item="si_sub_1")
    sub = shaped_subscription(version, "sub_1", "cus_1", item_discounts=[item_discount])
    deliver(cli, workspace, signed, event("e1", "customer.subscription.created", sub, ts("2026-01-01")))
    monkeypatch.setenv("ARKOPS_NOW", "2026-01-20T00:00:00Z")
    assert subscriptions(cli)["sub_1"]["mrr"] == 3000


TIERS = [
    {"up_to": 10, "unit_amount": 1000, "unit_amount_decimal": "1000", "flat_amount": None, "flat_amount_decimal": None},
    {"up_to": None, "unit_amount": 800, "unit_amount_decimal": "800", "flat_amount": 500, "flat_amount_decimal": "500"},
]


@pytest.mark.parametrize(
    ("version", "quantity", "price", "mrr"),
    [
        ("2024-06-20", 0, {}, 0),  # quantity 0 is 0, not one unit
        ("2025-03-31", 3, {"recurring": {"interval": "month", "interval_count": 1, "usage_type": "metered"}}, 0),
        (
            "2025-09-30",
            12,
            {"billing_scheme": "tiered", "tiers_mode": "volume", "unit_amount": None, "tiers": TIERS},
            12 * 800 + 500,
        ),
        (
            "2025-09-30",
            12,
            {"billing_scheme": "tiered", "tiers_mode": "graduated", "unit_amount": None, "tiers": TIERS},
            10 * 1000 + 2 * 800 + 500,
        ),
        ("2025-03-31", 83, {"transform_quantity": {"divide_by": 10, "round": "up"}}, 9 * 5000),  # 83 seats, packs of 10
        ("2025-03-31", 83, {"transform_quantity": {"divide_by": 10, "round": "down"}}, 8 * 5000),
        ("2024-06-20", 10, {"unit_amount": None, "unit_amount_decimal": "1234.5"}, 12345),
        (
            "2025-09-30",
            2,
            {"recurring": {"interval": "year", "interval_count": 1, "usage_type": "licensed"}},
            round(2 * 5000 / 12),
        ),
    ],
    ids=["quantity-0", "metered", "volume-tiers", "graduated-tiers", "package-up", "package-down", "decimal", "yearly"],
)
def test_each_price_shape_gives_its_monthly_amount(cli, workspace, signed, monkeypatch, version, quantity, price, mrr):
    sub = shaped_subscription(version, "sub_1", "cus_1", quantity=quantity, price=price)
    deliver(cli, workspace, signed, event("e1", "customer.subscription.created", sub, ts("2026-01-01")))
    monkeypatch.setenv("ARKOPS_NOW", "2026-01-20T00:00:00Z")
    assert subscriptions(cli)["sub_1"]["mrr"] == mrr


def test_tiers_missing_from_the_payload_are_fetched_by_sync(cli, workspace, signed, monkeypatch, stripe_server):
    monkeypatch.delenv("STRIPE_SECRET_KEY")
    monkeypatch.setenv("ARKOPS_NOW", "2026-01-20T00:00:00Z")
    tiered = {"billing_scheme": "tiered", "tiers_mode": "graduated", "unit_amount": None}
    sub = shaped_subscription("2025-09-30", "sub_1", "cus_1", quantity=12, price=tiered)
    deliver(cli, workspace, signed, event("e1", "customer.subscription.created", sub, ts("2026-01-01")))
    row = subscriptions(cli)["sub_1"]
    assert (row["mrr"], row["unresolved"]) == (0, "tiers of price_sub_1")
    price = {**sub["items"]["data"][0]["price"], "tiers": TIERS}
    stripe_server.objects["/v1/prices/price_sub_1"] = price
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_" + "shapedserver0123456789")
    assert cli("stripe", "sync").code == 0
    assert stripe_server.expands("/v1/prices/price_sub_1") == ["tiers"]
    row = subscriptions(cli)["sub_1"]
    assert (row["mrr"], row["unresolved"]) == (10 * 1000 + 2 * 800 + 500, None)


@pytest.mark.parametrize("version", ["2024-06-20", "2025-09-30"])
def test_a_tax_inclusive_price_counts_without_its_tax(cli, workspace, signed, monkeypatch, version):
    sub = shaped_subscription(version, "sub_1", "cus_1", amount=12000, price={"tax_behavior": "inclusive"})
    paid = invoice("in_1", "cus_1", 12000, paid_at=ts("2026-01-01"), subscription="sub_1")
    line = shape(version, "invoice")["lines"]["data"][0]
    line.update(amount=12000, currency="eur")
    if version == "2024-06-20":  # tax_amounts, the price on the line
        line["price"] = sub["items"]["data"][0]["price"]
        line["tax_amounts"] = [{"amount": 2000, "inclusive": True, "tax_rate": "txr_1", "taxable_amount": 10000}]
    else:  # taxes, the price under pricing.price_details
        line["pricing"] = {"type": "price_details", "price_details": {"price": "price_sub_1", "product": "prod_sub_1"}}
        line["taxes"] = [
            {"amount": 2000, "tax_behavior": "inclusive", "taxable_amount": 10000, "type": "tax_rate_details"}
        ]
    paid["lines"] = {"object": "list", "data": [line], "has_more": False}
    deliver(
        cli,
        workspace,
        signed,
        event("e1", "customer.subscription.created", sub, ts("2026-01-01")),
        event("e2", "invoice.paid", paid, ts("2026-01-01")),
    )
    monkeypatch.setenv("ARKOPS_NOW", "2026-01-20T00:00:00Z")
    assert subscriptions(cli)["sub_1"]["mrr"] == 10000
