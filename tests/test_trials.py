"""Trials end to end, driven by ARKOPS_NOW: signup to day 14, real SMTP delivery, processes, bad input."""

from __future__ import annotations

import email
import email.policy
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import write_config
from stripe_server import stripe_server  # noqa: F401  (a fixture)
from stripe_shapes import event, invoice

from arkops.clock import iso

SIGNUP = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def at(days: float, hour: int = 9) -> str:
    moment = (SIGNUP + timedelta(days=days)).replace(hour=hour, minute=0)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def subjects(smtp_server) -> list[tuple[str, str]]:
    out = []
    for raw in smtp_server.received:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        out.append((message["To"], message["Subject"]))
    return out


def cron_day(cli, monkeypatch, day: int, runs=(7, 13, 19)) -> None:
    """What cron does on one day: nudge and flush several times."""
    for hour in runs:
        monkeypatch.setenv("ARKOPS_NOW", at(day, hour))
        assert cli("trials", "track").code == 0
        assert cli("trials", "nudge").code == 0
        assert cli("mail", "flush").code == 0


def pay(workspace, address: str, when: str) -> None:
    from arkops.clock import parse_iso
    from arkops.core.billing.service import apply_events
    from arkops.runtime import Runtime

    paid_at = int(parse_iso(when).timestamp())
    rt = Runtime(Path("data"), Path("arkops.toml"), Path(".env"))
    apply_events(
        rt,
        [
            event(
                f"evt_{address}",
                "invoice.paid",
                invoice(f"in_{address}", f"cus_{address}", 2900, paid_at=paid_at, email=address),
                paid_at,
            )
        ],
        now=parse_iso(when),
    )


@pytest.mark.slow
def test_whole_life_both_branches_each_message_once(cli, workspace, smtp_server, monkeypatch):
    write_config(
        workspace,
        '[product]\nname = "Acme Watch"\n'
        '[trials]\nupgrade_url = "https://example.com/upgrade"\ndemo_url = "https://example.com/demo"\n',
    )
    monkeypatch.setenv("ARKOPS_NOW", SIGNUP.strftime("%Y-%m-%dT%H:%M:%SZ"))
    for address in ("idle@example.com", "busy@example.com"):
        assert cli("trials", "signup", address, "--plan", "pro", "--source", "newsletter").code == 0
    assert (
        cli("trials", "activity", "busy@example.com", "--kind", "watch_created", "--count", "5", "--at", at(0, 11)).code
        == 0
    )
    for day in range(0, 16):
        if day == 10:
            pay(workspace, "busy@example.com", at(10, 8))
        cron_day(cli, monkeypatch, day)
    got = subjects(smtp_server)
    customer = sorted((to, subject) for to, subject in got if to != "owner@example.com")
    assert customer == sorted(
        [
            ("idle@example.com", "Welcome to your Acme Watch trial"),
            ("idle@example.com", "Need a hand getting started?"),
            ("idle@example.com", "Halfway through your trial"),
            ("idle@example.com", "2 days left in your trial"),
            ("idle@example.com", "Your trial has ended"),
            ("busy@example.com", "Welcome to your Acme Watch trial"),
            ("busy@example.com", "You are off to a great start"),
            ("busy@example.com", "Halfway through your trial"),
            ("busy@example.com", "Thank you for choosing Acme Watch"),  # converted on day 10: no day-12 reminder
        ]
    )
    operator = sorted(subject for to, subject in got if to == "owner@example.com")
    assert operator == [
        "First revenue: €29.00",
        "Trials: 0 activated, 1 converted",
        "Trials: 1 activated, 0 converted",
    ]
    states = {t["email"]: t["state"] for t in json.loads(cli("trials", "list", "--format", "json").out)}
    assert states == {"idle@example.com": "expired", "busy@example.com": "converted"}


def test_a_missed_day_still_sends_once_and_a_long_gap_skips(cli, workspace, smtp_server, monkeypatch):
    write_config(workspace, '[product]\nname = "Acme Watch"\n')
    monkeypatch.setenv("ARKOPS_NOW", SIGNUP.strftime("%Y-%m-%dT%H:%M:%SZ"))
    cli("trials", "signup", "ana@example.com", "--plan", "starter")
    cron_day(cli, monkeypatch, 0)
    cron_day(cli, monkeypatch, 2)  # day 1 missed: the day-1 email goes out a day late, once
    cron_day(cli, monkeypatch, 3)
    cron_day(cli, monkeypatch, 11)  # days 4-10 missed: day 7 is 4 days late (> 2 days grace): skipped
    got = [subject for to, subject in subjects(smtp_server) if to == "ana@example.com"]
    assert got == ["Welcome to your Acme Watch trial", "Need a hand getting started?"]
    timeline = json.loads(cli("trials", "show", "ana@example.com", "--format", "json").out)["timeline"]
    assert {"what": "step day7", "detail": "skipped"} in [{k: e[k] for k in ("what", "detail")} for e in timeline]


