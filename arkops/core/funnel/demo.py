"""Demo part: a partner newsletter's webinar campaign that filled the demo page this week and converted no one.

It arrives through the app's JSON Lines visit log (`leads ingest`'s jsonl
format), on top of the leads part's access log and demo requests and the
trials and billing parts, so `arkops demo` shows the demo -> trial rule
failing (the daily `funnel-check` job queues its alert) while trial ->
paid has too few trials this week to judge.
"""

from __future__ import annotations

import json
import random
from datetime import timedelta

from arkops.core.demo import SEED, World
from arkops.core.funnel.rules import evaluate
from arkops.core.leads.ingest import ingest
from arkops.core.sections import formats
from arkops.store import atomic_write_bytes, ensure_dir

LOG = "app/visits.jsonl"
CAMPAIGN_VISITORS = 45
AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36"
)


def build(world: World) -> None:
    rng = random.Random(SEED + 15)  # its own stream: the other parts' data stays the same
    records = []
    for n in range(CAMPAIGN_VISITORS):
        at = world.now - timedelta(hours=rng.uniform(6, 5 * 24))
        records.append(
            {
                "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "page": "/demo",
                "ip": f"100.64.{n}.{rng.randrange(1, 250)}",  # one /24 each: anonymized, still one visitor each
                "user_agent": AGENT,
                "referrer": "https://partner-news.example/issues/42",
                "query_params": {"utm_source": "partnerletter", "utm_medium": "email", "utm_campaign": "webinar"},
            }
        )
    records.sort(key=lambda record: str(record["timestamp"]))
    ensure_dir(world.workspace / "app")
    atomic_write_bytes(world.workspace / LOG, "".join(json.dumps(r) + "\n" for r in records).encode("utf-8"))
    report = ingest(world.rt, [str(world.workspace / LOG)], fmt="jsonl", now=world.now)
    world.lines.append(f"{LOG}: {report.visits} visits from a partner newsletter's webinar campaign")
    fmt = formats(world.rt)
    world.lines.append(
        "funnel rules: " + "; ".join(result.line(fmt) for result, _ in evaluate(world.rt, now=world.now))
    )
