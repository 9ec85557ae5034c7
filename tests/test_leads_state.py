"""The leads' kept state (`state`) and the days' aggregates (`daily`) against a from-scratch computation over the
day files."""

from __future__ import annotations

import json
import random
import tempfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from conftest import write_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arkops.clock import iso, parse_iso
from arkops.core.leads import daily, query
from arkops.core.leads.imports import linked_visitors
from arkops.core.leads.retention import drop_old_visits
from arkops.core.leads.scoring import glances, kept_leads, lead_row, links, list_leads, page_stats
from arkops.core.leads.state import links_digest
from arkops.core.leads.visits import day_file, match_page, read_visits, tracked_pages
from arkops.core.privacy.service import forget
from arkops.runtime import Runtime
from arkops.store import JsonLines, ensure_dir

START = datetime(2026, 10, 1, tzinfo=UTC)
PATHS = ("/demo", "/pricing", "/pricing/team", "/trial")  # ingest stores tracked pages only
EMAILS = {0: "shared@example.com", 1: "shared@example.com", 2: "ana@example.com"}  # two visitors, one lead


def from_scratch(rt: Runtime, now: datetime) -> dict[str, dict]:
    """Every lead as the old scoring computed it: each stored visit read, each weight decayed to `now`."""
    pages = tracked_pages(rt)
    half_life = rt.config["leads"]["half_life_days"]
    visits = sorted(
        (json.loads(line) for path in sorted((rt.data_dir / "visits").glob("*.jsonl")) for line in path.open()),
        key=lambda v: v["at"],
    )
    emails = {v["visitor"]: v["email"] for v in visits if v.get("email")}
    for visitor, email in linked_visitors(rt).items():
        emails.setdefault(visitor, email)  # a visit's own email wins over an imported lead's
    leads: dict[str, dict] = {}
    for visit in visits:
        page = match_page(pages, visit["path"])
        if page is None:
            continue
        key = emails.get(visit["visitor"], visit["visitor"])
        lead = leads.setdefault(key, {"score": 0.0, "visits": 0, "first": visit["at"], "hot": None})
        age = max((now - datetime.fromisoformat(visit["at"])).total_seconds(), 0) / 86_400
        lead["score"] += page.weight * 0.5 ** (age / half_life)
        lead["visits"] += 1
        lead["last"] = visit["at"]
        for kind, name in (("utm", "utm_source"), ("referrer", "referrer_domain")):
            if visit.get(name):  # a visitor's first (in one second, the first stored); a lead's, their earliest
                lead.setdefault(kind, {}).setdefault(visit["visitor"], (visit["at"], visit[name]))
        if page.hot and (lead["hot"] is None or (visit["at"], page.label) < lead["hot"][::-1]):
            lead["hot"] = (page.label, visit["at"])  # the first hot visit (of two in one second, by label)
    for lead in leads.values():  # the first UTM source, else the first referrer domain
        pairs = lead.pop("utm", None) or lead.pop("referrer", None)
        lead.pop("referrer", None)
        lead["source"] = min(pairs.values())[1] if pairs else "direct"
    return leads


def kept(rt: Runtime, now: datetime, since: str = "") -> dict[str, dict]:
    """The kept leads; with `since`, those last seen since then (read as `status` reads them, stopping early)."""
    return {
        lead.key: {
            "score": lead.score,
            "visits": lead.count,
            "first": lead.first_at,
            "last": lead.last["at"],
            "hot": (lead.hot_visit["label"], lead.hot_visit["at"]) if lead.hot_visit else None,
            "source": lead.source(),
        }
        for lead in kept_leads(rt, now=now, wanted=lambda glance: glance.last >= since, since=since)
    }


def listed(rt: Runtime, now: datetime, *, hot: bool) -> list[dict]:
    """`leads list`'s rows (from the summaries alone), and the same rows made from every lead's records."""
    rows = list_leads(rt, now=now, hot=hot)
    threshold = rt.config["leads"]["hot_score"]
    from_records = [lead_row(lead, threshold) for lead in kept_leads(rt, now=now)]
    assert rows == sorted(
        (row for row in from_records if row["hot"] or not hot), key=lambda r: (-r["score"], r["lead"])
    )
    return rows


def glanced(rt: Runtime, now: datetime, since: str = "") -> dict[str, dict]:
    """What the summaries alone tell (`status` and the report read no record): as `kept`, less the hot visit."""
    return {
        glance.key: {
            "score": glance.score,
            "visits": glance.count,
            "last": glance.last,
            "hot": glance.hot_page,
            "source": glance.source(),
        }
        for glance in glances(rt, now=now, since=since)
        if glance.last >= since
    }


