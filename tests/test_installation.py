"""What a new installation trips over: sender and operator addresses, customer domains, alerts about history."""

from __future__ import annotations

import json

import stripe
from conftest import write_config
from stripe_shapes import event, invoice, ts

SECRET = "whsec_" + "installation0123456789abcd"


def signed(evt: dict) -> tuple[str, str]:
    payload = json.dumps(evt)
    return payload, stripe.WebhookSignature.generate_signature_header(payload, SECRET)


def outbox(cli) -> list[dict]:
    return json.loads(cli("mail", "outbox", "--format", "json").out)


def test_without_mail_from_a_failed_payment_webhook_is_applied_and_its_alert_queued(cli, workspace, monkeypatch):
    monkeypatch.delenv("MAIL_FROM")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-05T10:01:00Z")
    failed = invoice("in_7", "cus_7", 2900, email="bob@example.com", attempt_count=1, next_attempt=ts("2026-03-08"))
    payload, header = signed(event("evt_failed", "invoice.payment_failed", failed, ts("2026-03-05T10:00:00")))
    (workspace / "event.json").write_text(payload)
    result = cli("webhooks", "ingest", "event.json", "--signature", header)
    assert (result.code, result.err.strip()) == (0, "applied")
    assert [m["template"] for m in outbox(cli)] == ["payment_failed"]


def test_without_mail_from_nudge_renders_in_dry_run_with_a_placeholder_sender(cli, workspace, monkeypatch):
    monkeypatch.delenv("MAIL_FROM")
    write_config(workspace, '[product]\nname = "Acme Watch"\n')
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T09:00:00Z")
    assert cli("trials", "signup", "ana@example.com", "--plan", "pro").code == 0
    result = cli("--dry-run", "trials", "nudge")
    assert (result.code, result.err.strip()) == (0, "trials nudge: 1 email queued")
    (eml,) = (workspace / "data" / "outbox").glob("*.eml")
    assert "From: Acme Watch <mail-from-not-set@arkops.invalid>" in eml.read_text()
    assert "Your Pro trial is open until March 16, 2026" in eml.read_text()  # the plan by its name, not its id


def test_doctor_fails_when_smtp_is_set_without_a_sender(cli, monkeypatch):
    monkeypatch.delenv("MAIL_FROM")
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    checks = {c["check"]: c for c in json.loads(cli("doctor", "--format", "json").out)}
    assert checks["MAIL_FROM"]["status"] == "fail"


def test_an_operator_on_localhost_passes_doctor_and_receives_the_alert(cli, workspace, smtp_server, monkeypatch):
    monkeypatch.setenv("ARKOPS_ALERT_TO", "root@localhost")
    monkeypatch.setenv("MAIL_FROM", "arkops@staging.internal")
    checks = {c["check"]: c for c in json.loads(cli("doctor", "--smtp", "--format", "json").out)}
    assert checks["ARKOPS_ALERT_TO"] == {"check": "ARKOPS_ALERT_TO", "status": "ok", "detail": "root@localhost"}
    assert checks["MAIL_FROM"]["status"] == "ok" and checks["smtp"]["status"] == "ok"
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T09:00:00Z")
    cli("trials", "signup", "ana@example.com", "--plan", "pro")
    cli("trials", "activity", "ana@example.com", "--kind", "login")
    assert cli("trials", "track").code == 0
    assert cli("mail", "flush").code == 0
    (received,) = [raw for raw in smtp_server.received if b"Trials: 1 activated" in raw]
    assert b"To: root@localhost" in received


def test_mail_test_reaches_an_address_on_a_test_domain(cli, smtp_server):
    result = cli("mail", "test", "--to", "owner@arkops.test")
    assert result.code == 0, result.err
    assert any(b"To: owner@arkops.test" in raw for raw in smtp_server.received)


