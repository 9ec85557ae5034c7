"""The billing ledger: signed webhooks, idempotency under processes, out-of-order events, MRR maths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import stripe
from conftest import write_config
from stripe_shapes import charge_refunded, event, invoice, percent_discount, subscription, ts

from arkops.errors import ConfigError

SECRET = "whsec_" + "testsecretvalue0123456789abcdef"


@pytest.fixture
def signed(workspace, monkeypatch):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)

    def make(evt: dict, *, secret: str = SECRET, timestamp: int | None = None) -> tuple[str, str]:
        payload = json.dumps(evt)
        return payload, stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)

    return make


def ingest(cli, workspace, payload: str, header: str | None):
    path = workspace / "event.json"
    path.write_text(payload)
    return cli("webhooks", "ingest", str(path), *(["--signature", header] if header else []))


def ledger(workspace) -> dict:
    path = workspace / "data" / "ledger.json"
    return json.loads(path.read_text()) if path.exists() else {}


def paid_event(n: int = 1) -> dict:
    return event(
        f"evt_paid_{n}",
        "invoice.paid",
        invoice(f"in_{n}", "cus_1", 2900, paid_at=ts("2026-03-01"), email="ana@example.com"),
        ts("2026-03-01"),
    )


def test_valid_signature_is_applied_once(cli, workspace, signed):
    payload, header = signed(paid_event())
    first = ingest(cli, workspace, payload, header)
    assert first.code == 0 and "applied" in first.err
    again = ingest(cli, workspace, payload, header)
    assert again.code == 0 and "already seen" in again.err
    assert list(ledger(workspace)["invoices"]) == ["in_1"]


def test_refused_payloads_apply_nothing(cli, workspace, signed):
    evt = paid_event()
    payload, good = signed(evt)
    cases = {
        "wrong secret": (payload, signed(evt, secret="whsec_" + "another0123456789abcdefghij")[1]),
        "stale timestamp": (payload, signed(evt, timestamp=int(time.time()) - 301)[1]),
        "re-serialised body": (json.dumps(evt, indent=2), good),
        "missing header": (payload, None),
        "malformed payload": ("{not json", stripe.WebhookSignature.generate_signature_header("{not json", SECRET)),
    }
    for name, (body, header) in cases.items():
        result = ingest(cli, workspace, body, header)
        assert result.code == 3, name
        assert result.err.startswith("arkops: error: webhook refused"), (name, result.err)
    assert "invoices" not in ledger(workspace)
    assert not (workspace / "data" / "outbox.json").exists()


def test_same_event_from_ten_processes_is_applied_once_with_one_alert(workspace, signed):
    payload, header = signed(paid_event())
    (workspace / "event.json").write_text(payload)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "arkops", "webhooks", "ingest", "event.json", "--signature", header],
            cwd=workspace,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "ARKOPS_NOW": "2026-03-01T00:01:00Z"},  # delivered as it happens
        )
        for _ in range(10)
    ]
    outputs = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 10, outputs
    assert sum("applied" in out for out in outputs) == 1
    assert sum("already seen" in out for out in outputs) == 9
    outbox = json.loads((workspace / "data" / "outbox.json").read_text())
    assert [m["template"] for m in outbox["messages"].values()] == ["first_revenue"]


def test_out_of_order_updates_keep_the_newer_state(cli, workspace, signed):
    newer = event(
        "evt_b",
        "customer.subscription.updated",
        subscription("sub_1", "cus_1", [(2900, "eur", "month", 1, 1, "pro")]),
        ts("2026-03-10"),
    )
    older = event(
        "evt_a",
        "customer.subscription.updated",
        subscription("sub_1", "cus_1", [(900, "eur", "month", 1, 1, "starter")]),
        ts("2026-03-05"),
    )
    for evt in (newer, older):
        payload, header = signed(evt)
        assert ingest(cli, workspace, payload, header).code == 0
    data = ledger(workspace)
    assert data["subscriptions"]["sub_1"]["items"][0]["unit_amount"] == 2900
    versions = data["subscriptions_history"]["sub_1"]["versions"]
    assert [v["items"][0]["unit_amount"] for v in versions] == [900, 2900]  # history in event-time order


def test_unknown_event_types_are_accepted_and_ignored(cli, workspace, signed):
    payload, header = signed(event("evt_x", "plan.created", {"id": "plan_1"}, ts("2026-03-01")))
    result = ingest(cli, workspace, payload, header)
    assert result.code == 0 and "ignored" in result.err


def apply_all(workspace, events, now: str | None = None):
    """Apply events as they arrive: by default a minute after the newest one (alerts are about recent events)."""
    from pathlib import Path

    from arkops.clock import from_unix, parse_iso
    from arkops.core.billing.service import apply_events
    from arkops.runtime import Runtime

    rt = Runtime(Path("data"), Path("arkops.toml"), Path(".env"))
    moment = parse_iso(now) if now else from_unix(max(e["created"] for e in events) + 60)
    return apply_events(rt, events, now=moment)


def test_hand_computed_scenario_month_by_month(cli, workspace, monkeypatch):
    """Five customers, January to June 2026 (UTC), every amount worked out by hand.

    Jan: A 2900 + C 9000x2/3 = 6000                     -> 8900 (new 8900)
    Feb: + B 12000 USD/12 x 0.5 = 500, D 4000 - 25 % = 3000 -> 12400 (new 3500; C still counts, cancel at period end)
    Mar: C ends (churn -6000), E trial converts 900       -> 7300 (new 900; logo churn 1/4)
    Apr: A 2900 -> 9900 (+7000), D discount over (+1000) -> 15300 (expansion 8000)
    May: C returns at 2900 (reactivation)                 -> 18200
    """
    write_config(workspace, "[fx]\nUSD = 0.5\n")
    events = [
        # A: monthly 29 EUR from Jan 10; upgraded to 99 EUR on Apr 5 (expansion +70).
        event(
            "e1",
            "customer.subscription.created",
            subscription("sub_a", "cus_a", [(2900, "eur", "month", 1, 1, "pro")], start="2026-01-10"),
            ts("2026-01-10"),
        ),
        event(
            "e2",
            "customer.subscription.updated",
            subscription("sub_a", "cus_a", [(9900, "eur", "month", 1, 1, "business")], start="2026-01-10"),
            ts("2026-04-05"),
        ),
        # B: annual 120 USD = 60 EUR/yr at 0.5 -> 5 EUR/month, from Feb 1.
        event(
            "e3",
            "customer.subscription.created",
            subscription("sub_b", "cus_b", [(12000, "usd", "year", 1, 1, "pro")], start="2026-02-01"),
            ts("2026-02-01"),
        ),
        # C: 3-monthly 90 EUR -> 30/month, quantity 2 -> 60/month, from Jan 20; cancelled, ends Mar 15 (churn in March).
        event(
            "e4",
            "customer.subscription.created",
            subscription("sub_c", "cus_c", [(9000, "eur", "month", 3, 2, "team")], start="2026-01-20"),
            ts("2026-01-20"),
        ),
        event(
            "e5",
            "customer.subscription.updated",
            subscription(
                "sub_c", "cus_c", [(9000, "eur", "month", 3, 2, "team")], start="2026-01-20", cancel_at_period_end=True
            ),
            ts("2026-02-20"),
        ),
        event(
            "e6",
            "customer.subscription.deleted",
            subscription(
                "sub_c",
                "cus_c",
                [(9000, "eur", "month", 3, 2, "team")],
                start="2026-01-20",
                status="canceled",
                ended_at=ts("2026-03-15"),
            ),
            ts("2026-03-15"),
        ),
        # D: 40 EUR monthly with 25 % off for 2 months from Feb 1 (older API shape): 30 in Feb and Mar, 40 from Apr 1 (expansion +10).
        event(
            "e7",
            "customer.subscription.created",
            subscription(
                "sub_d",
                "cus_d",
                [(4000, "eur", "month", 1, 1, "pro")],
                start="2026-02-01",
                discounts=[percent_discount(25, "2026-02-01", 2, newer_api=False)],
            ),
            ts("2026-02-01"),
        ),
        # E: trial from Mar 1 (no MRR), converts Mar 15 at 9 EUR (new in March).
        event(
            "e8",
            "customer.subscription.created",
            subscription(
                "sub_e", "cus_e", [(900, "eur", "month", 1, 1, "starter")], start="2026-03-01", status="trialing"
            ),
            ts("2026-03-01"),
        ),
        event(
            "e9",
            "customer.subscription.updated",
            subscription("sub_e", "cus_e", [(900, "eur", "month", 1, 1, "starter")], start="2026-03-01"),
            ts("2026-03-15"),
        ),
        # C comes back in May at 29 EUR (reactivation).
        event(
            "e10",
            "customer.subscription.created",
            subscription("sub_c2", "cus_c", [(2900, "eur", "month", 1, 1, "pro")], start="2026-05-02"),
            ts("2026-05-02"),
        ),
        # Revenue: two paid invoices in March, one refund in March, one paid in April.
        event("e11", "invoice.paid", invoice("in_1", "cus_a", 2900, paid_at=ts("2026-03-10")), ts("2026-03-10")),
        event(
            "e12",
            "invoice.paid",
            invoice("in_2", "cus_b", 12000, currency="usd", paid_at=ts("2026-03-11")),
            ts("2026-03-11"),
        ),
        event("e13", "charge.refunded", charge_refunded("ch_1", "in_1", 1000, ts("2026-03-20")), ts("2026-03-20")),
        event("e14", "invoice.paid", invoice("in_3", "cus_a", 9900, paid_at=ts("2026-04-05")), ts("2026-04-05")),
    ]
    apply_all(workspace, events)
    monkeypatch.setenv("ARKOPS_NOW", "2026-06-15T12:00:00Z")
    result = cli("payments", "report", "--months", "6", "--format", "json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    months = {m["month"]: m for m in report["months"]}
    expected = {
        #          mrr    new   exp   contr  churn  react paying churned rate
        "2026-01": (8900, 8900, 0, 0, 0, 0, 2, 0, 0.0),
        "2026-02": (12400, 3500, 0, 0, 0, 0, 4, 0, 0.0),
        "2026-03": (7300, 900, 0, 0, -6000, 0, 4, 1, 0.25),
        "2026-04": (15300, 0, 8000, 0, 0, 0, 4, 0, 0.0),
        "2026-05": (18200, 0, 0, 0, 0, 2900, 5, 0, 0.0),
        "2026-06": (18200, 0, 0, 0, 0, 0, 5, 0, 0.0),
    }
    for month, (mrr, new, expansion, contraction, churn, reactivation, paying, churned, rate) in expected.items():
        row = months[month]
        assert (
            row["mrr"],
            row["new"],
            row["expansion"],
            row["contraction"],
            row["churn"],
            row["reactivation"],
            row["paying_customers"],
            row["churned_customers"],
            row["logo_churn_rate"],
        ) == (mrr, new, expansion, contraction, churn, reactivation, paying, churned, rate), month
    assert months["2026-03"]["revenue"] == 2900 + 6000 - 1000
    assert months["2026-04"]["revenue"] == 9900
    assert report["mrr"] == 18200 and report["arr"] == 218400
    assert report["paying_customers"] == 5 and report["arpu"] == 3640
    assert report["ltv"] == 87360  # 3640 / (0.25 / 6)
    assert report["currency"] == "EUR" and report["as_of"] == "2026-06-15T12:00:00Z"


def test_report_in_another_currency_goes_through_the_configured_one(cli, workspace, monkeypatch):
    write_config(workspace, "[fx]\nUSD = 0.5\nJPY = 0.01\n")
    apply_all(
        workspace,
        [
            event(
                "e1",
                "customer.subscription.created",
                subscription("sub_a", "cus_a", [(2900, "eur", "month", 1, 1, "pro")], start="2026-02-01"),
                ts("2026-02-01"),
            ),
            event(
                "e2",
                "customer.subscription.created",
                subscription("sub_j", "cus_j", [(1000, "jpy", "month", 1, 1, "pro")], start="2026-02-01"),
                ts("2026-02-01"),
            ),
        ],
    )
    monkeypatch.setenv("ARKOPS_NOW", "2026-06-15T12:00:00Z")
    eur = json.loads(cli("payments", "report", "--format", "json").out)
    assert eur["mrr"] == 2900 + 1000  # 1000 yen = 10.00 EUR = 1000 cents
    usd = json.loads(cli("payments", "report", "--currency", "USD", "--format", "json").out)
    assert usd["currency"] == "USD" and usd["mrr"] == 7800  # 39.00 EUR / 0.5


def test_a_missing_fx_rate_leaves_the_amount_apart_and_a_report_currency_without_one_is_exit_3(
    cli, workspace, monkeypatch
):
    apply_all(
        workspace,
        [
            event(
                "e1",
                "customer.subscription.created",
                subscription("sub_b", "cus_b", [(12000, "usd", "year", 1, 1, "pro")], start="2026-02-01"),
                ts("2026-02-01"),
            )
        ],
    )
    monkeypatch.setenv("ARKOPS_NOW", "2026-06-15T12:00:00Z")
    result = cli("payments", "report", "--format", "json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["not_converted"] == [{"figure": "mrr", "currency": "USD", "amount_minor": 1000}]
    result = cli("payments", "report", "--currency", "GBP")
    assert result.code == 3
    assert result.err == "arkops: error: no exchange rate for GBP in [fx] of arkops.toml (rates are against EUR)\n"


def test_failed_payment_alerts_and_lists_dunning(cli, workspace, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-05T00:10:00Z")
    failed = invoice("in_9", "cus_9", 2900, email="bob@example.com", attempt_count=2, next_attempt=ts("2026-03-08"))
    apply_all(workspace, [event("e1", "invoice.payment_failed", failed, ts("2026-03-05"))])
    rows = json.loads(cli("payments", "failed", "--format", "json").out)
    assert rows == [
        {
            "invoice": "in_9",
            "customer_email": "bob@example.com",
            "amount": 2900,
            "currency": "EUR",
            "attempts": 2,
            "failed_at": "2026-03-05T00:00:00Z",
            "next_attempt": "2026-03-08T00:00:00Z",
            "old": False,
        }
    ]
    messages = json.loads(cli("mail", "outbox", "--format", "json").out)
    assert [m["template"] for m in messages] == ["payment_failed"]
    assert "€29.00" in messages[0]["subject"]


def test_payments_import_is_idempotent(cli, workspace):
    path = workspace / "payments.json"
    path.write_text(
        json.dumps(
            [
                {
                    "invoice_id": "legacy_1",
                    "customer_email": "old@example.com",
                    "amount": 29.0,
                    "currency": "EUR",
                    "status": "paid",
                    "paid_at": "2025-12-03T10:00:00Z",
                },
                {
                    "invoice_id": "legacy_2",
                    "customer_email": "old@example.com",
                    "amount": "9.90",
                    "currency": "eur",
                    "status": "failed",
                    "paid_at": "2025-12-04T10:00:00Z",
                },
            ]
        )
    )
    assert cli("payments", "import", str(path)).code == 0
    assert "0 imported, 2 already present" in cli("payments", "import", str(path)).err
    rows = json.loads(cli("payments", "list", "--format", "json").out)
    assert [(r["invoice"], r["status"], r["amount"]) for r in rows] == [
        ("legacy_1", "paid", 2900),
        ("legacy_2", "failed", 990),
    ]
    assert (
        json.loads(cli("payments", "list", "--month", "2025-12", "--status", "paid", "--format", "json").out)[0][
            "invoice"
        ]
        == "legacy_1"
    )


def test_payments_import_bad_amount_is_exit_3(cli, workspace):
    path = workspace / "payments.json"
    path.write_text(
        json.dumps(
            [{"invoice_id": "x", "amount": "29.999", "currency": "EUR", "status": "paid", "paid_at": "2025-12-03"}]
        )
    )
    result = cli("payments", "import", str(path))
    assert result.code == 3 and "payments.json[0].amount" in result.err
    assert not (workspace / "data" / "ledger.json").exists() or "invoices" not in ledger(workspace)


def test_a_customer_address_that_cannot_be_used_does_not_block_the_ledger(cli, workspace):
    write_config(workspace, "[billing]\nnotify_payment_received = true\n")
    paid = invoice("in_bad", "cus_bad", 2900, paid_at=ts("2026-03-01"), email="not an address@@example")
    result = apply_all(workspace, [event("evt_bad", "invoice.paid", paid, ts("2026-03-01"))])
    assert result.applied == 1 and len(result.undeliverable) == 1
    assert "payment_received" in result.undeliverable[0]
    templates = [m["template"] for m in json.loads(cli("mail", "outbox", "--format", "json").out)]
    assert templates == ["first_revenue"]


def test_operator_alerts_need_an_address(cli, workspace, monkeypatch):
    monkeypatch.delenv("ARKOPS_ALERT_TO")
    with pytest.raises(ConfigError, match=r"^environment: ARKOPS_ALERT_TO: not set; operator alerts need an address$"):
        apply_all(workspace, [paid_event()])
    assert "invoices" not in ledger(workspace)  # nothing applied: the event is retried once configured
    checks = {c["check"]: c for c in json.loads(cli("doctor", "--format", "json").out)}
    assert checks["ARKOPS_ALERT_TO"]["status"] == "fail"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["payments", "report", "--currency", "CHF"], 3, "no exchange rate for CHF"),
        (["payments", "report", "--currency", "XXX"], 2, "currency 'XXX' is not an ISO 4217 code of a currency"),
        (["payments", "report", "--currency", "e1"], 2, "currency 'e1' is not an ISO 4217 code"),
        (["payments", "report", "--months", "0"], 2, "Invalid value for '--months'"),
        (["payments", "list", "--month", "2026-13"], 2, "'2026-13' is not a month YYYY-MM"),
        (["payments", "list", "--status", "late"], 2, "Invalid value for '--status': 'late' is not one of"),
        (["billing", "subscriptions", "--status", "bogus"], 2, "Invalid value for '--status': 'bogus' is not one of"),
    ],
)
def test_bad_report_options_are_one_line_and_write_nothing(cli, workspace, args, code, message):
    apply_all(workspace, [paid_event()])
    before = (workspace / "data" / "ledger.json").read_bytes()
    result = cli(*args)
    assert result.code == code and message in result.err and result.err.count("\n") == 1
    assert (workspace / "data" / "ledger.json").read_bytes() == before