def as_glanced(leads: dict[str, dict]) -> dict[str, dict]:
    return {
        key: {k: v for k, v in lead.items() if k != "first"} | {"hot": lead["hot"] is not None}
        for key, lead in leads.items()
    }


def recent(leads: dict[str, dict], since: str) -> dict[str, dict]:
    return {key: lead for key, lead in leads.items() if lead["last"] >= since}


def ordered(rt: Runtime) -> None:
    """The state file's lines in the readers' order: linked visitors first, then those who may be hot, then the
    others, each of the last two by last visit, most recent first (what lets a reader stop early)."""
    path = rt.data_dir / "lead_state.tsv"
    if not path.exists():
        return
    lines = path.read_bytes().splitlines()
    header = json.loads(lines[0])
    rows = [json.loads(line.partition(b"\t")[0]) for line in lines[1:]]
    links = linked_visitors(rt)
    if header["links"] != links_digest(links):
        return  # the links changed since it was written: readers read every line until the next writer
    threshold = rt.config["leads"]["hot_score"]
    cut = header["linked"] + header["hot"]
    first, hot, rest = rows[: header["linked"]], rows[header["linked"] : cut], rows[cut:]
    assert all(row[4] or row[0] in links for row in first)
    assert not any(row[4] or row[0] in links for row in hot + rest)
    assert all(row[3] or row[1] >= threshold for row in hot)
    assert not any(row[3] or row[1] >= threshold for row in rest)
    for run in (hot, rest):
        assert [(row[2], row[0]) for row in run] == sorted(((row[2], row[0]) for row in run), reverse=True)
    assert len({row[0] for row in rows}) == len(rows)


def link(rt: Runtime, visitor: int) -> None:
    """An imported demo request linking a visitor to an email (as `leads import` stores one with its visitor),
    or, for a visitor linked already, the request taken away."""
    from arkops.core.leads import LEADS_DB
    from arkops.core.leads.imports import IMPORTS

    with rt.store.transaction(LEADS_DB) as db:
        key = f"request{visitor}"
        if db.get(IMPORTS, key) is None:
            lead = {"email": f"req{visitor}@example.com", "created_at": iso(START), "visitor": f"v{visitor:011x}"}
            db.insert_new(IMPORTS, key, lead | {"kind": "demo_request"})
        else:
            db.delete(IMPORTS, key)
    rt.memo.pop("leads:imports", None)


def same(found: dict[str, dict], expected: dict[str, dict]) -> None:
    assert found.keys() == expected.keys()
    for key, lead in expected.items():
        assert abs(found[key]["score"] - lead["score"]) <= 1e-9 * max(1.0, lead["score"]), key
        assert {k: v for k, v in found[key].items() if k != "score"} == {
            k: v for k, v in lead.items() if k != "score"
        }, key


def stored_rows(rt: Runtime) -> dict[str, list[tuple]]:
    """Each day's rows as the aggregates must hold them: the day file's visits in time order (equal seconds in
    the file's order), each (visitor, second, page, utm_source, referrer domain, email)."""
    pages = [p.path for p in daily.page_order(rt)]
    found = {}
    for path in sorted((rt.data_dir / "visits").glob("*.jsonl")):
        visits = sorted((json.loads(line) for line in path.open()), key=lambda v: v["at"])
        found[path.stem] = [
            (
                v["visitor"],
                int(parse_iso(v["at"]).timestamp()),
                page.path if (page := match_page(tracked_pages(rt), v["path"])) else None,
                v.get("utm_source"),
                v.get("referrer_domain"),
                v.get("email"),
            )
            for v in visits
        ]
    assert pages == sorted(pages)
    return {day: rows for day, rows in found.items() if rows}  # a day file left empty (forget) has no rows


def kept_rows(rt: Runtime) -> dict[str, list[tuple]]:
    pages = [p.path for p in daily.page_order(rt)]
    found: dict[str, list[tuple]] = {}
    for day, lo, hi in daily.days(rt, START - timedelta(days=2), START + timedelta(days=40)):
        assert (lo, hi) == (0, len(day))
        found[day.day] = [
            (
                day.name(day.visitors[row]),
                day.ats[row],
                None if day.pages[row] == daily.NO_PAGE else pages[day.pages[row]],
                day.strings[day.sources[row]],
                day.strings[day.referrers[row]],
                day.strings[day.emails[row]],
            )
            for row in range(lo, hi)
        ]
    return found


