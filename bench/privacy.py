"""Privacy on a three-year installation: export, forget (a trial, a paying customer, again), purge, and what
erasure records cost the paths that take people in (`trials signup`, `webhooks ingest`).

    python bench/scale.py --keep DIR [--scale 0.25]     # build an installation once
    python bench/privacy.py --reuse DIR                 # measure on a copy of it (DIR is left as it is)

Each operation is a whole process (median of --repeat runs; peak RSS from GNU time).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import scale


def newest_signup(data: Path) -> datetime:
    trials = json.loads((data / "trials.json").read_text())["trials"]
    return max(datetime.fromisoformat(t["signed_up_at"].replace("Z", "+00:00")) for t in trials.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", type=Path, required=True, help="an installation kept by bench/scale.py --keep")
    parser.add_argument("--repeat", type=int, default=3, help="runs per read-only operation (default 3)")
    args = parser.parse_args()
    root = args.reuse.resolve()
    work = Path(tempfile.mkdtemp(prefix="arkops-privacy-bench-"))
    shutil.copy(root / "arkops.toml", work / "arkops.toml")
    data = work / "data"
    shutil.copytree(root / "data", data, symlinks=True)
    now = newest_signup(data) + timedelta(hours=1)
    ledger = json.loads((data / "ledger.json").read_text())
    paying = next(i["customer_email"] for i in ledger["invoices"].values() if i.get("customer_email"))
    hot = json.loads((data / "trials.json").read_text())["trials"]
    trial = next(email for email in hot if email != paying)
    archived = sorted((data / "archive" / "trials").glob("20*.json"))
    old_trial = next(iter(json.loads(archived[0].read_text())["trials"])) if archived else trial
    env = scale.environment(2525)  # nothing here sends mail
    env.update(ARKOPS_DATA_DIR=str(data), ARKOPS_CONFIG=str(work / "arkops.toml"), ARKOPS_NOW=scale.iso(now))
    command = scale.arkops_command()
    rows: list[tuple[str, float, float, str]] = []

    def measure(what: str, *argv: str, repeat: int = 1, each: list[list[str]] | None = None) -> None:
        runs = []
        for n in range(repeat):
            current = each[n] if each else list(argv)
            result = scale.run([*command, *current], env=env, cwd=work)
            if result.code != 0:
                raise SystemExit(f"{what}: exit {result.code}: {result.err.strip()[-400:]}")
            runs.append(result)
        seconds = statistics.median(r.seconds for r in runs)
        peak = max(r.peak_mb for r in runs)
        line = (
            (runs[-1].out.strip() or runs[-1].err.strip()).splitlines()[-1][:110]
            if runs[-1].out or runs[-1].err
            else ""
        )
        rows.append((what, seconds, peak, line))
        print(f"{what:<58} {seconds:6.2f} s {peak:6.0f} MB  {line}", flush=True)

    customers = [c for c in ledger["customers"].values() if c.get("email") and c["email"] != paying]

    def webhooks(tag: str) -> list[list[str]]:
        """Signed customer.updated events for customers nobody erased: the cost erasure records add."""
        import stripe

        commands = []
        for n in range(args.repeat):
            customer = customers[n % len(customers)]
            created = int((now - timedelta(minutes=1)).timestamp())
            obj = {"id": customer["id"], "object": "customer", "email": customer["email"], "name": "Bench"}
            evt = {"id": f"evt_privacy_{tag}_{n}", "object": "event", "type": "customer.updated", "created": created}
            payload = json.dumps({**evt, "data": {"object": obj}})
            path = work / f"webhook-{tag}-{n}.json"
            path.write_text(payload)
            header = stripe.WebhookSignature.generate_signature_header(payload, scale.WEBHOOK_SECRET)
            commands.append(["webhooks", "ingest", str(path), "--signature", header])
        return commands

    started = time.perf_counter()
    measure("webhooks ingest, no erasure record", repeat=args.repeat, each=webhooks("before"))
    signups = [["trials", "signup", f"bench-{n}@example.org", "--plan", "pro"] for n in range(2 * args.repeat)]
    measure("trials signup, no erasure record", repeat=args.repeat, each=signups[: args.repeat])
    measure("privacy export, a trial (hot file)", "privacy", "export", trial, repeat=args.repeat)
    measure("privacy export, an archived trial", "privacy", "export", old_trial, repeat=args.repeat)
    measure("privacy export, a paying customer", "privacy", "export", paying, repeat=args.repeat)
    measure("privacy forget, a trial", "privacy", "forget", trial, "--yes")
    measure("privacy forget, an archived trial", "privacy", "forget", old_trial, "--yes")
    measure("privacy forget, a paying customer (pseudonymised)", "privacy", "forget", paying, "--yes")
    measure("privacy forget again (no-op)", "privacy", "forget", paying, "--yes", repeat=args.repeat)
    measure("trials signup, with erasure records", repeat=args.repeat, each=signups[args.repeat :])
    measure("webhooks ingest, with erasure records", repeat=args.repeat, each=webhooks("after"))
    measure("privacy purge (the retention rules)", "privacy", "purge")
    print(
        f"sizes: {sum(p.stat().st_size for p in data.rglob('*') if p.is_file()) / 1e6:.1f} MB of data; "
        f"{time.perf_counter() - started:.0f} s in all; copy left in {work}"
    )


if __name__ == "__main__":
    main()
