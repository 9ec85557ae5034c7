"""Usage and quotas with ARKOPS_NOW and a real local SMTP server: 80 % and 100 % once per period and threshold,
again in the next period, never for a metric without a limit, one email for a customer who jumps past 100 %."""

from __future__ import annotations

import email.policy
import json
from email import message_from_bytes

import pytest
from conftest import write_config
from test_plans import CONFIG, seed

ANA = "ana@example.com"  # starter (watches 10), subscription period 2026-11-05 .. 2026-12-05
FREE = "fay@example.com"  # no subscription: the free plan (watches 3)


@pytest.fixture
def shop(workspace, monkeypatch, smtp_server):
    write_config(workspace, CONFIG + '\n[usage]\nupgrade_url = "https://app.example.com/upgrade"\n')
    monkeypatch.setenv("ARKOPS_NOW", "2026-11-20T10:00:00Z")
    seed(workspace, [(ANA, "sub_ana", "prod_starter", 900), ("bo@example.com", "sub_bo", "prod_pro", 2900)])
    return smtp_server


def delivered(cli, smtp_server) -> list[tuple[str, str]]:
    """Flush the outbox to the SMTP server; (recipient, subject) of each message received so far."""
    assert cli("mail", "flush").code == 0
    messages = [message_from_bytes(m if isinstance(m, bytes) else m.encode()) for m in smtp_server.received]
    return [(m["To"], m["Subject"]) for m in messages]


def test_80_and_100_percent_each_once_per_period_and_again_in_the_next(cli, shop, monkeypatch):
    assert cli("usage", "record", ANA, "watches", "7").code == 0
    assert "0 at 80 % and 0 at 100 % emailed" in cli("usage", "check").err
    assert cli("usage", "record", ANA, "watches", "1", "--add").code == 0  # 8 of 10
    assert "1 at 80 %" in cli("usage", "check").err
    assert "0 at 80 %" in cli("usage", "check").err  # once per period
    assert cli("usage", "record", ANA, "watches", "9").code == 0
    cli("usage", "check")
    assert cli("usage", "record", ANA, "watches", "10").code == 0
    assert "1 at 100 % emailed, operator told" in cli("usage", "check").err
    assert "operator not told" in cli("usage", "check").err
    assert delivered(cli, shop) == [
        (ANA, "80 % of your watches used"),
        (ANA, "Your watches limit is reached"),
        ("owner@example.com", f"Quota reached: {ANA} (watches)"),
    ]
    body = message_from_bytes(shop.received[0], policy=email.policy.default).get_body(("plain",)).get_content()
    assert "You have used 8 of 10 watches this period on your Starter plan" in body
    assert "Pro (€29.00 a month) gives you more room: https://app.example.com/upgrade" in body

    # the subscription's period ended on 2026-12-05: usage starts again, and so do the emails
    monkeypatch.setenv("ARKOPS_NOW", "2026-12-10T08:00:00Z")
    shown = json.loads(cli("usage", "show", ANA, "--format", "json").out)
    assert shown[0] == {
        "email": ANA,
        "plan": "starter",
        "status": "active",
        "metric": "watches",
        "used": 0,
        "limit": 10,
        "percent": 0.0,
        "period_start": "2026-12-01T00:00:00Z",
        "period_end": "2027-01-01T00:00:00Z",
        "updated_at": None,
    }
    assert cli("usage", "record", ANA, "watches", "9").code == 0
    cli("usage", "check")
    assert delivered(cli, shop)[3:] == [(ANA, "80 % of your watches used")]


def test_never_for_a_metric_without_a_limit_and_free_customers_have_quotas(cli, shop):
    assert cli("usage", "record", ANA, "exports", "5000").code == 0  # starter does not limit exports
    assert cli("usage", "record", FREE, "api_calls", "99999").code == 0  # the free plan limits watches only
    assert cli("usage", "record", FREE, "watches", "3").code == 0
    result = cli("usage", "check")
    assert "1 at 100 % emailed" in result.err and "0 at 80 %" in result.err
    assert delivered(cli, shop) == [
        (FREE, "Your watches limit is reached"),
        ("owner@example.com", f"Quota reached: {FREE} (watches)"),
    ]
    rows = {r["metric"]: r for r in json.loads(cli("usage", "show", ANA, "--format", "json").out)}
    assert rows["exports"]["limit"] is None and rows["exports"]["percent"] is None
    assert rows["watches"]["period_start"] == "2026-11-05T00:00:00Z"  # the subscription's period
    plans = {r["plan"]: r["customers"] for r in json.loads(cli("billing", "plans", "--format", "json").out)}
    assert plans == {"free": 1, "starter": 1, "pro": 1}  # ana has usage and a subscription: not free
    free = json.loads(cli("usage", "show", FREE, "--format", "json").out)
    assert [(r["plan"], r["status"], r["metric"], r["percent"]) for r in free] == [
        ("free", "free", "watches", 100.0),
        ("free", "free", "api_calls", None),
    ]


