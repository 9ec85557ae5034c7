"""Funnel: stages and rates on constructed visits and trials, rule alerts through a real SMTP server, Wilson bounds."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import NormalDist

import pytest
from conftest import write_config

from arkops.clock import iso, parse_iso
from arkops.core.funnel.wilson import Z95, wilson

D1 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # a Tuesday; the default time zone is UTC

# Reference: scipy 1.17.1, scipy.stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson"),
# computed once outside the project (scipy is not a dependency); z there is norm.ppf(0.975) = 1.95996398...
WILSON_REFERENCE = [
    (3, 100, 0.0102545240, 0.0845193643),
    (0, 10, 0.0, 0.2775327999),
    (10, 10, 0.7224672001, 1.0),
    (1, 1, 0.2065493144, 1.0),
    (0, 1, 0.0, 0.7934506856),
    (2, 10, 0.0566821515, 0.5098375285),
    (15, 300, 0.0305316406, 0.0808470335),
    (50, 100, 0.4038315304, 0.5961684696),
    (299, 300, 0.9813633063, 0.9994113423),
]


@pytest.mark.parametrize(("k", "n", "low", "high"), WILSON_REFERENCE)
def test_wilson_matches_the_reference(k, n, low, high):
    got = wilson(k, n)
    assert got is not None
    assert got[0] == pytest.approx(low, abs=1e-6) and got[1] == pytest.approx(high, abs=1e-6)


def test_wilson_edges():
    assert wilson(0, 0) is None
    assert wilson(0, 50)[0] == 0.0 and wilson(50, 50)[1] == 1.0
    assert abs(NormalDist().inv_cdf(0.975) - Z95) < 1e-6  # the 97.5th percentile, from the standard library
    assert wilson(12, 10) == wilson(10, 10)  # a period rate over 100 %: the interval of n of n


def ip(n: int) -> str:
    """A distinct /24 per visitor, so each stays one visitor once anonymized."""
    return f"100.{n // 250}.{n % 250}.17"


def visit(at: datetime, n: int, page: str, **params: str) -> dict:
    return {
        "timestamp": iso(at),
        "page": page,
        "ip": ip(n),
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0",
        "referrer": "https://www.google.com/",
        "query_params": params,
    }


def ingest(cli, workspace: Path, name: str, visits: list[dict]) -> None:
    path = workspace / name
    path.write_text("".join(json.dumps(v) + "\n" for v in visits), encoding="utf-8")
    result = cli("leads", "ingest", str(path), "--format", "jsonl")
    assert result.code == 0, result.err


def signups(cli, workspace: Path, name: str, people: list[tuple[str, datetime]]) -> None:
    path = workspace / name
    records = [{"email": who, "plan": "pro", "source": "newsletter", "created_at": iso(at)} for who, at in people]
    path.write_text(json.dumps(records), encoding="utf-8")
    result = cli("trials", "import", str(path))
    assert result.code == 0, result.err


def received(smtp_server) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(raw, policy=email.policy.default) for raw in smtp_server.received]


def check(cli, monkeypatch, when: datetime, *args: str):
    monkeypatch.setenv("ARKOPS_NOW", iso(when))
    result = cli("funnel", "check", *args)
    assert cli("mail", "flush").code == 0
    return result


@pytest.fixture
def week_at_3_percent(cli, workspace, monkeypatch):
    """100 demo-page visitors in the five days before D1 (60 from a webinar mail, 40 from Google), 3 trials;
    the week before: 10 demo visitors and 2 trials."""
    write_config(workspace, "[funnel]\nno_data_hours = 96\n")
    monkeypatch.setenv("ARKOPS_NOW", iso(D1))
    week = [
        visit(D1 - timedelta(hours=6 + n), n, "/demo", **({"utm_source": "webinar"} if n < 60 else {}))
        for n in range(100)
    ]
    before = [visit(D1 - timedelta(days=9, hours=n), 500 + n, "/demo") for n in range(10)]
    ingest(cli, workspace, "visits.jsonl", sorted(before + week, key=lambda v: v["timestamp"]))
    signups(
        cli,
        workspace,
        "signups.json",
        [(f"new{n}@example.com", D1 - timedelta(days=2, hours=n)) for n in range(3)]
        + [(f"old{n}@example.com", D1 - timedelta(days=10, hours=n)) for n in range(2)],
    )
    return workspace


def test_a_3_percent_week_alerts_once_a_day_then_one_recovery(cli, week_at_3_percent, smtp_server, monkeypatch):
    workspace = week_at_3_percent
    first = check(cli, monkeypatch, D1, "--check")
    assert first.code == 1
    assert "demo -> trial: FAILING, under 5.0 %: 3.0 % (3 of 100, 95 % interval 1.0 % - 8.5 %) over 7 days" in first.err
    assert "trial -> paid: not enough data (0 of 3, min sample 30)" in first.err
    mails = received(smtp_server)
    assert [m["Subject"] for m in mails] == ["Conversion alert: demo -> trial at 3.0 %"]
    body = mails[0].get_body(("plain",)).get_content()
    assert "3 of 100 over the last 7 days" in body and "95 % interval: 1.0 % - 8.5 %." in body
    assert "The 7 days before: 20.0 % (2 of 10)." in body
    assert "- webinar: 0.0 % (0 of 60), the window before none" in body  # the source that fell short most

    again = check(cli, monkeypatch, D1 + timedelta(hours=5), "--check")
    assert again.code == 1 and len(smtp_server.received) == 1  # not again the same day

    check(cli, monkeypatch, D1 + timedelta(days=1))
    assert [m["Subject"] for m in received(smtp_server)][1:] == ["Conversion alert: demo -> trial at 3.0 %"]

    signups(
        cli, workspace, "more.json", [(f"late{n}@example.com", D1 + timedelta(days=1, hours=2 + n)) for n in range(5)]
    )
    passing = check(cli, monkeypatch, D1 + timedelta(days=2), "--check")
    assert passing.code == 0, passing.err
    assert "demo -> trial: ok, at least 5.0 %: 8.0 % (8 of 100" in passing.err
    check(cli, monkeypatch, D1 + timedelta(days=3))
    subjects = [m["Subject"] for m in received(smtp_server)]
    assert subjects[2:] == ["Recovered: demo -> trial at 8.0 %"]  # once, not on the day after


def test_a_run_twice_at_once_alerts_once(cli, week_at_3_percent, monkeypatch):
    import subprocess
    import sys

    monkeypatch.setenv("ARKOPS_NOW", iso(D1))
    procs = [
        subprocess.Popen([sys.executable, "-m", "arkops", "funnel", "check"], stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    codes = [p.wait(timeout=60) for p in procs]
    assert sorted(codes) in ([0, 0], [0, 75])
    outbox = json.loads(cli("mail", "outbox", "--format", "json").out)
    assert [m["template"] for m in outbox] == ["conversion_rate"]


def test_a_small_sample_is_not_enough_data(cli, workspace, smtp_server, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", iso(D1))
    ingest(cli, workspace, "visits.jsonl", [visit(D1 - timedelta(hours=2 + n), n, "/demo") for n in range(10)])
    result = check(cli, monkeypatch, D1, "--check")
    assert result.code == 0, result.err
    assert "demo -> trial: not enough data (0 of 10, min sample 30)" in result.err
    assert smtp_server.received == []


def test_a_silent_tracker_alerts_no_visits_once_per_silence(cli, workspace, smtp_server, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", iso(D1))
    ingest(cli, workspace, "visits.jsonl", [visit(D1 - timedelta(hours=30), 1, "/pricing")])
    result = check(cli, monkeypatch, D1, "--check")
    assert result.code == 1 and "visits: none since 2026-03-09T03:00:00Z (over 24 h): data missing" in result.err
    check(cli, monkeypatch, D1 + timedelta(hours=3), "--check")
    check(cli, monkeypatch, D1 + timedelta(days=1), "--check")
    assert [m["Subject"] for m in received(smtp_server)] == ["No visits for 24 hours"]
    ingest(cli, workspace, "more.jsonl", [visit(D1 + timedelta(days=1, hours=1), 2, "/pricing")])
    back = check(cli, monkeypatch, D1 + timedelta(days=1, hours=2), "--check")
    assert back.code == 0 and "visits: last one 2026-03-11T10:00:00Z" in back.err
    check(cli, monkeypatch, D1 + timedelta(days=3), "--check")  # silent again: a new episode
    assert [m["Subject"] for m in received(smtp_server)] == ["No visits for 24 hours"] * 2


def test_report_counts_rates_groups_and_cohort(cli, week_at_3_percent, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", iso(D1))
    document = json.loads(cli("funnel", "report", "--since", "7d", "--format", "json").out)
    assert document["window"] == {"start": "2026-03-03T09:00:00Z", "end": "2026-03-10T09:00:00Z"}
    assert {s["name"]: s["count"] for s in document["stages"]} == {
        "visitors": 100,
        "demo": 100,
        "trial": 3,
        "active": 0,
        "paid": 0,
    }
    demo_trial = next(r for r in document["rates"] if (r["from"], r["to"]) == ("demo", "trial"))
    assert demo_trial == {
        "from": "demo",
        "to": "trial",
        "count_from": 100,
        "count_to": 3,
        "rate": 0.03,
        "low": 0.0103,
        "high": 0.0845,
    }
    for by in ("week", "source"):
        grouped = json.loads(cli("funnel", "report", "--since", "14d", "--by", by, "--format", "json").out)
        totals = {s["name"]: s["count"] for s in grouped["stages"]}
        for stage in totals:  # each person is in one group per stage
            assert (
                sum(next(s["count"] for s in g["stages"] if s["name"] == stage) for g in grouped["groups"])
                == (totals[stage])
            )
    by_source = json.loads(cli("funnel", "report", "--since", "7d", "--by", "source", "--format", "json").out)
    assert [g["group"] for g in by_source["groups"]] == ["webinar", "google.com", "newsletter"]
    by_week = json.loads(cli("funnel", "report", "--since", "14d", "--by", "week", "--format", "json").out)
    assert [g["group"] for g in by_week["groups"]] == ["2026-W09", "2026-W10", "2026-W11"]
    # Trials who never visited are not followed from the demo page: the cohort rate is 0 of 100.
    cohort = json.loads(cli("funnel", "report", "--since", "7d", "--cohort", "--format", "json").out)
    assert next(r for r in cohort["rates"] if r["from"] == "demo" and r["to"] == "trial")["count_to"] == 0
    table = cli("funnel", "report", "--since", "7d", "--by", "source")
    assert table.code == 0 and "█" * 40 in table.out and "3.0 %" in table.out and "1.0 % - 8.5 %" in table.out
    csv = cli("funnel", "report", "--since", "7d", "--format", "csv").out.splitlines()
    assert (
        csv[0]
        == "group,visitors,demo,trial,active,paid,visitors->demo,demo->trial,trial->active,active->paid,trial->paid"
    )
    assert csv[1].startswith("all,100,100,3,0,0,1.0,0.03,")


def test_cohort_follows_linked_visitors_to_their_trial(cli, workspace, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", iso(D1))
    visits = [visit(D1 - timedelta(days=3), n, "/demo") for n in range(4)]
    visits.append(visit(D1 - timedelta(days=2), 0, "/trial", email="ana@example.com"))
    ingest(cli, workspace, "visits.jsonl", visits)
    signups(cli, workspace, "signups.json", [("ana@example.com", D1 - timedelta(days=2)), ("bo@example.com", D1)])
    monkeypatch.setenv("ARKOPS_NOW", iso(D1 + timedelta(hours=1)))
    cohort = json.loads(cli("funnel", "report", "--since", "7d", "--cohort", "--format", "json").out)
    period = json.loads(cli("funnel", "report", "--since", "7d", "--format", "json").out)
    pick = lambda doc: next(r for r in doc["rates"] if (r["from"], r["to"]) == ("demo", "trial"))  # noqa: E731
    assert (pick(cohort)["count_from"], pick(cohort)["count_to"]) == (4, 1)  # ana, seen on /demo, signed up
    assert (pick(period)["count_from"], pick(period)["count_to"]) == (4, 2)  # bo came without the demo page


def test_old_config_form_and_bad_rules(cli, workspace):
    write_config(workspace, "[funnel]\nmin_sample = 50\n[funnel.rate_thresholds]\ndemo_to_trial = 0.04\n")
    result = cli("funnel", "report")
    assert result.code == 3
    assert (
        "funnel: rate_thresholds and min_sample are no longer read; remove them and write one [[funnel.rules]] "
        'table per rate: [[funnel.rules]] from = "demo" to = "trial" min_rate = 0.04 window_days = 7 min_sample = 50'
    ) in result.err
    write_config(workspace, '[[funnel.rules]]\nfrom = "demo"\nto = "signup"\n')
    result = cli("funnel", "check")
    assert result.code == 3 and "funnel.rules[0].to: 'signup' is not one of visitors, demo, trial, active, paid" in (
        result.err
    )
    write_config(workspace, '[[funnel.rules]]\nfrom = "paid"\nto = "trial"\n')
    result = cli("funnel", "check", "--check")
    assert result.code == 3 and "funnel.rules[0]: from 'paid' must come before to 'trial'" in result.err
    doctor = json.loads(cli("doctor", "--format", "json").out)
    funnel = next(c for c in doctor if c["check"] == "funnel rules")
    assert funnel["status"] == "fail" and "must come before" in funnel["detail"]
    assert not (workspace / "data" / "funnel.json").exists()  # nothing written
    result = cli("funnel", "report", "--by", "month")
    assert result.code == 2 and "'month' is not one of 'week', 'source'" in result.err


def test_archived_trials_give_the_funnel_the_same_figures_from_their_month_summaries(cli, workspace, monkeypatch):
    from stripe_shapes import customer, event, invoice
    from test_billing import apply_all

    from arkops.core.trials.queries import list_trials
    from arkops.core.trials.summaries import FIELDS, funnel_trials
    from arkops.runtime import Runtime

    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    now = start + timedelta(days=120)
    people = [("old1", 0, "podcast"), ("old2", 10, "ads"), ("old3", 40, ""), ("new1", 115, "newsletter")]
    records = [
        {"email": f"{who}@example.com", "plan": "pro", "source": source, "created_at": iso(start + timedelta(days=d))}
        for who, d, source in people
    ]
    (workspace / "signups.json").write_text(json.dumps(records), encoding="utf-8")
    monkeypatch.setenv("ARKOPS_NOW", iso(start + timedelta(days=41)))
    assert cli("trials", "import", "signups.json").code == 0
    assert cli("trials", "activity", "old3@example.com", "--kind", "login").code == 0
    # old1 comes back now from nowhere (no utm_source, no referrer): their archived trial's source names them
    back = {**visit(now - timedelta(days=2), 1, "/pricing", email="old1@example.com"), "referrer": ""}
    ingest(cli, workspace, "visits.jsonl", [back, visit(now - timedelta(days=2), 2, "/demo")])
    # old2 pays long after the archive: converted now, as the billing ledger says
    paid = invoice("in_1", "cus_2", 2900, email="old2@example.com", paid_at=int((now - timedelta(days=3)).timestamp()))
    created = int((now - timedelta(days=4)).timestamp())
    apply_all(
        workspace,
        [
            event("e1", "customer.created", customer("cus_2", "old2@example.com"), created),
            event("e2", "invoice.paid", paid, paid["status_transitions"]["paid_at"]),
        ],
    )
    monkeypatch.setenv("ARKOPS_NOW", iso(now))
    assert cli("trials", "track").code == 0
    assert "3 trials archived, 2 trials archive summaries written" in cli("retention").out
    summaries = workspace / "data" / "archive" / "trials" / "summaries"
    assert sorted(p.name for p in summaries.glob("*.json")) == ["2026-01.json", "2026-02.json"]

    def reports() -> list[dict]:
        return [
            json.loads(cli("funnel", "report", *args, "--format", "json").out)
            for args in (("--since", "7d"), ("--since", "150d"), ("--since", "7d", "--by", "source"))
        ]

    def reference(trials: int) -> None:  # what the funnel reads equals every trial read whole, archive included
        rt = Runtime(Path("data"), Path("arkops.toml"), Path(".env"))
        whole = [{k: t[k] for k in FIELDS} for t in list_trials(rt, state=None, now=now, archived=True)]
        assert funnel_trials(rt, now).rows == whole and len(whole) == trials
        # from a moment on: the trials with a moment from then (old2's late payment, new1), every trial's source
        since = now - timedelta(days=7)
        read = funnel_trials(rt, now, since=since)
        moments = ("signed_up_at", "activated_at", "converted_at")
        assert read.rows == [t for t in whole if any(t[m] and parse_iso(t[m]) >= since for m in moments)]
        assert [t["email"] for t in read.rows] == ["old2@example.com", "new1@example.com"]
        assert read.sources == {t["email"]: t["source"] for t in whole if t["source"]}

    with_summaries = reports()
    reference(4)
    count = lambda stages, name: next(s["count"] for s in stages if s["name"] == name)  # noqa: E731
    by_source = {g["group"]: g["stages"] for g in with_summaries[2]["groups"]}
    assert count(by_source["podcast"], "visitors") == 1  # old1, named by their archived trial
    recent = with_summaries[0]["stages"]
    assert count(recent, "paid") == 1 and count(recent, "trial") == 1  # old2's late payment; new1
    for path in summaries.glob("*.json"):
        path.unlink()
    assert reports() == with_summaries  # the month files, read whole, say the same

    assert cli("retention").code == 0
    assert "old1@example.com" in (summaries / "2026-01.json").read_text()
    before = reports()
    assert cli("privacy", "forget", "old1@example.com", "--yes").code == 0
    # the month they were archived in was rewritten and its summary made again at once, without them
    from arkops.core.trials.summaries import RECIPE
    from arkops.store.archive import Archive

    rt = Runtime(Path("data"), Path("arkops.toml"), Path(".env"))
    kept = Archive(rt.store, "trials").summary("2026-01", RECIPE)
    assert kept is not None and [row[0] for row in kept] == ["old2@example.com"]
    reference(3)
    after = reports()
    by_source = {g["group"]: g["stages"] for g in after[2]["groups"]}
    assert "podcast" not in by_source  # nothing held names old1 or the source their trial gave
    assert count(after[1]["stages"], "trial") == count(before[1]["stages"], "trial") - 1
    assert "trials archive summaries written" not in cli("retention").out  # nothing was left stale


def test_trial_moments_are_placed_in_the_window_as_parsed_times_whatever_their_text():
    from arkops.core.funnel.stages import Window, _enter_trials

    start = datetime(2026, 3, 10, 9, 0, 0, 500000, tzinfo=UTC)
    end = datetime(2026, 3, 11, 9, 0, 0, 500000, tzinfo=UTC)

    def trial(email: str, signed_up_at: str) -> dict:
        return {"email": email, "source": "", "signed_up_at": signed_up_at, "activated_at": None, "converted_at": None}

    trials = [
        trial("before@example.com", "2026-03-10T09:00:00Z"),  # half a second before the start
        trial("last@example.com", "2026-03-11T09:00:00Z"),  # the end's second, before its half
        trial("offset@example.com", "2026-03-10T11:00:00+01:00"),  # not iso()'s form: parsed
        trial("after@example.com", "2026-03-11T09:00:01Z"),
    ]
    window = Window(start, end)
    _enter_trials(window, trials)
    assert sorted(window.entries["trial"]) == ["last@example.com", "offset@example.com"]
