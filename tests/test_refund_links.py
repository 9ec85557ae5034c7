"""A refund of a charge in the 2025-03-31 shape (the charge names no invoice) finds its invoice even when no
`invoice_payment.paid` came first: with a key Stripe is asked (`GET /v1/invoice_payments` by payment intent);
without one, or when Stripe does not answer, the refund is recorded as unlinked and doctor and `payments list`
say so, until an invoice payment or a sync links it. Objects are Stripe's published 2025-03-31 shapes."""

# ruff: noqa: F811  (tests take the fixtures imported below as arguments)

from __future__ import annotations

import json

from stripe_server import stripe_server  # noqa: F401  (a fixture)
from stripe_shapes import event, shape, ts
from test_billing import ingest, signed  # noqa: F401  (a fixture)

BASIL = "2025-03-31"
NOW = "2026-02-02T00:05:00Z"


def paid_invoice(invoice_id: str, amount: int) -> dict:
    """An invoice as 2025-03-31 sends it in `invoice.paid`: no charge, no payment intent, no payments list."""
    obj = shape(BASIL, "invoice")
    obj.update(id=invoice_id, customer="cus_1", customer_email="ana@example.com", currency="eur", status="paid")
    obj.update(amount_due=amount, amount_paid=amount, amount_remaining=0, created=ts("2026-01-20"))
    obj["status_transitions"]["paid_at"] = ts("2026-01-20")
    obj["lines"] = {"object": "list", "data": [], "has_more": False, "url": f"/v1/invoices/{invoice_id}/lines"}
    assert "charge" not in obj and "payment_intent" not in obj and "payments" not in obj
    return obj


def invoice_payment(invoice_id: str, intent: str, amount: int) -> dict:
    obj = shape(BASIL, "invoice_payment")
    obj.update(
        id=f"inpay_{invoice_id}",
        invoice=invoice_id,
        amount_paid=amount,
        amount_requested=amount,
        currency="eur",
        status="paid",
        is_default=True,
        livemode=False,
        created=ts("2026-01-20"),
        payment={"type": "payment_intent", "payment_intent": intent},
    )
    obj["status_transitions"]["paid_at"] = ts("2026-01-20")
    return obj


def refunded_charge(charge_id: str, intent: str, amount: int, refunded: int) -> dict:
    obj = shape(BASIL, "charge")
    assert "invoice" not in obj  # the shape this test is about
    obj.update(id=charge_id, payment_intent=intent, amount=amount, amount_refunded=refunded, refunded=False)
    obj.update(currency="eur", customer="cus_1", status="succeeded", created=ts("2026-01-20"))
    obj.pop("refunds", None)  # not included in events since 2022-11-15
    return obj


def refund(refund_id: str, charge_id: str, intent: str, amount: int) -> dict:
    obj = shape(BASIL, "refund")
    obj.update(id=refund_id, charge=charge_id, payment_intent=intent, amount=amount, currency="eur")
    obj.update(created=ts("2026-02-02"), status="succeeded")
    return obj


def deliver(cli, workspace, signed, *events: dict) -> list[str]:
    errs = []
    for evt in events:
        payload, header = signed(evt)
        result = ingest(cli, workspace, payload, header)
        assert result.code == 0, result.err
        errs.append(result.err)
    return errs


def listed(cli) -> tuple[dict, str]:
    result = cli("payments", "list", "--format", "json")
    assert result.code == 0, result.err
    row = {r["invoice"]: r for r in json.loads(result.out)}["in_3"]
    return {"status": row["status"], "refunded": row["refunded"]}, result.err


def check(cli) -> dict:
    return next(c for c in json.loads(cli("doctor", "--format", "json").out) if c["check"] == "refunds linked")


def refund_events() -> list[dict]:
    return [
        event("r1", "charge.refunded", refunded_charge("ch_3", "pi_3", 5000, 1000), ts("2026-02-02")),
        event("r2", "refund.created", refund("re_3", "ch_3", "pi_3", 1000), ts("2026-02-02")),
    ]


