"""Bad input and careless setups: refused in one line, nothing lost, nothing overwritten."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import write_config


def ledger_invoices(workspace) -> dict:
    return json.loads((workspace / "data" / "ledger.json").read_text())["invoices"]


def payment(invoice_id, status: str, **extra) -> dict:
    return {
        "invoice_id": invoice_id,
        "customer_email": "ana@example.com",
        "amount": 29,
        "currency": "EUR",
        "status": status,
        "paid_at": "2026-03-01T10:00:00Z",
        **extra,
    }


def test_a_numeric_invoice_id_is_one_invoice_and_paid_stays_paid(cli, workspace):
    (workspace / "p1.json").write_text(json.dumps([payment(123, "paid")]))
    (workspace / "p2.json").write_text(json.dumps([payment("123", "failed", paid_at="2026-03-02T10:00:00Z")]))
    assert cli("payments", "import", "p1.json").code == 0
    assert cli("payments", "import", "p2.json").code == 0
    invoices = ledger_invoices(workspace)
    assert list(invoices) == ["123"]
    assert invoices["123"]["status"] == "paid" and invoices["123"]["paid_at"] is not None


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"invoice_id": "in_1\nX: 1"}, "is not an id"),
        ({"invoice_id": 1.5}, "is not an id"),
        ({"currency": "€€€"}, "is not an ISO 4217 code"),
        ({"amount": -5}, "is not between 0 and"),
        ({"amount": "NaN"}, "is not a number"),
        ({"amount": 1e300}, "is not between 0 and"),
        ({"customer_email": "a@example.com\r\nBcc: x@example.com"}, "is not an email address on one line"),
        ({"paid_at": "9999-12-31T23:00:00-05:00"}, "out of range"),
    ],
)
def test_a_bad_payment_record_stops_the_import_before_anything_is_applied(cli, workspace, record, message):
    records = [payment(f"in_{n}", "paid") for n in range(2500)] + [{**payment("in_bad", "paid"), **record}]
    (workspace / "payments.json").write_text(json.dumps(records))
    result = cli("payments", "import", "payments.json")
    assert result.code == 3 and message in result.err and result.err.count("\n") == 1, result.err
    assert not (workspace / "data" / "ledger.json").exists()  # all or nothing


@pytest.mark.parametrize("content", [b"", b"   \n", b"null"])
@pytest.mark.parametrize("command", [["payments", "report"], ["trials", "signup", "ana@example.com", "--plan", "pro"]])
def test_an_empty_or_null_data_file_is_refused_and_left_as_it_is(cli, workspace, content, command):
    for name in ("ledger.json", "trials.json"):
        (workspace / "data" / name).write_bytes(content)
    result = cli(*command)
    assert result.code == 3 and "is not readable" in result.err and "left untouched" in result.err
    for name in ("ledger.json", "trials.json"):
        assert (workspace / "data" / name).read_bytes() == content


def test_a_data_file_that_is_a_folder_is_refused(cli, workspace):
    (workspace / "data" / "trials.json").mkdir()
    result = cli("trials", "list")
    assert result.code == 3 and "is a folder, not a data file" in result.err


def test_read_only_commands_create_no_data_file(cli, workspace):
    before = sorted(p.name for p in (workspace / "data").iterdir() if p.is_file())  # the mark `arkops init` left
    for command in (
        ["payments", "report"],
        ["trials", "list"],
        ["mail", "outbox"],
        ["jobs"],
        ["billing", "subscriptions"],
    ):
        assert cli(*command).code == 0, command
    assert sorted(p.name for p in (workspace / "data").iterdir() if p.is_file()) == before == [".arkops"]


def test_without_a_data_directory_commands_say_where_to_start(tmp_path):
    env_names = ("ARKOPS_DATA_DIR", "ARKOPS_CONFIG")
    import os

    env = {k: v for k, v in os.environ.items() if k not in env_names}
    for command in (["trials", "signup", "ana@example.com", "--plan", "pro"], ["payments", "report"]):
        result = subprocess.run(
            [sys.executable, "-m", "arkops", *command], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert result.returncode == 3
        assert result.stderr.startswith("arkops: error: no arkops data directory at data: run `arkops init` here")
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_a_utf8_bom_is_fine_in_the_config_and_in_imports(cli, workspace):
    (workspace / "arkops.toml").write_bytes('\ufefftimezone = "Europe/Paris"\n'.encode())
    (workspace / "signups.json").write_bytes(
        "\ufeff".encode() + json.dumps([{"email": "ana@example.com", "plan": "pro"}]).encode()
    )
    result = cli("trials", "import", "signups.json")
    assert result.code == 0, result.err


def test_cron_print_escapes_percent_and_refuses_a_line_break(cli, workspace):
    log = workspace / "arkops-%Y.log"
    assert cli("cron", "print", "--log", str(log)).out.strip().endswith(f"{workspace}/arkops-\\%Y.log 2>&1")
    result = cli("cron", "print", "--log", "/tmp/a\n* * * * * evil")
    assert result.code == 3 and "line break" in result.err and result.out == ""


def test_config_floats_must_be_finite(cli, workspace):
    write_config(workspace, "[fx]\nUSD = inf\n")
    result = cli("payments", "report")
    assert result.code == 3 and "fx.USD" in result.err


def test_a_hanging_stripe_server_is_given_up_on_within_the_configured_timeout(cli, workspace, monkeypatch):
    import socket
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections (the kernel does) and never answers
    try:
        monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_" + "hanging0123456789")
        monkeypatch.setenv("STRIPE_API_BASE", f"http://127.0.0.1:{listener.getsockname()[1]}")
        write_config(workspace, "[billing]\nstripe_timeout_seconds = 0.5\nstripe_retry_seconds = [0.01]\n")
        started = time.monotonic()
        result = cli("stripe", "sync")
        assert time.monotonic() - started < 5  # 2 attempts of 0.5 s, not the library's 80 s each
        assert result.code == 4 and "Stripe unreachable while listing events after 2 attempts" in result.err
        assert result.err.count("\n") == 1
    finally:
        listener.close()


def test_at_a_terminal_a_missing_config_is_mentioned_once(workspace):
    import os
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "arkops", "trials", "list", "--format", "json"],
        cwd=workspace,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    out, _ = proc.communicate(timeout=60)
    os.close(slave)
    err = os.read(master, 4096).decode()
    os.close(master)
    assert proc.returncode == 0 and json.loads(out) == []
    assert err.count("no ") == 1 and "arkops.toml here; using the defaults (`arkops init` writes one)" in err


def test_doctor_reports_a_data_file_of_the_wrong_shape_instead_of_crashing(cli, workspace):
    (workspace / "data" / "trials.json").write_text('{"_meta": []}')
    result = cli("doctor", "--format", "json")
    checks = {c["check"]: c for c in json.loads(result.out)}
    assert result.code == 1 and checks["data trials.json"]["status"] == "fail"
    assert "not a TinyDB document" in checks["data trials.json"]["detail"]
