"""Shared fixtures: an isolated workspace, the real CLI, a real SMTP server on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import settings

import arkops.core  # noqa: F401  (the domains register their databases and config tables, as every command does)
from arkops.store import Store

ROOT = Path(__file__).resolve().parent.parent

# Property tests judge correctness, not speed: a loaded 2-core CI machine must not fail them on hypothesis's
# 200 ms per-example deadline (speed has its benchmarks in bench/).
settings.register_profile("arkops", deadline=None)
settings.load_profile("arkops")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A fresh working folder: config, data dir and .env all point inside tmp_path."""
    for name in (
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "STRIPE_API_BASE",
        "SMTP_HOST",
        "SMTP_PORT",
        "SMTP_USER",
        "SMTP_PASSWORD",
        "SMTP_SECURITY",
        "MAIL_FROM",
        "ARKOPS_ALERT_TO",
        "ARKOPS_NOW",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARKOPS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ARKOPS_CONFIG", str(tmp_path / "arkops.toml"))
    monkeypatch.setenv("MAIL_FROM", "ops@example.com")
    monkeypatch.setenv("ARKOPS_ALERT_TO", "owner@example.com")
    Store(tmp_path / "data").initialise()  # as `arkops init` leaves it
    return tmp_path


@pytest.fixture
def cli(workspace, capsys):
    """Run arkops in-process through main(): the real exit-code handling."""
    from arkops.cli import main

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        else:
            code = 0
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def run_arkops(
    *args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 60, input: str | None = None
) -> Result:
    """Run arkops as a separate process (for locking, crash and concurrency tests)."""
    proc = subprocess.run(
        [sys.executable, "-m", "arkops", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=timeout,
        input=input,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


@dataclass
class SmtpBehaviour:
    """What the test SMTP server answers; tests change it between runs."""

    data_reply: str | None = None  # e.g. "451 4.3.0 try later" or "550 5.1.1 no such user"
    rcpt_reply: str | None = None
    drop_after_data: bool = False
    received: list = field(default_factory=list)


class RecordingHandler:
    def __init__(self, behaviour: SmtpBehaviour) -> None:
        self.behaviour = behaviour

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.behaviour.rcpt_reply:
            return self.behaviour.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.behaviour.drop_after_data:
            self.behaviour.received.append(envelope.content)
            server.transport.close()
            return "250 OK"
        if self.behaviour.data_reply:
            return self.behaviour.data_reply
        self.behaviour.received.append(envelope.content)
        return "250 OK queued"


@pytest.fixture
def smtp_server(monkeypatch):
    """A real SMTP server (aiosmtpd) on loopback; SMTP_* point at it."""
    from aiosmtpd.controller import Controller

    behaviour = SmtpBehaviour()
    port = free_port()
    controller = Controller(RecordingHandler(behaviour), hostname="127.0.0.1", port=port, enable_SMTPUTF8=True)
    controller.start()
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(port))
    monkeypatch.setenv("SMTP_SECURITY", "none")
    yield behaviour
    controller.stop()


@pytest.fixture
def silent_server(monkeypatch):
    """Accepts TCP connections and never says a word (a hung SMTP server)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    held = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(sock.getsockname()[1]))
    monkeypatch.setenv("SMTP_SECURITY", "none")
    yield
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    sock.close()


def write_config(workspace: Path, text: str) -> None:
    (workspace / "arkops.toml").write_text(text, encoding="utf-8")


def wait_until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
