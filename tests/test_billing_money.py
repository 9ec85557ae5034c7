"""Money that moves after the invoice (disputes, refunds in the 2025-03-31 shape, credit notes, voided and
uncollectible invoices) and zero-amount invoices, through the signed webhook path."""

# ruff: noqa: F811  (tests take the fixtures imported below as arguments)

from __future__ import annotations

import json

from conftest import write_config
from stripe_shapes import event, invoice, shape, shaped_subscription, ts
from test_billing import signed  # noqa: F401  (a fixture)
from test_billing_shapes import deliver

BASIL = "2025-03-31"


def paid(invoice_id: str, amount: int, day: str, intent: str) -> list[dict]:
    """An invoice paid, and (since 2025-03-31) the invoice payment naming the payment intent that paid it."""
    payment = shape(BASIL, "invoice_payment")
    payment.update(
        id=f"inpay_{invoice_id}",
        invoice=invoice_id,
        amount_paid=amount,
        currency="eur",
        status="paid",
        payment={"type": "payment_intent", "payment_intent": intent},
    )
    return [
        event(f"evt_{invoice_id}", "invoice.paid", invoice(invoice_id, "cus_1", amount, paid_at=ts(day)), ts(day)),
        event(f"evt_{invoice_id}_payment", "invoice_payment.paid", payment, ts(day)),
    ]


def dispute(dispute_id: str, charge: str, intent: str, amount: int, status: str) -> dict:
    obj = shape(BASIL, "dispute")
    obj.update(id=dispute_id, charge=charge, payment_intent=intent, amount=amount, currency="eur", status=status)
    return obj


def rows(cli, *args: str) -> dict[str, dict]:
    result = cli("payments", *args, "--format", "json")
    assert result.code == 0, result.err
    return {row["invoice"]: row for row in json.loads(result.out)}


def revenue(cli, monkeypatch, months: int = 3) -> list[int]:
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-20T00:00:00Z")
    report = json.loads(cli("payments", "report", "--months", str(months), "--format", "json").out)
    return [m["revenue"] for m in report["months"]]


def test_a_lost_dispute_leaves_revenue_and_a_won_one_comes_back(cli, workspace, signed, monkeypatch):
    lost, won = (
        dispute("dp_1", "ch_1", "pi_1", 2900, "needs_response"),
        dispute("dp_2", "ch_2", "pi_2", 9900, "needs_response"),
    )
    deliver(
        cli,
        workspace,
        signed,
        *paid("in_1", 2900, "2026-01-10", "pi_1"),
        *paid("in_2", 9900, "2026-01-12", "pi_2"),
        event("d1", "charge.dispute.created", lost, ts("2026-02-05")),
        event("d2", "charge.dispute.funds_withdrawn", lost, ts("2026-02-05")),
        event("d3", "charge.dispute.closed", {**lost, "status": "lost"}, ts("2026-02-20")),
        event("d4", "charge.dispute.created", won, ts("2026-02-06")),
        event("d5", "charge.dispute.funds_withdrawn", won, ts("2026-02-06")),
        event("d6", "charge.dispute.funds_reinstated", {**won, "status": "won"}, ts("2026-03-03")),
        event("d7", "charge.dispute.closed", {**won, "status": "won"}, ts("2026-03-03")),
    )
    assert revenue(cli, monkeypatch) == [2900 + 9900, -2900 - 9900, 9900]
    listed = rows(cli, "list")
    assert (listed["in_1"]["status"], listed["in_1"]["disputed"]) == ("disputed", 2900)
    assert (listed["in_2"]["status"], listed["in_2"]["disputed"]) == ("paid", 0)
    assert list(rows(cli, "list", "--status", "disputed")) == ["in_1"]


def test_a_refund_in_the_2025_03_31_charge_shape_finds_its_invoice_and_a_failed_one_is_added_back(
    cli, workspace, signed, monkeypatch
):
    charge = shape(BASIL, "charge")
    assert "invoice" not in charge  # the shape this test is about
    charge.update(id="ch_3", payment_intent="pi_3", amount=5000, amount_refunded=1000, refunded=False, currency="eur")
    charge.pop("refunds", None)  # not included in events since 2022-11-15
    refund = shape(BASIL, "refund")
    refund.update(
        id="re_3", charge="ch_3", payment_intent="pi_3", amount=1000, currency="eur", created=ts("2026-02-02")
    )
    deliver(
        cli,
        workspace,
        signed,
        *paid("in_3", 5000, "2026-01-20", "pi_3"),
        event("r1", "charge.refunded", charge, ts("2026-02-02")),
        event("r2", "refund.created", refund, ts("2026-02-02")),
    )
    listed = rows(cli, "list")["in_3"]
    assert (listed["status"], listed["refunded"]) == ("refunded", 1000)
    assert revenue(cli, monkeypatch) == [5000, -1000, 0]  # the charge and the refund object: one refund
    deliver(cli, workspace, signed, event("r3", "refund.updated", {**refund, "status": "failed"}, ts("2026-02-04")))
    listed = rows(cli, "list")["in_3"]
    assert (listed["status"], listed["refunded"]) == ("paid", 0)
    assert revenue(cli, monkeypatch) == [5000, 0, 0]


