"""Billing benchmarks (Billing ledger issue).

1. `arkops stripe sync` of 10,000 events served by a local Stripe-shaped
   Events API (loopback HTTP server in this process, pages of 100, newest
   first). Target: under 3 s of arkops time. Compared with inserting the
   same events one by one into a plain TinyDB file.
2. `arkops payments report` over 100,000 invoices. Target: under 1 s.

Run: python bench/billing.py [events for the plain-TinyDB comparison, default 10000]
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

START = 1_767_225_600  # 2026-01-01T00:00:00Z


def make_events(count: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    events = []
    created = START
    customers = 0
    while len(events) < count:
        created += rng.randint(1, 400)
        customers += 1
        cus, sub = f"cus_{customers}", f"sub_{customers}"
        amount = rng.choice([900, 2900, 9900])
        interval = rng.choice(["month", "month", "year"])
        item = {
            "id": f"si_{customers}",
            "quantity": 1,
            "price": {
                "id": f"price_{amount}_{interval}",
                "product": "prod_1",
                "unit_amount": amount,
                "currency": "eur",
                "recurring": {"interval": interval, "interval_count": 1},
            },
        }
        subscription = {
            "id": sub,
            "object": "subscription",
            "customer": cus,
            "status": "active",
            "items": {"data": [item]},
            "discounts": [],
            "start_date": created,
            "cancel_at_period_end": False,
        }
        invoice = {
            "id": f"in_{customers}",
            "object": "invoice",
            "customer": cus,
            "customer_email": f"user{customers}@example.com",
            "currency": "eur",
            "amount_paid": amount,
            "amount_due": amount,
            "status": "paid",
            "billing_reason": "subscription_create",
            "status_transitions": {"paid_at": created},
        }
        for kind, obj in (
            (
                "customer.created",
                {"id": cus, "object": "customer", "email": f"user{customers}@example.com", "created": created},
            ),
            ("customer.subscription.created", subscription),
            ("invoice.paid", invoice),
            ("customer.subscription.updated", {**subscription, "cancel_at_period_end": rng.random() < 0.1}),
        ):
            events.append(
                {
                    "id": f"evt_{len(events) + 1}",
                    "object": "event",
                    "type": kind,
                    "created": created,
                    "data": {"object": obj},
                }
            )
    return events[:count]


def serve_events(events: list[dict]) -> ThreadingHTTPServer:
    newest_first = list(reversed(events))
    position = {e["id"]: n for n, e in enumerate(newest_first)}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            query = parse_qs(urlparse(self.path).query)
            limit = int(query.get("limit", ["10"])[0])
            gte = int(query.get("created[gte]", ["0"])[0])
            start = position[query["starting_after"][0]] + 1 if "starting_after" in query else 0
            page, n = [], start
            while n < len(newest_first) and len(page) < limit:
                if newest_first[n]["created"] >= gte:
                    page.append(newest_first[n])
                n += 1
            body = json.dumps(
                {"object": "list", "url": "/v1/events", "data": page, "has_more": n < len(newest_first)}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def timed(command: list[str], env: dict, cwd: Path) -> float:
    return timed_cpu(command, env, cwd)[0]


def timed_cpu(command: list[str], env: dict, cwd: Path) -> tuple[float, float]:
    """Wall time, and the CPU time of the arkops process alone (not the local server's)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {result.stderr}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bench_sync(events: list[dict], work: Path, tinydb_events: int) -> None:
    server = serve_events(events)
    env = {
        **os.environ,
        "ARKOPS_DATA_DIR": str(work / "data"),
        "ARKOPS_CONFIG": str(work / "arkops.toml"),
        "STRIPE_SECRET_KEY": "sk_test_" + "benchmark000000",
        "STRIPE_API_BASE": f"http://127.0.0.1:{server.server_port}",
        "ARKOPS_ALERT_TO": "ops@example.com",
        "MAIL_FROM": "ops@example.com",
        "ARKOPS_NOW": "2026-01-20T00:00:00Z",
    }
    (work / "data").mkdir(mode=0o700)
    sync_time, sync_cpu = timed_cpu([sys.executable, "-m", "arkops", "-q", "stripe", "sync"], env, work)
    again_time = timed([sys.executable, "-m", "arkops", "-q", "stripe", "sync"], env, work)
    server.shutdown()

    # arkops's own share: apply the same events in-process, without HTTP
    from arkops.clock import parse_iso
    from arkops.core.billing.service import apply_events
    from arkops.runtime import Runtime

    os.environ.update({k: env[k] for k in ("ARKOPS_ALERT_TO", "MAIL_FROM")})
    (work / "data2").mkdir(mode=0o700)
    rt = Runtime(work / "data2", work / "arkops.toml", work / ".env")
    started = time.perf_counter()
    apply_events(rt, events, now=parse_iso("2026-01-20T00:00:00Z"), cursor=True)
    apply_time = time.perf_counter() - started

    from tinydb import TinyDB

    plain = events[:tinydb_events]
    started = time.perf_counter()
    db = TinyDB(work / "plain.json")
    table = db.table("events")
    for event in plain:
        table.insert(event)
    db.close()
    tinydb_time = time.perf_counter() - started

    print(
        f"stripe sync, {len(events)} events over local HTTP (whole command): {sync_time:6.2f} s wall, {sync_cpu:6.2f} s arkops CPU  (target < 3 s)"
    )
    print(f"stripe sync again (nothing new since the cursor):            {again_time:6.2f} s wall")
    print(f"apply_events in-process, same events (no HTTP):             {apply_time:6.2f} s")
    print(
        f"plain TinyDB, {len(plain)} of the same events inserted one by one: {tinydb_time:6.2f} s (each insert rewrites the file)"
    )


def bench_report(work: Path, invoices: int = 100_000, subscriptions: int = 5_000) -> None:

    from arkops.core.billing import LEDGER_DB
    from arkops.store import Store

    rng = random.Random(2)
    (work / "data3").mkdir()  # the data directory `arkops init` makes: the store does not create it
    store = Store(work / "data3")
    store.ensure()
    with store.transaction(LEDGER_DB) as db:
        for n in range(subscriptions):
            start = START - rng.randint(0, 700) * 86400
            version = {
                "id": f"sub_{n}",
                "customer": f"cus_{n}",
                "status": "active",
                "discounts": [],
                "start_date": start,
                "items": [
                    {
                        "price": "p",
                        "product": "prod",
                        "unit_amount": rng.choice([900, 2900, 9900]),
                        "currency": "EUR",
                        "interval": "month",
                        "interval_count": 1,
                        "quantity": 1,
                    }
                ],
                "cancel_at_period_end": False,
                "canceled_at": None,
                "ended_at": None,
                "trial_start": None,
                "trial_end": None,
                "_at": start,
            }
            versions = [version]
            if rng.random() < 0.2:
                end = start + rng.randint(30, 300) * 86400
                versions.append({**version, "status": "canceled", "ended_at": end, "_at": end})
            db.put("subscriptions", f"sub_{n}", versions[-1])
            db.put("subscriptions_history", f"sub_{n}", {"versions": versions})
        for n in range(invoices):
            paid = START - rng.randint(0, 700 * 86400)
            db.put(
                "invoices",
                f"in_{n}",
                {
                    "id": f"in_{n}",
                    "customer": f"cus_{n % subscriptions}",
                    "customer_email": None,
                    "subscription": None,
                    "status": "paid",
                    "currency": "EUR",
                    "amount_paid": 2900,
                    "amount_due": 2900,
                    "billing_reason": "subscription_cycle",
                    "paid_at": paid,
                    "attempt_count": 1,
                    "next_payment_attempt": None,
                    "payment_failed": False,
                    "refunded": 0,
                    "_at": paid,
                },
            )
    env = {
        **os.environ,
        "ARKOPS_DATA_DIR": str(work / "data3"),
        "ARKOPS_CONFIG": str(work / "arkops.toml"),
        "ARKOPS_NOW": "2026-12-01T00:00:00Z",
    }
    samples = sorted(
        timed([sys.executable, "-m", "arkops", "payments", "report", "--format", "json"], env, work) for _ in range(5)
    )
    print(
        f"payments report, {invoices} invoices, {subscriptions} subscriptions, 12 months (median of 5, whole command): {samples[2]:6.2f} s  (target < 1 s)"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        # The plain-TinyDB comparison is quadratic: 10,000 events take minutes. Pass a smaller count to skip ahead.
        tinydb_events = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
        bench_sync(make_events(10_000), work, tinydb_events)
        bench_report(work)


if __name__ == "__main__":
    main()
