"""Billing's retention rule: Stripe event ids past the redelivery window are folded away.

The ledger remembers each applied event id so a redelivery does nothing.
Stripe redelivers webhooks for 3 days and lists events for 30; ids of
Stripe's own events older than 45 days are removed, and the ledger keeps
the horizon (`sync.folded.before`) so an older `evt_` that still arrives
counts as a duplicate (`service.folded_away`). Customers, subscriptions and
invoices are never removed: they are the history the reports read.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from arkops.core.billing.ledger import DB
from arkops.runtime import Runtime

KEEP_EVENT_IDS = timedelta(days=45)
BATCH = 20_000


def fold_event_ids(rt: Runtime, *, now: datetime) -> dict[str, int]:
    if not rt.store.path(DB).exists():
        return {}
    horizon = int((now - KEEP_EVENT_IDS).timestamp())
    folded = 0
    while True:
        with rt.store.transaction(DB) as db:
            old = [
                event_id
                for event_id, event in db.items("events")
                if event_id.startswith("evt_") and (event.get("created") or 0) < horizon
            ]
            if rt.dry_run or not old:
                folded += len(old)
                break
            for event_id in old[:BATCH]:
                db.delete("events", event_id)
            marker = db.get("sync", "folded") or {"before": 0, "count": 0}
            db.put(
                "sync",
                "folded",
                {"before": max(marker["before"], horizon), "count": marker["count"] + min(len(old), BATCH)},
            )
            folded += min(len(old), BATCH)
            if len(old) <= BATCH:
                break
    return {"Stripe event ids folded": folded}
