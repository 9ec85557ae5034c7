"""Customer email as a customer receives it: the product's name and never arkops, one-click unsubscribe through
`arkops serve` and the suppression list, strict sends, and mistyped addresses refused at the edge."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime
from functools import partial
from urllib.parse import urlsplit

from conftest import write_config
from serve_client import Server
from test_trials import at

from arkops.core.registry import messages as messages_catalog

PRODUCT = (
    '[product]\nname = "Acme Watch"\nsupport_email = "help@acme.example"\npostal_address = "1 rue de la Paix, Paris"\n'
)
PUBLIC = "https://acme.example/ops"
RECEIPT = ("--var", "amount=2900", "--var", "currency=EUR", "--var", "invoice_id=in_1")


def delivered(smtp_server) -> list:
    return [email.message_from_bytes(raw, policy=email.policy.default) for raw in smtp_server.received]


def bodies(message) -> str:
    return message.get_body(("plain",)).get_content() + message.get_body(("html",)).get_content()


def day(cli, monkeypatch, days: float) -> None:
    monkeypatch.setenv("ARKOPS_NOW", at(days, 10))
    assert cli("trials", "track").code == 0
    assert cli("trials", "nudge").code == 0
    assert cli("mail", "flush").code == 0


def run_dunning(cli, monkeypatch, day: float) -> str:
    """The `dunning` job at 11:00 on `day` after the signup moment, then a flush; what it said."""
    monkeypatch.setenv("ARKOPS_NOW", at(day, 11))
    result = cli("run", "--only", "dunning", "--force")
    assert result.code == 0, result.err
    assert cli("mail", "flush").code == 0
    return result.out + result.err


def outbox(cli) -> list[dict]:
    return json.loads(cli("mail", "outbox", "--format", "json").out)


def test_customer_mail_names_the_product_and_one_click_unsubscribe_stops_lifecycle_mail_only(
    cli, workspace, smtp_server, monkeypatch
):
    write_config(workspace, PRODUCT + f'[serve]\npublic_url = "{PUBLIC}"\n')
    monkeypatch.setenv("ARKOPS_NOW", at(0, 10))
    assert cli("trials", "signup", "ana@example.com", "--plan", "pro").code == 0
    for moment in (0, 1, 7):
        day(cli, monkeypatch, moment)
    assert cli("mail", "send", "payment_received", "--to", "ana@example.com", *RECEIPT).code == 0
    quota = ("--var", "metric=watches", "--var", "used=80", "--var", "limit=100", "--var", "plan=Pro")
    assert cli("mail", "send", "quota_80", "--to", "ana@example.com", *quota).code == 0
    reminder = ("--var", "amount=2900", "--var", "currency=EUR", "--var", "invoice_id=in_9", "--var", "days=3")
    assert cli("mail", "send", "payment_reminder", "--to", "ana@example.com", *reminder).code == 0
    messages = delivered(smtp_server)
    by_subject = {m["Subject"]: m for m in messages}
    assert {"Welcome to your Acme Watch trial", "Payment received: €29.00"} <= set(by_subject)
    assert "Reminder: your payment of €29.00 is still due" in by_subject  # dunning: transactional
    quota_80 = by_subject["80 % of your watches used"]
    assert quota_80["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"  # quota 80 %: lifecycle
    assert any(m["X-Arkops-Key"] == "trial:ana@example.com:day7" for m in messages)
    for message in messages:
        assert message["From"] == "Acme Watch <ops@example.com>" and message["Reply-To"] == "help@acme.example"
        for part in (message["Subject"], message["From"], bodies(message)):
            assert "arkops" not in part.lower(), part
        assert "1 rue de la Paix, Paris" in message.get_body(("plain",)).get_content()
        assert "1 rue de la Paix, Paris" in message.get_body(("html",)).get_content()
    receipt = by_subject["Payment received: €29.00"]
    assert receipt["List-Unsubscribe"] is None and "/u/" not in bodies(receipt)  # transactional
    welcome = by_subject["Welcome to your Acme Watch trial"]
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = welcome["List-Unsubscribe"].strip("<>")
    assert link.startswith(PUBLIC + "/u/") and link in bodies(welcome)
    path = urlsplit(link).path.removeprefix("/ops")  # the reverse proxy serves arkops under /ops

    monkeypatch.setenv("ARKOPS_NOW", at(8, 10))
    server = Server(workspace)
    try:
        page = server.request("GET", path, token=None)  # a mail scanner opening the link changes nothing
        assert page.status == 200 and b"ana@example.com" in page.raw and b'method="post"' in page.raw
        assert json.loads(cli("mail", "suppressed", "--format", "json").out) == []
        forged = server.request("POST", path[:-1] + ("0" if path[-1] != "0" else "1"), token=None, raw=b"x")
        assert forged.status == 400 and forged.json["code"] == "bad_data"
        one_click = {"Content-Type": "application/x-www-form-urlencoded"}
        answer = server.request("POST", path, token=None, raw=b"List-Unsubscribe=One-Click", headers=one_click)
        assert answer.status == 200, answer.raw
        again = server.request("POST", path, token=None, raw=b"List-Unsubscribe=One-Click", headers=one_click)
        assert again.status == 200
    finally:
        server.stop()
    (entry,) = json.loads(cli("mail", "suppressed", "--format", "json").out)
    assert (entry["email"], entry["scope"], entry["reason"], entry["via"]) == (
        "ana@example.com",
        "lifecycle",
        "unsubscribed",
        "link",
    )

    before = len(smtp_server.received)
    day(cli, monkeypatch, 12)
    (day12,) = [m for m in outbox(cli) if m["template"] == "trial_day12"]
    assert day12["state"] == "suppressed"
    assert len(smtp_server.received) == before  # the day-12 nudge never left
    assert cli("mail", "send", "payment_received", "--to", "ana@example.com", *RECEIPT, "--key", "r2").code == 0
    assert [m["Subject"] for m in delivered(smtp_server)[before:]] == ["Payment received: €29.00"]

    links = {v for m in messages_catalog().values() for v in m.sample.values() if isinstance(v, str) and "://" in v}
    assert links and not [link for m in delivered(smtp_server) for link in links if link in bodies(m)]

    assert cli("mail", "resubscribe", "ana@example.com").code == 0
    assert json.loads(cli("mail", "suppressed", "--format", "json").out) == []


def test_a_hard_bounce_suppresses_customer_mail_but_never_operator_alerts(cli, workspace, smtp_server, monkeypatch):
    write_config(workspace, PRODUCT)
    monkeypatch.setenv("ARKOPS_NOW", at(0, 10))
    smtp_server.rcpt_reply = "550 5.1.1 <gone@example.com>: no such user"
    result = cli("mail", "send", "payment_received", "--to", "gone@example.com", *RECEIPT)
    assert result.code != 0
    (entry,) = json.loads(cli("mail", "suppressed", "--format", "json").out)
    assert (entry["email"], entry["scope"], entry["reason"]) == ("gone@example.com", "all", "bounced")
    assert "550" in entry["detail"]
    smtp_server.rcpt_reply = None
    assert cli("mail", "send", "payment_received", "--to", "gone@example.com", *RECEIPT, "--key", "r2").code == 0
    assert [m["state"] for m in outbox(cli) if m["key"] == "r2"] == ["suppressed"]
    assert cli("mail", "send", "test", "--to", "gone@example.com").code == 0  # an operator message still goes
    assert [m["Subject"] for m in delivered(smtp_server)] == ["arkops test message"]


def test_mail_send_takes_exactly_the_template_variables_and_never_a_sample(cli, workspace, smtp_server):
    write_config(workspace, PRODUCT)
    misspelt = cli("mail", "send", "trial_day12", "--to", "a@example.com", "--var", "day_left=5")
    assert misspelt.code == 2
    assert "unknown variable 'day_left'" in misspelt.err and "plan, days_left, upgrade_url" in misspelt.err
    missing = cli("mail", "send", "trial_day12", "--to", "a@example.com", "--var", "days_left=5", "--var", "plan=Pro")
    assert missing.code == 2 and "missing required variable 'upgrade_url'" in missing.err
    assert smtp_server.received == [] and outbox(cli) == []

    # an optional variable left out takes its documented default, never its sample value
    failed = ("--var", "amount=2900", "--var", "currency=EUR", "--var", "invoice_id=in_1")
    assert cli("mail", "send", "payment_failed_customer", "--to", "a@example.com", *failed).code == 0
    (message,) = delivered(smtp_server)
    assert "sample" not in bodies(message) and "Update your payment method" not in bodies(message)

    french = ("--locale", "fr", "--var", "next_attempt=2026-10-15")
    assert cli("mail", "send", "payment_failed_customer", "--to", "b@example.com", *failed, *french).code == 0
    message = delivered(smtp_server)[-1]
    assert message["Subject"] == "Votre paiement de 29,00\xa0€ n'a pas abouti"
    assert "Nous réessaierons le 15 octobre 2026" in bodies(message)

    preview = cli("mail", "preview", "trial_day12", "--var", "days_left=3")
    assert preview.code == 0 and "3 days left" in preview.out  # a preview fills the rest with samples


def test_a_mistyped_customer_address_is_refused_with_a_suggestion_unless_forced(cli, workspace):
    result = cli("trials", "signup", "bob@gmial.con", "--plan", "pro")
    assert result.code == 3 and "did you mean gmail.com?" in result.err
    made_up = cli("trials", "signup", "bob@example.con", "--plan", "pro")
    assert made_up.code == 3 and ".con is not a top-level domain (did you mean example.com?)" in made_up.err
    assert json.loads(cli("trials", "list", "--format", "json").out) == []
    assert cli("trials", "signup", "bob@gmail.com", "--plan", "pro").code == 0
    assert cli("trials", "signup", "ann@ymail.com", "--plan", "pro").code == 0  # a real provider next to one
    assert cli("trials", "signup", "bob@gmial.con", "--plan", "pro", "--force").code == 0
    send = cli("mail", "send", "trial_day1_help", "--to", "eve@hotmial.com", "--var", "plan=Pro")
    assert send.code == 3 and "did you mean hotmail.com?" in send.err


def test_init_writes_the_product_name_and_doctor_fails_without_one(cli, workspace):
    doctor = {c["check"]: c for c in json.loads(cli("doctor", "--format", "json").out)}
    assert (
        doctor["customer mail"]["status"] == "fail" and "[product] name is empty" in doctor["customer mail"]["detail"]
    )
    assert cli("init", "--product-name", "Acme Watch", "--support-email", "help@acme.example").code == 0
    text = (workspace / "arkops.toml").read_text()
    assert 'name = "Acme Watch"' in text and 'support_email = "help@acme.example"' in text
    doctor = {c["check"]: c for c in json.loads(cli("doctor", "--format", "json").out)}
    assert doctor["customer mail"]["status"] == "warn"
    assert doctor["customer mail"]["detail"] == (
        "emails from 'Acme Watch'; [product] postal_address not set; lifecycle mail has no unsubscribe link: "
        "set [serve] public_url (or [mail] unsubscribe_mailbox)"
    )
    config = workspace / "arkops.toml"
    config.write_text(config.read_text().replace('public_url = ""', 'public_url = "https://acme.example"', 1))
    doctor = {c["check"]: c for c in json.loads(cli("doctor", "--format", "json").out)}
    assert doctor["customer mail"]["status"] == "ok"
    write_config(workspace, '[product]\nname = "arkops"\n')
    doctor = {c["check"]: c for c in json.loads(cli("doctor", "--format", "json").out)}
    assert doctor["customer mail"]["status"] == "fail"


def test_a_failed_invoice_gets_the_dunning_emails_of_days_0_and_3_and_none_once_paid(
    cli, workspace, smtp_server, monkeypatch
):
    from stripe_shapes import customer, event, invoice, ts
    from test_billing import apply_all

    write_config(workspace, PRODUCT + f'[serve]\npublic_url = "{PUBLIC}"\n')
    failed_at = ts("2026-03-05T10:00:00")
    unpaid = invoice("in_1", "cus_1", 2900, email="ana@example.com", next_attempt=ts("2026-03-08"))
    gone = invoice("in_2", "cus_2", 9900, email="bo@example.com")
    apply_all(
        workspace,
        [
            event("e1", "customer.created", customer("cus_1", "ana@example.com"), failed_at - 60),
            event("e2", "invoice.payment_failed", unpaid, failed_at),
            event("e3", "invoice.payment_failed", gone, failed_at),
        ],
    )

    dunning_on = partial(run_dunning, cli, monkeypatch)

    monkeypatch.setattr("test_trials.SIGNUP", datetime(2026, 3, 5, 10, 0, tzinfo=UTC))
    assert "2 payment reminders" in dunning_on(0)
    assert "payment reminders" not in dunning_on(0.2)  # the same step twice: once (quiet cron: nothing done, no line)
    dunning_on(1)
    dunning_on(3)
    paid = invoice("in_1", "cus_1", 2900, email="ana@example.com", paid_at=ts("2026-03-09T08:00:00"))
    uncollectible = {**gone, "status": "uncollectible"}
    apply_all(
        workspace,
        [
            event("e4", "invoice.paid", paid, ts("2026-03-09T08:00:00")),
            event("e5", "invoice.marked_uncollectible", uncollectible, ts("2026-03-09T08:00:00")),
        ],
    )
    dunning_on(7)
    dunning_on(8)
    sent = [(m["To"], m["Subject"]) for m in delivered(smtp_server) if m["To"] != "owner@example.com"]
    assert sent == [
        ("ana@example.com", "Your payment of €29.00 did not go through"),
        ("bo@example.com", "Your payment of €99.00 did not go through"),
        ("ana@example.com", "Reminder: your payment of €29.00 is still due"),
        ("bo@example.com", "Reminder: your payment of €99.00 is still due"),
        ("bo@example.com", "Your subscription has stopped: €99.00 unpaid"),
    ]
    first = next(m for m in delivered(smtp_server) if m["To"] == "ana@example.com")
    assert "We will try again on March 8, 2026." in bodies(first)
    assert f"Update your payment method: {PUBLIC}/billing/portal/" in bodies(first)


def test_the_day_7_reminder_goes_while_the_invoice_is_open_and_the_operator_hears_of_each_recovery_once(
    cli, workspace, smtp_server, monkeypatch
):
    from stripe_shapes import customer, event, invoice, subscription, ts
    from test_billing import apply_all

    write_config(workspace, PRODUCT + f'[serve]\npublic_url = "{PUBLIC}"\n')
    failed_at = ts("2026-03-05T10:00:00")
    monthly = subscription("sub_3", "cus_3", [(4900, "eur", "month", 1, 1, "prod_pro")])
    yearly = subscription("sub_4", "cus_4", [(60000, "eur", "year", 1, 1, "prod_pro")])
    open_3 = invoice("in_3", "cus_3", 4900, email="carol@example.com", subscription="sub_3")
    open_4 = invoice("in_4", "cus_4", 60000, email="dan@example.com", subscription="sub_4")
    apply_all(
        workspace,
        [
            event("e1", "customer.created", customer("cus_3", "carol@example.com"), ts("2026-01-01")),
            event("e2", "customer.created", customer("cus_4", "dan@example.com"), ts("2026-01-01")),
            event("e3", "customer.subscription.created", monthly, ts("2026-01-01")),
            event("e4", "customer.subscription.created", yearly, ts("2026-01-01")),
            event("e5", "invoice.payment_failed", open_3, failed_at),
            event("e6", "invoice.payment_failed", open_4, failed_at),
        ],
    )

    dunning_on = partial(run_dunning, cli, monkeypatch)

    def paid(invoice_id: str, customer_id: str, amount: int, sub: str, when: str) -> None:
        bill = invoice(invoice_id, customer_id, amount, paid_at=ts(when), subscription=sub)
        apply_all(workspace, [event(f"paid_{invoice_id}", "invoice.paid", bill, ts(when))])

    monkeypatch.setattr("test_trials.SIGNUP", datetime(2026, 3, 5, 10, 0, tzinfo=UTC))
    assert "recovery digest" not in dunning_on(0)  # the first run looks back one day only: nothing recovered
    paid("in_4", "cus_4", 60000, "sub_4", "2026-03-06T09:00:00")  # the next day, within 24 hours
    assert "1 recovery digest" in dunning_on(3)
    assert "recovery digest" not in dunning_on(3.1)  # once a day, and nothing twice
    dunning_on(7)
    paid("in_3", "cus_3", 4900, "sub_3", "2026-03-12T15:00:00")
    assert "1 recovery digest" in dunning_on(8)
    dunning_on(10)
    sent = [(m["To"], m["Subject"]) for m in delivered(smtp_server) if "Payment failed" not in m["Subject"]]
    assert sent == [
        ("carol@example.com", "Your payment of €49.00 did not go through"),
        ("dan@example.com", "Your payment of €600.00 did not go through"),
        ("owner@example.com", "First revenue: €600.00"),
        ("carol@example.com", "Reminder: your payment of €49.00 is still due"),  # day 3
        ("owner@example.com", "1 payment recovered: €50.00 MRR saved"),  # the yearly plan's 600/12
        ("carol@example.com", "Reminder: your payment of €49.00 is still due"),  # day 7, still open
        ("owner@example.com", "1 payment recovered: €49.00 MRR saved"),
    ]
    digests = [bodies(m) for m in delivered(smtp_server) if "recovered" in m["Subject"]]
    assert "- dan@example.com: €600.00 (invoice in_4), €50.00 MRR, paid 0 days after the first failure" in digests[0]
    assert "Recovered in 2026-03 so far: €50.00 MRR over 1 invoice." in digests[0]
    assert "- carol@example.com: €49.00 (invoice in_3), €49.00 MRR, paid 7 days after the first failure" in digests[1]
    assert "Recovered in 2026-03 so far: €99.00 MRR over 2 invoices." in digests[1]
    assert "dan@example.com" not in digests[1]  # each recovery once
    report = json.loads(cli("payments", "report", "--format", "json").out)
    assert report["recovered"] == {"month": "2026-03", "invoices": 2, "mrr": 9900, "revenue": 64900}
    header = " ".join(cli("payments", "report").out.split("\n\n")[0].split())  # the line as the terminal wraps it
    assert "; recovered this month: €99.00 MRR (2 invoices)" in header


def test_privacy_export_shows_a_suppression_and_forget_keeps_the_address_suppressed_by_its_hash_only(
    cli, workspace, smtp_server
):
    write_config(workspace, PRODUCT)
    assert cli("mail", "unsubscribe", "ana@example.com").code == 0
    exported = json.loads(cli("privacy", "export", "ana@example.com").out)
    entry = exported["stores"]["suppressions"]["addresses"]["ana@example.com"]
    assert (entry["scope"], entry["reason"], entry["via"]) == ("lifecycle", "unsubscribed", "operator")
    assert json.loads(cli("privacy", "export", "bo@example.com").out)["stores"] == {}  # nobody else's

    assert cli("privacy", "forget", "ana@example.com", "--yes").code == 0
    stored = (workspace / "data" / "suppressions.json").read_text()
    assert "ana@example.com" not in stored and '"hashes"' in stored
    assert json.loads(cli("privacy", "export", "ana@example.com").out)["stores"] == {}  # nothing kept to show
    nudge = ("--var", "plan=Pro", "--var", "activity_count=3", "--var", "days_left=7")
    assert cli("mail", "send", "trial_day7", "--to", "ana@example.com", *nudge).code == 0
    assert [m["state"] for m in outbox(cli) if m["template"] == "trial_day7"] == ["suppressed"]
    assert cli("mail", "send", "payment_received", "--to", "ana@example.com", *RECEIPT).code == 0
    assert [m["Subject"] for m in delivered(smtp_server)] == ["Payment received: €29.00"]  # transactional goes
    assert cli("mail", "resubscribe", "ana@example.com").code == 0  # the operator can still lift it
    assert cli("mail", "send", "trial_day7", "--to", "ana@example.com", *nudge, "--key", "n2").code == 0
    assert [m["state"] for m in outbox(cli) if m["key"] == "n2"] == ["sent"]
