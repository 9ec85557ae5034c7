"""Load on `arkops webhooks serve`: 300 signed webhooks from 100 concurrent clients.

Every request must be answered; every 2xx must be in the ledger, none twice;
a 503 (every worker busy, Retry-After) is retried by the client as Stripe
does, so in the end every event is stored exactly once.
Run: python bench/webhooks_load.py [events] [clients] [workers]
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import stripe

SECRET = "whsec_" + "benchmark0123456789abcdefgh"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def payload(n: int) -> str:
    invoice = {
        "id": f"in_{n:05d}",
        "object": "invoice",
        "customer": f"cus_{n % 50:03d}",
        "customer_email": f"c{n % 50}@example.com",
        "currency": "eur",
        "amount_paid": 2900,
        "amount_due": 2900,
        "status": "paid",
        "status_transitions": {"paid_at": 1772323200 + n},
    }
    event = {
        "id": f"evt_{n:05d}",
        "object": "event",
        "type": "invoice.paid",
        "created": 1772323200 + n,
        "data": {"object": invoice},
    }
    return json.dumps(event)


def send(port: int, body: str) -> tuple[int, float, int, int]:
    """(final status, seconds, 503s, refused connections): both are retried, as Stripe does."""
    started, busy, refused = time.perf_counter(), 0, 0
    while True:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/webhooks/stripe",
            data=body.encode(),
            headers={"Stripe-Signature": stripe.WebhookSignature.generate_signature_header(body, SECRET)},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, time.perf_counter() - started, busy, refused
        except urllib.error.HTTPError as exc:
            if exc.code != 503:
                return exc.code, time.perf_counter() - started, busy, refused
            busy += 1
        except (urllib.error.URLError, ConnectionError):
            refused += 1
        time.sleep(0.2)  # Stripe waits longer; the bench keeps the load on


def main() -> None:
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    clients = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 16
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "data").mkdir()
        port = free_port()
        env = {
            **os.environ,
            "STRIPE_WEBHOOK_SECRET": SECRET,
            "ARKOPS_ALERT_TO": "ops@example.com",
            "ARKOPS_DATA_DIR": str(root / "data"),
            "ARKOPS_CONFIG": str(root / "arkops.toml"),
            "ARKOPS_NOW": "2026-03-01T02:00:00Z",
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "arkops", "-q", "webhooks", "serve", "--port", str(port), "--workers", str(workers)],
            cwd=root,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.0)
        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(lambda n: send(port, payload(n)), range(events)))
        elapsed = time.perf_counter() - started
        server.terminate()
        server.wait(timeout=10)
        ledger = json.loads((root / "data" / "ledger.json").read_text())
    statuses = [r[0] for r in results]
    latencies = sorted(r[1] for r in results)
    stored = len(ledger.get("events", {}))
    print(f"{events} webhooks from {clients} concurrent clients, {workers} workers: {elapsed:.1f} s")
    print(
        f"answers: {statuses.count(200)} x 200, others {[s for s in statuses if s != 200]}; "
        f"retried after a 503: {sum(r[2] for r in results)}, after a refused connection: {sum(r[3] for r in results)}"
    )
    print(
        f"latency including retries: median {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {latencies[int(0.95 * len(latencies)) - 1] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
    )
    print(
        f"events in the ledger: {stored} (every 2xx stored: {stored == statuses.count(200)}; none twice: "
        f"{len(ledger.get('invoices', {})) == stored})"
    )


if __name__ == "__main__":
    main()
