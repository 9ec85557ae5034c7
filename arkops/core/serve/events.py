"""The web app's events (`POST /api/events`): each to the core function its file import uses.

| type | fields (as in the file import) | stored by |
| --- | --- | --- |
| `signup` | `email`, `plan`, `source`, `created_at`, `locale`, ... | `trials import` (`trials.records.take`) |
| `activity` | `email`, `kind`, `count`, `timestamp` | `trials import` |
| `visit` | `timestamp`, `page`, `ip`, `user_agent`, `referrer`, `query_params` | `leads ingest` of the app's visit JSON Lines (`leads.ingest.take_visits`) |
| `demo_request` | `email`, `name`, `company`, `source`, `created_at`, `ip`, `user_agent` | `leads import` (`leads.imports.take`) |
| `usage` | `email`, `metric`, `value`, `timestamp` | `usage import` (`plans.usage.take`) |

An event may carry an `id` (text, 1-255 printable characters): the same id
again returns its first outcome and stores nothing (`idempotency`). Each
event gets one result, in the order posted; a bad one is refused with its
reason while the others are stored. Signups are taken before activity, so
activity posted in the same batch finds its trial.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from arkops.core.serve.idempotency import remember_events, seen_events
from arkops.errors import DataError, one_line
from arkops.runtime import Runtime

MAX_EVENTS = 1000
TYPES = ("signup", "activity", "visit", "demo_request", "usage")  # the order a batch is stored in
ENVELOPE = ("type", "id")


def _taker(kind: str) -> Callable[[Runtime, list[Any], datetime], list[tuple[str, str | None]]]:
    if kind in ("signup", "activity"):
        from arkops.core.trials.records import take

        return lambda rt, records, now: take(rt, kind, records, now=now)
    if kind == "visit":
        from arkops.core.leads.ingest import take_visits

        return lambda rt, records, now: take_visits(rt, records)
    if kind == "demo_request":
        from arkops.core.leads.imports import take as take_leads

        return lambda rt, records, now: take_leads(rt, records, now=now)
    from arkops.core.plans.usage import take as take_usage

    return lambda rt, records, now: take_usage(rt, records, now=now)


def _event_id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and 0 < len(value) <= 255 and value.isprintable():
        return value
    raise DataError(f"id: {one_line(repr(value))[:80]} is not an event id (text of 1-255 characters, or a number)")


def take_events(rt: Runtime, events: list[Any], *, now: datetime) -> list[dict[str, Any]]:
    """One result per event, in order: {"index", "id", "type", "status", "reason"?, "replay"?}.

    `status` is "stored", "duplicate" (already known: the same signup, lead or value), "ignored" (a bot,
    a page not tracked, a person erased: nothing to store, not an error) or "refused" (invalid, with why).
    """
    if len(events) > MAX_EVENTS:
        raise DataError(f"{len(events):,} events in one request; at most {MAX_EVENTS:,}")
    results, groups, first_of = _sort(events)
    seen = seen_events(rt, list(first_of))
    for event_id, earlier in seen.items():
        index = first_of[event_id]
        groups[results[index]["type"]].remove(index)
        _fill(results[index], earlier, replay=True)
    for kind in TYPES:
        indexes = groups[kind]
        if not indexes:
            continue
        records = [{k: v for k, v in events[i].items() if k not in ENVELOPE} for i in indexes]
        for index, (status, reason) in zip(indexes, _taker(kind)(rt, records, now), strict=True):
            _fill(results[index], {"status": status, "reason": reason}, replay=False)
    fresh = {
        event_id: {"type": results[i]["type"], "status": results[i]["status"], "reason": results[i].get("reason")}
        for event_id, i in first_of.items()
        if event_id not in seen and results[i]["status"] != "refused"
    }
    remember_events(rt, fresh, now=now)
    for result in results:
        event_id = result["id"]
        if event_id is not None and first_of.get(event_id, result["index"]) != result["index"]:
            _fill(result, results[first_of[event_id]], replay=True)
    return results


def _sort(events: list[Any]) -> tuple[list[dict[str, Any]], dict[str, list[int]], dict[str, int]]:
    """Each event's result (refused until taken), the indexes to take per type, and the index of each id's
    first event (a later event with the same id in the batch is that one's replay)."""
    results: list[dict[str, Any]] = []
    groups: dict[str, list[int]] = {kind: [] for kind in TYPES}
    first_of: dict[str, int] = {}
    for index, event in enumerate(events):
        result: dict[str, Any] = {"index": index, "id": None, "type": None, "status": "refused"}
        results.append(result)
        try:
            if not isinstance(event, dict):
                raise DataError("not an object")
            kind = event.get("type")
            if kind not in TYPES:
                raise DataError(f"type: {one_line(repr(kind))[:80]} is not one of {', '.join(TYPES)}")
            result["type"] = kind
            result["id"] = event_id = _event_id(event.get("id"))
        except DataError as exc:
            result["reason"] = str(exc)
            continue
        if event_id is not None and event_id in first_of:
            continue
        if event_id is not None:
            first_of[event_id] = index
        groups[kind].append(index)
    return results, groups, first_of


def _fill(result: dict[str, Any], outcome: dict[str, Any], *, replay: bool) -> None:
    result["status"] = outcome["status"]
    if outcome.get("reason"):
        result["reason"] = outcome["reason"]
    if replay:
        result["replay"] = True


def parse_body(raw: bytes) -> Any:
    """A request's JSON body, parsed as every outside JSON is (`arkops.sources.json_files.parse_json`: the
    nesting limit included), or a DataError saying why not."""
    from arkops.sources.json_files import parse_json

    return parse_json(raw, what="request body")
