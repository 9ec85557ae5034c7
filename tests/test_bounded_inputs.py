"""Hostile inputs: a payload nested 100,000 deep, logs with huge lines, gzip bombs, a truncated gzip.

Every reader keeps its memory bounded whatever a file holds, and one bad file, record or line is
reported and skipped, never the whole run.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
import stripe
from conftest import write_config
from stripe_shapes import event, invoice, ts

SECRET = "whsec_" + "boundedinputs0123456789abc"


def signed_ingest(cli, workspace, payload: str):
    header = stripe.WebhookSignature.generate_signature_header(payload, SECRET)
    (workspace / "event.json").write_text(payload)
    return cli("webhooks", "ingest", "event.json", "--signature", header)


def test_a_webhook_nested_100000_deep_is_a_bad_payload(cli, workspace, monkeypatch):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-01T00:01:00Z")
    deep = "[" * 100_000 + "]" * 100_000
    payload = '{"id": "evt_deep", "object": "event", "type": "invoice.paid", "data": {"object": ' + deep + "}}"
    refused = signed_ingest(cli, workspace, payload)
    assert refused.code == 3, refused.err
    assert refused.err == "arkops: error: webhook refused: payload: nested deeper than 64 levels\n"
    assert not (workspace / "data" / "ledger.json").exists()
    # Nesting as deep as real events go, in a field arkops does not read, is applied.
    paid = event("evt_1", "invoice.paid", invoice("in_1", "cus_1", 2900, paid_at=ts("2026-03-01")), ts("2026-03-01"))
    nested: dict = {}
    for _ in range(20):
        nested = {"inner": nested}
    paid["data"]["object"]["metadata"] = {"deep": json.dumps(nested)}
    paid["data"]["object"]["custom_fields"] = [nested]
    applied = signed_ingest(cli, workspace, json.dumps(paid))
    assert applied.code == 0 and "applied" in applied.err, applied.err


def visit_line(page: str, minute: int, agent: str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0") -> str:
    return f'203.0.113.{minute % 250} - - [02/Mar/2026:08:{minute % 60:02d}:00 +0000] "GET {page} HTTP/1.1" 200 512 "-" "{agent}"\n'


def ingest_summary(result) -> str:
    return next(line for line in result.err.splitlines() if line.startswith("leads ingest:"))


def test_a_log_whose_first_line_is_over_8_kib_is_read(cli, workspace):
    log = workspace / "access.log"
    log.write_text(
        visit_line("/features", 0, agent="x" * 10_000) + "".join(visit_line("/pricing", m) for m in range(100))
    )
    first = cli("leads", "ingest", str(log))
    assert first.code == 0 and "1 file(s), 101 new line(s): 100 visit(s) stored" in ingest_summary(first), first.err
    with log.open("a") as handle:
        handle.write(visit_line("/pricing", 101))
    again = cli("leads", "ingest", str(log))  # the same fingerprint: it resumes where it stopped
    assert "1 new line(s): 1 visit(s) stored" in ingest_summary(again), again.err


def peak_rss_mib(workspace: Path, *args: str) -> tuple[int, str]:
    """Run arkops in a child of a fresh interpreter and return (peak RSS of that arkops process in MiB, stderr)."""
    probe = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run([sys.executable, '-m', 'arkops', *sys.argv[1:]], capture_output=True, text=True)\n"
        "sys.stderr.write(done.stderr)\n"
        "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *args], cwd=workspace, capture_output=True, text=True, timeout=600
    )
    code, peak = done.stdout.split()
    assert int(code) == 0, done.stderr
    return int(peak), done.stderr


def gzip_of_repeats(path: Path, head: bytes, block: bytes, count: int, tail: bytes = b"") -> None:
    """A multi-member gzip (as `cat a.gz b.gz` makes): `head`, then `block` `count` times, then `tail`; small on disk."""
    member = gzip.compress(block, compresslevel=9)
    with path.open("wb") as out:
        out.write(gzip.compress(head))
        for _ in range(count):
            out.write(member)
        out.write(gzip.compress(tail))


@pytest.mark.slow
def test_a_1_gib_gzip_without_newlines_is_read_in_bounded_memory(workspace):
    bomb = workspace / "access.log.gz"
    gzip_of_repeats(bomb, visit_line("/pricing", 1).encode() + b"a", b"a" * (1 << 20), 1024)
    assert bomb.stat().st_size < 2 << 20
    peak, err = peak_rss_mib(workspace, "leads", "ingest", str(bomb))
    assert peak < 300, f"peak RSS {peak} MiB"
    assert "1 visit(s) stored" in err and "1 unreadable" in err and "a line over 4 MiB, skipped" in err, err


@pytest.mark.slow
def test_a_gzipped_json_array_is_streamed_and_a_50_mb_line_is_skipped(workspace):
    record = json.dumps(
        {"timestamp": "2026-03-02T08:00:00Z", "page": "/pricing", "ip": "203.0.113.9", "user_agent": "Firefox/131.0"}
    )
    visits = workspace / "page_visits_20260302.json.gz"
    filler = ('"' + "a" * (1 << 20) + '", ').encode()
    gzip_of_repeats(visits, f"[{record}, ".encode(), filler, 256, f"{record}]".encode())
    peak, err = peak_rss_mib(workspace, "leads", "ingest", str(visits))
    assert peak < 150, f"peak RSS {peak} MiB"  # the whole array would be 256 MiB of bytes, then as much again as text
    assert "258 new line(s): 2 visit(s) stored" in err and "256 unreadable" in err, err

    log = workspace / "access.log"
    with log.open("w") as handle:
        handle.writelines(visit_line("/pricing", m) for m in range(10))
        handle.write(visit_line("/features", 10, agent="y" * (50 << 20)))
        handle.writelines(visit_line("/pricing", m) for m in range(11, 21))
    peak, err = peak_rss_mib(workspace, "leads", "ingest", str(log))
    assert peak < 100, f"peak RSS {peak} MiB"
    assert "21 new line(s): 20 visit(s) stored" in err and "1 unreadable" in err, err


def test_one_truncated_gzip_among_the_sources_is_reported_and_retried_the_others_read(cli, workspace):
    logs = workspace / "logs"
    logs.mkdir()
    (logs / "a.log").write_text("".join(visit_line("/pricing", m) for m in range(5)))
    whole = gzip.compress("".join(visit_line("/trial", m) for m in range(5, 3000)).encode())
    (logs / "b.log.gz").write_bytes(whole[: len(whole) * 2 // 3])  # logrotate still compressing it, or a disk full
    (logs / "c.log").write_text("".join(visit_line("/demo", m) for m in range(3000, 3005)))
    write_config(workspace, '[leads]\nsources = ["logs/a.log", "logs/b.log.gz", "logs/c.log"]\n')
    first = cli("leads", "ingest")
    assert first.code == 0, first.err
    assert "1 file not read to the end (tried again next run)" in first.err
    assert "b.log.gz" in first.err and "Compressed file ended before the end-of-stream marker was reached" in first.err
    scan = cli("run", "--only", "leads-scan", "--force")
    assert scan.code == 0, scan.err
    (logs / "b.log.gz").write_bytes(whole)  # the file complete: the rest of it is read, nothing twice
    cli("leads", "ingest")
    visits = [
        json.loads(line)
        for day in (workspace / "data" / "visits").glob("*.jsonl")
        for line in day.read_text().splitlines()
    ]
    assert sorted(v["path"] for v in visits) == sorted(["/pricing"] * 5 + ["/trial"] * 2995 + ["/demo"] * 5)


def test_stripe_values_within_stripe_bounds_are_applied(cli, workspace, monkeypatch):
    """Metered bytes billed per GB: `transform_quantity.divide_by` of 1,000,000,000 (Stripe's integers are int64)."""
    from stripe_shapes import customer, subscription

    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-01T00:01:00Z")
    sub = subscription("sub_gb", "cus_gb", [(500, "eur", "month", 1, 3_000_000_000, "prod_storage")])
    sub["items"]["data"][0]["price"]["transform_quantity"] = {"divide_by": 1_000_000_000, "round": "up"}
    assert (
        signed_ingest(
            cli,
            workspace,
            json.dumps(event("evt_c", "customer.created", customer("cus_gb", "gb@example.com"), ts("2026-03-01"))),
        ).code
        == 0
    )
    applied = signed_ingest(
        cli, workspace, json.dumps(event("evt_s", "customer.subscription.created", sub, ts("2026-03-01")))
    )
    assert applied.code == 0 and "applied" in applied.err, applied.err
    mrr = json.loads(cli("payments", "report", "--format", "json").out)
    assert mrr["mrr"] == 1500, mrr  # 3 GB at 5.00 EUR each


# Every import reads through the one streamed reader (`sources.json_files.records`): a JSON list or JSON Lines,
# gzipped or not. (command, file name, a good record, another, whether the file is JSON Lines)
SIGNUP = {"email": "ana@example.com", "plan": "pro", "created_at": "2026-03-01T10:00:00Z"}
PAYMENT = {
    "invoice_id": "in_1",
    "customer_email": "ana@example.com",
    "amount": 29,
    "currency": "EUR",
    "status": "paid",
    "paid_at": "2026-03-01T10:00:00Z",
}
USAGE = {"email": "ana@example.com", "metric": "watches", "value": 3, "timestamp": "2026-03-01T10:00:00Z"}
LEAD = {"email": "lea@example.com", "name": "Lea", "created_at": "2026-03-01T10:00:00Z"}
IMPORTS = {
    "trials": (["trials", "import"], "signups.json", SIGNUP, {**SIGNUP, "email": "bo@example.com"}, False),
    "payments": (["payments", "import"], "payments.json", PAYMENT, {**PAYMENT, "invoice_id": "in_2"}, False),
    "usage": (["usage", "import"], "usage.jsonl", USAGE, {**USAGE, "email": "bo@example.com"}, True),
    "leads": (["leads", "import"], "leads.jsonl", LEAD, {**LEAD, "email": "bo@example.com"}, True),
}
# What each import says of the record it cannot read, and of the two it can (payments: all or nothing)
OUTCOMES = {
    "trials": ("{name}[1]: record 2: longer than 1 MiB", "2 signups, 0 activities"),
    "payments": ("{name}[1]: record 2: longer than 1 MiB", None),
    "usage": ("{name}[1]: line 2: longer than 1 MiB", "2 recorded"),
    "leads": ("{name}: line 2: longer than 1 MiB", "2 added"),
}


def around(first: dict, second: dict, lines: bool) -> tuple[bytes, bytes]:
    """What comes before and after an endless value: an unterminated string element of a list, or a line."""
    if lines:
        return json.dumps(first).encode() + b"\nx", b"\n" + json.dumps(second).encode() + b"\n"
    return b"[" + json.dumps(first).encode() + b', "', b'", ' + json.dumps(second).encode() + b"]"


def check_outcome(workspace: Path, reader: str, name: str, code: int, err: str) -> None:
    skipped, stored = OUTCOMES[reader]
    assert code == 3, err
    assert skipped.format(name=name) in err, err
    if stored is None:  # nothing applied: one bad record stops the payments import
        assert not (workspace / "data" / "ledger.json").exists()
    else:
        assert stored in err, err


def run_measured(workspace: Path, *args: str) -> tuple[int, int, str]:
    """(exit code, peak RSS of the arkops process in MiB, stderr), the command run in a fresh interpreter's child."""
    probe = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run([sys.executable, '-m', 'arkops', *sys.argv[1:]], capture_output=True, text=True)\n"
        "sys.stderr.write(done.stderr)\n"
        "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *args], cwd=workspace, capture_output=True, text=True, timeout=600
    )
    code, peak = done.stdout.split()
    return int(code), int(peak), done.stderr


