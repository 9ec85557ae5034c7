"""Promo codes through the real commands: input checks, every refusal, redemption and release, the counter file,
listings, the confirmation email in the customer's language, and the demo's promo figures."""

from __future__ import annotations

import json

import pytest
from conftest import write_config

CONFIG = """\
timezone = "Europe/Paris"
[plans.starter]
price = 900
[plans.pro]
price = 2900
[plans.team]
price = 19000
currency = "USD"
interval = "year"
"""


@pytest.fixture
def promo(cli, workspace, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", "2026-11-01T10:00:00Z")
    write_config(workspace, CONFIG)
    created = cli(
        "promo", "create", "launch30", "--discount", "starter=25", "--discount", "pro=33", "--months", "6",
        "--slots", "2", "--valid-from", "2026-11-01", "--valid-until", "2026-11-30",
    )  # fmt: skip
    assert created.code == 0, created.err
    return cli


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bad code!", "--discount", "pro=10"], "code 'bad code!': use 1-40 letters, digits, - or _"),
        (["X", "--amount-off", "500", "--currency", "EUR", "--plan", "team"], "cannot apply to team"),
        (["LAUNCH30", "--discount", "pro=10"], "promo code LAUNCH30 already exists"),
    ],
)
def test_bad_input_is_one_line_exit_3_and_nothing_written(promo, workspace, args, message):
    before = (workspace / "data" / "promo.json").read_bytes()
    result = promo("promo", "create", *args)
    assert result.code == 3, result
    assert message in result.err and result.err.count("\n") == 1
    assert (workspace / "data" / "promo.json").read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["X", "--discount", "gold=10"],
            "Invalid value for '--discount': 'gold' is not one of 'pro', 'starter', 'team'.",
        ),
        (["X", "--discount", "pro=10", "--valid-from", "2026-12-01", "--valid-until", "2026-11-01"], "must be after"),
        (["X", "--discount", "pro=10", "--valid-from", "2026-03-29T02:30"], "does not exist in Europe/Paris"),
        (["X", "--discount", "pro=10", "--valid-until", "31/12/2026"], "'31/12/2026' is not a span back from now"),
        (
            ["X", "--discount", "pro=0"],
            "Invalid value for '--discount': percent: '0' must be more than 0 and at most 100",
        ),
        (["X", "--discount", "pro=101"], "must be more than 0 and at most 100"),
        (["X", "--discount", "pro"], "Invalid value for '--discount': 'pro': write it as pro=VALUE"),
    ],
)
def test_values_outside_their_set_or_form_are_usage_errors(promo, workspace, args, message):
    before = (workspace / "data" / "promo.json").read_bytes()
    result = promo("promo", "create", *args)
    assert result.code == 2, result
    assert message in result.err and result.err.count("\n") == 1
    assert (workspace / "data" / "promo.json").read_bytes() == before


def test_validate_gives_the_price_or_the_reason(promo, monkeypatch):
    ok = promo("promo", "validate", "Launch30", "--plan", "pro", "--format", "json")
    assert ok.code == 0
    assert json.loads(ok.out) == {
        "code": "LAUNCH30", "plan": "pro", "valid": True, "reason": None, "price": 2900,
        "discounted_price": 1943, "currency": "EUR", "interval": "month", "remaining": 2,
        "percent": 33.0, "months": 6, "valid_until": "2026-11-30T23:00:00Z",  # what the landing page shows
    }  # fmt: skip
    assert promo("promo", "validate", "LAUNCH30", "--plan", "starter").out == (
        "LAUNCH30 applies to starter: €6.75 instead of €9.00 per month\n"
    )

    def reason(*args: str) -> str:
        result = promo("promo", "validate", *args)
        assert result.code == 1, result
        return result.out.strip().split(": ", 1)[1]

    assert reason("NOPE", "--plan", "pro") == "unknown"
    assert reason("LAUNCH30", "--plan", "team") == "plan not covered"
    monkeypatch.setenv("ARKOPS_NOW", "2026-10-31T22:59:59Z")  # 23:59:59 in Paris, the day before
    assert reason("LAUNCH30", "--plan", "pro") == "not yet valid"
    monkeypatch.setenv("ARKOPS_NOW", "2026-11-30T23:00:00Z")  # midnight in Paris after the last day
    assert reason("LAUNCH30", "--plan", "pro") == "expired"
    monkeypatch.setenv("ARKOPS_NOW", "2026-11-01T10:00:00Z")
    assert promo("promo", "redeem", "LAUNCH30", "--email", "ana@example.com", "--plan", "pro").code == 0
    assert reason("LAUNCH30", "--plan", "pro", "--email", "ANA@example.com") == "already used by this email"
    assert promo("promo", "redeem", "LAUNCH30", "--email", "bo@example.com", "--plan", "starter").code == 0
    assert reason("LAUNCH30", "--plan", "pro", "--email", "cy@example.com") == "no slots left"
    assert promo("promo", "disable", "LAUNCH30").code == 0
    assert reason("LAUNCH30", "--plan", "pro") == "disabled"
    assert promo("promo", "validate", "LAUNCH30", "--plan", "gold").code == 2  # a plan not configured: usage
    assert promo("promo", "redeem", "LAUNCH30", "--email", "not-an-email", "--plan", "pro").code == 3