def scanned_people(rt: Runtime, since: datetime, until: datetime, page: str) -> dict[str, Any]:
    """The funnel's people of a window as it computed them before the aggregates: every visit line read (a
    visitor without an email by its number, as `query.people` names them)."""
    pages = tracked_pages(rt)
    window = sorted(read_visits(rt, since, until), key=lambda v: v["at"])
    linked = links(rt, window)
    found: dict[str, Any] = {"visits": 0, "page_visits": 0, "first": {}, "page_first": {}, "utm": {}, "referrer": {}}
    for visit in window:
        matched = match_page(pages, visit["path"])
        if matched is None:
            continue
        person = (linked.get(visit["visitor"]) or "").lower() or daily.visitor_number(visit["visitor"])
        at = parse_iso(visit["at"])
        found["visits"] += 1
        found["first"][person] = min(at, found["first"].get(person, at))
        if matched.path == page:
            found["page_visits"] += 1
            found["page_first"][person] = min(at, found["page_first"].get(person, at))
        if visit.get("utm_source"):
            found["utm"].setdefault(person, visit["utm_source"])
        if visit.get("referrer_domain"):
            found["referrer"].setdefault(person, visit["referrer_domain"])
    return found


def kept_people(rt: Runtime, since: datetime, until: datetime, page: str) -> dict[str, Any]:
    seen = query.people(rt, since=since, until=until, page=page)
    return {
        "visits": seen.visits,
        "page_visits": seen.page_visits,
        "first": dict(seen.first),
        "page_first": dict(seen.page_first),
        "utm": dict(seen.utm_source),
        "referrer": dict(seen.referrer_domain),
    }


def scanned_stats(rt: Runtime, now: datetime, since: datetime, until: datetime) -> list[dict]:
    """`leads stats`' pages as computed before the aggregates: every visit line of the window read."""
    pages = sorted(tracked_pages(rt), key=lambda p: p.path)
    hour_ago = iso(now - timedelta(hours=1)) or ""
    rows = {p.path: {"hits": 0, "visitors": set(), "last_hour": 0, "referrers": {}, "sources": {}} for p in pages}
    for visit in read_visits(rt, since, until):
        page = match_page(pages, visit["path"])
        if page is None:
            continue
        row = rows[page.path]
        row["hits"] += 1
        row["last_hour"] += visit["at"] >= hour_ago
        row["visitors"].add((parse_iso(visit["at"]).astimezone(rt.config.tz).date(), visit["visitor"]))
        for key, name in (("referrers", "referrer_domain"), ("sources", "utm_source")):
            if visit.get(name):
                row[key][visit[name]] = row[key].get(visit[name], 0) + 1
    return [
        {
            "path": path,
            "hits": row["hits"],
            "visitors": len(row["visitors"]),
            "last_hour": row["last_hour"],
            "referrers": sorted(row["referrers"].items(), key=lambda item: (-item[1], item[0]))[:5],
            "sources": sorted(row["sources"].items(), key=lambda item: (-item[1], item[0]))[:5],
        }
        for path, row in rows.items()
    ]


def same_figures(rt: Runtime, now: datetime, seconds: int) -> None:
    """The aggregates' rows, the funnel's people and `leads stats` against the visit lines, for a window
    whose edges fall inside days."""
    assert kept_rows(rt) == stored_rows(rt)
    since = START + timedelta(seconds=seconds)
    for start, end in ((since, now), (START, since), (since, since + timedelta(days=3, hours=5))):
        assert kept_people(rt, start, end, "/demo") == scanned_people(rt, start, end, "/demo")
        stats = page_stats(rt, now=end, since=start, until=end)["pages"]
        assert [
            {
                "path": p["path"],
                "hits": p["hits"],
                "visitors": p["visitors"],
                "last_hour": p["last_hour"],
                "referrers": [(r["domain"], r["hits"]) for r in p["referrers"]],
                "sources": [(s["source"], s["hits"]) for s in p["sources"]],
            }
            for p in stats
        ] == scanned_stats(rt, end, start, end)


