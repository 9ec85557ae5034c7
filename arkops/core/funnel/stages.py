"""The people of each funnel stage in a window, and `funnel report`.

A person is an email once one is known (a visit the app linked, a demo
request, a trial), else a visitor id (`leads`: stored IP and user agent).
Each stage holds the people who entered it in the window, at their first
entry there: `visitors` a visit to any tracked page, `demo` a visit to
`[funnel] demo_page` or a demo request (`leads import`), `trial` a trial
signup, `active` a trial's first activity, `paid` a trial's conversion (its
email's first payment in the billing ledger, as the trials domain derives
it). Visits and demo requests are read only through
`arkops.core.leads.query`, trials through `arkops.core.trials.queries`.

A rate between two stages is, by default, the people who entered the
later stage in the window over those who entered the earlier one in the
same window (a period rate: cheap, current, but it mixes cohorts, and can
pass 100 % when an earlier window's people arrive now). `--cohort` follows
the people who entered the earlier stage in the window to the later one
(at or after their entry, up to the window's end), which undercounts the
window's last days, whose people have had less time to move on.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from arkops.clock import ISO_LENGTH, iso, parse_iso
from arkops.core.funnel.settings import FUNNEL_STAGES as STAGES
from arkops.core.funnel.wilson import wilson
from arkops.errors import ConfigError, UsageError
from arkops.runtime import Runtime

if TYPE_CHECKING:
    from arkops.core.analytics.aggregates import FunnelVisitors
    from arkops.core.trials.summaries import FunnelTrials

GROUPINGS = ("week", "source")
Entries = dict[str, MutableMapping[Any, datetime]]  # stage -> its people and when they entered it
VISITOR_SOURCES = ("logs", "analytics")
DEFAULT_WINDOW = timedelta(days=30)  # `funnel report` without --since


@dataclass
class Window:
    """What happened in `[start, end)`: each stage's people and when they entered it, each person's source."""

    start: datetime
    end: datetime
    # each stage's people (an email, or a visitor's number: `leads.query.people`) and when they entered it
    entries: Entries = field(default_factory=lambda: {s: {} for s in STAGES})
    sources: Mapping[Any, str] = field(default_factory=dict)
    visits: int = 0  # visits to tracked pages (`leads stats` hits, summed over pages)
    demo_visits: int = 0  # visits to the demo page (its `leads stats` hits)
    demo_requests: int = 0
    requesters: set[str] = field(default_factory=set)  # people in the demo stage by a demo request


class Sources(dict[Any, str]):
    """A person's source, read as `sources[person]`: their first utm_source in the window, else their first
    referrer domain, else what their trial signup or demo request said, else "direct". Made on the first
    lookup that misses (most reports never ask), then a plain dict's lookups (a failing rule asks for
    every person of two windows)."""

    def __init__(self, *found: Mapping[Any, str]) -> None:
        super().__init__()
        self.found: tuple[Mapping[Any, str], ...] | None = found

    def __missing__(self, person: Any) -> str:
        if self.found is not None:
            found, self.found = self.found, None
            for kept in reversed(found):  # the first mapping given wins
                self.update(kept.items())
            if person in self:
                return self[person]
        return "direct"


def _enter(stage: MutableMapping[Any, datetime], person: str, at: datetime) -> None:
    if person not in stage or at < stage[person]:
        stage[person] = at


def gather(rt: Runtime, *, start: datetime, end: datetime, trials: FunnelTrials) -> Window:
    """Every stage's people in `[start, end)`; `trials` is `read_trials` read once by the caller, from `start`
    or earlier.

    A person's source is their first visit's utm_source in the window, else
    their first referrer domain, else what their trial signup or demo
    request said, else "direct".
    """
    from arkops.core.leads import query

    window = Window(start, end)
    entries = window.entries
    demo_page = rt.config["funnel"]["demo_page"]
    seen = query.people(rt, since=start, until=end, page=demo_page)
    window.visits, window.demo_visits = seen.visits, seen.page_visits
    entries["visitors"], entries["demo"] = seen.first, seen.page_first
    said: dict[str, str] = {}
    for request in query.demo_requests(rt, since=start, until=end):
        if request["kind"] != "demo_request":
            continue
        person = request["email"].lower()
        window.demo_requests += 1
        window.requesters.add(person)
        _enter(entries["demo"], person, parse_iso(request["created_at"]))
        if request["source"]:
            said.setdefault(person, request["source"])
    _enter_trials(window, trials.rows)
    window.sources = Sources(seen.utm_source, seen.referrer_domain, said, trials.sources)
    return window


def _enter_trials(window: Window, trials: list[dict]) -> None:
    """The trial, active and paid stages of the window."""
    start, end, entries = window.start, window.end, window.entries
    # iso()'s form sorts as time does: a moment outside the window is passed over without being parsed (the
    # bounds are widened to whole seconds, so the strings never pass over one inside; the parse decides)
    bounds = (iso(start) or "", iso(end + timedelta(seconds=1)) or "")
    for trial in trials:
        for stage, moment in (("trial", "signed_up_at"), ("active", "activated_at"), ("paid", "converted_at")):
            text = trial[moment]
            if not text or (len(text) == ISO_LENGTH and not bounds[0] <= text < bounds[1]):
                continue
            if start <= (at := parse_iso(text)) < end:
                entries[stage][trial["email"]] = at


def read_trials(rt: Runtime, now: datetime, *, since: datetime) -> FunnelTrials:
    """The trials `gather` places in windows from `since` on, and every trial's source (archived ones from
    their month's summary: the cost does not grow with the archive's activity records)."""
    from arkops.core.trials.summaries import funnel_trials

    return funnel_trials(rt, now, since=since)


def pairs(rt: Runtime) -> list[tuple[str, str]]:
    """Each stage to the next, then the rules' other pairs (trial -> paid by default)."""
    found = list(itertools.pairwise(STAGES))
    for rule in rt.config["funnel"]["rules"]:
        if (rule["from"], rule["to"]) not in found:
            found.append((rule["from"], rule["to"]))
    return found