def test_redeem_release_and_the_counter_file(promo, workspace):
    counter = workspace / "site" / "launch30.json"
    missing = promo("promo", "remaining", "LAUNCH30", "--write", str(counter))
    assert missing.code == 3 and "does not exist" in missing.err
    counter.parent.mkdir()
    first = promo("promo", "remaining", "LAUNCH30", "--write", str(counter))
    assert first.code == 0 and first.out == "LAUNCH30: 2 of 2 left (0 used, 0.0 % filled)\n"
    assert json.loads(counter.read_text()) == {
        "code": "LAUNCH30", "slots": 2, "used": 0, "remaining": 2, "percent_filled": 0.0,
    }  # fmt: skip
    redeemed = promo("promo", "redeem", "LAUNCH30", "--email", "Ana@Example.com", "--plan", "pro", "--locale", "fr")
    assert redeemed.code == 0 and "ana@example.com redeemed LAUNCH30, 1 left" in redeemed.err
    assert json.loads(counter.read_text())["remaining"] == 1
    assert promo("promo", "release", "LAUNCH30", "--email", "ana@example.com").code == 0
    assert json.loads(counter.read_text())["remaining"] == 2
    again = promo("promo", "release", "LAUNCH30", "--email", "ana@example.com")
    assert again.code == 0 and "already released" in again.err
    assert promo("promo", "release", "LAUNCH30", "--email", "zed@example.com").code == 3
    # released, the person may redeem again (an abandoned checkout tried once more)
    assert promo("promo", "redeem", "LAUNCH30", "--email", "ana@example.com", "--plan", "starter").code == 0
    shown = json.loads(promo("promo", "show", "LAUNCH30", "--format", "json").out)
    (ana,) = shown["redemptions"]
    assert [e["what"] for e in ana["events"]] == ["redeemed", "released", "redeemed"]
    assert (ana["plan"], shown["used"], shown["remaining"], shown["by_plan"]) == ("starter", 1, 1, {"starter": 1})
    outbox = json.loads(promo("mail", "outbox", "--format", "json").out)
    assert [(m["to"], m["subject"]) for m in outbox] == [
        ("ana@example.com", "Votre code LAUNCH30 est appliqué"),
        ("ana@example.com", "Votre code LAUNCH30 est appliqué"),  # the second redemption is confirmed too
    ]
    exported = promo("promo", "export")
    assert exported.out.splitlines()[0] == "code,email,plan,state,source,redeemed_at,released_at"
    listed = json.loads(promo("promo", "list", "--format", "json").out)
    assert [(r["code"], r["used"], r["remaining"], r["discount"]) for r in listed] == [
        ("LAUNCH30", 1, 1, "pro 33 %, starter 25 %")
    ]


def test_an_amount_off_code_covers_the_plans_in_its_currency(promo):
    assert promo("promo", "create", "FIVE", "--amount-off", "500", "--currency", "eur", "--forever").code == 0
    ok = json.loads(promo("promo", "validate", "five", "--plan", "starter", "--format", "json").out)
    assert (ok["discounted_price"], ok["currency"]) == (400, "EUR")
    assert promo("promo", "validate", "FIVE", "--plan", "team").code == 1
    remaining = json.loads(promo("promo", "remaining", "FIVE", "--format", "json").out)
    assert remaining == {"code": "FIVE", "slots": None, "used": 0, "remaining": None, "percent_filled": None}


def test_the_demo_has_launch30_with_redemptions_and_churn(shared_demo):
    promo = shared_demo.summary["promo"]
    assert promo["code"] == "LAUNCH30" and promo["slots"] == 30
    assert 0 < promo["used"] <= 30 and promo["used"] + promo["remaining"] == 30
    assert promo["redeemed_through_stripe"] > 0 and promo["churned_at_discount_end"] > 0
    assert promo["paying_now"] > 0 and promo["paid"] > 0