def test_with_a_key_the_invoice_of_a_refund_is_asked_of_stripe(cli, workspace, signed, stripe_server, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", NOW)
    stripe_server.lists["/v1/invoice_payments"] = [
        invoice_payment("in_other", "pi_other", 700),
        invoice_payment("in_3", "pi_3", 5000),
    ]
    deliver(cli, workspace, signed, event("p1", "invoice.paid", paid_invoice("in_3", 5000), ts("2026-01-20")))
    errs = deliver(cli, workspace, signed, *refund_events())
    assert errs[0] == "refund of ch_3: 1 linked to their invoice (asked Stripe)\napplied\n"
    assert errs[1] == "applied\n"  # the real refund replaces the stand-in, on the invoice found
    assert listed(cli) == ({"status": "refunded", "refunded": 1000}, "")
    asked = [q for path, q in stripe_server.requests if path == "/v1/invoice_payments"]
    assert asked == [{"limit": ["100"], "payment[type]": ["payment_intent"], "payment[payment_intent]": ["pi_3"]}]
    report = json.loads(cli("payments", "report", "--months", "2", "--format", "json").out)
    assert [m["revenue"] for m in report["months"]] == [5000, -1000]
    assert check(cli)["status"] == "ok"


def test_without_a_key_the_refund_is_unlinked_and_said_until_its_invoice_payment_arrives(
    cli, workspace, signed, monkeypatch
):
    monkeypatch.setenv("ARKOPS_NOW", NOW)
    deliver(cli, workspace, signed, event("p1", "invoice.paid", paid_invoice("in_3", 5000), ts("2026-01-20")))
    errs = deliver(cli, workspace, signed, *refund_events())
    assert errs[1].startswith("refund re_3 not linked to an invoice: its charge names none")
    row, err = listed(cli)
    assert row == {"status": "paid", "refunded": 0}
    assert err == (
        "1 refund not linked to an invoice (re_3: €10.00 of pi_3): its invoice is shown unrefunded "
        "(see `arkops doctor`)\n"
    )
    found = check(cli)
    assert found["status"] == "warn"
    assert found["detail"].startswith("1 refund(s) not linked to an invoice")
    assert "set STRIPE_SECRET_KEY and run `arkops stripe sync`: re_3 (€10.00 of pi_3)" in found["detail"]
    report = json.loads(cli("payments", "report", "--months", "2", "--format", "json").out)
    assert [m["revenue"] for m in report["months"]] == [5000, -1000]  # revenue was right all along

    # The invoice payment, delivered late, links what waited for it.
    deliver(
        cli,
        workspace,
        signed,
        event("p2", "invoice_payment.paid", invoice_payment("in_3", "pi_3", 5000), ts("2026-02-03")),
    )
    assert listed(cli) == ({"status": "refunded", "refunded": 1000}, "")
    assert check(cli)["status"] == "ok"


def test_when_stripe_does_not_answer_the_refund_waits_for_the_next_sync(
    cli, workspace, signed, stripe_server, monkeypatch
):
    monkeypatch.setenv("ARKOPS_NOW", NOW)
    deliver(cli, workspace, signed, event("p1", "invoice.paid", paid_invoice("in_3", 5000), ts("2026-01-20")))
    stripe_server.objects["/v1/invoice_payments"] = {"error": "not a list"}  # the lookup answers nonsense
    errs = deliver(cli, workspace, signed, *refund_events())
    assert "not linked to its invoice until the next stripe sync" in errs[0]
    assert listed(cli)[0] == {"status": "paid", "refunded": 0}
    assert check(cli)["status"] == "warn"

    # A charge paid by no invoice (a one-off payment) is asked about once, and not listed as unlinked.
    del stripe_server.objects["/v1/invoice_payments"]
    stripe_server.lists["/v1/invoice_payments"] = [invoice_payment("in_3", "pi_3", 5000)]
    deliver(
        cli,
        workspace,
        signed,
        event("o1", "charge.refunded", refunded_charge("ch_9", "pi_9", 900, 900), ts("2026-02-02")),
    )
    synced = cli("stripe", "sync")
    assert synced.code == 0, synced.err
    assert "refunds whose charge names no invoice: 1 linked to their invoice" in synced.err
    assert listed(cli)[0] == {"status": "refunded", "refunded": 1000}
    assert check(cli)["status"] == "ok"
    asked = [q["payment[payment_intent]"] for path, q in stripe_server.requests if path == "/v1/invoice_payments"]
    assert asked.count(["pi_9"]) == 1
    cli("stripe", "sync")
    asked = [q["payment[payment_intent]"] for path, q in stripe_server.requests if path == "/v1/invoice_payments"]
    assert asked.count(["pi_9"]) == 1 and asked.count(["pi_3"]) == 3  # a try at each refund event, then the sync