def rule_problems(rt: Runtime) -> list[str]:
    """What is wrong with `[[funnel.rules]]` and `[funnel] demo_page` (the doctor check; `funnel` commands stop)."""
    problems = []
    seen: set[tuple] = set()
    for index, rule in enumerate(rt.config["funnel"]["rules"]):
        where = f"funnel.rules[{index}]"
        if rule["from"] not in STAGES or rule["to"] not in STAGES:
            problems.append(f"{where}: stages are {', '.join(STAGES)}")
        elif STAGES.index(rule["from"]) >= STAGES.index(rule["to"]):
            problems.append(
                f"{where}: from {rule['from']!r} must come before to {rule['to']!r} ({' -> '.join(STAGES)})"
            )
        identity = (rule["from"], rule["to"], rule["window_days"])
        if identity in seen:
            problems.append(f"{where}: a second {rule['from']} -> {rule['to']} rule over {rule['window_days']} days")
        seen.add(identity)
    tracked = [page["path"] for page in rt.config["leads"]["pages"]]
    demo_page = rt.config["funnel"]["demo_page"]
    if demo_page not in tracked:
        problems.append(f"funnel.demo_page: {demo_page} is not a [[leads.pages]] path ({', '.join(tracked)})")
    return problems


def check_rules(rt: Runtime) -> None:
    problems = rule_problems(rt)
    if problems:
        key, _, problem = problems[0].partition(": ")
        raise ConfigError(rt.config.path, key, problem)


def rate(src: str, dst: str, counts: tuple[int, int]) -> dict[str, Any]:
    """One rate with its 95 % Wilson interval; a period rate over 100 % gets the interval of n of n."""
    n, k = counts
    bounds = wilson(k, n)
    return {
        "from": src,
        "to": dst,
        "count_from": n,
        "count_to": k,
        "rate": round(k / n, 4) if n else None,
        "low": round(bounds[0], 4) if bounds else None,
        "high": round(bounds[1], 4) if bounds else None,
    }


def counts(
    entries: Entries,
    src: str,
    dst: str,
    *,
    cohort: bool,
    followed: Entries | None = None,
) -> tuple[int, int]:
    """(earlier, later) for one pair: the later stage's entries, or with `cohort` the earlier stage's people
    found in the later stage (of `followed`, default the same entries) at or after their entry."""
    later = (followed or entries)[dst]
    if not cohort:
        return len(entries[src]), len(entries[dst])
    reached = sum(1 for person, at in entries[src].items() if person in later and later[person] >= at)
    return len(entries[src]), reached


def week_of(at: datetime, tz: Any) -> str:
    year, week, _ = at.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"


