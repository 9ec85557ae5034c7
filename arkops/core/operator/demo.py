"""Demo part: the HTML report of the demo business, rendered once its jobs have run (the weekly email is the job's)."""

from __future__ import annotations

from arkops.core.demo import World
from arkops.core.operator.html import write_report

REPORT = "report.html"


def build(world: World) -> None:
    size = write_report(world.rt, world.workspace / REPORT, now=world.now, months=12)
    world.files["report"] = REPORT
    world.lines.append(f"{REPORT}: the HTML report of the last 12 months ({size // 1024} KB), open it in a browser")
