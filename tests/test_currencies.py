"""Currencies: an amount in a currency without an [fx] rate is reported apart while every other figure works;
only real currencies get in; amounts are read and shown in Stripe's minor units (JPY 0 decimals, ISK 2)."""

# ruff: noqa: F811  (tests take the fixtures imported below as arguments)

from __future__ import annotations

import json

import pytest
from conftest import write_config
from stripe_shapes import customer, event, invoice, subscription, ts
from test_billing import signed  # noqa: F401  (a fixture)
from test_billing_shapes import deliver

NOW = "2026-03-20T00:00:00Z"


def payments(workspace, *records: tuple[str, str, object, str]) -> str:
    """A legacy payments.json: (invoice id, currency, amount in major units, paid day)."""
    (workspace / "payments.json").write_text(
        json.dumps(
            [
                {
                    "invoice_id": invoice_id,
                    "customer_email": f"{invoice_id}@example.com",
                    "amount": amount,
                    "currency": currency,
                    "status": "paid",
                    "paid_at": f"{day}T10:00:00Z",
                }
                for invoice_id, currency, amount, day in records
            ]
        )
    )
    return "payments.json"


def report(cli, *args: str) -> dict:
    result = cli("payments", "report", "--months", "3", *args, "--format", "json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_an_invoice_without_a_rate_is_reported_apart_and_every_other_figure_works(cli, workspace, signed, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", NOW)
    assert cli("init").code == 0
    imported = cli(
        "payments",
        "import",
        payments(workspace, ("in_jp", "JPY", 1000, "2026-03-02"), ("in_eu", "EUR", 29.90, "2026-03-03")),
    )
    assert imported.code == 0, imported.err
    deliver(
        cli,
        workspace,
        signed,
        event("c1", "customer.created", customer("cus_jp", "kenji@example.jp"), ts("2026-03-01")),
        event(
            "s1",
            "customer.subscription.created",
            subscription("sub_jp", "cus_jp", [(5000, "jpy", "month", 1, 1, "prod_pro")], start="2026-03-01"),
            ts("2026-03-01"),
        ),
    )

    built = report(cli)
    assert built["months"][-1]["revenue"] == 2990 and built["mrr"] == 0  # the EUR invoice; the yen apart
    assert built["not_converted"] == [
        {"figure": "mrr", "currency": "JPY", "amount_minor": 5000},
        {"figure": "revenue", "currency": "JPY", "amount_minor": 1000},
    ]
    table = cli("payments", "report", "--months", "3")
    assert table.code == 0
    assert "not converted (no [fx] rate, see `arkops doctor`): MRR JPY\xa05,000, revenue JPY\xa01,000" in table.err

    status = cli("status", "--format", "json")
    assert status.code == 0, status.err
    figure = json.loads(status.out)["sections"]["revenue"]["figures"]["not_converted"]
    assert figure["text"] == "MRR JPY\xa05,000, revenue JPY\xa01,000" and figure["red"] is False
    html = cli("report", "--html", str(workspace / "report.html"))
    assert html.code == 0, html.err
    page = (workspace / "report.html").read_text()
    assert "Not converted" in page and "revenue JPY\xa01,000" in page

    subs = json.loads(cli("billing", "subscriptions", "--format", "json").out)
    assert [(s["mrr"], s["currency"]) for s in subs] == [(5000, "JPY")]  # its own currency, not 0 EUR
    moves = json.loads(cli("payments", "movements", "--format", "json").out)
    assert [(m["kind"], m["change"], m["currency"]) for m in moves] == [("new", 5000, "JPY")]

    doctor = json.loads(cli("doctor", "--format", "json").out)
    rates = next(c for c in doctor if c["check"] == "exchange rates")
    assert rates["status"] == "warn"
    assert "no [fx] rate for JPY (1 invoice, 1 subscription)" in rates["detail"]
    assert "add under [fx] in arkops.toml: JPY = <EUR for 1 JPY>" in rates["detail"]

    # The fix doctor names: every figure converted, nothing apart.
    toml = (workspace / "arkops.toml").read_text().replace("[fx]\n", "[fx]\nJPY = 0.0062\n", 1)
    write_config(workspace, toml)
    built = report(cli)
    assert built["not_converted"] == []
    assert built["months"][-1]["revenue"] == 2990 + 620  # 1,000 yen at 0.0062 EUR
    assert built["mrr"] == 3100
    assert (
        next(c for c in json.loads(cli("doctor", "--format", "json").out) if c["check"] == "exchange rates")["status"]
        == "ok"
    )


@pytest.mark.parametrize("code", ["XXX", "XTS", "XAU", "XDR", "ABC"])
def test_codes_that_are_not_currencies_are_refused_at_the_door(cli, workspace, signed, monkeypatch, code):
    monkeypatch.setenv("ARKOPS_NOW", NOW)
    refused = cli("payments", "import", payments(workspace, ("in_x", code, 10, "2026-03-02")))
    assert refused.code == 3
    assert refused.err == (
        f"arkops: error: payments.json[0].currency {code!r} is not an ISO 4217 code of a currency (e.g. EUR)\n"
    )
    payload, header = signed(
        event(
            "e1",
            "invoice.paid",
            invoice("in_x", "cus_1", 100, currency=code.lower(), paid_at=ts("2026-03-02")),
            ts("2026-03-02"),
        )
    )
    (workspace / "event.json").write_text(payload)
    webhook = cli("webhooks", "ingest", "event.json", "--signature", header)
    assert webhook.code == 3 and "is not an ISO 4217 code of a currency" in webhook.err, webhook.err
    assert cli("payments", "report", "--currency", code).code == 2
    assert not (workspace / "data" / "ledger.json").exists()


def test_amounts_are_read_and_shown_in_stripe_minor_units(cli, workspace, monkeypatch):
    """JPY has no decimals, KWD three; ISK and HUF keep two in Stripe's API though people write them without."""
    monkeypatch.setenv("ARKOPS_NOW", NOW)
    imported = cli(
        "payments",
        "import",
        payments(
            workspace,
            ("in_jpy", "JPY", 1000, "2026-03-02"),
            ("in_kwd", "KWD", "1.235", "2026-03-03"),
            ("in_isk", "ISK", 1500, "2026-03-04"),
            ("in_huf", "HUF", "1200.50", "2026-03-05"),
        ),
    )
    assert imported.code == 0, imported.err
    listed = json.loads(cli("payments", "list", "--format", "json").out)
    assert [(r["invoice"], r["amount"]) for r in listed] == [
        ("in_jpy", 1000),
        ("in_kwd", 1235),
        ("in_isk", 150000),
        ("in_huf", 120050),
    ]
    table = cli("payments", "list").out
    for shown in ("¥1,000", "KWD1.235", "ISK1,500", "HUF1,200"):  # Babel writes ISK and HUF without decimals
        assert shown in table, table
    fractional = cli("payments", "import", payments(workspace, ("in_jpy2", "JPY", "10.5", "2026-03-06")))
    assert fractional.code == 3
    assert "has more decimals than JPY allows" in fractional.err
