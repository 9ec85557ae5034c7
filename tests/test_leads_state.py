"""The leads' kept state (`arkops.core.leads.state`) against a from-scratch computation over the day files."""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import write_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arkops.clock import iso
from arkops.core.leads.retention import drop_old_visits
from arkops.core.leads.scoring import kept_leads
from arkops.core.leads.visits import day_file, match_page, tracked_pages
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
        if page.hot and (lead["hot"] is None or (visit["at"], page.label) < lead["hot"][::-1]):
            lead["hot"] = (page.label, visit["at"])  # the first hot visit (of two in one second, by label)
    return leads


def kept(rt: Runtime, now: datetime) -> dict[str, dict]:
    return {
        lead.key: {
            "score": lead.score,
            "visits": lead.count,
            "first": lead.first_at,
            "last": lead.last["at"],
            "hot": (lead.hot_visit["label"], lead.hot_visit["at"]) if lead.hot_visit else None,
        }
        for lead in kept_leads(rt, now=now)
    }


def same(found: dict[str, dict], expected: dict[str, dict]) -> None:
    assert found.keys() == expected.keys()
    for key, lead in expected.items():
        assert abs(found[key]["score"] - lead["score"]) <= 1e-9 * max(1.0, lead["score"]), key
        assert {k: v for k, v in found[key].items() if k != "score"} == {
            k: v for k, v in lead.items() if k != "score"
        }, key


visit_strategy = st.tuples(
    st.integers(0, 5),  # visitor
    st.integers(0, 20 * 86_400 - 1),  # seconds after START
    st.sampled_from(PATHS),
    st.booleans(),  # carries the visitor's email, if they have one
    st.sampled_from(("", "newsletter", "hn")),
)
step_strategy = st.one_of(
    st.tuples(st.just("ingest"), st.lists(visit_strategy, min_size=1, max_size=12)),
    st.tuples(st.just("scan"), st.integers(0, 22)),
    st.tuples(st.just("status"), st.integers(0, 22)),
    st.tuples(st.just("retention"), st.integers(8, 22)),
    st.tuples(st.just("forget"), st.just(0)),
)


def _append(rt: Runtime, visits: list[tuple[int, int, str, bool, str]]) -> None:
    """Visits as `leads ingest` stores them, in the order given (a log may hold days out of order)."""
    ensure_dir(rt.data_dir / "visits")
    for visitor, second, path, with_email, source in visits:
        at = START + timedelta(seconds=second)
        visit: dict = {"at": iso(at), "visitor": f"v{visitor:011x}", "ip": f"203.0.113.{visitor}", "path": path}
        if with_email and visitor in EMAILS:
            visit["email"] = EMAILS[visitor]
        if source:
            visit["utm_source"] = source
        JsonLines(day_file(rt, at.date())).append([visit])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step_strategy, min_size=1, max_size=10))
def test_kept_state_equals_a_computation_from_scratch(workspace, steps):
    write_config(workspace, "[leads]\nretention_days = 10\nhalf_life_days = 3\n")
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
            elif kind == "status":  # read-only: the new visits are added in memory, nothing is written
                before = (data / "lead_state.tsv").read_bytes() if (data / "lead_state.tsv").exists() else None
                same(kept(replace(rt, read_only=True), now), from_scratch(rt, now))
                after = (data / "lead_state.tsv").read_bytes() if (data / "lead_state.tsv").exists() else None
                assert before == after
            elif kind == "retention":
                drop_old_visits(rt, now=now)
            else:
                forget(rt, "shared@example.com", now=now)
        now = max(START + timedelta(days=21), latest)
        same(kept(rt, now), from_scratch(rt, now))


def test_leads_rebuild_makes_the_same_state_from_the_day_files(cli, workspace, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", "2026-10-21T00:00:00Z")
    rt = Runtime(data_dir=workspace / "data", config_path=workspace / "arkops.toml", env_file=workspace / ".env")
    _append(rt, [(0, 3_600, "/pricing", True, "hn"), (3, 7_200, "/demo", False, ""), (3, 90_000, "/demo", False, "")])
    listed = cli("leads", "list", "--format", "json")
    assert listed.code == 0 and (workspace / "data" / "lead_state.tsv").exists()
    rebuilt = cli("leads", "rebuild")
    assert rebuilt.code == 0 and "leads rebuild: 2 visitors kept from the stored visits, 2 days of aggregates" in rebuilt.err
    assert cli("leads", "list", "--format", "json").out == listed.out
    assert [row["lead"] for row in json.loads(listed.out)] == ["shared@example.com", "v00000000003"]