def test_a_customer_on_a_local_domain_is_refused_unless_staging_allows_it(cli, workspace):
    refused = cli("trials", "signup", "x@y.local", "--plan", "pro")
    assert refused.code == 3 and "special-use or reserved" in refused.err
    write_config(workspace, "[mail]\nallow_local_domains = true\n")
    assert cli("trials", "signup", "x@y.local", "--plan", "pro").code == 0


def test_importing_old_payments_records_them_without_alerting(cli, workspace, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", "2026-06-15T12:00:00Z")
    records = [
        {
            "invoice_id": f"in_{n}",
            "customer_email": f"c{n}@example.com",
            "amount": 29,
            "currency": "EUR",
            "status": "paid" if n % 5 else "failed",
            "paid_at": f"2026-0{1 + n % 5}-10T10:00:00Z",
        }
        for n in range(20)
    ]
    (workspace / "payments.json").write_text(json.dumps(records))
    result = cli("payments", "import", "payments.json")
    assert result.code == 0, result.err
    assert outbox(cli) == []  # months-old payments and failures: in the ledger, nobody is told
    assert len(json.loads(cli("payments", "list", "--format", "json").out)) == 20


def test_a_welcome_email_names_the_plan_as_arkops_toml_does(cli, workspace):
    from stripe_shapes import customer, subscription
    from test_billing import apply_all

    write_config(
        workspace,
        '[product]\nname = "Acme Watch"\n[billing]\nnotify_subscription_welcome = true\n[plans.pro]\nname = "Pro"\nprice = 2900\n'
        'stripe_price = "price_prod_pro_month1"\n',
    )
    apply_all(
        workspace,
        [
            event("e1", "customer.created", customer("cus_1", "ana@example.com"), ts("2026-03-01")),
            event(
                "e2",
                "customer.subscription.created",
                subscription("sub_1", "cus_1", [(2900, "eur", "month", 1, 1, "prod_pro")], start="2026-03-01"),
                ts("2026-03-01"),
            ),
        ],
    )
    (welcome,) = [m for m in outbox(cli) if m["template"] == "subscription_welcome"]
    assert welcome["subject"] == "Welcome to Acme Watch Pro"


def test_trial_will_end_asks_a_trial_without_a_payment_method_to_add_one_once(cli, workspace):
    from stripe_shapes import customer, subscription
    from test_billing import apply_all

    write_config(
        workspace,
        '[product]\nname = "Acme Watch"\n[serve]\npublic_url = "https://acme.example/ops"\n'
        '[plans.pro]\nname = "Pro"\nprice = 2900\nstripe_price = "price_prod_pro_month1"\n',
    )
    items = [(2900, "eur", "month", 1, 1, "prod_pro")]
    trialing = subscription("sub_1", "cus_1", items, status="trialing", start="2026-03-01", trial_end=ts("2026-03-15"))
    trialing["default_payment_method"] = None
    with_card = subscription("sub_2", "cus_2", items, status="trialing", start="2026-03-01", trial_end=ts("2026-03-15"))
    with_card["default_payment_method"] = "pm_1"
    events = [
        event("e1", "customer.created", customer("cus_1", "ana@example.com"), ts("2026-03-01")),
        event("e2", "customer.created", customer("cus_2", "bo@example.com"), ts("2026-03-01")),
        event("e3", "customer.subscription.created", trialing, ts("2026-03-01")),
        event("e4", "customer.subscription.created", with_card, ts("2026-03-01")),
        event("e5", "customer.subscription.trial_will_end", trialing, ts("2026-03-12")),
        event("e6", "customer.subscription.trial_will_end", with_card, ts("2026-03-12")),
        event("e7", "customer.subscription.trial_will_end", trialing, ts("2026-03-12") + 5),  # Stripe resends
    ]
    apply_all(workspace, events)
    (reminder,) = [m for m in outbox(cli) if m["template"] == "trial_payment_method"]
    assert reminder["to"] == "ana@example.com"
    assert reminder["subject"] == "Your Pro trial ends on March 15, 2026: add a payment method"
    assert "Add a payment method: https://acme.example/ops/billing/portal/" in reminder["text"]
