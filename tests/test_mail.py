"""Email end to end: templates, outbox, a real SMTP server on loopback, the chat webhook."""

from __future__ import annotations

import email
import email.policy
import json
import re
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest
from conftest import free_port, run_arkops, serving, write_config

from arkops.config import LOCALES, load_config
from arkops.core.registry import messages
from arkops.mail.render import BUILTIN_TEMPLATES, render

NOW = "2026-03-02T10:00:00Z"


def parse(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


def outbox(cli, state=None):
    args = ["mail", "outbox", "--format", "json"] + (["--state", state] if state else [])
    result = cli(*args)
    assert result.code == 0, result.err
    return json.loads(result.out)


SAMPLES = {name: message.sample for name, message in messages().items()}
CHECKED = re.compile(r"\d{4}-\d{2}-\d{2}|[A-Z]{3}")
DAY7 = ("--var", "plan=Pro", "--var", "activity_count=42", "--var", "days_left=7")


def test_every_template_is_declared_and_renders_in_both_locales():
    assert {p.stem for p in (BUILTIN_TEMPLATES / "en").glob("*.txt")} == set(SAMPLES)
    for name, sample in SAMPLES.items():
        for locale in LOCALES:
            rendered = render(name, {"recipient": "a@example.com", "product": "arkops", **sample}, locale=locale)
            assert rendered.subject and "\n" not in rendered.subject
            assert rendered.text.strip()
            assert "<html" in rendered.html and "<script" not in rendered.html


def test_untrusted_values_are_escaped_in_html_and_intact_in_text():
    hostile = "<script>alert('x')</script> \"quoted\""
    for name, sample in SAMPLES.items():
        # every text, except dates and currency codes: checked values, written the locale's way by `day` and `money`
        values = {k: (hostile if isinstance(v, str) and not CHECKED.fullmatch(v) else v) for k, v in sample.items()}
        if name == "hot_leads":
            values["leads"] = [{**sample["leads"][0], "user_agent": hostile, "referrer": hostile}]
        rendered = render(name, {"recipient": "a@example.com", "product": "arkops", **values}, locale="en")
        if any(isinstance(v, str) for v in sample.values()) or name == "hot_leads":
            assert "<script>" not in rendered.html, name
            assert "&lt;script&gt;" in rendered.html, name
            assert hostile in rendered.text or hostile in rendered.subject, name


def test_missing_variable_is_an_error_not_a_blank(cli):
    result = cli("mail", "preview", "trial_day7", "--var", "days_left=3")
    assert result.code == 0 and "3 days left" in result.out  # samples fill the rest
    from arkops.errors import DataError

    with pytest.raises(DataError, match="days_left"):
        render(
            "trial_day7",
            {"recipient": "a@example.com", "product": "x", "plan": "pro", "activity_count": 1},
            locale="en",
        )


def test_preview_prints_subject_and_text_and_writes_html(cli, workspace):
    result = cli("mail", "preview", "trial_day12", "--locale", "fr", "--html", "day12.html", "--var", "days_left=2")
    assert result.code == 0, result.err
    assert result.out.startswith("Subject: Plus que 2 jours d'essai\n")
    assert "<html" in (workspace / "day12.html").read_text()


def test_operator_template_override_from_config(cli, workspace):
    folder = workspace / "mytemplates" / "en"
    folder.mkdir(parents=True)
    (folder / "trial_day7.txt").write_text("Subject: Custom {{ days_left }}\n\nCustom body\n")
    write_config(workspace, '[mail]\ntemplates_dir = "mytemplates"\n')
    result = cli("mail", "preview", "trial_day7")
    assert result.out.startswith("Subject: Custom 7\n\nCustom body")


def test_sent_message_is_multipart_utf8_with_id_and_date(cli, workspace, smtp_server, monkeypatch):
    write_config(workspace, '[product]\nname = "Acme Watch"\n')
    monkeypatch.setenv("ARKOPS_NOW", NOW)
    result = cli(
        "mail",
        "send",
        "trial_welcome",
        "--to",
        "Élodie@Exemple.fr",
        "--locale",
        "fr",
        "--var",
        "plan=Démarrage",
        "--var",
        "trial_days=14",
        "--var",
        "ends_on=2026-03-15",
    )
    assert result.code == 0, result.err
    assert len(smtp_server.received) == 1
    message = parse(smtp_server.received[0])
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert message["Subject"] == "Bienvenue dans votre essai Acme Watch"
    assert "Démarrage" in message.get_body(("plain",)).get_content()
    assert "Démarrage" in message.get_body(("html",)).get_content()
    assert message["Message-ID"] and message["Date"]
    assert outbox(cli, "sent")[0]["to"] == "Élodie@exemple.fr"


def test_international_domain_is_sent_as_punycode(cli, smtp_server):
    result = cli("mail", "send", "test", "--to", "ana@bücher.example")
    assert result.code == 0, result.err
    assert parse(smtp_server.received[0])["To"] == "ana@xn--bcher-kva.example"


def test_same_key_twice_is_queued_and_sent_once(cli, smtp_server):
    for _ in range(2):
        assert (
            cli(
                "mail", "send", "trial_day7", "--to", "ana@example.com", "--key", "trial:ana@example.com:day7", *DAY7
            ).code
            == 0
        )
    assert len(smtp_server.received) == 1
    assert len(outbox(cli)) == 1


def test_451_is_retried_later_and_then_succeeds(cli, smtp_server, monkeypatch):
    smtp_server.data_reply = "451 4.3.0 Try again later"
    monkeypatch.setenv("ARKOPS_NOW", NOW)
    result = cli("mail", "send", "test", "--to", "ana@example.com")
    assert result.code == 0 and "1 retry" in result.err
    [message] = outbox(cli)
    assert message["state"] == "pending" and message["attempts"] == 1
    assert message["next_attempt_at"] == "2026-03-02T10:01:00Z"
    smtp_server.data_reply = None
    assert "0 sent" in cli("mail", "flush").err  # not due yet: nothing happens
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T10:01:00Z")
    assert "1 sent" in cli("mail", "flush").err
    assert len(smtp_server.received) == 1
    assert outbox(cli)[0]["state"] == "sent"


def test_backoff_schedule_ends_dead(cli, smtp_server, monkeypatch):
    smtp_server.rcpt_reply = "450 4.2.0 Mailbox busy"
    monkeypatch.setenv("ARKOPS_NOW", NOW)
    cli("mail", "send", "test", "--to", "ana@example.com")
    moments = [
        "2026-03-02T10:01:00Z",
        "2026-03-02T10:06:00Z",
        "2026-03-02T10:36:00Z",
        "2026-03-02T12:36:00Z",
        "2026-03-02T18:36:00Z",
    ]
    for moment in moments:
        monkeypatch.setenv("ARKOPS_NOW", moment)
        cli("mail", "flush")
    [message] = outbox(cli)
    assert message["state"] == "dead" and message["attempts"] == 6


def test_550_fails_without_retry_and_retry_command_resends(cli, smtp_server, monkeypatch):
    smtp_server.data_reply = "550 5.1.1 No such user"
    monkeypatch.setenv("ARKOPS_NOW", NOW)
    result = cli("mail", "send", "test", "--to", "ana@example.com")
    assert result.code == 4 and "1 failed" in result.err and "550" in result.err
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-05T10:00:00Z")
    cli("mail", "flush")
    [message] = outbox(cli)
    assert message["state"] == "failed" and message["attempts"] == 1  # the refused attempt counts
    smtp_server.data_reply = None
    assert cli("mail", "retry", message["id"]).code == 0
    assert outbox(cli)[0]["state"] == "sent" and len(smtp_server.received) == 1
    assert outbox(cli)[0]["attempts"] == 2  # ... and so does the one that sent it


def test_connection_dropped_after_data_is_unknown_and_not_resent(cli, smtp_server, monkeypatch):
    smtp_server.drop_after_data = True
    monkeypatch.setenv("ARKOPS_NOW", NOW)
    result = cli("mail", "send", "test", "--to", "ana@example.com")
    assert "1 unknown" in result.err
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-09T10:00:00Z")
    cli("mail", "flush")
    assert len(smtp_server.received) == 1
    [message] = outbox(cli, "unknown")
    assert "may have it" in message["last_error"]


@pytest.mark.slow
def test_silent_server_does_not_hang_beyond_the_timeout(workspace, silent_server):
    write_config(workspace, "[mail]\ntimeout_seconds = 1.0\n")
    started = time.monotonic()
    result = run_arkops("mail", "send", "test", "--to", "ana@example.com", cwd=workspace, timeout=30)
    assert time.monotonic() - started < 8
    assert result.code == 4, result.err  # nothing could reach the server
    assert "1 retry" in result.err


def test_address_with_line_break_is_refused_and_nothing_is_queued(cli, smtp_server):
    result = cli("mail", "send", "test", "--to", "ana@example.com\r\nBcc: victim@example.com")
    assert result.code == 3
    assert result.err.startswith("arkops: error: --to: line breaks are not allowed")
    assert smtp_server.received == []
    assert outbox(cli) == []


@pytest.mark.parametrize("address", ["not-an-address", "a@example.com, b@example.com", "a@@example.com", ""])
def test_bad_addresses_exit_3(cli, address):
    result = cli("mail", "send", "test", "--to", address)
    assert result.code == 3 and "not a valid email address" in result.err
    assert outbox(cli) == []


@pytest.mark.slow
def test_two_concurrent_flushes_deliver_each_message_once(workspace, smtp_server, cli):
    for n in range(30):
        assert cli("--dry-run", "mail", "send", "test", "--to", f"user{n}@example.com").code == 0
    # turn the dry-run rows into real pending ones through the same keys
    rows = outbox(cli)
    assert all(row["state"] == "dry-run" for row in rows)
    from pathlib import Path

    from arkops.clock import parse_iso
    from arkops.core.notify import notify
    from arkops.runtime import Runtime

    rt = Runtime(Path("data"), Path("arkops.toml"), Path(".env"))
    for row in rows:
        notify(rt, "test", {}, key=row["key"], now=parse_iso(NOW), to=row["to"])
    flushes = [subprocess.Popen([sys.executable, "-m", "arkops", "mail", "flush"], cwd=workspace) for _ in range(2)]
    assert [p.wait(timeout=60) for p in flushes] == [0, 0]
    recipients = [parse(raw)["To"] for raw in smtp_server.received]
    assert sorted(recipients) == sorted(f"user{n}@example.com" for n in range(30))
    assert all(row["state"] == "sent" for row in outbox(cli))


def test_dry_run_writes_eml_and_sends_nothing(cli, workspace, smtp_server):
    result = cli("--dry-run", "mail", "send", "trial_day7", "--to", "ana@example.com", *DAY7)
    assert result.code == 0
    [eml] = list((workspace / "data" / "outbox").glob("*.eml"))
    assert parse(eml.read_bytes())["Subject"] == "Halfway through your trial"
    assert smtp_server.received == []
    assert outbox(cli)[0]["state"] == "dry-run"


class ChatHandler(BaseHTTPRequestHandler):
    received: ClassVar[list] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ChatHandler.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def test_operator_alert_reaches_the_chat_webhook_once(cli, workspace, smtp_server, monkeypatch):
    ChatHandler.received = []
    server = HTTPServer(("127.0.0.1", free_port()), ChatHandler)
    with serving(server):
        write_config(workspace, f'[mail]\nalert_webhook_url = "http://127.0.0.1:{server.server_port}/hooks/x"\n')
        from pathlib import Path

        from arkops.clock import parse_iso
        from arkops.core.notify import notify
        from arkops.runtime import Runtime

        rt = Runtime(Path("data"), Path("arkops.toml"), Path(".env"))
        for _ in range(2):
            notify(rt, "first_revenue", SAMPLES["first_revenue"], key="alert:first_revenue", now=parse_iso(NOW))
            notify(
                rt,
                "trial_welcome",
                SAMPLES["trial_welcome"],
                key="trial:ana:welcome",
                now=parse_iso(NOW),
                to="ana@example.com",
            )
        for _ in range(2):
            assert cli("mail", "flush").code == 0
        assert len(ChatHandler.received) == 1
        assert ChatHandler.received[0]["text"].startswith("First revenue: €29.00")
        assert len(smtp_server.received) == 2  # operator + customer email, once each
        channels = sorted(row["channel"] for row in outbox(cli))
        assert channels == ["chat", "email", "email"]


@pytest.fixture
def chat_receiver():
    """A local HTTP server standing in for a Slack or Mattermost incoming webhook; what it received."""
    ChatHandler.received = []
    server = HTTPServer(("127.0.0.1", free_port()), ChatHandler)
    with serving(server):
        yield f"http://127.0.0.1:{server.server_port}/hooks/x", ChatHandler.received


def test_chat_only_operator_alerts_go_to_the_webhook_as_block_kit(cli, workspace, monkeypatch, chat_receiver):
    url, received = chat_receiver
    monkeypatch.delenv("ARKOPS_ALERT_TO")  # a Slack-only operator: no SMTP server, no alert address
    write_config(workspace, f'[mail]\nalert_webhook_url = "{url}"\n')
    doctor = json.loads(cli("doctor", "--format", "json").out)
    statuses = {c["check"]: c["status"] for c in doctor}
    assert statuses["smtp settings"] == "ok" and statuses["ARKOPS_ALERT_TO"] == "ok"
    assert cli("promo", "create", "LAUNCH30", "--discount", "pro=30").code == 0
    counters = workspace / "site"
    counters.mkdir()
    assert cli("promo", "remaining", "LAUNCH30", "--write", str(counters / "launch30.json")).code == 0
    (counters / "launch30.json").unlink()
    counters.rmdir()  # the landing page's folder is gone: promo-sync fails until it is back
    for tick in range(3):
        monkeypatch.setenv("ARKOPS_NOW", f"2026-03-02T10:{tick * 10:02d}:00Z")
        assert cli("run").code == 1
    (alert,) = received
    assert alert["text"].startswith("Job failing: promo-sync\nThe job promo-sync failed 3 times in a row.")
    header, section, fields = alert["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Job failing: promo-sync", "emoji": False},
    }
    assert section["type"] == "section" and "counter file" in section["text"]["text"]
    assert [f["text"] for f in fields["fields"]][:2] == ["*job*\npromo-sync", "*failures*\n3"]
    assert [row["channel"] for row in outbox(cli)] == ["chat"]  # no email copy that could never go
    assert cli("mail", "flush").code == 0
    assert len(received) == 1

    # Customer mail still needs a server: the flush says so (exit 3) and the email waits in the outbox.
    customer = cli("mail", "send", "test", "--to", "ana@example.com")
    assert customer.code == 3 and "SMTP_HOST: not set" in customer.err
    assert cli("mail", "flush").code == 3
    assert [row["state"] for row in outbox(cli)] == ["sent", "pending"]


