"""The outbox's part of `arkops status` and the reports: pending, failed, dead, unknown (red when any needs a hand)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from arkops.clock import parse_iso
from arkops.core.messaging import OUTBOX_DB
from arkops.core.sections import Figure, Section, formats
from arkops.runtime import Runtime

STUCK_PENDING = timedelta(hours=1)  # a message still pending after this long: delivery is not working


def status(rt: Runtime, *, now: datetime) -> list[Section]:
    fmt = formats(rt)
    messages: list[dict] = []
    if rt.store.path(OUTBOX_DB).exists():  # read here, not through `arkops.mail.outbox`, which loads SMTP and email
        with rt.store.transaction(OUTBOX_DB) as db:
            messages = db.values("messages")
    states = Counter(m["state"] for m in messages)
    oldest = min((parse_iso(m["created_at"]) for m in messages if m["state"] == "pending"), default=None)
    late = oldest is not None and now - oldest > STUCK_PENDING
    figures = [
        Figure(
            "pending",
            "Pending",
            states["pending"],
            fmt.number(states["pending"]),
            red=late,
            note="the oldest has waited over an hour: is `mail flush` running?" if late else "",
        )
    ]
    for state, label in (("failed", "Failed"), ("dead", "Dead"), ("unknown", "Unknown")):
        figures.append(
            Figure(
                state,
                label,
                states[state],
                fmt.number(states[state]),
                red=states[state] > 0,
                note="see `arkops mail outbox --state " + state + "`" if states[state] else "",
            )
        )
    return [Section("outbox", "Outbox", figures)]


def report(rt: Runtime, *, now: datetime, months: int) -> list[Section]:
    return status(rt, now=now)
