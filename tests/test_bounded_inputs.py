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