def test_day12_upgrade_link_and_day7_usage(cli, workspace, monkeypatch):
    write_config(workspace, '[trials]\nupgrade_url = "https://example.com/upgrade"\n')
    monkeypatch.setenv("ARKOPS_NOW", SIGNUP.strftime("%Y-%m-%dT%H:%M:%SZ"))
    cli("trials", "signup", "ana@example.com", "--plan", "pro")
    cli("trials", "activity", "ana@example.com", "--kind", "api_call", "--count", "2")
    for day in (7, 12):
        monkeypatch.setenv("ARKOPS_NOW", at(day))
        cli("--dry-run", "trials", "nudge")
    messages = {m["template"]: m for m in json.loads(cli("mail", "outbox", "--format", "json").out)}
    assert "2 actions so far" in messages["trial_day7"]["text"] and "7 days" in messages["trial_day7"]["text"]
    assert "https://example.com/upgrade" in messages["trial_day12"]["text"]
    assert "2 days" in messages["trial_day12"]["text"]


def test_emails_are_normalised_to_one_trial(cli, workspace):
    assert "trial recorded" in cli("trials", "signup", "  Ana@Example.COM ", "--plan", "pro").err
    assert "already recorded" in cli("trials", "signup", "ana@example.com", "--plan", "starter").err
    rows = json.loads(cli("trials", "list", "--format", "json").out)
    assert [(r["email"], r["plan"]) for r in rows] == [("ana@example.com", "pro")]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["trials", "signup", "not-an-email", "--plan", "pro"], 3, "not a valid email address"),
        (["trials", "signup", "ana@example.com", "--plan", "gold"], 2, "'gold' is not one of 'business', 'pro'"),
        (
            ["trials", "signup", "ana@example.com", "--plan", "pro", "--at", "next tuesday"],
            2,
            "Invalid value for '--at': 'next tuesday' is not a span back from now",
        ),
        (
            ["trials", "activity", "ana@example.com", "--kind", "x", "--at", "2026-13-01"],
            2,
            "Invalid value for '--at': '2026-13-01' is not a date",
        ),
    ],
)
def test_bad_input_is_one_line_and_nothing_written(cli, workspace, args, code, message):
    result = cli(*args)
    assert result.code == code
    assert message in result.err and result.err.count("\n") == 1
    assert not (workspace / "data" / "trials.json").exists()


def test_import_keeps_good_records_reports_bad_ones_and_is_idempotent(cli, workspace):
    signups = workspace / "signups.json"
    signups.write_text(
        json.dumps(
            [
                {
                    "email": "a@example.com",
                    "plan": "pro",
                    "source": "google",
                    "created_at": "2026-03-01T10:00:00Z",
                    "company": "ACME",
                },
                {"email": "b@example.com", "plan": "starter", "timestamp": 1772445600},
                {"email": "broken", "plan": "pro"},
                "not an object",
            ]
        )
    )
    activity = workspace / "activity.json"
    activity.write_text(
        json.dumps(
            [
                {"email": "A@example.com", "action": "watch_created", "count": 2, "timestamp": "2026-03-01T11:00:00Z"},
                {"email": "a@example.com", "kind": "api_call", "count": -1, "timestamp": "2026-03-01T12:00:00Z"},
            ]
        )
    )
    result = cli("trials", "import", str(signups), str(activity))
    assert result.code == 3
    assert f"skipped {signups}[2]: " in result.err and f"skipped {signups}[3]: not an object" in result.err
    assert f"skipped {activity}[1]: count: -1 is not a whole number from 1 to 1,000,000" in result.err
    assert "2 signups, 1 activity," in result.err
    again = cli("trials", "import", str(signups), str(activity))
    assert "0 signups, 0 activities, 3 already present" in again.err
    rows = {r["email"]: r for r in json.loads(cli("trials", "list", "--format", "json").out)}
    assert rows["a@example.com"]["activity"] == {"watch_created": 2}
    assert rows["a@example.com"]["source"] == "google"
    data = json.loads((workspace / "data" / "trials.json").read_text())
    assert data["trials"]["a@example.com"]["extra"] == {"company": "ACME"}


