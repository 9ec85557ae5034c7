"""Demo part: the plans' Stripe ids (as `billing plans push` records them) and the app's usage export for the
demo's paying customers, a few of them near or past their limits, imported like the real one."""

from __future__ import annotations

import json
import random

from arkops.clock import iso
from arkops.core.demo import World
from arkops.core.plans.stripe_ops import record_price_ids
from arkops.core.plans.usage import import_file
from arkops.store import atomic_write_bytes, ensure_dir

# where each demo customer stands against each limit; the last ones are the stories (80 %, 100 %, over)
SHARES = (0.12, 0.3, 0.45, 0.6, 0.25, 0.85, 1.0, 1.2)


def build(world: World) -> None:
    for plan in ("starter", "pro", "business"):
        # the demo's Stripe events bill price_<plan>_month and _year of product prod_<plan> (billing.demo)
        record_price_ids(world.rt, plan, f"price_{plan}_month", f"prod_{plan}", now=world.now)
    rng = random.Random(world.rng.random())  # its own stream: later parts see the same world either way
    limits = {plan_id: plan["limits"] for plan_id, plan in world.rt.config["plans"].items()}
    payers = [p for p in world.people if p.pays_from is not None and p.pays_from < world.now and p.cancel_at is None]
    records = []
    for index, person in enumerate(payers):
        plan = "pro" if person.upgrade_at else person.plan
        share = SHARES[index] if index < len(SHARES) and index >= 5 else rng.choice(SHARES[:5])
        for metric, limit in limits.get(plan, {}).items():
            value = round(limit * (share if metric == "watches" else share * rng.uniform(0.3, 0.9)))
            records.append(
                {"email": person.email, "metric": metric, "value": value, "timestamp": iso(world.now.replace(hour=6))}
            )
    folder = ensure_dir(world.workspace / "app")
    lines = "".join(json.dumps(r) + "\n" for r in records)
    atomic_write_bytes(folder / "usage.jsonl", lines.encode("utf-8"))
    report = import_file(world.rt, folder / "usage.jsonl", now=world.now)
    world.lines.append(f"app/usage.jsonl: {report.recorded} usage values of {len(payers)} paying customers")
