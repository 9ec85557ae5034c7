"""Shared fixtures: an isolated workspace, the real CLI, a real SMTP server on loopback."""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked slow (many processes, a large history) start first: the suite runs on two pytest-xdist
    workers, and a 10-20 s test picked up last would leave one core idle while it finishes alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def free_port() -> int:
    """A loopback port nobody holds, from below the kernel's ephemeral range: a port that bind(0) hands out
    comes from that range, and an outgoing connection of a test running beside this one (pytest-xdist) could
    take it before our server binds it."""
    try:
        ephemeral_start = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except OSError:
        ephemeral_start = 32768  # the usual start where /proc does not say
    while True:
        port = random.randrange(max(ephemeral_start // 2, 1024), ephemeral_start)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


@contextmanager
def serving(server: socketserver.BaseServer) -> Iterator[None]:
    """Serve `server` from a thread while the block runs, then stop it within milliseconds: serve_forever's
    default 0.5 s poll made every shutdown() wait up to half a second, about 20 s over the suite."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


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
        while not stop.is_set():
            conn, _ = sock.accept()
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(sock.getsockname()[1]))
    monkeypatch.setenv("SMTP_SECURITY", "none")
    yield
    stop.set()
    socket.create_connection(sock.getsockname()).close()  # wakes the accept() the thread waits in, now
    thread.join()
    for conn in held:
        conn.close()
    sock.close()


# The test's own settings, which a command run inside a demo workspace must not see (it has its own).
OUTSIDE_SETTINGS = (
    "ARKOPS_DATA_DIR",
    "ARKOPS_CONFIG",
    "ARKOPS_NOW",
    "ARKOPS_ALERT_TO",
    "MAIL_FROM",
    "SMTP_HOST",
    "STRIPE_SECRET_KEY",
    "STRIPE_API_BASE",
)


@dataclass
class Demo:
    folder: Path
    summary: dict  # what `arkops demo --format json` printed
    seconds: float  # how long building it took


def build_demo(folder: Path, *options: str) -> tuple[subprocess.CompletedProcess, float]:
    """`arkops demo DIR` in its own process, with none of the test's settings, and how long it took."""
    env = {k: v for k, v in os.environ.items() if k not in OUTSIDE_SETTINGS}
    started = time.monotonic()
    built = subprocess.run(
        [sys.executable, "-m", "arkops", "demo", str(folder), *options],
        cwd=folder.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return built, time.monotonic() - started


def tree_listing(folder: Path) -> dict[str, tuple[int, int | None]]:
    """Every file and folder under `folder` with its size and modification time. A lock file's time is left out:
    readers take the store's locks too, and filelock 4.0 (CI's lowest pass) rewrites the file when it locks."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, None if "locks" in p.parts else p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture(scope="session")
def shared_demo(tmp_path_factory) -> Iterator[Demo]:
    """One `arkops demo` workspace for the whole session, for the tests that only read it (building one takes
    2-4 s). A test that writes works on `copy_of_demo`; one that tests building builds its own. At the end of the
    session the workspace must be exactly as built, so a reader that wrote fails the run."""
    folder = tmp_path_factory.mktemp("shared") / "demo"
    built, seconds = build_demo(folder, "--format", "json")
    assert built.returncode == 0, built.stderr
    before = tree_listing(folder)
    yield Demo(folder, json.loads(built.stdout), seconds)
    after = tree_listing(folder)
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    assert changed == [], f"a test that only reads the shared demo workspace changed {changed}: give it a copy"


def copy_of_demo(demo: Demo, into: Path) -> Path:
    """A copy of the shared demo workspace a test may change. The demo's data names a few files by absolute path
    (promo counter files, the access log), so a copy suits commands that read those and write only data/."""
    copy = into / "demo"
    shutil.copytree(demo.folder, copy, symlinks=True)
    return copy


def write_config(workspace: Path, text: str) -> None:
    (workspace / "arkops.toml").write_text(text, encoding="utf-8")


def wait_until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
