"""Demo part: the web app's signup and activity files, imported like the real ones."""

from __future__ import annotations

import json

from arkops.clock import iso
from arkops.core.demo import World
from arkops.core.trials.records import import_files
from arkops.store import atomic_write_bytes, ensure_dir


def build(world: World) -> None:
    trials = [p for p in world.people if p.signed_up_at]
    signups = [
        {"email": p.email, "plan": p.plan, "source": p.source, "created_at": iso(p.signed_up_at), "locale": p.locale}
        for p in trials
    ]
    activity = [
        {"email": p.email, "action": kind, "count": count, "timestamp": iso(at)}
        for p in trials
        for at, kind, count in p.activity
    ]
    folder = ensure_dir(world.workspace / "app")
    for name, records in (("signups.json", signups), ("activity.json", activity)):
        atomic_write_bytes(folder / name, json.dumps(records, indent=1).encode("utf-8"))
    report = import_files(world.rt, [folder / "signups.json", folder / "activity.json"], now=world.now)
    world.lines.append(
        f"app/signups.json and app/activity.json: {report.signups} trial signups, {report.activities} activity records"
    )