def test_an_import_past_100_percent_is_one_email_and_bad_records_are_skipped(cli, shop, workspace):
    export = workspace / "usage.jsonl"
    lines = [
        {"email": ANA, "metric": "watches", "value": 4, "timestamp": "2026-11-19T08:00:00Z"},
        {"email": ANA, "metric": "watches", "value": 14, "timestamp": "2026-11-20T08:00:00Z"},
        {"email": "bo@example.com", "metric": "api_calls", "value": 85_000, "timestamp": 1795089600},
        {"email": "not an address", "metric": "watches", "value": 1, "timestamp": "2026-11-20T08:00:00Z"},
        {"email": ANA, "metric": "watches", "value": -3, "timestamp": "2026-11-20T08:00:00Z"},
        {"email": ANA, "metric": "watches", "value": 3, "timestamp": 1795089600000},
    ]
    export.write_text("\n".join(json.dumps(line) for line in lines) + "\n{not json\n")
    result = cli("usage", "import", str(export))
    assert result.code == 3
    assert "usage import: 3 recorded, 0 unchanged, 4 skipped" in result.err
    assert "usage.jsonl[5]: timestamp: 1795089600000 looks like milliseconds" in result.err
    assert "usage.jsonl[6]: line 7: not JSON" in result.err
    assert cli("usage", "import", str(export)).err.count("unchanged") == 1  # a replay changes nothing
    assert "1 at 80 % and 1 at 100 % emailed" in cli("usage", "check").err
    assert delivered(cli, shop) == [
        (ANA, "Your watches limit is reached"),  # 14 of 10: one email, not the 80 % one too
        ("bo@example.com", "80 % of your api calls used"),
        ("owner@example.com", f"Quota reached: {ANA} (watches)"),
    ]
    older = workspace / "older.json"
    older.write_text(json.dumps([{"email": ANA, "metric": "watches", "value": 2, "timestamp": "2026-11-18T00:00:00Z"}]))
    assert cli("usage", "import", str(older)).code == 0
    assert json.loads(cli("usage", "show", ANA, "--format", "json").out)[0]["used"] == 14  # the newer value stands


def test_report_counts_upgrade_candidates_per_plan(cli, shop):
    cli("usage", "record", ANA, "watches", "9")
    cli("usage", "record", "bo@example.com", "watches", "50")
    rows = {(r["plan"], r["metric"]): r for r in json.loads(cli("usage", "report", "--format", "json").out)}
    assert rows[("starter", "watches")] == {
        "plan": "starter",
        "metric": "watches",
        "limit": 10,
        "customers": 1,
        "total": 9,
        "average": 9.0,
        "over_80": 1,
        "over_100": 0,
    }
    assert rows[("pro", "watches")]["over_100"] == 1 and rows[("pro", "api_calls")]["total"] == 0


def test_usage_check_is_a_registered_job_and_bad_input_writes_nothing(cli, shop, workspace):
    cli("usage", "record", ANA, "watches", "10")
    run = cli("run", "--only", "usage-check", "--force")
    assert run.code == 0, run.err
    assert "usage-check" in run.out + run.err and "1 at 100 % emailed" in run.out + run.err
    before = (workspace / "data" / "usage.json").read_bytes()
    assert cli("usage", "record", ANA, "Watches!", "3").code == 3
    assert cli("usage", "record", ANA, "watches", "-1").code == 2
    assert cli("usage", "record", ANA, "watches", "3", "--at", "yesterday").code == 2
    assert (workspace / "data" / "usage.json").read_bytes() == before


def test_doctor_warns_when_usage_is_stale_or_metrics_do_not_match(cli, shop, monkeypatch):
    cli("usage", "record", ANA, "exports", "3")
    monkeypatch.setenv("ARKOPS_NOW", "2026-11-25T10:00:00Z")
    checks = {c["check"]: c for c in json.loads(cli("doctor", "--format", "json").out)}
    assert checks["usage fresh"]["status"] == "warn" and "older than 48 h" in checks["usage fresh"]["detail"]
    assert checks["usage metrics"]["detail"] == (
        "recorded but no plan limits them: exports; limited but never recorded: api_calls, watches"
    )


def test_retention_drops_periods_ended_over_400_days_ago_and_keeps_the_rest(cli, shop, monkeypatch):
    cli("usage", "record", ANA, "watches", "10", "--at", "2025-06-10T00:00:00Z")  # June 2025: the month
    cli("usage", "record", ANA, "watches", "10")
    monkeypatch.setenv("ARKOPS_NOW", "2025-06-20T00:00:00Z")
    cli("usage", "check")
    monkeypatch.setenv("ARKOPS_NOW", "2026-11-20T10:00:00Z")
    cli("usage", "check")
    result = cli("retention")
    assert result.code == 0, result.err
    assert (
        "1 usage values removed" in result.out and "2 quota records removed" in result.out
    )  # 80 % passed over, 100 % sent
    assert json.loads(cli("usage", "show", ANA, "--format", "json").out)[0]["used"] == 10
    assert "1 at 100 %" not in cli("usage", "check").err  # this period's record stays


