"""The outbox sends each message once or not at all: bad keys are refused at the door, one bad message never
blocks or resends the others, a killed flush never causes a second delivery, stale claims are recovered."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from email import message_from_bytes
from pathlib import Path

import pytest

from arkops.clock import parse_iso


def queue(workspace: Path, count: int, now: str = "2026-03-02T09:00:00Z") -> None:
    from arkops.core.notify import notify
    from arkops.runtime import Runtime

    rt = Runtime(workspace / "data", workspace / "arkops.toml", workspace / ".env")
    for n in range(count):
        notify(rt, "test", {}, key=f"load:{n}", now=parse_iso(now), to=f"user{n}@example.com")


def outbox(workspace: Path) -> dict[str, dict]:
    return json.loads((workspace / "data" / "outbox.json").read_text())["messages"]


def delivered_ids(smtp_server) -> list[str]:
    return [message_from_bytes(raw)["Message-ID"] for raw in smtp_server.received]


def test_a_key_that_cannot_be_a_header_is_refused_and_nothing_queued(cli, workspace):
    result = cli("mail", "send", "test", "--to", "d@example.com", "--key", "k\r\nX: y")
    assert result.code == 3
    assert (
        result.err == "arkops: error: idempotency key 'k\\r\\nX: y': must be 1-300 printable characters on one line\n"
    )
    assert not (workspace / "data" / "outbox.json").exists()


def test_one_message_that_cannot_be_built_fails_alone_and_nothing_is_sent_twice(cli, workspace, smtp_server):
    queue(workspace, 3)
    path = workspace / "data" / "outbox.json"
    data = json.loads(path.read_text())
    data["messages"]["2"]["subject"] = "broken\r\nBcc: everyone@example.com"  # as an older arkops could have stored it
    path.write_text(json.dumps(data))
    codes = [cli("mail", "flush").code for _ in range(3)]
    assert codes == [0, 0, 0]
    assert sorted(message_from_bytes(raw)["To"] for raw in smtp_server.received) == [
        "user0@example.com",
        "user2@example.com",
    ]
    states = {k: m["state"] for k, m in outbox(workspace).items()}
    assert states == {"1": "sent", "2": "failed", "3": "sent"}
    assert "cannot be sent" in outbox(workspace)["2"]["last_error"]


def test_a_claim_from_another_host_is_recovered_after_its_lease(cli, workspace, monkeypatch):
    queue(workspace, 1)
    path = workspace / "data" / "outbox.json"
    data = json.loads(path.read_text())
    data["messages"]["1"].update(state="sending", claimed_by="old-container:4242", claimed_at="2026-03-02T09:00:00Z")
    path.write_text(json.dumps(data))
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T09:20:00Z")
    assert cli("mail", "flush").code == 0
    assert outbox(workspace)["1"]["state"] == "sending"  # inside its lease: maybe still being sent over there
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T09:31:00Z")
    checks = {c["check"]: c for c in json.loads(cli("doctor", "--format", "json").out)}
    assert checks["outbox"]["status"] == "warn" and "1 (sending)" in checks["outbox"]["detail"]
    result = cli("mail", "flush")
    assert result.code == 0 and "1 recovered" in result.err
    assert outbox(workspace)["1"]["state"] == "unknown"  # never resent blindly: `mail retry 1` does it
    retry = cli("mail", "retry", "1")  # no SMTP_HOST in this test: it goes back in line and stays there
    assert retry.code == 3 and "SMTP_HOST: not set" in retry.err
    assert outbox(workspace)["1"]["state"] == "pending"


def test_an_unreachable_server_is_tried_once_per_flush(cli, workspace, silent_server, monkeypatch):
    write = workspace / "arkops.toml"
    write.write_text("[mail]\ntimeout_seconds = 0.5\n")
    queue(workspace, 10)
    started = time.monotonic()
    result = cli("mail", "flush")
    assert time.monotonic() - started < 3  # one connection attempt, not ten
    assert result.code == 4
    states = sorted(m["state"] for m in outbox(workspace).values())
    assert states == ["pending"] * 10
    assert sorted(m["attempts"] for m in outbox(workspace).values()) == [0] * 9 + [1]


@pytest.mark.slow
def test_killing_flushes_at_random_points_never_sends_a_message_twice(workspace, smtp_server):
    queue(workspace, 200)
    env = {**os.environ, "ARKOPS_NOW": "2026-03-02T09:00:00Z"}
    rng = random.Random(7)
    killed_mid_flush = 0
    for _ in range(6):
        before = len(smtp_server.received)
        proc = subprocess.Popen([sys.executable, "-m", "arkops", "mail", "flush"], cwd=workspace, env=env)
        # wait until this flush is delivering, then kill it at a random point of its work
        while proc.poll() is None and len(smtp_server.received) == before:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.15))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed_mid_flush += 1
        proc.wait(timeout=30)
    final = subprocess.run(
        [sys.executable, "-m", "arkops", "mail", "flush"], cwd=workspace, env=env, capture_output=True, text=True
    )
    assert final.returncode == 0, final.stderr
    assert killed_mid_flush > 0
    ids = delivered_ids(smtp_server)
    assert len(ids) == len(set(ids))  # no message delivered twice
    states = [m["state"] for m in outbox(workspace).values()]
    assert "sending" not in states  # every claim of a killed flush was recovered
    assert set(states) <= {"sent", "unknown"}
    assert states.count("unknown") <= 20 * killed_mid_flush  # at most the group in flight per kill
    assert states.count("sent") == len(ids) - sum(
        1 for m in outbox(workspace).values() if m["state"] == "unknown" and m["message_id"] in set(ids)
    )
