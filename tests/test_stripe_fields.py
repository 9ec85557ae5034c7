"""Stripe fields: a field no figure needs never makes an event fail (it is left out, said in the command's
output and in doctor); a field a figure needs still refuses the event; bounds are Stripe's own."""

# ruff: noqa: F811  (tests take the fixtures imported below as arguments)

from __future__ import annotations

import json

from stripe_shapes import customer, event, invoice, subscription, ts
from test_billing import ingest, signed  # noqa: F401  (a fixture)

NOW = "2026-03-01T00:05:00Z"


def send(cli, workspace, signed, evt: dict):
    payload, header = signed(evt)
    return ingest(cli, workspace, payload, header)


def doctor_check(cli, name: str) -> dict:
    return next(c for c in json.loads(cli("doctor", "--format", "json").out) if c["check"] == name)


def report(cli) -> dict:
    return json.loads(cli("payments", "report", "--months", "1", "--format", "json").out)


def test_fields_no_figure_needs_are_left_out_and_the_event_applied(cli, workspace, signed, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", NOW)
    assert doctor_check(cli, "ledger fields")["status"] == "ok"
    person = customer("cus_1", "ana@example.com")
    person.update(name="Ana\nSmith", created="yesterday")  # a name on two lines, a date that is no timestamp
    applied = send(cli, workspace, signed, event("e1", "customer.created", person, ts("2026-03-01")))
    assert applied.code == 0, applied.err
    assert applied.err == (
        "event e1 applied without customer cus_1: name (is not text on one line), "
        "customer cus_1: created (is not a timestamp in seconds): not needed for a figure (see `arkops doctor`)\n"
        "applied\n"
    )

    paid = invoice("in_1", "cus_1", 2900, paid_at=ts("2026-03-01"), email="ana@example.com\nBcc: x@example.com")
    paid.update(attempt_count=-1, next_payment_attempt="soon", billing_reason={"not": "text"})
    paid["lines"]["data"][0]["tax_amounts"] = [{"amount": 12, "inclusive": True, "taxable_amount": "100"}]
    applied = send(cli, workspace, signed, event("e2", "invoice.paid", paid, ts("2026-03-01")))
    assert applied.code == 0, applied.err
    assert "invoice in_1: customer_email (is not text on one line)" in applied.err
    assert "invoice in_1: attempt_count (is not a count)" in applied.err
    assert "object ?: taxable_amount (is not an amount in minor units)" in applied.err  # a tax line has no id
    assert "Bcc" not in applied.err  # the values are not repeated: they may be personal data

    sub = subscription("sub_1", "cus_1", [(2900, "eur", "month", 1, 1, "prod_pro")], start="2026-03-01")
    sub.update(trial_start="2026-01-01", cancel_at_period_end="no", pause_collection=None)
    sub["items"]["data"][0]["price"]["product"] = ["not", "an", "id"]
    applied = send(cli, workspace, signed, event("e3", "customer.subscription.created", sub, ts("2026-03-01")))
    assert applied.code == 0, applied.err

    figures = report(cli)
    assert figures["mrr"] == 2900 and figures["months"][0]["revenue"] == 2900
    listed = json.loads(cli("payments", "list", "--format", "json").out)
    assert [(r["invoice"], r["customer_email"], r["amount"]) for r in listed] == [("in_1", "ana@example.com", 2900)]

    check = doctor_check(cli, "ledger fields")
    assert check["status"] == "warn"
    assert check["detail"].startswith(
        "3 event(s) of the last 30 days applied without a field no figure needs, which could not be read "
        "(newest first): e1 (customer.created): customer cus_1: name (is not text on one line)"
    )
    assert (
        "e3 (customer.subscription.created): price price_prod_pro_month1: product (is not text on one line), "
        "subscription sub_1: trial_start (is not a timestamp in seconds)"
    ) in check["detail"]
    assert "Smith" not in (workspace / "data" / "ledger.json").read_text()


def test_a_field_a_figure_needs_still_refuses_the_event(cli, workspace, signed, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", NOW)
    for n, (key, value, message) in enumerate(
        [
            ("amount_paid", -5, "invoice in_1: amount_paid: -5 is not an amount in minor units"),
            ("amount_paid", "29.00", "invoice in_1: amount_paid: '29.00' is not an amount in minor units"),
            ("currency", "xts", "invoice in_1: currency: 'xts' is not an ISO 4217 code of a currency"),
            ("status_transitions", {"paid_at": "today"}, "object ?: paid_at: 'today' is not a timestamp"),
        ]
    ):
        paid = invoice("in_1", "cus_1", 2900, paid_at=ts("2026-03-01"))
        paid[key] = value
        refused = send(cli, workspace, signed, event(f"e{n}", "invoice.paid", paid, ts("2026-03-01")))
        assert refused.code == 3 and refused.err.startswith(f"arkops: error: {message}"), refused.err
    sub = subscription("sub_1", "cus_1", [(2900, "eur", "month", 1, -1, "prod_pro")])
    refused = send(cli, workspace, signed, event("s1", "customer.subscription.created", sub, ts("2026-03-01")))
    assert refused.code == 3 and "quantity: -1 is not a count" in refused.err
    assert not (workspace / "data" / "ledger.json").exists()


def test_values_within_stripe_bounds_are_applied(cli, workspace, signed, monkeypatch):
    """Stripe's strings go to 5,000 characters and its integers to int64: a long company name, an invoice of
    more than 10^12 minor units (a zero-decimal currency's billions), a quantity in the billions."""
    monkeypatch.setenv("ARKOPS_NOW", NOW)
    person = customer("cus_big", "big@example.com")
    person["name"] = "Grande Entreprise " * 200  # 3,600 characters
    assert send(cli, workspace, signed, event("e1", "customer.created", person, ts("2026-03-01"))).code == 0
    big = invoice("in_big", "cus_big", 3 * 10**12, currency="krw", paid_at=ts("2026-03-01"))
    applied = send(cli, workspace, signed, event("e2", "invoice.paid", big, ts("2026-03-01")))
    assert applied.code == 0, applied.err
    sub = subscription("sub_big", "cus_big", [(1, "eur", "month", 1, 9 * 10**15, "prod_calls")])
    applied = send(cli, workspace, signed, event("e3", "customer.subscription.created", sub, ts("2026-03-01")))
    assert applied.code == 0, applied.err
    assert applied.err == "applied\n"
    listed = json.loads(cli("payments", "list", "--format", "json").out)
    assert [(r["amount"], r["currency"]) for r in listed] == [(3 * 10**12, "KRW")]
    figures = json.loads(cli("billing", "subscriptions", "--format", "json").out)
    assert figures[0]["mrr"] == 9 * 10**15
    assert cli("status").code == 0
