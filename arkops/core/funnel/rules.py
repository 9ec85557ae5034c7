"""`funnel check`, daily at 09:00: the conversion-rate rules and the no-data alarm, alerts without noise.

A rule fails when its earlier stage holds at least `min_sample` people in
its window (`window_days` back from now) and the period rate is under
`min_rate`; fewer people is "not enough data", never a failure, and does
not end a failure either. A failing rule queues `conversion_rate` once per
local day (key `funnel:<rule>:failing:<day>`) while it keeps failing, and
ONE recovery notice when it passes again (key
`funnel:<rule>:recovered:<when the failure began>`); the failure episode
lives in the `funnel` database, written in the transaction that queues
the alert, so a run twice or two at once alert once.

Independently, when the newest stored visit is older than
`[funnel] no_data_hours`, `no_visits` is queued once per silence: its key
is the newest visit's time, which changes only when visits come back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from arkops.clock import iso, local_time
from arkops.core.funnel import FUNNEL_DB
from arkops.core.funnel.stages import Window, check_rules, counts, gather, previous, rate, read_trials
from arkops.core.sections import Formats, formats
from arkops.runtime import Runtime

RULES = "rules"
ALARMS = "alarms"
FAILING, OK, THIN = "failing", "ok", "not enough data"
SOURCES_SHOWN = 3


def rule_id(rule: dict) -> str:
    return f"{rule['from']}-{rule['to']}-{rule['window_days']}d"


@dataclass
class RuleResult:
    rule: dict
    status: str
    current: dict[str, Any]  # rate(): count_from, count_to, rate, low, high
    before: dict[str, Any]  # the same over the window just before
    sources: list[str] = field(default_factory=list)  # the sources that fell short most, described

    @property
    def name(self) -> str:
        return f"{self.rule['from']} -> {self.rule['to']}"

    def line(self, fmt: Formats) -> str:
        c, rule, percent = self.current, self.rule, fmt.percent
        counted = f"{c['count_to']} of {c['count_from']}"
        if self.status == THIN:
            return f"{self.name}: not enough data ({counted}, min sample {rule['min_sample']})"
        interval = f"95 % interval {percent(c['low'])} - {percent(c['high'])}"
        verdict = "FAILING, under" if self.status == FAILING else "ok, at least"
        return (
            f"{self.name}: {verdict} {percent(rule['min_rate'])}: {percent(c['rate'])} "
            f"({counted}, {interval}) over {rule['window_days']} days"
        )


@dataclass
class CheckReport:
    results: list[RuleResult] = field(default_factory=list)
    last_visit: str | None = None
    silent: bool = False  # no visit for no_data_hours (or none stored yet)
    no_data_hours: int = 24
    alerted: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    no_visits_alerted: bool = False

    @property
    def failed(self) -> bool:
        return self.silent or any(r.status == FAILING for r in self.results)

    def data_line(self) -> str:
        if self.last_visit is None:
            return "visits: none stored yet: no data"
        if self.silent:
            return f"visits: none since {self.last_visit} (over {self.no_data_hours} h): data missing"
        return f"visits: last one {self.last_visit}"

    def lines(self, fmt: Formats) -> list[str]:
        return [r.line(fmt) for r in self.results] + [self.data_line()]

    def counts(self) -> dict[str, int]:
        return {
            "failing": sum(r.status == FAILING for r in self.results),
            "not_enough_data": sum(r.status == THIN for r in self.results),
            "alerted": len(self.alerted),
            "recovered": len(self.recovered),
            "no_visits": int(self.no_visits_alerted),
        }

    def as_json(self) -> dict[str, Any]:
        """`funnel check --format json`: each rule's verdict and figures, and whether visits still arrive."""
        return {
            "failed": self.failed,
            "rules": [
                {"rule": r.name, "status": r.status, **r.current, "min_rate": r.rule["min_rate"], "sources": r.sources}
                for r in self.results
            ],
            "visits": {"last": self.last_visit, "silent": self.silent, "no_data_hours": self.no_data_hours},
            "counts": self.counts(),
        }

    def summary(self) -> str:
        n = self.counts()
        parts = [
            f"{len(self.results)} rule(s): {n['failing']} failing, {n['not_enough_data']} without enough data",
            f"{n['alerted']} alert(s), {n['recovered']} recovery notice(s) queued",
        ]
        if self.no_visits_alerted:
            parts.append("no visits: alarm queued")
        elif self.silent and self.last_visit is None:  # nothing ever stored: no silence to alarm about yet
            parts.append("no visits stored yet: nothing queued")
        elif self.silent:
            parts.append("no visits (alarm already sent)")
        return "; ".join(parts)


