"""What a person at a terminal reads: every listing and report fits 80 columns on the demo and breaks no value
(a word, an email, an amount, a date) across lines; data from files, config and Stripe prints as written, never
as Rich markup; shell completion; a mistyped command gets the closest ones."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cli_params import choices_of
from conftest import Demo, Result, copy_of_demo, write_config
from dotenv import dotenv_values

from arkops.cli.reference import leaf_commands

WIDTH = 80

# Every listing and report of the demo, as an operator types it; `{customer}` is a paying customer's address.
LISTINGS = [
    "doctor",
    "status",
    "jobs",
    "jobs --next",
    "trials list",
    "trials list --archived",
    "trials show trial03@example.org",
    "leads list",
    "leads list --hot --since 30d",
    "leads show trial03@example.org",
    "leads stats",
    "payments report",
    "payments cohorts",
    "payments report --months 3",
    "payments movements",
    "payments list",
    "payments failed",
    "billing subscriptions",
    "billing plans",
    "billing subscription {customer}",
    "usage show {customer}",
    "usage report",
    "usage export --format table",
    "promo list",
    "promo show LAUNCH30",
    "promo stats",
    "promo export --format table",
    "promo validate LAUNCH30 --plan pro",
    "promo remaining LAUNCH30",
    "funnel report",
    "funnel report --by source",
    "funnel report --by week --cohort",
    "mail outbox",
    "mail outbox --archived",
    "mail suppressed",
    "audit",
    "crm status",
]
# Commands with a table format that change data or reach a service: not run on the shared demo.
NOT_LISTINGS = {
    "demo": "builds a workspace",
    "trials track": "records activations (its --summary is a line, not a table)",
    "billing checkout": "calls Stripe",
    "billing portal": "calls Stripe",
    "billing migrate": "calls Stripe",
    "promo redeem": "redeems a slot",
    "funnel check": "queues alerts",
    "run": "runs the jobs (its lines are the cron log's, one per job)",
}
CAPTION = {"not", "shown", "at", "this", "width:", "--columns", "or", "--format", "csv"}
# A value that must never be cut: an email, a date or time, an amount or a number.
ATOM = re.compile(r".*@.*|\d{4}-\d{2}.*|[-+]?\D{0,3}\d[\d.,]*\D{0,3}")


def demo_env(folder: Path, monkeypatch: pytest.MonkeyPatch, columns: int) -> None:
    """The demo's .env in the environment (so loading it changes nothing the test does not restore)."""
    for name, value in dotenv_values(folder / ".env").items():
        monkeypatch.setenv(name, value or "")
    for name in ("ARKOPS_DATA_DIR", "ARKOPS_CONFIG", "ARKOPS_ALERT_TO", "MAIL_FROM", "SMTP_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.chdir(folder)


def run_at(folder: Path, command: str, columns: int, monkeypatch, capsys) -> Result:
    from arkops.cli import main

    with monkeypatch.context() as scoped:
        demo_env(folder, scoped, columns)
        capsys.readouterr()
        try:
            main(command.split())
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def tokens(text: str) -> set[str]:
    return {word.strip(",;()") for word in text.split()} - {""}


@pytest.fixture(scope="module")
def demo_workspace(shared_demo: Demo, tmp_path_factory) -> Path:
    # A copy: a few listings are audited commands (`billing plans`, `billing subscription`, `promo remaining`
    # may write), so running them appends audit lines and creates the privacy key.
    return copy_of_demo(shared_demo, tmp_path_factory.mktemp("terminal"))


@pytest.fixture(scope="module")
def customer(demo_workspace) -> str:
    rows = json.loads(
        subprocess.run(
            [sys.executable, "-m", "arkops", "billing", "subscriptions", "--status", "active", "--format", "json"],
            cwd=demo_workspace,
            capture_output=True,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("ARKOPS_")},
        ).stdout
    )
    return sorted(row["customer_email"] for row in rows)[0]


def test_every_listing_with_a_table_is_run_below():
    ran = {" ".join(word for word in command.split() if not word.startswith(("-", "{"))) for command in LISTINGS}
    tables = set()
    for path, command, _ in leaf_commands():
        formats = [p for p in command.params if p.name == "format" and not p.hidden]
        if formats and "table" in (choices_of(formats[0]) or []):
            tables.add(path)
    missing = {path for path in tables - set(NOT_LISTINGS) if not any(r.startswith(path) for r in ran)}
    assert missing == set(), "a new listing: add it to LISTINGS (or to NOT_LISTINGS with why)"


