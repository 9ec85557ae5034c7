"""Load on `arkops serve`: 100 concurrent clients post 10,000 app events in batches of 1 to 100, and 300 signed
webhooks, then the same events through the file imports for comparison.

Checks: every request answered, no 5xx, every event stored exactly once (4,000 trials, 3,000 visits, 1,500
demo requests, 1,500 usage values, 300 invoices). A refused connection would be retried with the same
Idempotency-Key, as the web app should; the count of retries is printed.

What a batch costs as the event ids kept grow: one client posts 20 batches of 100 visits to a page that is
not tracked, one after another (each id and the batch's Idempotency-Key are recorded; no domain stores
anything), on the empty server, after `history` more ids were posted (in batches of 1,000), and after the load.
Run: python bench/serve_load.py [events] [clients] [history]
"""

from __future__ import annotations

import json
import os
import random
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
TOKEN = "bench-" + "0123456789abcdefghijklmnopqrstuvwxyz"
SHARES = {"signup": 0.4, "visit": 0.3, "demo_request": 0.15, "usage": 0.15}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_events(total: int) -> list[dict]:
    events: list[dict] = []
    for kind, share in SHARES.items():
        for n in range(int(total * share)):
            event: dict = {"type": kind, "id": f"{kind}-{n}"}
            if kind == "signup":
                event.update(email=f"trial{n}@example.com", plan="pro", source="bench")
            elif kind == "visit":
                event.update(
                    timestamp=f"2026-02-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00Z",
                    page="/pricing",
                    ip=f"198.51.{n // 250}.{n % 250}",
                    user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0",
                )
            elif kind == "demo_request":
                event.update(email=f"lead{n}@example.com", name=f"Lead {n}", company="Acme", created_at=1772323200 + n)
            else:
                event.update(email=f"trial{n}@example.com", metric="seats", value=1 + n % 7)
            events.append(event)
    random.Random(7).shuffle(events)
    return events


def batches(events: list[dict]) -> list[list[dict]]:
    rng, out, at = random.Random(11), [], 0
    while at < len(events):
        size = rng.randint(1, 100)
        out.append(events[at : at + size])
        at += size
    return out


def webhook(n: int) -> tuple[bytes, str]:
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
    body = json.dumps(
        {
            "id": f"evt_{n:05d}",
            "object": "event",
            "type": "invoice.paid",
            "created": 1772323200 + n,
            "data": {"object": invoice},
        }
    )
    return body.encode(), stripe.WebhookSignature.generate_signature_header(body, SECRET)


def send(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, float, int]:
    """(status, seconds, retries of a refused, dropped or timed-out request)."""
    started, retries = time.perf_counter(), 0
    while True:
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                response.read()
                return response.status, time.perf_counter() - started, retries
        except urllib.error.HTTPError as exc:
            exc.read()
            return exc.code, time.perf_counter() - started, retries
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            retries += 1  # refused, dropped, or no answer in 60 s: sent again with the same Idempotency-Key
            time.sleep(0.2)


def probe(base: str, label: str, batches_of: int = 100, count: int = 20) -> list[float]:
    """Seconds per batch of `batches_of` fresh ids (visits to a page not tracked: only the ids are written)."""
    times = []
    for number in range(count):
        batch = [
            {
                "type": "visit",
                "id": f"{label}-{number}-{n}",
                "timestamp": "2026-02-28T10:00:00Z",
                "page": "/not-tracked",
                "ip": "198.51.100.7",
                "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0",
            }
            for n in range(batches_of)
        ]
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        headers["Idempotency-Key"] = f"{label}-{number}"
        status, took, _ = send(base + "/api/events", json.dumps(batch).encode(), headers)
        assert status == 202, status
        times.append(took)
    return times


def show_probe(what: str, times: list[float]) -> None:
    print(
        f"one client, batches of 100 ids, {what}: median {statistics.median(times) * 1000:.0f} ms, "
        f"max {max(times) * 1000:.0f} ms (of {len(times)})"
    )


