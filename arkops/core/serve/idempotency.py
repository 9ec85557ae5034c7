"""What makes a write through `arkops serve` safe to replay.

Two records in the `serve` database, each kept `[serve] idempotency_hours`
(48 by default; the daily retention job drops older ones):

- `answers`: the first answer (status and body) to a request carrying an
  `Idempotency-Key`, per route; the same key again gets that answer,
  whatever the new body holds.
- `events`: each app event's `id`, with its type and outcome; the same id
  again, in any later batch, gets the first outcome, marked a replay, and
  is not stored twice. An event refused as invalid is not recorded: the app
  may correct it and post it again under the same id.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from arkops.clock import iso, parse_iso
from arkops.core.serve import SERVE_DB
from arkops.runtime import Runtime

ANSWERS = "answers"
EVENTS = "events"


def first_answer(rt: Runtime, key: str) -> dict[str, Any] | None:
    """The answer recorded for `key` ({"status", "answer"}), or None."""
    with rt.store.transaction(SERVE_DB) as db:
        return db.get(ANSWERS, key)


def remember_answer(rt: Runtime, key: str, status: int, answer: Any, *, now: datetime) -> dict[str, Any]:
    """Record the answer to `key` unless one was recorded meanwhile; the one that stands."""
    record = {"status": status, "answer": answer, "at": iso(now)}
    with rt.store.transaction(SERVE_DB) as db:
        if db.insert_new(ANSWERS, key, record):
            return record
        return db.get(ANSWERS, key) or record


def seen_events(rt: Runtime, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The recorded outcome of each of `ids` already seen."""
    if not ids:
        return {}
    with rt.store.transaction(SERVE_DB) as db:
        return {event_id: found for event_id in ids if (found := db.get(EVENTS, event_id)) is not None}


def remember_events(rt: Runtime, outcomes: dict[str, dict[str, Any]], *, now: datetime) -> None:
    """Record each event id's outcome ({"type", "status", "reason"}); an id recorded meanwhile keeps its own."""
    if not outcomes:
        return
    stamp = iso(now)
    with rt.store.transaction(SERVE_DB) as db:
        for event_id, outcome in outcomes.items():
            db.insert_new(EVENTS, event_id, {**outcome, "at": stamp})


def drop_old(rt: Runtime, *, now: datetime) -> dict[str, int]:
    """The retention rule: answers and event ids older than `[serve] idempotency_hours` go."""
    cutoff = now - timedelta(hours=rt.config["serve"]["idempotency_hours"])
    dropped = {"idempotency answers dropped": 0, "event ids dropped": 0}
    if not rt.store.path(SERVE_DB).exists():
        return dropped
    with rt.store.transaction(SERVE_DB) as db:
        for table, label in ((ANSWERS, "idempotency answers dropped"), (EVENTS, "event ids dropped")):
            old = [key for key, record in db.items(table) if parse_iso(record["at"]) < cutoff]
            dropped[label] = len(old)
            for key in [] if rt.dry_run else old:
                db.delete(table, key)
    return dropped