@pytest.mark.parametrize("command", LISTINGS)
def test_at_80_columns_no_line_is_longer_and_no_value_is_broken(command, demo_workspace, customer, monkeypatch, capsys):
    command = command.format(customer=customer)
    narrow = run_at(demo_workspace, command, WIDTH, monkeypatch, capsys)
    wide = run_at(demo_workspace, command, 1000, monkeypatch, capsys)
    assert narrow.code == wide.code and narrow.code in (0, 1), narrow.err  # doctor and promo validate: 1 is a verdict
    assert narrow.out.strip(), narrow.err
    long = [line for line in narrow.out.splitlines() if len(line) > WIDTH]
    assert long == [], "\n".join(long)
    whole = tokens(wide.out)
    for token in tokens(narrow.out) - whole - CAPTION:
        assert token.endswith("…"), f"{token!r} is a value broken across lines:\n{narrow.out}"
        cut = [word for word in whole if word.startswith(token[:-1])]
        assert cut and not any(ATOM.fullmatch(word) for word in cut), f"{token!r} cuts a value:\n{narrow.out}"


def test_piped_tables_are_80_wide_and_booleans_and_empty_cells_read_as_words(demo_workspace):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARKOPS_") and k != "COLUMNS"}
    done = subprocess.run(
        [sys.executable, "-m", "arkops", "leads", "list", "--columns", "lead,hot,email"],
        cwd=demo_workspace,
        capture_output=True,
        text=True,
        env=env,
    )
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["lead", "hot", "email"] and max(len(line) for line in lines) <= WIDTH
    cells = {line.split()[1] for line in lines[1:]}
    assert cells <= {"yes", "no"} and cells == {"yes", "no"}
    assert any(line.split()[-1] == "–" for line in lines[1:])  # a visitor without an address
    assert "False" not in done.stdout and "None" not in done.stdout and "{}" not in done.stdout
    csv = subprocess.run(
        [sys.executable, "-m", "arkops", "leads", "list", "--columns", "lead,hot", "--format", "csv"],
        cwd=demo_workspace,
        capture_output=True,
        text=True,
        env=env,
    )
    assert csv.stdout.splitlines()[0] == "lead,hot" and csv.stdout.splitlines()[1].endswith(",True")  # CSV as before
    bad = subprocess.run(
        [sys.executable, "-m", "arkops", "leads", "list", "--columns", "lead,emial"],
        cwd=demo_workspace,
        capture_output=True,
        text=True,
        env=env,
    )
    assert bad.returncode == 2 and "Invalid value for '--columns': 'emial' is not one of" in bad.stderr
    assert "Did you mean 'email'?" in bad.stderr


