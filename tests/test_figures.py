"""Figures that agree: the demo's weekly email and `status` show the same values for the same figures, the
email reports the tick it ends and not itself; old failed payments stand apart from open ones; the counts of a
sync add up; a report starts with the business's first month."""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
from email.message import Message
from pathlib import Path

import pytest
from conftest import OUTSIDE_SETTINGS, Demo, copy_of_demo
from stripe_server import stripe_server  # noqa: F401  (a fixture)
from stripe_shapes import customer, event, invoice, ts


def in_demo(folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in OUTSIDE_SETTINGS}
    return subprocess.run(
        [sys.executable, "-m", "arkops", *args], cwd=folder, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def demo_workspace(shared_demo: Demo) -> Path:
    return shared_demo.folder


def text_part(message: Message) -> str:
    (part,) = [p for p in message.walk() if p.get_content_type() == "text/plain"]
    return part.get_payload(decode=True).decode()


def figure_line(figure: dict) -> str:
    """A figure as the email's text part writes it (templates/_sections.txt)."""
    red = " (!)" if figure["red"] else ""
    note = f" ({figure['note']})" if figure.get("note") else ""
    return f"- {figure['label']}: {figure['text']}{red}{note}"


def test_the_demos_weekly_email_agrees_with_status_on_every_figure_both_show(demo_workspace):
    (path,) = [p for p in (demo_workspace / "data" / "outbox").glob("*.eml") if "weekly_report" in p.name]
    text = text_part(email.message_from_bytes(path.read_bytes()))
    status = json.loads(in_demo(demo_workspace, "status", "--format", "json").stdout)
    figures = [figure for section in status["sections"].values() for figure in section["figures"].values()]
    shown = {figure["label"]: figure["text"] for figure in figures}
    lines = text.splitlines()
    both = [figure for figure in figures if any(line.startswith(f"- {figure['label']}: ") for line in lines)]
    assert len(both) >= 20
    assert [figure_line(figure) for figure in both if figure_line(figure) not in lines] == []
    headline = text.split("Week 2026-W41\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert headline == ["MRR: €877.47", "Revenue 2026-10: €524.68", "Signups last week: 3", "Conversions last week: 0"]
    assert all(line.split(": ")[0] in shown for line in headline)  # the headline's figures are status's
    jobs = text.split("== Jobs", 1)[1]
    assert "weekly-email" not in jobs and "never ran" not in jobs and "(needs attention)" not in jobs.splitlines()[0]
    assert "mail-flush | 2026-10-15 11:30 CEST | ok" in jobs  # the report was built after the tick's other jobs


def test_old_failures_are_apart_from_open_ones(cli, workspace, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", "2026-06-15T12:00:00Z")
    records = [
        {
            "invoice_id": f"in_{n}",
            "customer_email": f"c{n}@example.com",
            "amount": 29,
            "currency": "EUR",
            "status": "failed",
            "paid_at": when,
        }
        for n, when in enumerate(["2025-09-10T10:00:00Z", "2026-01-10T10:00:00Z", "2026-06-01T10:00:00Z"])
    ]
    (workspace / "payments.json").write_text(json.dumps(records))
    assert cli("payments", "import", "payments.json").code == 0
    open_now = json.loads(cli("payments", "failed", "--format", "json").out)
    assert [row["invoice"] for row in open_now] == ["in_2"]  # within [billing] failed_open_days (60)
    every = json.loads(cli("payments", "failed", "--old", "--format", "json").out)
    assert [(row["invoice"], row["old"]) for row in every] == [("in_0", True), ("in_1", True), ("in_2", False)]
    revenue = json.loads(cli("status", "--format", "json").out)["sections"]["revenue"]["figures"]
    assert revenue["failed_payments"]["value"] == 1 and revenue["failed_payments"]["text"] == "1 (€29.00)"
    assert revenue["old_failures"] == {
        "label": "Old failures",
        "value": 2,
        "text": "2",
        "red": False,
        "note": "last failed over 60 days ago",
    }
    (workspace / "arkops.toml").write_text("[billing]\nfailed_open_days = 400\n")
    assert len(json.loads(cli("payments", "failed", "--format", "json").out)) == 3


def test_a_second_sync_counts_every_event_it_fetched(cli, workspace, monkeypatch, stripe_server):  # noqa: F811
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T10:00:00Z")
    events = [
        event("evt_1", "customer.created", customer("cus_1", "ana@example.com"), ts("2026-03-01")),
        event(
            "evt_2",
            "invoice.paid",
            invoice("in_1", "cus_1", 2900, paid_at=ts("2026-03-01"), email="ana@example.com"),
            ts("2026-03-01T01:00"),
        ),
        event("evt_3", "product.created", {"id": "prod_1", "object": "product"}, ts("2026-03-01T02:00")),
    ]
    stripe_server.lists["/v1/events"] = list(reversed(events))  # newest first, as Stripe lists them
    stripe_server.objects["/v1/customers/cus_1"] = customer("cus_1", "ana@example.com")
    first = cli("stripe", "sync")
    assert first.code == 0 and "stripe sync: 3 fetched: 2 applied, 0 already seen, 1 ignored" in first.err
    again = cli("stripe", "sync")
    assert "stripe sync: 3 fetched: 0 applied, 3 already seen, 0 ignored" in again.err  # the cursor's own included
    counts = json.loads(cli("run", "--only", "stripe-sync", "--force", "--format", "json").out)["jobs"][0]["counts"]
    assert counts["fetched"] == counts["applied"] + counts["duplicates"] + counts["ignored"] == 3


def test_a_report_begins_with_the_first_month_of_data(cli, workspace, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", "2026-06-15T12:00:00Z")
    fresh = json.loads(cli("payments", "report", "--format", "json").out)
    assert [row["month"] for row in fresh["months"]] == ["2026-06"]  # a new installation: its current month
    record = {
        "invoice_id": "in_1",
        "customer_email": "c@example.com",
        "amount": 29,
        "currency": "EUR",
        "status": "paid",
        "paid_at": "2026-03-10T10:00:00Z",
    }
    (workspace / "payments.json").write_text(json.dumps([record]))
    assert cli("payments", "import", "payments.json").code == 0
    months = json.loads(cli("payments", "report", "--format", "json").out)["months"]
    assert [row["month"] for row in months] == ["2026-03", "2026-04", "2026-05", "2026-06"]
    assert months[0]["revenue"] == 2900 and months[0]["revenue_churn_rate"] == 0.0
    assert len(json.loads(cli("payments", "report", "--months", "2", "--format", "json").out)["months"]) == 2


def test_status_as_csv_and_funnel_check_as_json_give_the_same_figures(demo_workspace, shared_demo, tmp_path):
    import csv
    import io

    status = json.loads(in_demo(demo_workspace, "status", "--format", "json").stdout)
    rows = list(csv.DictReader(io.StringIO(in_demo(demo_workspace, "status", "--format", "csv").stdout)))
    assert list(rows[0]) == ["section", "figure", "label", "value", "currency", "text", "red"]
    for row in rows:
        figure = status["sections"][row["section"]]["figures"][row["figure"]]
        assert (row["label"], row["text"], row["red"]) == (figure["label"], figure["text"], str(figure["red"]))
    assert len(rows) == sum(len(section["figures"]) for section in status["sections"].values())
    copy = copy_of_demo(shared_demo, tmp_path)  # funnel check records its verdict: not in the shared demo
    check = in_demo(copy, "funnel", "check", "--format", "json", "--check")
    verdict = json.loads(check.stdout)
    assert check.returncode == (1 if verdict["failed"] else 0)
    assert [rule["rule"] for rule in verdict["rules"]] == ["demo -> trial", "trial -> paid"]
    assert {"status", "rate", "count_from", "count_to", "low", "high", "min_rate"} <= set(verdict["rules"][0])