def test_missing_smtp_host_keeps_messages_queued(cli, monkeypatch):
    result = cli("mail", "send", "test", "--to", "ana@example.com")
    assert result.code == 3 and "SMTP_HOST" in result.err
    [message] = outbox(cli)
    assert message["state"] == "pending"


def test_config_locale_chooses_customer_language(cli, workspace):
    write_config(workspace, 'locale = "fr"\n')
    assert load_config(workspace / "arkops.toml").locale == "fr"
    assert cli("mail", "preview", "trial_day14_ended").out.startswith("Subject: Votre essai est terminé")


def test_a_non_ascii_password_logs_in(cli, workspace, monkeypatch):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult
    from conftest import free_port

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope.content)
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"ops" and auth_data.password == "pässwörd-€".encode()
        return AuthResult(success=ok)

    port = free_port()
    controller = Controller(
        Handler(), hostname="127.0.0.1", port=port, authenticator=authenticator, auth_require_tls=False
    )
    controller.start()
    try:
        for name, value in (
            ("SMTP_HOST", "127.0.0.1"),
            ("SMTP_PORT", str(port)),
            ("SMTP_SECURITY", "none"),
            ("SMTP_USER", "ops"),
            ("SMTP_PASSWORD", "pässwörd-€"),
        ):
            monkeypatch.setenv(name, value)
        result = cli("mail", "test", "--to", "you@example.com")
        assert result.code == 0, result.err
        assert len(received) == 1 and "pässwörd" not in result.err
    finally:
        controller.stop()


def test_a_sender_with_a_non_ascii_local_part_goes_out_with_smtputf8(cli, smtp_server, monkeypatch):
    monkeypatch.setenv("MAIL_FROM", "rené@example.com")
    result = cli("mail", "test", "--to", "you@example.com")
    assert result.code == 0, result.err
    assert len(smtp_server.received) == 1