class StripeRefusing(BaseHTTPRequestHandler):
    """A Stripe-compatible server that refuses every key with a message full of brackets."""

    def do_GET(self) -> None:
        body = json.dumps(
            {"error": {"type": "invalid_request_error", "message": "[bold]Invalid API Key[/] for [leads] sources"}}
        ).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_brackets_from_data_config_and_stripe_print_as_written(cli, workspace, monkeypatch):
    write_config(workspace, '[plans.pro]\nname = "[bold]Pro[/]"\nprice = 2900\n')
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T09:00:00Z")
    assert cli("trials", "signup", "ana@example.com", "--plan", "pro", "--source", "[leads] news[/]").code == 0
    assert "[leads] news[/]" in cli("trials", "list", "--columns", "email,source").out
    assert "[bold]Pro[/]" in cli("billing", "plans").out
    server = ThreadingHTTPServer(("127.0.0.1", 0), StripeRefusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("STRIPE_API_BASE", f"http://127.0.0.1:{server.server_address[1]}")
        monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_" + "brackets0123456789")
        doctor = cli("doctor", "--stripe")
    finally:
        server.shutdown()
    flat = " ".join(doctor.out.split())  # the detail column wraps between words
    assert "[trials] upgrade_url, [trials] demo_url not set" in flat
    assert "[leads] sources not set" in flat
    assert "[bold]Invalid API Key[/] for [leads] sources" in flat
    assert "Invalid API Key for sources" not in flat


def test_bash_completes_commands_plans_jobs_and_templates(workspace):
    venv = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": os.pathsep.join([venv, os.environ.get("PATH", "")])}
    script = subprocess.run(
        [sys.executable, "-m", "arkops", "completion", "bash"], capture_output=True, text=True, env=env, check=True
    ).stdout

    def complete(*words: str) -> list[str]:
        line = " ".join(f"'{w}'" for w in words)
        probe = f'{script}\nCOMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _arkops_completion arkops; printf "%s\\n" "${{COMPREPLY[@]}}"'
        done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, env=env, cwd=workspace)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert complete("arkops", "tr") == ["trials"]
    assert complete("arkops", "trials", "l") == ["list"]
    assert complete("arkops", "run", "--only", "trials-") == ["trials-track", "trials-nudge"]
    assert complete("arkops", "mail", "preview", "trial_day1") == [
        "trial_day12",
        "trial_day14_converted",
        "trial_day14_ended",
        "trial_day1_demo",
        "trial_day1_help",
    ]
    assert complete("arkops", "trials", "signup", "a@example.com", "--plan", "") == ["business", "pro", "starter"]
    for shell in ("zsh", "fish"):
        other = subprocess.run([sys.executable, "-m", "arkops", "completion", shell], capture_output=True, text=True)
        assert other.returncode == 0 and "_ARKOPS_COMPLETE" in other.stdout


def test_a_mistyped_command_gets_the_closest_at_every_level(cli):
    top = cli("trails")
    assert top.code == 2 and "No such command 'trails'. Did you mean 'trials'?" in top.err
    sub = cli("trials", "lst")
    assert sub.code == 2 and "Did you mean 'list'?" in sub.err
    option = cli("trials", "list", "--stat", "active")
    assert option.code == 2 and "--state" in option.err
    job = cli("run", "--only", "trials_track")
    assert job.code == 2 and "'trials_track' is not one of" in job.err and "Did you mean 'trials-track'?" in job.err
    template = cli("mail", "preview", "trial_dy7")
    assert template.code == 2 and "Did you mean 'trial_day7' or" in template.err


def test_a_long_listing_is_laid_out_as_the_table_one_line_per_row_and_quickly():
    """Over `LONG_TABLE` rows a listing is written a line per row with `fitted_table`'s columns, widths and gaps
    (Rich takes 20 s to lay out 35,000 rows); where no value needs wrapping, the text is the table's."""
    import io
    import time

    from rich.console import Console

    from arkops.cli._output import fitted_table, long_table

    headers = ["lead", "score", "hot", "last_page", "source"]
    cells = [[f"v{n:011x}", f"{n * 1.37:.2f}", "yes" if n % 3 else "no", "pricing", "news.example"] for n in range(40)]
    cells.append(["ana@example.com", "1,234.50", "yes", "trial", "–"])
    numeric = [False, True, False, False, False]

    def rendered(draw) -> list[str]:
        out = Console(file=io.StringIO(), width=WIDTH, color_system=None, highlight=False)
        draw(out)
        return [line.rstrip() for line in out.file.getvalue().splitlines()]

    table = rendered(lambda out: out.print(fitted_table(headers, cells, numeric=numeric, width=WIDTH)))
    assert rendered(lambda out: long_table(out, headers, cells, numeric=numeric)) == table
    assert table[-1].startswith("ana@example.com") and table[-1].split()[1] == "1,234.50"

    narrow = rendered(lambda out: long_table(out, headers, [["x" * 90, "1", "no", "demo", "–"]], numeric=numeric))
    assert narrow[1] == "x" * (WIDTH - 1) + "…"  # one value wider than the terminal: cut, never folded
    assert "not shown at this width: score, hot, last_page, source" in " ".join(narrow)

    many = cells * 1_000  # 41,000 rows
    started = time.process_time()
    lines = rendered(lambda out: long_table(out, headers, many, numeric=numeric))
    assert len(lines) == 1 + len(many) and lines[1:42] == table[1:]
    assert time.process_time() - started < 5  # Rich's table: about 20 s here
