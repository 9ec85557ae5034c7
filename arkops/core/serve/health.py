"""Is this installation fit to serve (`GET /healthz`), and the gauges `GET /metrics` shows."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from arkops.clock import parse_iso
from arkops.runtime import Runtime

SERVICE = "arkops"  # /healthz names itself, so `doctor` tells our own server from another program on the port


@dataclass
class Health:
    ok: bool
    reasons: list[str]
    last_tick_age_seconds: float | None

    def as_dict(self) -> dict:
        return {
            "service": SERVICE,
            "status": "ok" if self.ok else "unhealthy",
            "reasons": self.reasons,
            "last_tick_age_seconds": self.last_tick_age_seconds,
        }


def last_tick_age(rt: Runtime, *, now: datetime) -> float | None:
    """Seconds since `arkops run` last started a job, None if it never did."""
    from arkops.core.jobs.runner import job_states

    starts = [state["last_start"] for state in job_states(rt).values() if state.get("last_start")]
    if not starts:
        return None
    return max(0.0, (now - max(parse_iso(start) for start in starts)).total_seconds())


def health(rt: Runtime, *, now: datetime) -> Health:
    """Healthy when the data directory is readable and `arkops run` ran within `[serve] tick_minutes`."""
    reasons = []
    if not os.access(rt.data_dir, os.R_OK | os.X_OK):
        return Health(False, ["the data directory is not readable"], None)
    age = last_tick_age(rt, now=now)
    limit = rt.config["serve"]["tick_minutes"]
    if age is None:
        reasons.append("`arkops run` has never run here: is the cron line installed?")
    elif age > limit * 60:
        reasons.append(f"`arkops run` last ran {int(age // 60)} min ago (more than {limit} min): is cron running?")
    return Health(not reasons, reasons, age)


def outbox_counts(rt: Runtime) -> dict[str, int]:
    """Messages in the outbox by state (pending, failed, dead, ...)."""
    from arkops.core.messaging import OUTBOX_DB
    from arkops.mail.outbox import list_messages

    if not rt.store.path(OUTBOX_DB).exists():
        return {}
    return dict(Counter(message["state"] for message in list_messages(rt.store)))