@pytest.mark.slow
def test_ten_concurrent_signups_keep_all_ten(workspace):
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "arkops", "trials", "signup", f"user{n}@example.com", "--plan", "pro"], cwd=workspace
        )
        for n in range(10)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0] * 10
    data = json.loads((workspace / "data" / "trials.json").read_text())
    assert len(data["trials"]) == 10


@pytest.mark.slow
def test_two_parallel_tracks_alert_once(cli, workspace, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", SIGNUP.strftime("%Y-%m-%dT%H:%M:%SZ"))
    for n in range(5):
        cli("trials", "signup", f"user{n}@example.com", "--plan", "pro")
        cli("trials", "activity", f"user{n}@example.com", "--kind", "login")
    procs = [subprocess.Popen([sys.executable, "-m", "arkops", "trials", "track"], cwd=workspace) for _ in range(2)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    messages = json.loads(cli("mail", "outbox", "--format", "json").out)
    assert [m["subject"] for m in messages] == ["Trials: 5 activated, 0 converted"]  # one digest, from one run
    assert all(f"user{n}@example.com (Pro trial)" in messages[0]["text"] for n in range(5))


def test_summary_digest(cli, workspace, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", at(0, 10))
    cli("trials", "signup", "a@example.com", "--plan", "pro")
    cli("trials", "signup", "b@example.com", "--plan", "pro")
    cli("trials", "activity", "a@example.com", "--kind", "login", "--count", "4")
    pay(workspace, "a@example.com", at(3, 10))
    monkeypatch.setenv("ARKOPS_NOW", at(20, 10))
    digest = json.loads(cli("trials", "track", "--summary", "--format", "json").out)
    assert digest["trials"] == 2 and digest["activation_rate"] == 0.5
    assert digest["trial_to_paid_rate"] == 0.5  # one converted, one expired
    assert digest["average_activity"] == 2.0
    assert digest["median_days_activation_to_conversion"] == 3.0
    assert digest["last_7d"] == {"signups": 0, "activations": 0, "conversions": 0}


def test_importing_120_days_of_history_alerts_only_the_last_day_in_one_email(cli, workspace, monkeypatch):
    now = datetime(2026, 10, 15, 9, 0, tzinfo=UTC)
    signups, activity = [], []
    for n in range(120):
        signed = now - timedelta(days=120 - n) + timedelta(hours=3)
        signups.append({"email": f"t{n:03d}@example.org", "plan": "pro", "created_at": iso(signed)})
        activity.append(
            {"email": f"t{n:03d}@example.org", "action": "api_call", "timestamp": iso(signed + timedelta(hours=2))}
        )
    (workspace / "signups.json").write_text(json.dumps(signups))
    (workspace / "activity.json").write_text(json.dumps(activity))
    monkeypatch.setenv("ARKOPS_NOW", iso(now))
    assert cli("trials", "import", "signups.json", "activity.json").code == 0
    first, second = cli("trials", "track"), cli("trials", "track")
    assert first.err.strip() == (
        "trials track: 120 activated, 0 converted, 106 expired (119 older than the alert window, not alerted)"
    )
    assert second.err.strip() == "trials track: 0 activated, 0 converted, 0 expired"
    operator = [m for m in json.loads(cli("mail", "outbox", "--format", "json").out) if m["to"] == "owner@example.com"]
    assert [m["subject"] for m in operator] == ["Trials: 1 activated, 0 converted"]
    assert "t119@example.org" in operator[0]["text"] and "t118@example.org" not in operator[0]["text"]


def test_lifecycle_content_key_activity_case_study_offer_and_checkout_link(
    cli,
    workspace,
    monkeypatch,
    stripe_server,  # noqa: F811  (the fixture imported above)
):
    from stripe_shapes import fixture

    write_config(
        workspace,
        '[trials]\nkey_activity = "watch_created"\ndemo_activity_threshold = 1\n'
        'case_study_url = "https://example.com/customers/acme"\n'
        'case_study_text = "How Acme caught 30 price drops in a week:"\nearly_offer = "LAUNCH30"\n'
        '[billing]\ncheckout_success_url = "https://app.example.com/welcome"\n'
        '[plans.pro]\nname = "Pro"\nprice = 2900\nstripe_price = "price_pro"\n'
        '[plans.starter]\nname = "Starter"\nprice = 900\n',  # no Stripe price: no checkout link for it
    )

    def session(params: dict) -> dict:
        found = fixture("checkout.session")
        found.update(id="cs_test_day12", url="https://checkout.stripe.com/c/pay/cs_test_day12")
        return found

    stripe_server.responders["/v1/checkout/sessions"] = session
    monkeypatch.setenv("ARKOPS_NOW", SIGNUP.strftime("%Y-%m-%dT%H:%M:%SZ"))
    for who, plan in (("ana@example.com", "pro"), ("bo@example.com", "starter")):
        assert cli("trials", "signup", who, "--plan", plan).code == 0
    # ana logs in a lot but creates one watch; bo creates two: only watches count for day 1 and activation
    assert cli("trials", "activity", "ana@example.com", "--kind", "login", "--count", "9").code == 0
    assert cli("trials", "activity", "bo@example.com", "--kind", "watch_created", "--count", "2").code == 0
    rows = {t["email"]: t for t in json.loads(cli("trials", "list", "--format", "json").out)}
    assert rows["ana@example.com"]["activated_at"] is None and rows["bo@example.com"]["activated_at"] is not None
    for day in (1, 7, 12, 14):
        monkeypatch.setenv("ARKOPS_NOW", at(day))
        assert cli("trials", "nudge").code == 0
    sent = {(m["to"], m["template"]): m["text"] for m in json.loads(cli("mail", "outbox", "--format", "json").out)}
    assert ("ana@example.com", "trial_day1_help") in sent  # nine logins, no watch: the help email
    assert "2 actions on your first day" in sent[("bo@example.com", "trial_day1_demo")]
    assert (
        "How Acme caught 30 price drops in a week: https://example.com/customers/acme"
        in sent[("ana@example.com", "trial_day7")]
    )
    day12 = sent[("ana@example.com", "trial_day12")]
    assert "https://checkout.stripe.com/c/pay/cs_test_day12" in day12 and "enter the code LAUNCH30" in day12
    assert "mailto:ops@example.com" in sent[("bo@example.com", "trial_day12")]  # starter has no Stripe price
    assert (
        "Upgrade here: https://checkout.stripe.com/c/pay/cs_test_day12"
        in sent[("ana@example.com", "trial_day14_ended")]
    )
    (first, *_) = stripe_server.sent("/v1/checkout/sessions")
    assert first.fields["customer_email"] == "ana@example.com" and first.fields["line_items[0][price]"] == "price_pro"
    assert "subscription_data[trial_period_days]" not in first.fields  # the trial is ending: pay now


def test_a_track_with_nothing_new_reads_no_trial_until_time_or_data_changes_one(cli, workspace, monkeypatch):
    """The 10-minute run that finds `trials.json` and the payments as the last run left them, before any running
    trial ends, stops at once; a signup, an activity, a payment or a trial's end each make it read again."""

    def track(moment: str) -> str:
        monkeypatch.setenv("ARKOPS_NOW", moment)
        result = cli("trials", "track")
        assert result.code == 0, result.err
        return result.err.strip().removeprefix("trials track: ")

    monkeypatch.setenv("ARKOPS_NOW", at(0, 10))
    assert cli("trials", "signup", "ana@example.com", "--plan", "pro").code == 0
    nothing, unchanged = "0 activated, 0 converted, 0 expired", "(unchanged since the last run)"
    assert track(at(0, 11)) == nothing
    assert track(at(0, 12)) == f"{nothing} {unchanged}"
    assert cli("trials", "signup", "bob@example.com", "--plan", "pro").code == 0  # a signup: read again
    assert track(at(0, 13)) == nothing and track(at(0, 14)) == f"{nothing} {unchanged}"
    assert cli("trials", "activity", "ana@example.com", "--kind", "watch_created", "--at", at(0, 14)).code == 0
    assert track(at(0, 15)) == "1 activated, 0 converted, 0 expired"
    assert track(at(0, 16)) == nothing  # its own write of the alert, read once
    assert track(at(1, 9)) == f"{nothing} {unchanged}"
    pay(workspace, "ana@example.com", at(3, 8))  # the ledger changes, trials.json does not
    assert track(at(3, 9)) == "0 activated, 1 converted, 0 expired"
    assert track(at(3, 10)) == nothing and track(at(13, 9)) == f"{nothing} {unchanged}"
    assert track(at(14, 11)) == f"{nothing} {unchanged}"  # bob signed up at 12:00 on day 0
    assert track(at(14, 12)) == "0 activated, 0 converted, 1 expired"  # his trial ended: time alone
    states = {t["email"]: t["state"] for t in json.loads(cli("trials", "list", "--format", "json").out)}
    assert states == {"ana@example.com": "converted", "bob@example.com": "expired"}
