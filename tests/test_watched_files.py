"""The web app's files followed by the jobs that own them: signups and activity (trials-track), demo requests
(leads-scan), usage (usage-check), each record taken once by `arkops run` across appends, half-written lines,
whole rewrites and rotation."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from conftest import write_config

from arkops.runtime import Runtime

CONFIG = """\
[trials]
signup_files = ["app/signups.jsonl"]
activity_files = ["app/activity.json"]

[leads]
demo_request_files = ["app/demo_requests*.jsonl"]

[usage]
files = ["app/usage.jsonl"]
"""


def jsonl(*records: dict) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def signup(n: int, at: str) -> dict:
    return {"email": f"user{n}@example.com", "plan": "pro", "created_at": at, "utm_source": "newsletter"}


def activity(n: int, at: str, count: int = 1) -> dict:
    return {"email": f"user{n}@example.com", "kind": "watch_created", "count": count, "timestamp": at}


def tick(cli, monkeypatch, at: str) -> list[dict]:
    monkeypatch.setenv("ARKOPS_NOW", at)
    result = cli("run")
    assert result.code == 0, result.err
    return json.loads(cli("jobs", "--format", "json").out)


def trials(cli) -> dict[str, dict]:
    return {row["email"]: row["activity"] for row in json.loads(cli("trials", "list", "--format", "json").out)}


def demo_requests(workspace: Path) -> list[str]:
    from arkops.core.leads.query import demo_requests

    rt = Runtime(workspace / "data", workspace / "arkops.toml", workspace / ".env")
    window = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    return [r["email"] for r in demo_requests(rt, since=window[0], until=window[1])]


def usage(cli, email: str) -> int:
    rows = json.loads(cli("usage", "show", email, "--format", "json").out)
    return next(r["used"] for r in rows if r["metric"] == "watches")


def test_files_the_app_appends_between_ticks_are_taken_exactly_once(cli, workspace, monkeypatch, smtp_server):
    write_config(workspace, CONFIG)
    app = workspace / "app"
    app.mkdir()
    signups = app / "signups.jsonl"
    signups.write_text(jsonl(signup(1, "2026-03-02T08:10:00Z"), signup(2, "2026-03-02T08:20:00Z")))
    with open(signups, "a") as handle:
        handle.write(json.dumps(signup(3, "2026-03-02T08:50:00Z"))[:25])  # the app is mid-write
    activities = [activity(1, "2026-03-02T08:30:00Z"), activity(2, "2026-03-02T08:40:00Z", 2)]
    (app / "activity.json").write_text(json.dumps(activities))
    requests = app / "demo_requests.jsonl"
    requests.write_text(
        jsonl({"email": "lea@bigcorp.example", "company": "BigCorp", "created_at": "2026-03-02T08:05:00Z"})
    )
    (app / "usage.jsonl").write_text(
        jsonl({"email": "user1@example.com", "metric": "watches", "value": 4, "timestamp": "2026-03-02T08:00:00Z"})
    )

    jobs = {j["job"]: j for j in tick(cli, monkeypatch, "2026-03-02T09:00:00Z")}
    assert jobs["trials-track"]["detail"].startswith(
        "2 watched files, 4 new records: 2 signups, 2 activities, 0 already known, 0 skipped;"
    )
    assert jobs["leads-scan"]["counts"]["demo_requests"] == 1 and jobs["usage-check"]["counts"]["recorded"] == 1
    assert trials(cli) == {"user1@example.com": {"watch_created": 1}, "user2@example.com": {"watch_created": 2}}

    # Between ticks the app ends its line and writes more, rewrites its activity array whole with one more
    # record, rotates its demo requests (a line written just before the rotation), and appends usage.
    with open(signups, "a") as handle:
        handle.write(json.dumps(signup(3, "2026-03-02T08:50:00Z"))[25:] + "\n")
        handle.write(jsonl(signup(4, "2026-03-02T09:30:00Z")))
    activities.append(activity(3, "2026-03-02T09:35:00Z", 5))
    (app / "activity.json").write_text(json.dumps(activities, indent=2))
    with open(requests, "a") as handle:
        handle.write(jsonl({"email": "bo@smallco.example", "created_at": "2026-03-02T09:40:00Z"}))
    requests.rename(app / "demo_requests.jsonl.1")
    requests.write_text(jsonl({"email": "cy@example.org", "created_at": "2026-03-02T09:50:00Z"}))
    with open(app / "usage.jsonl", "a") as handle:
        handle.write(
            jsonl({"email": "user1@example.com", "metric": "watches", "value": 7, "timestamp": "2026-03-02T09:45:00Z"})
        )

    jobs = {j["job"]: j for j in tick(cli, monkeypatch, "2026-03-02T10:00:00Z")}
    assert {"signups": 2, "activities": 1, "skipped_records": 0}.items() <= jobs["trials-track"]["counts"].items()
    assert jobs["leads-scan"]["counts"]["demo_requests"] == 2 and jobs["usage-check"]["counts"]["recorded"] == 1
    assert sorted(trials(cli)) == [f"user{n}@example.com" for n in (1, 2, 3, 4)]
    assert trials(cli)["user3@example.com"] == {"watch_created": 5}
    assert sorted(demo_requests(workspace)) == ["bo@smallco.example", "cy@example.org", "lea@bigcorp.example"]
    assert usage(cli, "user1@example.com") == 7

    # Nothing new: nothing read, nothing counted again, no data file rewritten.
    data = workspace / "data"
    before = {p: p.stat().st_mtime_ns for p in data.glob("*.json")}
    jobs = {j["job"]: j for j in tick(cli, monkeypatch, "2026-03-02T11:00:00Z")}
    assert jobs["trials-track"]["counts"]["signups"] == 0 and jobs["leads-scan"]["counts"]["demo_requests"] == 0
    changed = [p.name for p, mtime in before.items() if p.stat().st_mtime_ns != mtime]
    assert "trials.json" not in changed and "usage.json" not in changed

    # An array rewritten otherwise than by appending (its first record gone) is read again from its start;
    # the activity already recorded is known by its key, so only the new record counts.
    (app / "activity.json").write_text(json.dumps([*activities[1:], activity(4, "2026-03-02T11:10:00Z", 3)]))
    jobs = {j["job"]: j for j in tick(cli, monkeypatch, "2026-03-02T12:00:00Z")}
    assert jobs["trials-track"]["detail"].startswith(
        "1 watched file, 3 new records: 0 signups, 1 activity, 2 already known, 0 skipped;"
    )
    assert trials(cli) == {
        "user1@example.com": {"watch_created": 1},
        "user2@example.com": {"watch_created": 2},
        "user3@example.com": {"watch_created": 5},
        "user4@example.com": {"watch_created": 3},
    }


def test_a_half_written_array_waits_and_doctor_checks_the_files(cli, workspace, monkeypatch):
    write_config(workspace, CONFIG)
    app = workspace / "app"
    app.mkdir()
    (app / "signups.jsonl").write_text(jsonl(signup(1, "2026-03-02T08:10:00Z")) + "not json\n")
    (app / "activity.json").write_text('[{"email": "user1@example.com", "kind": "watch_cr')  # mid-rewrite
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T09:00:00Z")
    result = cli("run", "--only", "trials-track")
    assert result.code == 0, result.err
    (job,) = [j for j in json.loads(cli("jobs", "--format", "json").out) if j["job"] == "trials-track"]
    assert "1 signup" in job["detail"] and "1 skipped (signups.jsonl at byte " in job["detail"]
    assert "not read yet: activity.json: " in job["detail"]
    (app / "activity.json").write_text(json.dumps([activity(1, "2026-03-02T08:30:00Z")]))
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T09:10:00Z")
    assert cli("run", "--only", "trials-track").code == 0
    assert trials(cli) == {"user1@example.com": {"watch_created": 1}}

    written = datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp()
    for path in app.iterdir():
        os.utime(path, (written, written))
    checks = {c["check"]: c for c in json.loads(cli("doctor", "--format", "json").out)}
    assert checks["signup files"] == {
        "check": "signup files",
        "status": "ok",
        "detail": "1 file readable, the newest written 10 min ago",
    }
    assert checks["demo request files"]["status"] == "fail"  # app/demo_requests*.jsonl matches nothing
    assert "app/demo_requests*.jsonl" in checks["demo request files"]["detail"]
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-12T09:00:00Z")  # ten days without a write
    checks = {c["check"]: c for c in json.loads(cli("doctor", "--format", "json").out)}
    assert (
        checks["activity files"]["status"] == "warn"
        and "none written in the last 48 hours" in (checks["activity files"]["detail"])
    )
