"""The funnel's part of `arkops status`, the HTML report and the weekly email (`arkops.core.sections`).

Each rule's rate over its window against its threshold, red when it fails
(the same verdict as `funnel check`, computed without writing or queuing
anything), and the no-data alarm's state.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from arkops.clock import local_time
from arkops.core.funnel.rules import FAILING, THIN, evaluate
from arkops.core.sections import Figure, Section, formats
from arkops.runtime import Runtime


def status(rt: Runtime, *, now: datetime) -> list[Section]:
    from arkops.core.leads.query import last_visit_at

    figures = []
    percent = formats(rt).percent
    for result, _window in evaluate(rt, now=now):
        rule, current = result.rule, result.current
        counted = f"{current['count_to']} of {current['count_from']}"
        if result.status == THIN:
            text = f"not enough data ({counted})"
        else:
            text = f"{percent(current['rate'])} ({counted})"
        figures.append(
            Figure(
                f"rate_{rule['from']}_{rule['to']}",
                f"{rule['from']} -> {rule['to']}",
                current["rate"],
                text,
                red=result.status == FAILING,
                note=f"at least {percent(rule['min_rate'])} over {rule['window_days']} days",
            )
        )
    last = last_visit_at(rt)
    hours = rt.config["funnel"]["no_data_hours"]
    silent = last is None or now - last >= timedelta(hours=hours)
    figures.append(
        Figure(
            "last_visit",
            "Last visit stored",
            None if last is None else last.isoformat().replace("+00:00", "Z"),
            "none yet" if last is None else local_time(last, rt.config.tz),
            red=silent and last is not None,
            note=f"data missing after {hours} h",
        )
    )
    return [Section("funnel", "Funnel", figures)]


def report(rt: Runtime, *, now: datetime, months: int) -> list[Section]:
    """The rules as `status` shows them (the weekly report's question: does the funnel still convert?)."""
    return status(rt, now=now)