def test_voided_and_uncollectible_invoices_leave_dunning_without_an_alert(cli, workspace, signed, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-05T00:05:00Z")  # delivered as it happens: alerts are due
    failing = [invoice(f"in_{n}", "cus_1", 2900, attempt_count=1, next_attempt=ts("2026-03-08")) for n in (4, 5)]
    deliver(
        cli,
        workspace,
        signed,
        *(event(f"f{n}", "invoice.payment_failed", i, ts("2026-03-05")) for n, i in enumerate(failing)),
    )
    assert sorted(rows(cli, "failed")) == ["in_4", "in_5"]
    deliver(
        cli,
        workspace,
        signed,
        event("v1", "invoice.voided", {**failing[0], "status": "void"}, ts("2026-03-10")),
        event("v2", "invoice.marked_uncollectible", {**failing[1], "status": "uncollectible"}, ts("2026-03-10")),
    )
    assert rows(cli, "failed") == {}
    listed = rows(cli, "list")
    assert (listed["in_4"]["status"], listed["in_5"]["status"]) == ("void", "uncollectible")
    templates = [m["template"] for m in json.loads(cli("mail", "outbox", "--format", "json").out)]
    assert templates == ["payment_failed", "payment_failed"]


def test_a_credit_note_that_is_not_a_refund_lowers_revenue_until_voided(cli, workspace, signed, monkeypatch):
    note = shape(BASIL, "credit_note")
    note.update(
        id="cn_1",
        invoice="in_6",
        customer="cus_1",
        amount=1000,
        currency="eur",
        type="post_payment",
        refunds=[],
        status="issued",
        voided_at=None,
        created=ts("2026-02-10"),
        effective_at=ts("2026-02-10"),
    )
    deliver(
        cli,
        workspace,
        signed,
        *paid("in_6", 5000, "2026-01-15", "pi_6"),
        event("c1", "credit_note.created", note, ts("2026-02-10")),
    )
    assert rows(cli, "list")["in_6"]["credited"] == 1000
    assert revenue(cli, monkeypatch) == [5000, -1000, 0]
    voided = {**note, "status": "void", "voided_at": ts("2026-03-02")}
    deliver(cli, workspace, signed, event("c2", "credit_note.voided", voided, ts("2026-03-02")))
    assert rows(cli, "list")["in_6"]["credited"] == 0
    assert revenue(cli, monkeypatch) == [5000, -1000, 1000]


def test_a_zero_invoice_is_not_revenue_nor_a_conversion(cli, workspace, signed, monkeypatch):
    write_config(workspace, "[billing]\nnotify_payment_received = true\n")
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-01T00:05:00Z")
    assert cli("trials", "signup", "ana@example.com", "--plan", "pro", "--at", "2026-02-28T00:00:00Z").code == 0
    customer = shape(BASIL, "customer")
    customer.update(id="cus_1", email="ana@example.com", discount=None)
    trial = shaped_subscription(BASIL, "sub_1", "cus_1", amount=2900, status="trialing", start="2026-03-01")
    zero = invoice("in_0", "cus_1", 0, paid_at=ts("2026-03-01"), email="ana@example.com", subscription="sub_1")
    zero["billing_reason"] = "subscription_create"
    deliver(
        cli,
        workspace,
        signed,
        event("z0", "customer.created", customer, ts("2026-03-01")),
        event("z1", "customer.subscription.created", trial, ts("2026-03-01")),
        event("z2", "invoice.paid", zero, ts("2026-03-01")),
    )
    assert json.loads(cli("mail", "outbox", "--format", "json").out) == []  # no first_revenue, no receipt
    assert cli("trials", "track").code == 0
    trials = {t["email"]: t for t in json.loads(cli("trials", "list", "--format", "json").out)}
    assert trials["ana@example.com"]["state"] != "converted"
    assert json.loads(cli("payments", "report", "--months", "1", "--format", "json").out)["months"][0]["revenue"] == 0
