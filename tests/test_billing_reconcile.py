"""`doctor` compares each subscription's latest paid invoice (its lines net of discounts and tax) with the
MRR the ledger computes, in each API version's invoice-line shape (tests/fixtures/stripe/versions)."""

# ruff: noqa: F811  (tests take the fixtures imported below as arguments)

from __future__ import annotations

import json

import pytest
from conftest import write_config
from stripe_server import stripe_server  # noqa: F401  (a fixture)
from stripe_shapes import VERSIONS, event, invoice, shape, shaped_coupon, shaped_discount, shaped_subscription, ts
from test_billing import signed  # noqa: F401  (a fixture)
from test_billing_shapes import deliver


def line(
    version: str,
    sub: dict,
    amount: int,
    *,
    discounts: dict[str, int] | None = None,
    inclusive_tax: int = 0,
    kind: str = "subscription",
) -> dict:
    """An invoice line as `version` sends it; kind: subscription, proration, or invoiceitem (a one-off)."""
    obj = shape(version, "invoice")["lines"]["data"][0]
    price = sub["items"]["data"][0]["price"]
    taxable = amount - sum((discounts or {}).values()) - inclusive_tax  # Stripe taxes the discounted amount
    obj.update(
        amount=amount,
        currency="eur",
        discount_amounts=[{"amount": value, "discount": key} for key, value in (discounts or {}).items()],
    )
    if version == "2024-06-20":  # type and proration on the line, the price object, tax_amounts
        obj.update(type="invoiceitem" if kind == "invoiceitem" else "subscription", proration=kind == "proration")
        obj["price"] = price
        obj["tax_amounts"] = (
            [
                {
                    "amount": inclusive_tax,
                    "inclusive": True,
                    "tax_rate": "txr_1",
                    "taxable_amount": taxable,
                }
            ]
            if inclusive_tax
            else []
        )
        return obj
    details = {
        "invoice_item": None,
        "proration": kind == "proration",
        "proration_details": {"credited_items": None},
        "subscription": sub["id"],
        "subscription_item": sub["items"]["data"][0]["id"],
    }
    obj["parent"] = (
        {"type": "invoice_item_details", "invoice_item_details": {**details, "invoice_item": "ii_1"}}
        if kind == "invoiceitem"
        else {"type": "subscription_item_details", "subscription_item_details": details}
    )
    obj["pricing"] = {"type": "price_details", "price_details": {"price": price["id"], "product": price["product"]}}
    obj["taxes"] = (
        [{"amount": inclusive_tax, "tax_behavior": "inclusive", "taxable_amount": taxable}] if inclusive_tax else []
    )
    return obj


def paid_with(sub: dict, lines: list[dict], day: str, *, has_more: bool = False) -> dict:
    total = sum(entry["amount"] - sum(d["amount"] for d in entry["discount_amounts"]) for entry in lines)
    obj = invoice("in_1", sub["customer"], total, paid_at=ts(day), subscription=sub["id"])
    obj["lines"] = {"object": "list", "data": lines, "has_more": has_more, "url": "/v1/invoices/in_1/lines"}
    return obj


def check(cli) -> dict:
    result = cli("doctor", "--format", "json")
    return {c["check"]: c for c in json.loads(result.out)}["invoices vs MRR"]


@pytest.mark.parametrize("version", VERSIONS)
def test_an_invoice_net_of_its_coupon_and_tax_matches_the_computed_mrr(cli, workspace, signed, monkeypatch, version):
    coupon = shaped_coupon(version, "co_20", percent_off=20)
    discount = shaped_discount(version, "di_1", coupon, "2026-01-01", subscription="sub_1", customer="cus_1")
    subs = {"discount": discount, "discounts": ["di_1"]} if version == "2024-06-20" else {"discounts": [discount]}
    sub = shaped_subscription(version, "sub_1", "cus_1", amount=6000, price={"tax_behavior": "inclusive"}, **subs)
    lines = [
        line(version, sub, 6000, discounts={"di_1": 1200}, inclusive_tax=800),  # 20 % VAT on the discounted 4800
        line(version, sub, 700, kind="invoiceitem"),  # a one-off: not MRR, not compared
        line(version, sub, -1500, kind="proration"),  # a change mid-period: not the period's price
    ]
    deliver(
        cli,
        workspace,
        signed,
        event("e1", "customer.subscription.created", sub, ts("2026-01-01")),
        event("e2", "invoice.paid", paid_with(sub, lines, "2026-01-01"), ts("2026-01-01")),
    )
    monkeypatch.setenv("ARKOPS_NOW", "2026-01-15T00:00:00Z")
    assert check(cli) == {
        "check": "invoices vs MRR",
        "status": "ok",
        "detail": "the latest paid invoice of 1 subscription matches its computed MRR",
    }