def _shortfalls(rule: dict, now: Window, before: Window, percent: Callable[[float], str]) -> list[str]:
    """The sources whose earlier-stage people converted least against the threshold, with the window before."""
    src, dst = rule["from"], rule["to"]

    def by_source(window: Window) -> dict[str, tuple[int, int]]:
        found: dict[str, list[int]] = {}
        for stage, index in ((src, 0), (dst, 1)):
            for source, people in Counter(map(window.sources.__getitem__, window.entries[stage])).items():
                found.setdefault(source, [0, 0])[index] += people
        return {source: (n, k) for source, (n, k) in found.items()}

    current, earlier = by_source(now), by_source(before)
    short = sorted(
        ((n * rule["min_rate"] - k, source, n, k) for source, (n, k) in current.items() if n),
        key=lambda item: (-item[0], item[1]),
    )
    lines = []
    for gap, source, n, k in short[:SOURCES_SHOWN]:
        if gap <= 0:
            break
        was_n, was_k = earlier.get(source, (0, 0))
        was = f"{percent(was_k / was_n)} ({was_k} of {was_n})" if was_n else "none"
        lines.append(f"{source}: {percent(k / n)} ({k} of {n}), the window before {was}")
    return lines


def evaluate(rt: Runtime, *, now: datetime) -> list[tuple[RuleResult, Window]]:
    """Every rule over its window and the one before (period rates, as `funnel report` shows by default)."""
    check_rules(rt)
    spans = [(now - timedelta(days=rule["window_days"]), now) for rule in rt.config["funnel"]["rules"]]
    trials = read_trials(rt, now, since=min((previous(*span)[0] for span in spans), default=now))
    windows: dict[tuple[datetime, datetime], Window] = {}

    def window(start: datetime, end: datetime) -> Window:
        if (start, end) not in windows:
            windows[start, end] = gather(rt, start=start, end=end, trials=trials)
        return windows[start, end]

    results = []
    for rule, (start, _) in zip(rt.config["funnel"]["rules"], spans, strict=True):
        current, before = window(start, now), window(*previous(start, now))
        pair = (rule["from"], rule["to"])
        figures = rate(*pair, counts(current.entries, *pair, cohort=False))
        earlier = rate(*pair, counts(before.entries, *pair, cohort=False))
        if figures["count_from"] < rule["min_sample"]:
            status = THIN
        else:
            status = FAILING if figures["rate"] < rule["min_rate"] else OK
        result = RuleResult(rule, status, figures, earlier)
        if status == FAILING:
            result.sources = _shortfalls(rule, current, before, formats(rt).percent)
        results.append((result, current))
    return results


def _alert(rt: Runtime, result: RuleResult, *, key: str, now: datetime, recovered: bool) -> None:
    from arkops.core.notify import notify

    c, b, percent = result.current, result.before, formats(rt).percent
    notify(
        rt,
        "conversion_rate",
        {
            "rate_name": result.name,
            "rate": percent(c["rate"]),
            "threshold": percent(result.rule["min_rate"]),
            "sample": c["count_from"],
            "converted": c["count_to"],
            "interval": f"{percent(c['low'])} - {percent(c['high'])}",
            "days": result.rule["window_days"],
            "previous": f"{percent(b['rate'])} ({b['count_to']} of {b['count_from']})" if b["count_from"] else "",
            "sources": result.sources,
            "recovered": recovered,
        },
        key=key,
        now=now,
    )


def check(rt: Runtime, *, now: datetime) -> CheckReport:
    """Evaluate every rule and the data's freshness; queue what is due (see the module)."""
    from arkops.core.leads.query import last_visit_at
    from arkops.core.notify import batched, notify  # here: `status` evaluates the rules and sends nothing

    hours = rt.config["funnel"]["no_data_hours"]
    last = last_visit_at(rt)
    report = CheckReport(
        [result for result, _ in evaluate(rt, now=now)],
        iso(last),
        last is None or now - last >= timedelta(hours=hours),
        hours,
    )
    today = now.astimezone(rt.config.tz).date().isoformat()
    with rt.store.transaction(FUNNEL_DB) as db, batched(rt):
        for result in report.results:
            ident = rule_id(result.rule)
            state = db.get(RULES, ident) or {}
            if result.status == FAILING:
                since = state.get("failing_since") or iso(now)
                if state.get("alerted_day") != today:
                    _alert(rt, result, key=f"funnel:{ident}:failing:{today}", now=now, recovered=False)
                    report.alerted.append(result.name)
                db.put(RULES, ident, {"failing_since": since, "alerted_day": today, "checked_at": iso(now)})
            elif result.status == OK and state.get("failing_since"):
                _alert(rt, result, key=f"funnel:{ident}:recovered:{state['failing_since']}", now=now, recovered=True)
                report.recovered.append(result.name)
                db.put(RULES, ident, {"failing_since": None, "recovered_at": iso(now), "checked_at": iso(now)})
        silence = db.get(ALARMS, "no_visits") or {}
        if report.silent and last is not None and silence.get("last_visit") != iso(last):
            notify(
                rt,
                "no_visits",
                {"hours": hours, "last_visit": local_time(last, rt.config.tz)},
                key=f"funnel:no-visits:{iso(last)}",
                now=now,
            )
            report.no_visits_alerted = True
            db.put(ALARMS, "no_visits", {"last_visit": iso(last), "alerted_at": iso(now)})
    return report


def check_now(rt: Runtime, *, now: datetime) -> CheckReport:
    """`arkops funnel check`: the job, under its lock (a scheduled run in progress: exit 75)."""
    with rt.store.job_lock("funnel-check"):
        return check(rt, now=now)
