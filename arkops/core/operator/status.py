"""`arkops status`: every domain's status sections, read without writing anything."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from arkops.clock import iso
from arkops.core.sections import Section, collect
from arkops.runtime import Runtime


def read_only(rt: Runtime) -> Runtime:
    """The same invocation on a read-only store: no lock, no migration or cache written, nothing queued."""
    return replace(rt, read_only=True, memo={}, pending_mail=None)


def build_status(rt: Runtime, *, now: datetime) -> list[Section]:
    view = read_only(rt)
    view.store.ensure()  # no data directory: the usual one-line error (exit 3), nothing created
    return collect(view, "status", now=now)


def as_json(sections: list[Section], *, now: datetime, currency: str) -> dict[str, Any]:
    return {
        "as_of": iso(now),
        "currency": currency,
        "red": any(s.red for s in sections),
        "sections": {s.key: s.as_json() for s in sections},
    }