def run(cmd: list[str], cwd: Path, env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    clients = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    history = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    events = make_events(total)
    work = [("events", b) for b in batches(events)] + [("webhook", n) for n in range(300)]
    random.Random(3).shuffle(work)
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {
            **os.environ,
            "ARKOPS_DATA_DIR": str(folder / "data"),
            "ARKOPS_CONFIG": str(folder / "arkops.toml"),
            "ARKOPS_SERVE_TOKEN": TOKEN,
            "STRIPE_WEBHOOK_SECRET": SECRET,
            "ARKOPS_ALERT_TO": "ops@example.com",
            "MAIL_FROM": "arkops@example.com",
            "ARKOPS_NOW": "2026-03-01T00:00:00Z",
        }
        subprocess.run([sys.executable, "-m", "arkops", "init"], cwd=folder, env=env, check=True, capture_output=True)
        port = free_port()
        log = (folder / "serve.log").open("w")
        server = subprocess.Popen(
            [sys.executable, "-m", "arkops", "-q", "serve", "--port", str(port)], cwd=folder, env=env, stderr=log
        )
        time.sleep(1.5)
        base = f"http://127.0.0.1:{port}"
        probes = {"on the empty server": probe(base, "empty")}
        show_probe("on the empty server", probes["on the empty server"])
        if history:
            started = time.perf_counter()
            probe(base, "history", batches_of=1000, count=history // 1000)
            print(f"{history:,} more ids posted in batches of 1,000: {time.perf_counter() - started:.1f} s")
            probes[f"with {history + 2000:,} ids kept"] = probe(base, "kept")
            show_probe(f"with {history + 2000:,} ids kept", probes[f"with {history + 2000:,} ids kept"])

        def one(item: tuple[str, object]) -> tuple[str, int, float, int, int]:
            kind, what = item
            if kind == "webhook":
                body, signature = webhook(int(what))  # type: ignore[call-overload]
                status, took, retries = send(base + "/webhooks/stripe", body, {"Stripe-Signature": signature})
                return kind, status, took, retries, 1
            batch = what  # type: ignore[assignment]
            headers = {
                "Authorization": f"Bearer {TOKEN}",
                "Content-Type": "application/json",
                "Idempotency-Key": f"batch-{batch[0]['id']}",
            }  # type: ignore[index]
            status, took, retries = send(base + "/api/events", json.dumps(batch).encode(), headers)
            return kind, status, took, retries, len(batch)  # type: ignore[arg-type]

        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            answers = list(pool.map(one, work))
        wall = time.perf_counter() - started
        kept = sum(len(times) * 100 for times in probes.values()) + history + len(events)
        probes[f"after the load ({kept:,} ids kept)"] = probe(base, "after")
        server.terminate()
        server.wait(30)
        log.close()
        print(
            "".join(line for line in (folder / "serve.log").read_text().splitlines(True) if " - - [" not in line)[:2000]
        )
        statuses: dict[int, int] = {}
        for _, status, *_ in answers:
            statuses[status] = statuses.get(status, 0) + 1
        event_times = [took for kind, _, took, _, _ in answers if kind == "events"]
        hook_times = [took for kind, _, took, _, _ in answers if kind == "webhook"]
        print(
            f"{len(events):,} events in {sum(1 for a in answers if a[0] == 'events')} batches + 300 webhooks, "
            f"{clients} clients: {wall:.1f} s, {len(events) / wall:,.0f} events/s; statuses {statuses}; "
            f"retries (refused, dropped or timed out) {sum(a[3] for a in answers)}"
        )
        print(
            f"per batch: p50 {statistics.median(event_times):.2f} s, p99 {percentile(event_times, 0.99):.2f} s; "
            f"per webhook: p50 {statistics.median(hook_times):.2f} s, p99 {percentile(hook_times, 0.99):.2f} s"
        )
        show_probe(*list(probes.items())[-1])
        data = folder / "data"
        trials = json.loads((data / "trials.json").read_text())["trials"]
        visits = sum(1 for f in data.glob("visits/**/*.jsonl") for _ in f.open())
        leads = json.loads((data / "leads.json").read_text())["imports"]
        usage = json.loads((data / "usage.json").read_text())["usage"]
        invoices = json.loads((data / "ledger.json").read_text())["invoices"]
        expected = {kind: int(total * share) for kind, share in SHARES.items()}
        found = {"signup": len(trials), "visit": visits, "demo_request": len(leads), "usage": len(usage)}
        print(f"stored: {found}, invoices {len(invoices)}; expected {expected}, 300")
        assert found == expected and len(invoices) == 300, "not every event stored exactly once"
        assert not any(status >= 500 for status in statuses), "a 5xx"

        files = folder / "files"
        files.mkdir()
        by_kind = {
            kind: [{k: v for k, v in e.items() if k not in ("type", "id")} for e in events if e["type"] == kind]
            for kind in SHARES
        }
        (files / "signups.json").write_text(json.dumps(by_kind["signup"]))
        (files / "leads.json").write_text(json.dumps(by_kind["demo_request"]))
        (files / "visits.jsonl").write_text("".join(json.dumps(v) + "\n" for v in by_kind["visit"]))
        (files / "usage.json").write_text(json.dumps(by_kind["usage"]))
        fresh = {**env, "ARKOPS_DATA_DIR": str(folder / "data2")}
        subprocess.run(
            [sys.executable, "-m", "arkops", "init", "--force"], cwd=folder, env=fresh, check=True, capture_output=True
        )
        times = {
            "trials import": run(
                [sys.executable, "-m", "arkops", "trials", "import", str(files / "signups.json")], folder, fresh
            ),
            "leads import": run(
                [sys.executable, "-m", "arkops", "leads", "import", str(files / "leads.json")], folder, fresh
            ),
            "leads ingest": run(
                [sys.executable, "-m", "arkops", "leads", "ingest", str(files / "visits.jsonl")], folder, fresh
            ),
            "usage import": run(
                [sys.executable, "-m", "arkops", "usage", "import", str(files / "usage.json")], folder, fresh
            ),
        }
        print(
            "the same events through the file imports: "
            + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in times.items())
            + f"; total {sum(times.values()):.2f} s, {len(events) / sum(times.values()):,.0f} events/s"
        )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