@pytest.fixture
def importing(workspace, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T09:00:00Z")
    return workspace


@pytest.mark.slow
@pytest.mark.parametrize("reader", list(IMPORTS))
def test_every_import_reads_a_256_mib_gzip_bomb_in_bounded_memory(importing, reader):
    command, name, first, second, lines = IMPORTS[reader]
    bomb = importing / f"{name}.gz"
    head, tail = around(first, second, lines)
    gzip_of_repeats(bomb, head, b"a" * (1 << 20), 256, tail)
    assert bomb.stat().st_size < 1 << 20
    code, peak, err = run_measured(importing, *command, bomb.name)
    assert peak < 150, f"peak RSS {peak} MiB"
    check_outcome(importing, reader, bomb.name, code, err)


@pytest.mark.slow
@pytest.mark.parametrize("reader", list(IMPORTS))
def test_every_import_reads_a_100_mb_line_in_bounded_memory(importing, reader):
    command, name, first, second, lines = IMPORTS[reader]
    head, tail = around(first, second, lines)
    with (importing / name).open("wb") as out:
        out.write(head)
        for _ in range(100):
            out.write(b"a" * (1 << 20))
        out.write(tail)
    code, peak, err = run_measured(importing, *command, name)
    assert peak < 150, f"peak RSS {peak} MiB"  # read whole, the line alone would be 100 MB of bytes, then of text
    check_outcome(importing, reader, name, code, err)


@pytest.mark.parametrize("reader", list(IMPORTS))
def test_a_record_too_long_or_too_deep_is_skipped_and_the_others_stored(cli, importing, reader):
    command, name, first, second, lines = IMPORTS[reader]
    head, tail = around(first, second, lines)
    (importing / name).write_bytes(head + b"a" * (2 << 20) + tail)
    result = cli(*command, name)
    check_outcome(importing, reader, name, result.code, result.err)
    if reader == "payments":
        return
    deep = "[" * 100_000 + "]" * 100_000
    third = {**second, "email": "cy@example.com"}
    if lines:
        (importing / name).write_text(f"{json.dumps(first)}\n{deep}\n{json.dumps(third)}\n")
    else:
        (importing / name).write_text(f"[{json.dumps(first)}, {deep}, {json.dumps(third)}]")
    result = cli(*command, name)
    assert result.code == 3 and "nested deeper than 64 levels" in result.err, result.err
    assert "internal error" not in result.err


def test_a_list_that_breaks_off_writes_nothing(cli, importing):
    """A file read through once before anything is written: a list cut short (a copy still running) is refused whole."""
    signups = [{**SIGNUP, "email": f"t{n}@example.com"} for n in range(3000)]
    (importing / "signups.json").write_text(json.dumps(signups)[:-200])
    result = cli("trials", "import", "signups.json")
    assert result.code == 3 and result.err.startswith("arkops: error: signups.json record 2998: not JSON"), result.err
    assert not (importing / "data" / "trials.json").exists()
    usage = [{**USAGE, "email": f"u{n}@example.com"} for n in range(3000)]
    (importing / "usage.json").write_text(json.dumps(usage)[:-200])
    result = cli("usage", "import", "usage.json")
    assert result.code == 3 and result.err.startswith("arkops: error: usage.json record 2999: not JSON"), result.err
    assert not (importing / "data" / "usage.json").exists()


def test_millions_of_bad_records_are_counted_and_a_hundred_listed(cli, importing):
    (importing / "usage.jsonl").write_text("1\n" * 20_000)
    result = cli("usage", "import", "usage.jsonl")
    assert result.code == 3
    listed = [line for line in result.err.splitlines() if line.startswith("skipped ")]
    assert len(listed) == 101 and listed[-1] == "skipped 19900 more records, not listed"
    assert "0 recorded, 0 unchanged, 20000 skipped" in result.err


@pytest.mark.slow
def test_a_config_or_env_file_of_100_mb_is_refused_in_bounded_memory(importing):
    (importing / "arkops.toml").write_bytes(b"# " + b"a" * (100 << 20) + b"\n")
    code, peak, err = run_measured(importing, "trials", "list")
    assert code == 3 and peak < 150, (peak, err)
    assert err == f"arkops: error: {importing / 'arkops.toml'}: (file): larger than 4 MiB: not a configuration file\n"
    (importing / "arkops.toml").unlink()
    (importing / ".env").write_bytes(b"A=" + b"a" * (100 << 20) + b"\n")
    code, peak, err = run_measured(importing, "trials", "list")
    assert code == 3 and peak < 150, (peak, err)
    assert err == "arkops: error: .env: (file): larger than 4 MiB: not an environment file\n"


def test_a_config_nested_past_the_parser_is_a_config_error(cli, importing):
    write_config(importing, "[fx]\nUSD = " + "[" * 100_000 + "]" * 100_000 + "\n")
    result = cli("trials", "list")
    assert result.code == 3
    assert result.err == (
        f"arkops: error: {importing / 'arkops.toml'}: (syntax): arrays or inline tables nested too deep\n"
    )


@pytest.mark.slow
def test_a_webhook_payload_of_100_mb_is_refused_unread(importing, monkeypatch):
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    with (importing / "event.json").open("wb") as out:
        out.write(b'{"id": "evt_big", "object": "event", "type": "invoice.paid", "data": {"object": {"x": "')
        for _ in range(100):
            out.write(b"a" * (1 << 20))
        out.write(b'"}}}')
    code, peak, err = run_measured(importing, "webhooks", "ingest", "event.json", "--signature", "t=1,v1=00")
    assert code == 3 and peak < 100, (peak, err)
    assert err == "arkops: error: webhook refused: payload larger than 1 MiB\n"
