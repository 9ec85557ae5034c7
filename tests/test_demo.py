"""`arkops demo`: a self-contained workspace whose commands agree with its summary, the same every run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import OUTSIDE_SETTINGS, build_demo


def arkops(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in OUTSIDE_SETTINGS}
    return subprocess.run(
        [sys.executable, "-m", "arkops", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_demo_summary_agrees_with_the_workspace_and_is_reproducible(shared_demo, tmp_path):
    assert shared_demo.seconds < 30
    summary = shared_demo.summary
    workspace = shared_demo.folder
    assert summary["mrr"] > 0 and summary["paying_customers"] > 0 and summary["emails_rendered"] > 0

    report = json.loads(arkops("payments", "report", "--format", "json", cwd=workspace).stdout)
    assert report["mrr"] == summary["mrr"] and report["paying_customers"] == summary["paying_customers"]
    month = report["months"][-1]
    assert {k: month[k] for k in summary["month"]} == summary["month"]

    trials = json.loads(arkops("trials", "list", "--format", "json", cwd=workspace).stdout)
    assert dict(Counter(t["state"] for t in trials)) == summary["trials"]

    outbox = json.loads(arkops("mail", "outbox", "--format", "json", cwd=workspace).stdout)
    emails = [m for m in outbox if m["channel"] == "email"]
    assert len(emails) == summary["emails_rendered"] and all(m["state"] == "dry-run" for m in outbox)
    assert len(list((workspace / "data" / "outbox").glob("*.eml"))) == summary["emails_rendered"]

    stories = json.loads(arkops("payments", "list", "--format", "json", cwd=workspace).stdout)
    assert any(p["status"] == "refunded" for p in stories)
    subscriptions = json.loads(arkops("billing", "subscriptions", "--format", "json", cwd=workspace).stdout)
    assert {"active", "canceled"} <= {s["status"] for s in subscriptions}
    assert any("/1year" in s["plan"] for s in subscriptions)

    doctor = arkops("doctor", "--format", "json", cwd=workspace)
    assert doctor.returncode == 0, doctor.stdout
    cron = arkops("cron", "print", cwd=workspace)  # the demo has init's log folder, so its cron line is printed
    assert cron.returncode == 0 and cron.stdout.rstrip().endswith(f">> {workspace}/logs/arkops.log 2>&1"), cron
    assert (workspace / "logs").stat().st_mode & 0o777 == 0o700

    second, _ = build_demo(tmp_path / "two", "--format", "json")
    again = json.loads(second.stdout)
    assert {k: v for k, v in again.items() if k != "workspace"} == {
        k: v for k, v in summary.items() if k != "workspace"
    }


def test_demo_refuses_a_folder_that_is_not_a_demo_and_a_file(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    result = arkops("demo", "mine", cwd=tmp_path)
    assert result.returncode == 3 and "is not an arkops demo" in result.stderr
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    (tmp_path / "afile").write_text("x")
    result = arkops("demo", "afile", cwd=tmp_path)
    assert result.returncode == 3 and "is a file" in result.stderr
    assert (tmp_path / "afile").read_text() == "x"


@pytest.mark.slow
def test_demo_is_rebuilt_only_with_force_which_keeps_what_the_user_put_in_the_folder(tmp_path):
    folder = tmp_path / "d"
    built = arkops("demo", "d", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert f"report: {folder / 'report.html'}" in built.stdout  # where to look next
    assert "arkops status, as of 2026-10-15 11:30 CEST" in built.stdout
    (folder / "notes.txt").write_text("mine")
    again = arkops("demo", "d", cwd=tmp_path)
    assert again.returncode == 3 and "already holds a demo; pass --force to rebuild it" in again.stderr
    assert arkops("demo", "d", "--force", cwd=tmp_path).returncode == 0
    assert (folder / "notes.txt").read_text() == "mine"
    assert (folder / "data" / "ledger.json").exists()
