"""What makes a write through `arkops serve` safe to replay.

Two stores of keyed records (`arkops.store.keyed_log`: JSON Lines day files
under `<data>/serve-answers/` and `<data>/serve-events/`, each kept
`[serve] idempotency_hours`, 48 by default; the daily retention job removes
older day files whole):

- answers: the first answer (status and body) to a request carrying an
  `Idempotency-Key`, per route; the same key again gets that answer,
  whatever the new body holds.
- events: each app event's `id`, with its type and outcome; the same id
  again, in any later batch, gets the first outcome, marked a replay, and
  is not stored twice. An event refused as invalid is not recorded: the app
  may correct it and post it again under the same id.

A batch appends its own records and reads only what other requests appended
since: its cost does not grow with the ids kept (a first version rewrote one
`serve.json` holding them all on every batch; retention removes that file).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from arkops.clock import iso
from arkops.core.domain import Database
from arkops.core.serve import ANSWERS_DB, EVENTS_DB
from arkops.runtime import Runtime
from arkops.store.keyed_log import KeyedLog, keyed_log

LEGACY_FILE = "serve.json"  # the first version's one file of answers and event ids


def _day(moment: datetime) -> str:
    """The day file a record written at `moment` goes to (UTC)."""
    return moment.astimezone(UTC).date().isoformat()


def _log(rt: Runtime, database: Database) -> KeyedLog:
    return keyed_log(rt.data_dir / database.name)


def _find(rt: Runtime, database: Database, keys: list[str]) -> dict[str, dict[str, Any]]:
    folder = rt.data_dir / database.name
    if not keys or not folder.is_dir():
        return {}
    with rt.store.lock(f"{database.name}.jsonl"):
        return _log(rt, database).find(keys)


def _add(rt: Runtime, database: Database, records: dict[str, dict[str, Any]], now: datetime) -> dict[str, Any]:
    with rt.store.lock(f"{database.name}.jsonl"):
        return _log(rt, database).add(records, _day(now))


def first_answer(rt: Runtime, key: str) -> dict[str, Any] | None:
    """The answer recorded for `key` ({"status", "answer"}), or None."""
    return _find(rt, ANSWERS_DB, [key]).get(key)


def remember_answer(rt: Runtime, key: str, status: int, answer: Any, *, now: datetime) -> dict[str, Any]:
    """Record the answer to `key` unless one was recorded meanwhile; the one that stands."""
    return _add(rt, ANSWERS_DB, {key: {"status": status, "answer": answer, "at": iso(now)}}, now)[key]


def seen_events(rt: Runtime, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The recorded outcome of each of `ids` already seen."""
    return _find(rt, EVENTS_DB, ids)


def remember_events(rt: Runtime, outcomes: dict[str, dict[str, Any]], *, now: datetime) -> None:
    """Record each event id's outcome ({"type", "status", "reason"}); an id recorded meanwhile keeps its own."""
    if outcomes:
        stamp = iso(now)
        _add(rt, EVENTS_DB, {event_id: {**outcome, "at": stamp} for event_id, outcome in outcomes.items()}, now)


def drop_old(rt: Runtime, *, now: datetime) -> dict[str, int]:
    """The retention rule: the day files whose every record is older than `[serve] idempotency_hours` go."""
    cutoff = _day(now - timedelta(hours=rt.config["serve"]["idempotency_hours"]))
    dropped = {"idempotency answers dropped": 0, "event ids dropped": 0}
    for database, label in ((ANSWERS_DB, "idempotency answers dropped"), (EVENTS_DB, "event ids dropped")):
        log = _log(rt, database)
        if not log.folder.is_dir():
            continue
        with rt.store.lock(f"{database.name}.jsonl"):
            for path in log.day_files():
                if path.stem < cutoff:  # that day ended before the cutoff's day began
                    dropped[label] += path.read_bytes().count(b"\n")
                    if not rt.dry_run:
                        path.unlink()
    legacy = rt.data_dir / LEGACY_FILE
    if legacy.exists() and not rt.dry_run:
        with rt.store.lock("serve"):
            legacy.unlink(missing_ok=True)
        dropped["legacy serve.json removed"] = 1
    return dropped
