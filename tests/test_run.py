"""`arkops run`, `arkops jobs`, `arkops cron print`: schedules, locks, failures and alerts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

from conftest import run_arkops, write_config


def lines(result) -> dict[str, tuple[str, str]]:
    out = {}
    for line in result.out.splitlines():
        name, status, detail = line.split(None, 2) if len(line.split(None, 2)) == 3 else (*line.split(None, 1), "")
        out[name] = (status, detail)
    return out


def test_jobs_run_only_when_due(cli, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T09:05:00Z")
    first = cli("run", "-v")  # every job's line
    assert first.code == 0, first.out + first.err
    got = lines(first)
    assert got["stripe-sync"] == ("skipped", "no STRIPE_SECRET_KEY set")
    assert got["trials-track"][0] == "ok" and got["trials-nudge"][0] == "ok" and got["mail-flush"][0] == "ok"
    assert first.out.splitlines()[1].startswith("trials-track  ok       0 activated, 0 converted, 0 expired  ")
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T09:07:00Z")
    got = lines(cli("run", "--verbose"))
    assert got["trials-track"] == ("skipped", "not due until 2026-03-02 09:10")
    assert got["trials-nudge"] == ("skipped", "not due until 2026-03-03 09:00")
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T09:10:30Z")
    got = {job["job"]: job for job in json.loads(cli("run", "--format", "json").out)["jobs"]}
    assert got["trials-track"]["status"] == "ok" and got["mail-flush"]["status"] == "ok"
    assert got["trials-nudge"]["status"] == "skipped"
    assert lines(cli("run", "--only", "trials-nudge", "--force", "-v"))["trials-nudge"][0] == "ok"
    rows = {r["job"]: r for r in json.loads(cli("jobs", "--format", "json").out)}
    assert rows["trials-nudge"]["schedule"] == "daily 09:00" and rows["trials-nudge"]["outcome"] == "ok"
    assert rows["trials-nudge"]["counts"] == {"queued": 0, "skipped": 0}
    assert rows["mail-flush"]["schedule"] == "every 5 min" and rows["mail-flush"]["next_due"] == "2026-03-02T09:15:00Z"


def test_schedule_changes_and_bad_job_names_in_config(cli, workspace, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T07:00:00Z")
    write_config(workspace, '[jobs.trials-nudge]\nat = "06:30"\n[jobs.trials-track]\nenabled = false\n')
    got = lines(cli("run", "-v"))
    assert got["trials-nudge"][0] == "ok" and got["trials-track"] == ("skipped", "disabled in arkops.toml")
    write_config(workspace, "[jobs.leads-scna]\nevery_minutes = 5\n")
    result = cli("run")
    assert result.code == 3 and "jobs.leads-scna: no such job" in result.err


HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from arkops.store import Store
    with Store(Path(sys.argv[1])).job_lock(sys.argv[2]):
        print("held", flush=True); time.sleep(30)
""")


def test_a_locked_job_is_skipped_while_the_others_run(workspace):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(workspace / "data"), "trials-track"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        result = run_arkops("run", "-v", cwd=workspace, env={"ARKOPS_NOW": "2026-03-02T09:05:00Z"})
        got = lines(result)
        assert got["trials-track"] == ("skipped", "locked: still running from an earlier tick")
        assert got["trials-nudge"][0] == "ok" and got["mail-flush"][0] == "ok"
        assert result.code == 0
        only = run_arkops("run", "--only", "trials-track", "--force", cwd=workspace)
        assert only.code == 75  # nothing could run because of the lock
    finally:
        holder.kill()
        holder.wait()


