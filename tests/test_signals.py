"""SIGTERM and SIGINT (systemd, `timeout`, a container stop, Ctrl-C) and kill -9 end a command cleanly.

The outbox claims one message at a time, so a stopped flush leaves at most one message `unknown` and
every message it had not reached `pending`; the next flush delivers each of those exactly once.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from email import message_from_bytes
from pathlib import Path

import pytest
from conftest import RecordingHandler, SmtpBehaviour, free_port, run_arkops, wait_until
from test_outbox_reliability import outbox, queue

NOW = "2026-03-02T09:00:00Z"


class SlowHandler(RecordingHandler):
    """Answers each message after `delay` seconds, as a loaded or far-away server does."""

    def __init__(self, behaviour: SmtpBehaviour, delay: float) -> None:
        super().__init__(behaviour)
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def slow_smtp(monkeypatch):
    from aiosmtpd.controller import Controller

    behaviour = SmtpBehaviour()
    handler = SlowHandler(behaviour, 0.4)
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(controller.port))
    monkeypatch.setenv("SMTP_SECURITY", "none")
    yield behaviour, handler
    controller.stop()


def delivered(behaviour: SmtpBehaviour) -> list[str]:
    return [message_from_bytes(raw)["X-Arkops-Key"] for raw in behaviour.received]


def start(workspace: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "ARKOPS_NOW": NOW}
    return subprocess.Popen(
        [sys.executable, "-m", "arkops", *args], cwd=workspace, env=env, stderr=subprocess.PIPE, text=True
    )


def states(workspace: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in outbox(workspace).values():
        counts[message["state"]] = counts.get(message["state"], 0) + 1
    return counts


@pytest.mark.parametrize(("how", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGKILL, -9)])
def test_a_flush_stopped_after_a_few_deliveries_leaves_the_rest_pending(workspace, slow_smtp, how, code):
    behaviour, handler = slow_smtp
    queue(workspace, 25)
    flush = start(workspace, "mail", "flush")
    assert wait_until(lambda: len(behaviour.received) >= 4, timeout=30)
    flush.send_signal(how)
    assert flush.wait(timeout=30) == code, flush.stderr.read()
    if how != signal.SIGKILL:
        assert f"arkops: stopped by {how.name}" in flush.stderr.read()
    flush.stderr.close()
    after_stop = states(workspace)
    sent_before = len(behaviour.received)
    # Only the message in flight may be anything but sent or pending: SIGTERM and SIGINT let it finish,
    # kill -9 leaves it `sending` (and the next flush calls it `unknown`).
    in_flight = after_stop.get("sending", 0) + after_stop.get("unknown", 0)
    assert in_flight <= (1 if how == signal.SIGKILL else 0), after_stop
    assert after_stop["sent"] in (sent_before, sent_before - 1)  # a kill may land between delivery and record
    assert after_stop["pending"] == 25 - after_stop["sent"] - in_flight

    handler.delay = 0
    assert run_arkops("mail", "flush", env={"ARKOPS_NOW": NOW}, cwd=workspace).code == 0
    keys = delivered(behaviour)
    assert len(keys) == len(set(keys)), "a message was delivered twice"
    final = states(workspace)
    assert final.get("pending", 0) == 0 and final.get("sending", 0) == 0
    assert final.get("unknown", 0) <= (1 if how == signal.SIGKILL else 0), final
    assert final["sent"] + final.get("unknown", 0) == 25
    assert len(keys) >= final["sent"]  # every message sent was delivered once, the unknown one at most once


def test_a_second_signal_stops_a_send_that_hangs_and_the_message_is_unknown(workspace, silent_server):
    (workspace / "arkops.toml").write_text("[mail]\ntimeout_seconds = 60\n")
    queue(workspace, 3)
    flush = start(workspace, "mail", "flush")
    time.sleep(1.5)  # connecting to a server that never greets
    flush.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert flush.poll() is None  # the first signal waits for the message in flight
    started = time.monotonic()
    flush.send_signal(signal.SIGTERM)
    assert flush.wait(timeout=10) == 143
    assert time.monotonic() - started < 5
    flush.stderr.close()
    assert sorted(m["state"] for m in outbox(workspace).values()) == ["pending", "pending", "unknown"]


def test_a_stopped_run_records_the_job_as_interrupted_and_releases_its_lock(workspace, slow_smtp):
    behaviour, handler = slow_smtp
    queue(workspace, 10)
    run = start(workspace, "run", "--only", "mail-flush", "--force")
    assert wait_until(lambda: len(behaviour.received) >= 2, timeout=30)
    run.send_signal(signal.SIGTERM)
    assert run.wait(timeout=30) == 143
    run.stderr.close()
    job = json.loads((workspace / "data" / "jobs.json").read_text())["runs"]["mail-flush"]
    assert job["outcome"] == "interrupted" and job["running"] is False
    assert job["detail"].startswith("stopped by SIGTERM")
    handler.delay = 0
    again = run_arkops("run", "--only", "mail-flush", "--force", env={"ARKOPS_NOW": NOW}, cwd=workspace)
    assert again.code == 0, again.err  # no lock left behind
    assert states(workspace) == {"sent": 10}


def test_flush_exits_4_when_the_server_is_unreachable_even_if_a_malformed_message_failed(cli, workspace, monkeypatch):
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(free_port()))  # nothing listens there
    monkeypatch.setenv("SMTP_SECURITY", "none")
    queue(workspace, 3)
    path = workspace / "data" / "outbox.json"
    data = json.loads(path.read_text())
    # As an older arkops, or a hand edit, could have stored them:
    data["messages"]["1"]["subject"] = "broken\r\nBcc: everyone@example.com"
    data["messages"]["2"]["to"] = "user1@example.com\r\nBcc: everyone@example.com"
    path.write_text(json.dumps(data))
    result = cli("mail", "flush")
    assert result.code == 4, result.err
    assert "outbox: 0 sent, 1 retry, 2 failed" in result.err
    assert "\r" not in result.err and "\n" not in result.err.replace("\n  message ", "").rstrip("\n")
    assert "message 2 (test to user1@example.com\\r\\nBcc: everyone@example.com): failed" in result.err