visit_strategy = st.tuples(
    st.integers(0, 5),  # visitor
    st.integers(0, 20 * 86_400 - 1),  # seconds after START
    st.sampled_from(PATHS),
    st.booleans(),  # carries the visitor's email, if they have one
    st.sampled_from(("", "newsletter", "hn")),
    st.sampled_from(("", "news.example", "search.example")),  # referrer domain
)
step_strategy = st.one_of(
    st.tuples(st.just("ingest"), st.lists(visit_strategy, min_size=1, max_size=12)),
    st.tuples(st.just("scan"), st.integers(0, 22)),
    st.tuples(st.just("figures"), st.integers(0, 20 * 86_400)),
    st.tuples(st.just("status"), st.integers(0, 22)),
    st.tuples(st.just("retention"), st.integers(8, 22)),
    st.tuples(st.just("forget"), st.just(0)),
    st.tuples(st.just("cut"), st.integers(0, 19)),  # an ingest's recovery cuts a day file back
    st.tuples(st.just("link"), st.sampled_from((1, 3, 4))),  # an imported lead links (or stops linking) a visitor
    st.tuples(st.just("recent"), st.integers(0, 30 * 24)),  # the leads seen in the last N hours
)


def _append(rt: Runtime, visits: list[tuple]) -> None:
    """Visits as `leads ingest` stores them, in the order given (a log may hold days out of order); the days'
    aggregates follow, as `leads ingest` makes them follow."""
    ensure_dir(rt.data_dir / "visits")
    for visitor, second, path, with_email, source, *referrer in visits:
        at = START + timedelta(seconds=second)
        visit: dict = {"at": iso(at), "visitor": f"v{visitor:011x}", "ip": f"203.0.113.{visitor}", "path": path}
        if with_email and visitor in EMAILS:
            visit["email"] = EMAILS[visitor]
        if source:
            visit["utm_source"] = source
        if referrer and referrer[0]:
            visit["referrer_domain"] = referrer[0]
        JsonLines(day_file(rt, at.date())).append([visit])
    if not rt.store.read_only:
        daily.refresh(rt)


def _cut(path: Path) -> None:
    """Cut a day file back by its last line, in place (same inode), as `ingest.recover` does."""
    if path.exists():
        lines = path.read_bytes().splitlines(keepends=True)
        with open(path, "r+b") as handle:
            handle.truncate(sum(map(len, lines[:-1])))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step_strategy, min_size=1, max_size=10))
def test_kept_state_and_aggregates_equal_a_computation_from_scratch(workspace, steps):
    # A zone whose days are not UTC days: `leads stats` counts visitors per local day. A low hot_score: leads
    # hot by their score alone are common.
    write_config(
        workspace, 'timezone = "America/New_York"\n[leads]\nretention_days = 10\nhalf_life_days = 3\nhot_score = 2.5\n'
    )
    with tempfile.TemporaryDirectory(dir=workspace) as folder:
        data = Path(folder)
        rt = Runtime(data_dir=data, config_path=workspace / "arkops.toml", env_file=workspace / ".env")
        latest = START
        for kind, argument in steps:
            # Scores are read at or after the last visit stored, as a scan after its ingest reads them.
            now = max(START + timedelta(days=argument), latest) if isinstance(argument, int) else START
            if kind == "ingest":
                _append(rt, argument)
                latest = max(latest, START + timedelta(seconds=max(second for _, second, *_ in argument)))
            elif kind == "scan":
                same(kept(rt, now), from_scratch(rt, now))
            elif kind == "figures":
                same_figures(rt, latest + timedelta(hours=1), argument)
                same_figures(replace(rt, read_only=True), latest + timedelta(hours=1), argument)
            elif kind == "status":  # read-only: the new visits are added in memory, nothing is written
                before = (data / "lead_state.tsv").read_bytes() if (data / "lead_state.tsv").exists() else None
                same(kept(replace(rt, read_only=True), now), from_scratch(rt, now))
                after = (data / "lead_state.tsv").read_bytes() if (data / "lead_state.tsv").exists() else None
                assert before == after
            elif kind == "retention":
                drop_old_visits(rt, now=now)
            elif kind == "cut":
                _cut(day_file(rt, (START + timedelta(days=argument)).date()))
            elif kind == "link":
                link(rt, argument)
            elif kind == "recent":
                now = latest + timedelta(hours=1)
                since = iso(now - timedelta(hours=argument)) or ""
                expected = recent(from_scratch(rt, now), since)
                same(kept(replace(rt, read_only=True), now, since), expected)  # new visits in memory
                same(glanced(replace(rt, read_only=True), now, since), as_glanced(expected))
                same(kept(rt, now, since), expected)
                same(glanced(rt, now, since), as_glanced(expected))
                listed(replace(rt, read_only=True), now, hot=True)
                listed(rt, now, hot=argument % 2 == 0)
            else:
                forget(rt, "shared@example.com", now=now)
            ordered(rt)
        now = max(START + timedelta(days=21), latest)
        same(kept(rt, now), from_scratch(rt, now))
        same_figures(rt, now, 5 * 86_400 + 3_600)


