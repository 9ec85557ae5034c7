"""A first run as the README tells it: its installation commands, run as written in a new folder, give a green
doctor against a Stripe-compatible server and an SMTP server on loopback, and a cron line cron can run.
Before that: the example values of .env.example, a missing --env-file and an empty data directory."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, run_arkops
from stripe_server import (
    KEY,
    StripeShaped,
    stripe_server,  # noqa: F401  (a fixture)
)

from arkops.config import ENV_EXAMPLE

SECRET = "whsec_" + "firstrun0123456789abcdef"
# What the operator puts in place of each example value (the servers' own values are added by the test).
FILLED = {
    "STRIPE_SECRET_KEY": KEY,
    "STRIPE_WEBHOOK_SECRET": SECRET,
    "SMTP_USER": "",
    "SMTP_PASSWORD": "",
    "MAIL_FROM": "ops@example.com",
    "ARKOPS_ALERT_TO": "owner@example.com",
}
# Where the test's servers are: the environment of the test process says it; the installation learns it from .env.
SERVERS = ("STRIPE_API_BASE", "SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY")


def readme_steps() -> list[str]:
    """The commands of the README's installation block, comments left out."""
    section = (ROOT / "README.md").read_text().split("## A real installation", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]


def price_like_stripe(params: dict) -> dict:
    """A price as Stripe answers its creation: numbers as numbers, the recurring interval as an object."""
    return {
        "id": f"price_{params['lookup_key']}",
        "object": "price",
        "active": True,
        "product": params["product"],
        "unit_amount": int(params["unit_amount"]),
        "currency": params["currency"],
        "recurring": {"interval": params["recurring"]["interval"], "interval_count": 1},
        "lookup_key": params["lookup_key"],
        "metadata": params.get("metadata", {}),
    }


def fake_crontab(folder: Path) -> Path:
    """`crontab` as the system has it, on a file: `crontab -` installs stdin, `crontab -l` prints it."""
    folder.mkdir(exist_ok=True)
    script = folder / "crontab"
    script.write_text(
        '#!/bin/sh\nif [ "$1" = "-l" ]; then cat "$CRONTAB_FILE" 2>/dev/null || exit 1; else cat > "$CRONTAB_FILE"; fi\n'
    )
    script.chmod(0o755)
    return folder


def installation_env(tmp_path: Path) -> dict[str, str]:
    """A shell where `arkops` is this checkout's and nothing of the test process's arkops settings leaks in."""
    leak = {"ARKOPS_DATA_DIR", "ARKOPS_CONFIG", "ARKOPS_NOW", *FILLED, *SERVERS}
    env = {k: v for k, v in os.environ.items() if k not in leak}
    tools = fake_crontab(tmp_path / "bin")
    env["PATH"] = os.pathsep.join([str(tools), str(Path(sys.executable).parent), "/usr/bin", "/bin"])
    env["CRONTAB_FILE"] = str(tmp_path / "crontab.txt")
    return env


def fill(env_file: Path) -> None:
    """The operator's edit of .env: every example value replaced, the servers' addresses added."""
    lines = []
    for line in env_file.read_text().splitlines():
        name = line.partition("=")[0]
        lines.append(f"{name}={FILLED[name]}" if name in FILLED else line)
    lines += [f"{name}={os.environ[name]}" for name in SERVERS]
    env_file.write_text("\n".join(lines) + "\n")


@pytest.fixture
def stripe_account(stripe_server: StripeShaped) -> StripeShaped:  # noqa: F811
    stripe_server.lists["/v1/prices"] = []  # an account without prices yet
    stripe_server.responders["/v1/prices"] = price_like_stripe
    return stripe_server