def report(
    rt: Runtime,
    *,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    by: str | None = None,
    cohort: bool = False,
    visitors_from: str = "logs",
) -> dict:
    """`funnel report` of [since, until) (default: the last 30 days): each stage's count, each pair's rate and
    interval, and the same per week or source.

    With `visitors_from="analytics"` the visitors stage, and the demo page's visitors, are the analytics
    provider's unique visitors (`arkops.core.analytics`); demo requests, trials and payments stay events.
    """
    if by is not None and by not in GROUPINGS:
        raise UsageError(f"--by {by!r} is not one of {', '.join(GROUPINGS)}")
    if visitors_from not in VISITOR_SOURCES:
        raise UsageError(f"--visitors-from {visitors_from!r} is not one of {', '.join(VISITOR_SOURCES)}")
    if cohort and visitors_from == "analytics":
        raise UsageError("--cohort follows people, and analytics aggregates have none: use --visitors-from logs")
    check_rules(rt)
    end = until or now
    start = since or end - DEFAULT_WINDOW
    window = gather(rt, start=start, end=end, trials=read_trials(rt, now, since=start))
    wanted = pairs(rt)
    aggregates = None
    if visitors_from == "analytics":
        from arkops.core.analytics.aggregates import funnel_visitors

        aggregates = funnel_visitors(rt, start=start, end=end, by=by)
    sizes = _sizes(window.entries, window.requesters, (aggregates.visitors, aggregates.demo) if aggregates else None)
    document: dict[str, Any] = {
        "window": {"start": iso(start), "end": iso(end)},
        "cohort": cohort,
        "by": by,
        "visitors_from": visitors_from,
        "provider": aggregates.provider if aggregates else None,
        "stages": _stages(sizes, window),
        "rates": [rate(a, b, _pair(window.entries, sizes, a, b, cohort=cohort)) for a, b in wanted],
        "groups": [],
    }
    if by is not None:
        document["groups"] = _groups(rt, window, wanted, by=by, cohort=cohort, aggregates=aggregates)
    return document


def _groups(
    rt: Runtime,
    window: Window,
    wanted: list[tuple[str, str]],
    *,
    by: str,
    cohort: bool,
    aggregates: FunnelVisitors | None,
) -> list[dict[str, Any]]:
    """`--by week` or `--by source`: each group's stages and rates (with the analytics' groups when given)."""
    tz = rt.config.tz
    groups: dict[str, Entries] = {}
    for stage, people in window.entries.items():
        for person, at in people.items():
            key = week_of(at, tz) if by == "week" else window.sources[person]
            groups.setdefault(key, {s: {} for s in STAGES})[stage][person] = at
    if aggregates is not None:
        for key in aggregates.groups:
            groups.setdefault(key, {s: {} for s in STAGES})
    group_sizes = {
        key: _sizes(entries, window.requesters, aggregates.groups.get(key, (0, 0)) if aggregates else None)
        for key, entries in groups.items()
    }
    if by == "week":
        order = sorted(groups)
    else:
        order = sorted(groups, key=lambda key: (-group_sizes[key]["visitors"], -group_sizes[key]["trial"], key))
    return [
        {
            "group": key,
            "stages": _stages(group_sizes[key]),
            "rates": [
                rate(a, b, _pair(groups[key], group_sizes[key], a, b, cohort=cohort, followed=window.entries))
                for a, b in wanted
            ],
        }
        for key in order
    ]


def _sizes(entries: Entries, requesters: set[str], aggregates: tuple[int, int] | None) -> dict[str, int]:
    """Each stage's count: its people, or for visitors and the demo page's visitors the analytics aggregates
    (plus the demo requests, which are events)."""
    sizes = {stage: len(people) for stage, people in entries.items()}
    if aggregates is not None:
        sizes["visitors"] = aggregates[0]
        sizes["demo"] = aggregates[1] + sum(1 for person in entries["demo"] if person in requesters)
    return sizes


def _pair(
    entries: Entries,
    sizes: dict[str, int],
    src: str,
    dst: str,
    *,
    cohort: bool,
    followed: Entries | None = None,
) -> tuple[int, int]:
    if cohort:
        return counts(entries, src, dst, cohort=True, followed=followed)
    return sizes[src], sizes[dst]


def _stages(sizes: dict[str, int], window: Window | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [{"name": stage, "count": sizes[stage]} for stage in STAGES]
    if window is not None:
        rows[0]["visits"] = window.visits
        rows[1]["visits"] = window.demo_visits
        rows[1]["requests"] = window.demo_requests
    return rows


def previous(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The window of the same length just before."""
    length: timedelta = end - start
    return start - length, start