def test_a_reader_of_recent_leads_stops_early_but_keeps_each_linked_lead_whole(workspace):
    """`status`' last 24 hours read the linked visitors, then the others down to the first seen before then."""
    write_config(workspace, "[leads]\nretention_days = 10\nhalf_life_days = 3\nhot_score = 2.5\n")
    rt = Runtime(data_dir=workspace / "data", config_path=workspace / "arkops.toml", env_file=workspace / ".env")
    day = 86_400
    # shared@ is two visitors, one seen 3 days ago; v4 (seen 3 days ago) is linked by an imported request
    # and seen again in memory only (read-only) below; v3 is recent, v5 old.
    visits = [(0, 3_600, "/pricing", True, ""), (1, 3 * day, "/demo", True, ""), (3, 3 * day, "/demo", False, "")]
    scored = [(6, 3 * day - 60 * n, "/demo", False, "") for n in range(3)]  # hot by its score alone: 3 >= 2.5
    _append(rt, [*visits, *scored, (4, 100, "/demo", False, ""), (5, 200, "/trial", False, "")])
    now = START + timedelta(days=3, hours=1)
    since = iso(now - timedelta(hours=24)) or ""
    assert kept(rt, now).keys() == {"shared@example.com", *(f"v0000000000{n}" for n in (3, 4, 5, 6))}
    ordered(rt)
    hot = [row["lead"] for row in listed(rt, now, hot=True)]
    assert hot == ["v00000000006", "shared@example.com", "v00000000005"]  # not v3 nor v4: they cannot be hot
    found = kept(rt, now, since)
    assert found.keys() == {"shared@example.com", "v00000000003", "v00000000006"}
    same(found, recent(from_scratch(rt, now), since))
    assert found["shared@example.com"]["visits"] == 2  # the old visitor of the lead is read too

    link(rt, 4)  # the links changed: the next writer orders the lines again, a read-only reader reads them all
    _append(replace(rt, read_only=True), [(4, 3 * day + 60, "/demo", False, "")])
    same(kept(replace(rt, read_only=True), now, since), recent(from_scratch(rt, now), since))
    assert "req4@example.com" in kept(replace(rt, read_only=True), now, since)
    same(kept(rt, now, since), recent(from_scratch(rt, now), since))
    ordered(rt)

    link(rt, 5)  # no new visit of v5: its line still moves to the linked ones, so readers may stop early again
    same(kept(rt, now, since), recent(from_scratch(rt, now), since))
    header = json.loads((rt.data_dir / "lead_state.tsv").read_bytes().partition(b"\n")[0])
    assert header["links"] == links_digest(linked_visitors(rt)) and (header["linked"], header["hot"]) == (4, 1)
    ordered(rt)


def test_retention_takes_the_days_it_drops_out_of_the_kept_state_without_making_it_again(workspace):
    """A visitor seen only on the days dropped leaves; one seen then and since is made again from the days kept
    (as far as they were applied: a visit appended since is the next reader's); the others keep their lines."""
    write_config(workspace, "[leads]\nretention_days = 10\nhalf_life_days = 3\n")
    rt = Runtime(data_dir=workspace / "data", config_path=workspace / "arkops.toml", env_file=workspace / ".env")
    day = 86_400
    _append(
        rt,
        [
            (3, 3_600, "/demo", False, "hn"),  # v3: day 0 and day 12
            (3, 12 * day, "/pricing", False, ""),
            (4, 100, "/trial", False, ""),  # v4: day 0 only
            (5, 13 * day, "/demo", False, ""),  # v5: day 13 only
            (0, 2 * day, "/demo", True, ""),  # shared@ (v0): day 2 and day 13
            (0, 13 * day + 60, "/demo", False, ""),
        ],
    )
    now = START + timedelta(days=13, hours=2)
    same(kept(rt, now), from_scratch(rt, now))
    path = rt.data_dir / "lead_state.tsv"
    untouched = next(line for line in path.read_text().splitlines() if line.startswith('["v00000000005"'))
    _append(rt, [(3, 13 * day + 120, "/demo", False, "")])  # stored, not applied yet
    assert drop_old_visits(rt, now=now) == {"visit day files deleted": 2}  # days 0 and 2
    header = json.loads(path.read_text().partition("\n")[0])
    assert sorted(header["applied"]) == ["2026-10-13", "2026-10-14"]
    rows = {json.loads(line.partition("\t")[0])[0]: line for line in path.read_text().splitlines()[1:]}
    assert rows.keys() == {"v00000000000", "v00000000003", "v00000000005"} and rows["v00000000005"] == untouched
    assert json.loads(rows["v00000000003"].partition("\t")[0])[5] == 1  # its visit on day 12 alone, so far
    ordered(rt)
    same(kept(rt, now), from_scratch(rt, now))  # the visit appended since is applied by this reader
    assert kept(rt, now)["v00000000003"]["visits"] == 2 and "v00000000004" not in kept(rt, now)