def test_a_failing_job_alerts_once_after_three_failures_and_once_on_recovery(cli, workspace, smtp_server, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T09:00:00Z")
    monkeypatch.delenv("SMTP_HOST")
    assert cli("mail", "send", "test", "--to", "ana@example.com").code == 3  # queued, cannot be sent: SMTP_HOST unset
    codes = []
    for minute in range(0, 25, 5):
        monkeypatch.setenv("ARKOPS_NOW", f"2026-03-02T09:{minute:02d}:00Z")
        result = cli("run", "--only", "mail-flush", "-q")  # a failure prints even under --quiet
        codes.append(result.code)
        assert lines(result)["mail-flush"][0] == "failed"
    assert codes == [1, 1, 1, 1, 1]
    alerts = [m for m in json.loads(cli("mail", "outbox", "--format", "json").out) if m["template"] == "job_failed"]
    assert [a["subject"] for a in alerts] == ["Job failing: mail-flush"]
    assert "SMTP_HOST" in alerts[0]["text"]
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T09:30:00Z")
    result = cli("run", "--only", "mail-flush")
    status, detail = lines(result)["mail-flush"]
    assert result.code == 0 and status == "ok"
    assert re.fullmatch(r"2 sent  \d+\.\d s", detail), detail  # the queued test mail and the failing alert
    assert len(smtp_server.received) == 2
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T09:35:00Z")
    cli("run", "--only", "mail-flush")  # sends the recovery note
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T09:40:00Z")
    cli("run", "--only", "mail-flush")
    alerts = [m for m in json.loads(cli("mail", "outbox", "--format", "json").out) if m["template"] == "job_failed"]
    assert sorted(a["subject"] for a in alerts) == ["Job failing: mail-flush", "Recovered: mail-flush"]
    received = [raw for raw in smtp_server.received if b"mail-flush" in raw]
    assert len(received) == 2  # the failing alert and the recovery, once each


def test_cron_print_uses_absolute_paths_and_a_log_folder_that_exists(cli, workspace):
    missing = cli("cron", "print")
    assert missing.code == 3 and f"{workspace / 'logs'} does not exist or is not writable" in missing.err
    assert "cron could not write arkops.log and would not start arkops" in missing.err
    (workspace / "logs").mkdir(mode=0o700)
    result = cli("cron", "print")
    line = result.out.strip()
    assert line.startswith(f"*/5 * * * * cd {workspace} && ")
    assert f"--data-dir {workspace / 'data'}" in line and line.endswith(
        f" run >> {workspace / 'logs' / 'arkops.log'} 2>&1"
    )
    assert "/arkops --env-file /" in line
    assert cli("cron", "print", "--log", str(workspace / "elsewhere" / "a.log")).code == 3


def test_a_second_tick_prints_nothing_and_quiet_goes_after_the_command(cli, monkeypatch, smtp_server):
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T09:05:00Z")
    assert cli("trials", "signup", "ana@example.com", "--plan", "pro").code == 0
    first = cli("run")
    assert first.code == 0 and first.err == ""
    # the new-lead digest and the welcome email queued and sent, the weekly report queued; the jobs that changed
    # nothing (track, funnel, ...) are quiet
    done = lines(first)
    assert sorted(done) == ["leads-scan", "mail-flush", "trials-nudge", "weekly-email"], first.out
    assert "1 new lead(s)" in done["leads-scan"][1] and done["trials-nudge"][1].startswith("1 email queued")
    assert done["mail-flush"][1].startswith("2 sent")
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T09:06:00Z")
    second = cli("run")
    assert (second.code, second.out, second.err) == (0, "", "")
    assert cli("run", "-q") == cli("-q", "run") == second
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T09:11:00Z")
    tick = json.loads(cli("run", "--format", "json", "-q").out)  # json: every job, whatever -q says
    assert tick["as_of"] == "2026-03-02T09:11:00Z" and tick["exit_code"] == 0
    jobs = {job["job"]: job for job in tick["jobs"]}
    assert jobs["trials-track"]["status"] == "ok" and jobs["trials-track"]["counts"]["activated"] == 0
    assert isinstance(jobs["trials-track"]["seconds"], float)
    assert jobs["trials-nudge"] == {
        "job": "trials-nudge",
        "status": "skipped",
        "detail": "not due until 2026-03-03 09:00",
        "seconds": 0.0,
        "counts": {},
    }


def test_jobs_next_says_what_the_next_tick_runs_and_why(cli, workspace, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T09:05:00Z")
    write_config(workspace, "[jobs.promo-sync]\nenabled = false\n")
    before = {row["job"]: row for row in json.loads(cli("jobs", "--next", "--format", "json").out)}
    assert before["trials-track"] == {"job": "trials-track", "runs": True, "why": "never ran (every 10 min)"}
    assert before["stripe-sync"] == {"job": "stripe-sync", "runs": False, "why": "no STRIPE_SECRET_KEY set"}
    assert before["promo-sync"]["why"] == "disabled in arkops.toml"
    assert cli("--dry-run", "run").code == 0
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T09:11:00Z")
    table = cli("jobs", "--next")
    assert "trials-track  yes" in table.out and "trials-nudge  no" in table.out
    after = {row["job"]: row for row in json.loads(cli("jobs", "--next", "--format", "json").out)}
    assert after["trials-track"] == {
        "job": "trials-track",
        "runs": True,
        "why": "every 10 min, last ran 2026-03-02 09:05",
    }
    assert after["trials-nudge"] == {"job": "trials-nudge", "runs": False, "why": "not due until 2026-03-03 09:00"}
    tick = json.loads(cli("--dry-run", "run", "--format", "json").out)["jobs"]
    assert {job["job"] for job in tick if job["status"] == "ok"} == {name for name, row in after.items() if row["runs"]}
