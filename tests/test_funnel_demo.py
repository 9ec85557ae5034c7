"""`funnel report` on the demo workspace agrees with `leads stats`, `trials list` and `payments report`."""

from __future__ import annotations

import itertools
import json

import pytest
from conftest import copy_of_demo

from arkops.clock import parse_iso


@pytest.fixture
def shop(shared_demo, tmp_path, cli, monkeypatch):
    """A copy of the session's demo workspace (`funnel check` records its run); commands run in this process."""
    folder = copy_of_demo(shared_demo, tmp_path)
    monkeypatch.chdir(folder)
    monkeypatch.setenv("ARKOPS_DATA_DIR", str(folder / "data"))
    monkeypatch.setenv("ARKOPS_CONFIG", str(folder / "arkops.toml"))
    for line in (folder / ".env").read_text().splitlines():
        if line and not line.startswith("#"):
            monkeypatch.setenv(*line.split("=", 1))
    return shared_demo.summary


def document(cli, *args: str):
    result = cli(*args, "--format", "json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def stages(report: dict) -> dict[str, dict]:
    return {stage["name"]: stage for stage in report["stages"]}


@pytest.mark.slow
def test_funnel_report_agrees_with_leads_trials_and_payments_on_the_demo(shop, cli):
    summary = shop
    funnel_job = next(job for job in summary["jobs"] if job["job"] == "funnel-check")
    assert funnel_job["detail"].startswith("2 rule(s): 1 failing, 1 without enough data; 1 alert(s)")
    check = cli("funnel", "check", "--check")
    assert check.code == 1 and "demo -> trial: FAILING, under 5.0 %: 2.9 % (2 of 68" in check.err

    table = cli("funnel", "report")
    assert table.code == 0 and "█" in table.out and "demo -> trial" in table.out

    # Visits: the funnel's hits are `leads stats`' hits, over the same window.
    for since in ("7d", "30d"):
        funnel = stages(document(cli, "funnel", "report", "--since", since))
        pages = {p["path"]: p for p in document(cli, "leads", "stats", "--since", since)["pages"]}
        assert funnel["visitors"]["visits"] == sum(p["hits"] for p in pages.values()) > 0
        assert funnel["demo"]["visits"] == pages["/demo"]["hits"] > 0
    # Over one local day, `leads stats` visitors are distinct visitors: the demo page's are the funnel's
    # demo stage less the demo requests (they came with no visit).
    today = "2026-10-15"
    funnel = stages(document(cli, "funnel", "report", "--since", today))
    pages = {p["path"]: p for p in document(cli, "leads", "stats", "--since", today)["pages"]}
    assert funnel["demo"]["count"] - funnel["demo"]["requests"] == pages["/demo"]["visitors"] > 0

    # Trials: signups, activations and conversions in the window, as `trials list --archived` shows them.
    trials = document(cli, "trials", "list", "--archived")
    report = document(cli, "funnel", "report", "--since", "60d")
    start, end = (parse_iso(report["window"][k]) for k in ("start", "end"))
    counted = stages(report)
    for stage, moment in (("trial", "signed_up_at"), ("active", "activated_at"), ("paid", "converted_at")):
        expected = sum(1 for t in trials if t[moment] and start <= parse_iso(t[moment]) < end)
        assert counted[stage]["count"] == expected > 0, stage

    # Paid: each month's trials converted are among that month's new paying customers in `payments report`.
    months = document(cli, "payments", "report", "--months", "4")["months"]
    paid_since = {
        m["month"]: stages(document(cli, "funnel", "report", "--since", f"{m['month']}-01"))["paid"]["count"]
        for m in months[1:]
    }
    for before, month in itertools.pairwise(months[1:]):
        new_customers = month["paying_customers"] - before["paying_customers"] + month["churned_customers"]
        later = [m for m in paid_since if m > month["month"]]
        # every converted trial is a new paying customer; the promo demo adds Checkout customers with no trial
        assert 0 < paid_since[month["month"]] - (paid_since[later[0]] if later else 0) <= new_customers


@pytest.mark.slow
def test_status_shows_each_rule_against_its_threshold(shop, cli):
    """`arkops status` carries the funnel's rules with the same verdict as `funnel check`."""
    status = document(cli, "status")
    funnel = status["sections"]["funnel"]
    figures = funnel["figures"]
    failing = figures["rate_demo_trial"]
    assert failing["red"] and failing["text"].startswith("2.9 % (2 of 68") and "at least 5.0 %" in failing["note"]
    assert not figures["rate_trial_paid"]["red"] and "not enough data" in figures["rate_trial_paid"]["text"]
    assert not figures["last_visit"]["red"]
    assert cli("status", "--check").code == 1