def test_announce_to_trials_then_follow_up_only_those_who_did_not_redeem(promo, workspace, monkeypatch, smtp_server):
    import email
    import email.policy

    def received() -> list[tuple[str, str]]:
        assert promo("mail", "flush").code == 0
        parsed = [email.message_from_bytes(raw, policy=email.policy.default) for raw in smtp_server.received]
        return [(m["To"], m["Subject"]) for m in parsed]

    for who in ("ana", "bo", "cy", "dan"):
        assert promo("trials", "signup", f"{who}@example.com", "--plan", "pro").code == 0
    assert promo("trials", "signup", "eve@example.com", "--plan", "pro", "--locale", "fr").code == 0
    assert promo("privacy", "forget", "dan@example.com", "--yes").code == 0  # erased: never written to again
    first = promo(
        "promo", "announce", "LAUNCH30", "--segment", "trials", "--when", "2026-11-02T09:00", "--follow-up-days", "3"
    )
    assert first.code == 0, first.err
    assert first.err == (
        "promo announce: 4 announcements of LAUNCH30 queued for 2026-11-02T08:00:00Z, 0 already announced, "
        "0 skipped; the follow-up goes on 2026-11-05T08:00:00Z to those who have not redeemed\n"
    )
    again = promo("promo", "announce", "LAUNCH30", "--segment", "trials", "--follow-up-days", "3")
    assert "0 announcements of LAUNCH30 queued" in again.err and "4 already announced" in again.err
    assert received() == []  # due tomorrow at 09:00 Paris time
    monkeypatch.setenv("ARKOPS_NOW", "2026-11-02T08:00:00Z")
    got = received()
    assert sorted(got) == [
        ("ana@example.com", "Up to 33 % off with LAUNCH30: 2 places"),
        ("bo@example.com", "Up to 33 % off with LAUNCH30: 2 places"),
        ("cy@example.com", "Up to 33 % off with LAUNCH30: 2 places"),
        ("eve@example.com", "Jusqu'à 33 % de réduction avec LAUNCH30 : 2 places"),
    ]
    (raw,) = [m for m in smtp_server.received if b"To: ana@example.com" in m]
    text = email.message_from_bytes(raw, policy=email.policy.default).get_body(("plain",)).get_content()
    assert "up to 33 % off for 6 months with the code LAUNCH30 (pro, starter)." in text
    assert "It is limited to the first 2 customers, until 2026-11-30." in text

    monkeypatch.setenv("ARKOPS_NOW", "2026-11-03T10:00:00Z")
    assert promo("promo", "redeem", "LAUNCH30", "--email", "bo@example.com", "--plan", "pro").code == 0
    assert promo("run", "--only", "promo-sync").code == 0
    redeemed = received()[-2:]  # bo's confirmation and the operator's digest
    assert ("owner@example.com", "1 promo redemption(s): LAUNCH30") in redeemed
    (raw,) = [m for m in smtp_server.received if b"promo redemption" in m]
    digest = email.message_from_bytes(raw, policy=email.policy.default).get_body(("plain",)).get_content()
    assert "bo@example.com: LAUNCH30 on pro at 2026-11-03 11:00 CET; 1 slot(s) left" in digest
    assert promo("run", "--only", "promo-sync", "--force").code == 0
    assert len(received()) == 6  # told once

    monkeypatch.setenv("ARKOPS_NOW", "2026-11-05T08:10:00Z")
    assert promo("run", "--only", "promo-sync").code == 0
    follow_ups = [(to, subject) for to, subject in received()[6:]]
    assert sorted(follow_ups) == [
        ("ana@example.com", "LAUNCH30: 1 places left"),
        ("cy@example.com", "LAUNCH30: 1 places left"),
        ("eve@example.com", "LAUNCH30 : plus que 1 places"),
    ]
    assert promo("run", "--only", "promo-sync", "--force").code == 0 and len(received()) == 9


def test_announce_to_a_csv_reports_bad_rows_and_needs_one_source(promo, workspace):
    (workspace / "list.csv").write_text("email,locale\nAna@Example.com,fr\nnot an address,en\nbo@example.com,\n")
    result = promo("promo", "announce", "LAUNCH30", "--to", str(workspace / "list.csv"))
    assert result.code == 3 and "skipped list.csv line 3: " in result.err
    assert "2 announcements of LAUNCH30 queued" in result.err
    outbox = json.loads(promo("mail", "outbox", "--format", "json").out)
    assert sorted((m["to"], m["locale"], m["template"]) for m in outbox) == [
        ("ana@example.com", "fr", "promo_announcement"),
        ("bo@example.com", "en", "promo_announcement"),
    ]
    assert promo("promo", "announce", "LAUNCH30").code == 2
    assert promo("promo", "announce", "LAUNCH30", "--segment", "trials", "--when", "next monday").code == 2
    assert promo("promo", "announce", "LAUNCH30", "--segment", "trials", "--to", "list.csv").code == 2
    assert promo("promo", "disable", "LAUNCH30").code == 0
    refused = promo("promo", "announce", "LAUNCH30", "--segment", "customers")
    assert refused.code == 3 and "LAUNCH30 cannot be announced for 2026-11-01T10:00:00Z: disabled" in refused.err