def test_a_discount_the_ledger_could_not_read_shows_until_sync_reads_it(
    cli, workspace, signed, monkeypatch, stripe_server
):
    monkeypatch.delenv("STRIPE_SECRET_KEY")  # offline: the discount stays an id
    write_config(workspace, '[product]\nname = "Acme Watch"\n')  # doctor's customer-mail check passes
    version = "2025-09-30"
    sub = shaped_subscription(version, "sub_1", "cus_1", amount=5000, discounts=["di_1"])
    paid = paid_with(sub, [line(version, sub, 5000, discounts={"di_1": 1250})], "2026-02-01")
    deliver(
        cli,
        workspace,
        signed,
        event("e1", "customer.subscription.created", sub, ts("2026-01-01")),
        event("e2", "invoice.paid", paid, ts("2026-02-01")),
    )
    monkeypatch.setenv("ARKOPS_NOW", "2026-02-15T00:00:00Z")
    found = check(cli)
    assert found["status"] == "warn"
    assert "1 of 1 subscriptions were invoiced otherwise than their computed MRR" in found["detail"]
    assert found["detail"].endswith("sub_1 (in_1): invoiced €37.50/month, computed MRR €50.00")
    assert cli("doctor").code == 0  # a warning, not a failure

    coupon = shaped_coupon(version, "co_25", percent_off=25)
    discount = shaped_discount(version, "di_1", coupon, "2026-01-01", subscription="sub_1", customer="cus_1")
    stripe_server.objects["/v1/subscriptions/sub_1"] = shaped_subscription(
        version, "sub_1", "cus_1", amount=5000, discounts=[discount]
    )
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_" + "shapedserver0123456789")
    assert cli("stripe", "sync").code == 0
    assert check(cli)["status"] == "ok"


def test_a_once_coupon_on_the_first_invoice_is_no_disagreement(cli, workspace, signed, monkeypatch):
    version = "2025-03-31"
    coupon = {**shaped_coupon(version, "co_once", percent_off=50), "duration": "once"}
    discount = shaped_discount(version, "di_1", coupon, "2026-01-01", subscription="sub_1", customer="cus_1")
    sub = shaped_subscription(version, "sub_1", "cus_1", amount=5000, discounts=[discount])
    paid = paid_with(sub, [line(version, sub, 5000, discounts={"di_1": 2500})], "2026-01-01")
    deliver(
        cli,
        workspace,
        signed,
        event("e1", "customer.subscription.created", sub, ts("2026-01-01")),
        event("e2", "invoice.paid", paid, ts("2026-01-01")),
    )
    monkeypatch.setenv("ARKOPS_NOW", "2026-01-15T00:00:00Z")
    assert check(cli)["status"] == "ok"


def test_a_yearly_price_is_compared_per_month_and_a_changed_quantity_is_seen(cli, workspace, signed, monkeypatch):
    version = "2025-09-30"
    yearly = {"recurring": {"interval": "year", "interval_count": 1, "usage_type": "licensed"}}
    sub = shaped_subscription(version, "sub_1", "cus_1", amount=60000, quantity=2, price=yearly)
    paid = paid_with(sub, [line(version, sub, 120000)], "2026-01-01")
    deliver(
        cli,
        workspace,
        signed,
        event("e1", "customer.subscription.created", sub, ts("2026-01-01")),
        event("e2", "invoice.paid", paid, ts("2026-01-01")),
    )
    monkeypatch.setenv("ARKOPS_NOW", "2026-01-15T00:00:00Z")
    assert check(cli)["status"] == "ok"
    # Stripe billed three seats for the year while the ledger holds two: the invoice says otherwise
    three = {**paid, "id": "in_2"}
    three["lines"] = {**paid["lines"], "data": [line(version, sub, 180000)]}
    three["status_transitions"] = {**paid["status_transitions"], "paid_at": ts("2026-01-02")}
    deliver(cli, workspace, signed, event("e3", "invoice.paid", three, ts("2026-01-02")))
    assert check(cli)["detail"].endswith("sub_1 (in_2): invoiced €150.00/month, computed MRR €100.00")


def test_an_invoice_without_all_its_lines_is_not_compared(cli, workspace, signed, monkeypatch):
    version = "2025-09-30"
    sub = shaped_subscription(version, "sub_1", "cus_1", amount=5000)
    paid = paid_with(sub, [line(version, sub, 9999)], "2026-01-01", has_more=True)
    deliver(
        cli,
        workspace,
        signed,
        event("e1", "customer.subscription.created", sub, ts("2026-01-01")),
        event("e2", "invoice.paid", paid, ts("2026-01-01")),
    )
    monkeypatch.setenv("ARKOPS_NOW", "2026-01-15T00:00:00Z")
    assert check(cli)["detail"] == "no paid subscription invoice with its lines yet"