def test_leads_rebuild_makes_the_same_state_from_the_day_files(cli, workspace, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", "2026-10-21T00:00:00Z")
    rt = Runtime(data_dir=workspace / "data", config_path=workspace / "arkops.toml", env_file=workspace / ".env")
    _append(rt, [(0, 3_600, "/pricing", True, "hn"), (3, 7_200, "/demo", False, ""), (3, 90_000, "/demo", False, "")])
    listed = cli("leads", "list", "--format", "json")
    assert listed.code == 0 and (workspace / "data" / "lead_state.tsv").exists()
    rebuilt = cli("leads", "rebuild")
    assert (
        rebuilt.code == 0
        and "leads rebuild: 2 visitors kept from the stored visits, 2 days of aggregates" in rebuilt.err
    )
    assert cli("leads", "list", "--format", "json").out == listed.out
    assert [row["lead"] for row in json.loads(listed.out)] == ["shared@example.com", "v00000000003"]


def test_funnel_report_and_check_count_the_visits_as_a_scan_of_the_day_files(cli, workspace, monkeypatch):
    """`funnel report` and `funnel check` read the aggregates; their figures are those of the old full scan."""
    write_config(
        workspace,
        '[[funnel.rules]]\nfrom = "demo"\nto = "trial"\nmin_rate = 0.5\nwindow_days = 7\nmin_sample = 1\n',
    )
    now = START + timedelta(days=19, hours=13, minutes=7)
    monkeypatch.setenv("ARKOPS_NOW", iso(now))
    rt = Runtime(data_dir=workspace / "data", config_path=workspace / "arkops.toml", env_file=workspace / ".env")
    rng = random.Random(35)
    sources, referrers = ("", "newsletter", "hn"), ("", "news.example", "search.example")
    _append(
        rt,
        [
            (
                rng.randrange(6),
                rng.randrange(20 * 86_400),
                rng.choice(PATHS),
                rng.random() < 0.2,
                rng.choice(sources),
                rng.choice(referrers),
            )
            for _ in range(400)
        ],
    )
    report = json.loads(cli("funnel", "report", "--by", "source", "--format", "json").out)
    scanned = scanned_people(rt, now - timedelta(days=30), now, "/demo")
    assert [(s["name"], s["count"]) for s in report["stages"][:2]] == [
        ("visitors", len(scanned["first"])),
        ("demo", len(scanned["page_first"])),
    ]
    visits = (report["stages"][0]["visits"], report["stages"][1]["visits"])
    assert visits == (scanned["visits"], scanned["page_visits"])
    by_source: dict[str, int] = {}
    for person in scanned["first"]:
        source = scanned["utm"].get(person) or scanned["referrer"].get(person) or "direct"
        by_source[source] = by_source.get(source, 0) + 1
    assert {g["group"]: g["stages"][0]["count"] for g in report["groups"]} == by_source
    check = json.loads(cli("funnel", "check", "--format", "json").out)
    week = scanned_people(rt, now - timedelta(days=7), now, "/demo")
    rule = check["rules"][0]
    assert (rule["count_from"], rule["count_to"]) == (len(week["page_first"]), 0)  # no trial
    assert len(week["page_first"]) > 1 and rule["status"] == "failing" and rule["sources"]  # the sources read too
    last = max(line for path in (workspace / "data" / "visits").glob("*.jsonl") for line in path.open())
    assert check["visits"]["last"] == json.loads(last)["at"]