def test_two_checks_at_once_queue_each_email_once(shop, workspace):
    import subprocess
    import sys

    from conftest import run_arkops

    assert run_arkops("usage", "record", ANA, "watches", "10").code == 0
    runs = [
        subprocess.Popen([sys.executable, "-m", "arkops", "usage", "check"], stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=60)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    assert sorted("1 at 100 % emailed" in out for out in outputs) == [False, True]
    outbox = json.loads(run_arkops("mail", "outbox", "--format", "json").out)
    assert sorted(m["template"] for m in outbox) == ["quota_100", "quota_reached"]


def test_the_top_plan_is_pointed_to_support_and_french_numbers_and_prices_are_localised(cli, workspace, shop):
    write_config(
        workspace,
        CONFIG + '\n[usage]\nupgrade_url = "https://app.example.com/upgrade"\n'
        '[usage.labels]\nwatches = "monitors"\n'
        '[product]\nname = "Acme Watch"\nsupport_email = "help@acme.example"\n',
    )
    assert cli("usage", "record", "bo@example.com", "watches", "50").code == 0  # Pro, the top plan: 50 of 50
    assert cli("usage", "record", ANA, "api_calls", "8500").code == 0  # Starter: 8,500 of 10,000
    assert cli("usage", "check").code == 0
    assert cli("mail", "flush").code == 0
    bodies = {}
    for raw in shop.received:
        message = message_from_bytes(raw if isinstance(raw, bytes) else raw.encode(), policy=email.policy.default)
        bodies[message["To"]] = message.get_body(("plain",)).get_content()
    top = bodies["bo@example.com"]
    assert "You are on our largest plan: reply to this email or write to help@acme.example" in top
    assert "pgrade" not in top and "app.example.com/upgrade" not in top
    assert "You have used 8,500 of 10,000 api calls" in bodies[ANA] and "Pro (€29.00 a month)" in bodies[ANA]
    assert "You have used all 50 monitors of your Pro plan (50)" in top  # the metric as [usage.labels] names it

    assert cli("mail", "send", "quota_80", "--to", "leo@example.fr", "--locale", "fr", *FRENCH).code == 0
    french = message_from_bytes(shop.received[-1], policy=email.policy.default).get_body(("plain",)).get_content()
    assert "Vous avez utilisé 8\u202f500 sur 10\u202f000 watches" in french
    assert "Pro (29,00\xa0€ par mois)" in french


FRENCH = (
    "--var", "metric=watches", "--var", "used=8500", "--var", "limit=10000", "--var", "plan=Starter",
    "--var", "next_plan=Pro", "--var", "next_price=2900", "--var", "currency=EUR",
    "--var", "upgrade_url=https://app.example.com/upgrade",
)  # fmt: skip


def test_export_is_one_row_per_customer_metric_and_period(cli, shop):
    cli("usage", "record", ANA, "watches", "4", "--at", "2026-10-20T10:00:00Z")  # the period before
    cli("usage", "record", ANA, "watches", "8")
    cli("usage", "record", ANA, "exports", "3")  # a metric the plan sets no limit for
    cli("usage", "record", FREE, "watches", "6")  # the free plan: 3 watches
    rows = json.loads(cli("usage", "export", "--format", "json").out)
    assert [(r["email"], r["metric"], r["period_start"], r["limit"], r["used"], r["percent"]) for r in rows] == [
        (ANA, "exports", "2026-11-05T00:00:00Z", None, 3, None),
        (ANA, "watches", "2026-10-01T00:00:00Z", 10, 4, 40.0),
        (ANA, "watches", "2026-11-05T00:00:00Z", 10, 8, 80.0),
        (FREE, "watches", "2026-11-01T00:00:00Z", 3, 6, 200.0),
    ]
    assert rows[2]["plan"] == "starter" and rows[2]["period_end"] == "2026-12-05T00:00:00Z"
    csv_lines = cli("usage", "export", "--since", "2026-11-01").out.splitlines()
    assert csv_lines[0] == "email,plan,metric,period_start,period_end,limit,used,percent,updated_at"
    assert len(csv_lines) == 4 and csv_lines[2].startswith(f"{ANA},starter,watches,2026-11-05T00:00:00Z,")
    before = json.loads(cli("usage", "export", "--until", "2026-10-31", "--format", "json").out)
    assert [(r["metric"], r["used"]) for r in before] == [("watches", 4)]
    assert cli("usage", "export", "--until", "October").code == 2


def test_a_refused_address_gets_no_quota_email_and_neither_stops_the_check_nor_returns_every_hour(cli, shop):
    assert cli("usage", "record", "bob@gmial.con", "watches", "3").code == 0  # the app's id, kept as it came
    assert cli("usage", "record", FREE, "watches", "3").code == 0
    first = cli("usage", "check")
    assert first.code == 0, first.err
    assert "1 at 100 % emailed" in first.err  # fay's, in the same run
    assert "1 not emailed (quota_100 to 'bob@gmial.con': " in first.err and "did you mean gmail.com?" in first.err
    assert delivered(cli, shop) == [
        (FREE, "Your watches limit is reached"),
        ("owner@example.com", "Quota reached: bob@gmial.con (watches) and 1 more"),
    ]
    again = cli("usage", "check")
    assert again.code == 0 and "not emailed" not in again.err  # recorded: not tried again each hour