def test_the_readme_installation_steps_give_a_green_doctor_and_a_cron_line(tmp_path, stripe_account, smtp_server):
    folder = tmp_path / "install"
    folder.mkdir()
    env = installation_env(tmp_path)
    steps = readme_steps()
    assert steps[0].startswith("arkops init") and steps[-1] == "arkops cron print | crontab -", steps
    outputs = {}
    for step in steps:
        done = subprocess.run(["bash", "-c", step], cwd=folder, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (step, done.stdout, done.stderr)
        outputs[step] = done
        if step.startswith("cp .env.example .env"):
            assert (folder / ".env").read_text() == ENV_EXAMPLE
            assert oct((folder / ".env").stat().st_mode & 0o777) == "0o600"
            fill(folder / ".env")
    assert oct((folder / "data").stat().st_mode & 0o777) == oct((folder / "logs").stat().st_mode & 0o777) == "0o700"
    assert "3 created" in outputs["arkops billing plans push"].stderr
    doctor = outputs["arkops doctor --smtp --stripe"].stdout
    assert " fail " not in doctor, doctor
    status = {cells[0]: cells[1] for line in doctor.splitlines() if len(cells := re.split(r"\s{2,}", line)) > 2}
    for check in ("stripe api", "stripe prices", "smtp", "stripe key", "MAIL_FROM", "ARKOPS_ALERT_TO", "templates"):
        assert status[check] == "ok", (check, doctor)
    (cron_line,) = (tmp_path / "crontab.txt").read_text().splitlines()
    assert cron_line.startswith(f"*/5 * * * * cd {folder} && ")
    assert cron_line.endswith(f" run >> {folder / 'logs' / 'arkops.log'} 2>&1")
    # the line cron would run works where cron runs it: no terminal, its own shell
    tick = subprocess.run(["sh", "-c", cron_line.split(" ", 5)[5]], env=env, capture_output=True, timeout=120)
    assert tick.returncode == 0, (folder / "logs" / "arkops.log").read_text()
    assert "failed" not in (folder / "logs" / "arkops.log").read_text()

    def arkops_json(*args: str) -> list[dict]:
        done = subprocess.run(
            ["arkops", *args, "--format", "json"], cwd=folder, env=env, capture_output=True, text=True
        )
        return json.loads(done.stdout)

    assert {job["job"]: job["outcome"] for job in arkops_json("jobs")}["stripe-sync"] == "ok"  # it reached Stripe
    assert {check["check"]: check["status"] for check in arkops_json("doctor")}["crontab"] == "ok"


def test_the_example_values_are_named_and_no_server_is_called_with_them(tmp_path):
    folder = tmp_path / "install"
    folder.mkdir()
    env = installation_env(tmp_path)
    assert run_arkops("init", cwd=folder, env=env).code == 0
    (folder / ".env").write_text((folder / ".env.example").read_text())
    clean = {k: v for k, v in env.items() if k != "PATH"}
    done = subprocess.run(
        [sys.executable, "-m", "arkops", "doctor", "--stripe", "--smtp", "--format", "json"],
        cwd=folder,
        env={**clean, "PATH": env["PATH"]},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    checks = {c["check"]: c for c in json.loads(done.stdout)}
    example = "is still the example value"
    assert checks["stripe key"] == {
        "check": "stripe key",
        "status": "fail",
        "detail": "STRIPE_SECRET_KEY is still the example value; set it",
    }
    for name in ("stripe webhook secret", "smtp settings", "MAIL_FROM", "ARKOPS_ALERT_TO"):
        assert checks[name]["status"] == "fail" and example in checks[name]["detail"], checks[name]
    assert checks["stripe api"]["detail"].startswith("not called: STRIPE_SECRET_KEY is still the example value")
    assert checks["smtp"]["detail"].startswith("not connected: SMTP_HOST is still the example value")
    sync = subprocess.run(
        [sys.executable, "-m", "arkops", "stripe", "sync"], cwd=folder, env=env, capture_output=True, text=True
    )
    assert sync.returncode == 3
    assert sync.stderr == ("arkops: error: environment: STRIPE_SECRET_KEY: is still the example value; set it\n")


def test_a_missing_env_file_is_a_usage_error_and_an_empty_data_directory_says_run_init(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("ARKOPS_DATA_DIR", "ARKOPS_CONFIG")}
    for args in (["--env-file", "nope.env", "status"], ["status", "--env-file", "nope.env"]):
        done = run_arkops(*args, cwd=tmp_path, env=env)
        assert done.code == 2 and "Invalid value for '--env-file': 'nope.env' does not exist" in done.err
    (tmp_path / "empty").mkdir()
    for args in (["status"], ["payments", "report"], ["doctor"], ["jobs"], ["run"], ["cron", "print"]):
        done = run_arkops("--data-dir", "empty", *args, cwd=tmp_path, env=env)
        assert done.code == 3, (args, done.err)
        assert done.err == (
            "arkops: error: empty is not an arkops data directory (empty or not initialised): "
            "run `arkops init` here, or point --data-dir / ARKOPS_DATA_DIR at it\n"
        )
        assert done.out == ""
    wrong = run_arkops("status", "--data-dir", "nowhere", cwd=tmp_path, env=env)
    assert wrong.code == 3 and "no arkops data directory at nowhere: run `arkops init`" in wrong.err
    for free in (["--help"], ["completion", "bash"], ["init", "--help"], ["trials", "--help"]):
        assert run_arkops("--data-dir", "empty", *free, cwd=tmp_path, env=env).code == 0, free
    assert run_arkops("--data-dir", "empty", "init", cwd=tmp_path, env=env).code == 0
    assert run_arkops("--data-dir", "empty", "status", cwd=tmp_path, env=env).code == 0
