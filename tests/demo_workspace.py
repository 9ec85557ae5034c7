"""One demo workspace (`arkops demo`) for tests that only read it, and how to run arkops inside it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Settings of the test process that must not reach a command run in the demo (it has its own .env).
SCRUB = (
    "ARKOPS_DATA_DIR",
    "ARKOPS_CONFIG",
    "ARKOPS_NOW",
    "ARKOPS_ALERT_TO",
    "MAIL_FROM",
    "SMTP_HOST",
    "STRIPE_SECRET_KEY",
    "COLUMNS",
)


def in_demo(folder: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in SCRUB}
    return subprocess.run(
        [sys.executable, "-m", "arkops", *args],
        cwd=folder,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory) -> Path:
    """The demo, built once for the session; a test that changes it works on a copy."""
    folder = tmp_path_factory.mktemp("demo-workspace") / "demo"
    done = in_demo(folder.parent, "demo", str(folder))
    assert done.returncode == 0, done.stderr
    return folder
