"""Web analytics as a second source, against stand-ins of Plausible's Stats API v2 and GA4's runReport
(tests/analytics_standins.py): the funnel's visitors from aggregates, and `leads stats --compare`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from analytics_standins import PLAUSIBLE_KEY, AnalyticsStandIn, View
from conftest import free_port, serving, write_config

from arkops.clock import iso

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0"


def views() -> list[View]:
    """40 visitors of /pricing (or below it) in the last 30 days, 10 of them on /demo too; what must not count:
    an untracked page, and views older than the window."""
    found = []
    for n in range(40):
        at = NOW - timedelta(days=n % 20, hours=1)
        source = "Google" if n % 2 else "Newsletter"
        found.append(View(f"v{n:02d}", "/pricing/team" if n % 5 == 0 else "/pricing", at, source))
        found.append(View(f"v{n:02d}", "/pricing", at + timedelta(minutes=5), source))
        if n < 10:
            found.append(View(f"v{n:02d}", "/demo", at + timedelta(minutes=10), source))
    found.append(View("v99", "/blog/pricing-tips", NOW - timedelta(days=1), "Google"))
    found.append(View("v98", "/pricing", NOW - timedelta(days=40), "Google"))
    return found


@pytest.fixture
def analytics(workspace, monkeypatch):
    server = AnalyticsStandIn(free_port(), views())
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW))
    monkeypatch.setenv("PLAUSIBLE_API_KEY", PLAUSIBLE_KEY)
    monkeypatch.setenv("PLAUSIBLE_API_BASE", server.base)
    monkeypatch.setenv("GA4_API_BASE", server.base)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    write_config(workspace, '[analytics]\nprovider = "plausible"\nsite_id = "example.com"\n')
    with serving(server):
        yield server


def events(cli, workspace) -> None:
    """What stays event-based: 4 trial signups and 2 demo requests in the window."""
    (workspace / "signups.json").write_text(
        json.dumps(
            [
                {"email": f"t{n}@example.com", "plan": "pro", "created_at": iso(NOW - timedelta(days=n + 1))}
                for n in range(4)
            ]
        )
    )
    assert cli("trials", "import", "signups.json").code == 0
    (workspace / "requests.json").write_text(
        json.dumps(
            [
                {
                    "email": f"r{n}@example.com",
                    "name": "R",
                    "source": "pricing",
                    "created_at": iso(NOW - timedelta(days=3)),
                }
                for n in range(2)
            ]
        )
    )
    assert cli("leads", "import", "requests.json").code == 0


def stage_counts(document: dict) -> dict[str, int]:
    return {stage["name"]: stage["count"] for stage in document["stages"]}


def rates(document: dict) -> dict[str, float | None]:
    return {f"{r['from']}->{r['to']}": r["rate"] for r in document["rates"]}


def test_funnel_visitors_from_plausible_aggregates(cli, workspace, analytics):
    events(cli, workspace)
    logs = json.loads(cli("funnel", "report", "--format", "json").out)
    assert stage_counts(logs)["visitors"] == 0  # no access log here: the logs see nobody
    result = cli("funnel", "report", "--visitors-from", "analytics", "--format", "json")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert (document["visitors_from"], document["provider"]) == ("analytics", "plausible")
    # 40 unique visitors (not 80 pageviews); demo: 10 demo-page visitors and 2 demo requests
    assert stage_counts(document) == {"visitors": 40, "demo": 12, "trial": 4, "active": 0, "paid": 0}
    assert rates(document)["visitors->demo"] == 0.3
    assert rates(document)["demo->trial"] == round(4 / 12, 4)
    path, query = analytics.queries[0]
    assert path == "/api/v2/query"
    assert query == {
        "site_id": "example.com",
        "metrics": ["visitors", "pageviews"],
        "date_range": ["2026-02-18T12:00:00+00:00", "2026-03-20T11:59:59+00:00"],
        "dimensions": [],
        "filters": [["matches", "event:page", ["^/demo(/.*)?$", "^/pricing(/.*)?$", "^/trial(/.*)?$"]]],
        "pagination": {"limit": 10000, "offset": 0},
    }
    table = cli("funnel", "report", "--visitors-from", "analytics")
    assert table.code == 0 and "period rates (visitors: plausible aggregates)" in table.out
    assert "12 of 40" in table.out and "4 of 12" in table.out


def test_funnel_by_source_and_week_from_aggregates(cli, workspace, analytics):
    events(cli, workspace)
    by_source = json.loads(
        cli("funnel", "report", "--visitors-from", "analytics", "--by", "source", "--format", "json").out
    )
    groups = {g["group"]: stage_counts(g) for g in by_source["groups"]}
    assert groups["Google"]["visitors"] == 20 and groups["Newsletter"]["visitors"] == 20
    assert groups["Google"]["demo"] + groups["Newsletter"]["demo"] == 10
    assert groups["pricing"]["demo"] == 2  # the demo requests said where they came from
    by_week = json.loads(
        cli("funnel", "report", "--visitors-from", "analytics", "--by", "week", "--format", "json").out
    )
    weeks = {g["group"]: stage_counts(g)["visitors"] for g in by_week["groups"]}
    assert sum(weeks.values()) == 40 and set(weeks) >= {"2026-W12", "2026-W11", "2026-W10"}


def test_cohort_rates_need_individuals(cli, workspace, analytics):
    result = cli("funnel", "report", "--visitors-from", "analytics", "--cohort")
    assert result.code == 2
    assert "--cohort follows people, and analytics aggregates have none" in result.err
    assert cli("funnel", "report", "--visitors-from", "ads").code == 2


def test_funnel_visitors_from_ga4_through_the_client_library(cli, workspace, analytics):
    write_config(workspace, '[analytics]\nprovider = "ga4"\nproperty_id = "123456789"\n')
    events(cli, workspace)
    result = cli("funnel", "report", "--visitors-from", "analytics", "--format", "json")
    assert result.code == 0, result.err
    assert stage_counts(json.loads(result.out)) == {"visitors": 40, "demo": 12, "trial": 4, "active": 0, "paid": 0}
    path, report = analytics.queries[0]
    assert path == "/v1beta/properties/123456789:runReport"
    assert report["dateRanges"] == [{"startDate": "2026-02-18", "endDate": "2026-03-20"}]
    assert [m["name"] for m in report["metrics"]] == ["activeUsers", "screenPageViews"]
    expressions = report["dimensionFilter"]["orGroup"]["expressions"]
    assert [e["filter"]["stringFilter"]["value"] for e in expressions] == [
        "/demo(/.*)?",
        "/pricing(/.*)?",
        "/trial(/.*)?",
    ]


def access_line(ip: str, at: datetime, page: str) -> str:
    return f'{ip} - - [{at.strftime("%d/%b/%Y:%H:%M:%S")} +0000] "GET {page} HTTP/1.1" 200 5120 "-" "{BROWSER}"\n'


def test_leads_stats_compare_prints_both_counts(cli, workspace, analytics, monkeypatch):
    # The logs saw 3 of the 5 people Plausible counted on /pricing yesterday (a CDN answered the others).
    day = NOW - timedelta(days=1)
    analytics.views[:] = [View(f"p{n}", "/pricing", day + timedelta(minutes=n)) for n in range(5)]
    analytics.views.append(View("p0", "/pricing/team", day + timedelta(minutes=30)))
    (workspace / "access.log").write_text("".join(access_line(f"198.51.{n}.7", day, "/pricing") for n in range(3)))
    assert cli("leads", "ingest", "access.log").code == 0
    result = cli("leads", "stats", "--compare", "--format", "json")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    pricing = next(p for p in document["pages"] if p["path"] == "/pricing")
    assert (pricing["hits"], pricing["visitors"]) == (3, 3)
    # p0 on /pricing and /pricing/team the same day counts twice: the provider's rows are per path and day
    assert (pricing["provider_visitors"], pricing["provider_pageviews"], pricing["difference"]) == (6, 6, 3)
    assert document["provider"] == "plausible"
    monkeypatch.setenv("COLUMNS", "120")  # at 80 columns the table would leave its last columns out (and say so)
    table = cli("leads", "stats", "--compare")
    assert "provider_visitors" in table.out and "(logs beside plausible)" in table.out
    row = next(line for line in table.out.splitlines() if line.strip().startswith("/pricing"))
    assert [cell for cell in row.split() if cell != "│"] == ["/pricing", "pricing", "3", "3", "6", "6", "3"]


def test_doctor_names_what_analytics_lacks(cli, workspace, analytics, monkeypatch):
    monkeypatch.delenv("PLAUSIBLE_API_KEY")
    checks = {c["check"]: c for c in json.loads(cli("doctor", "--format", "json").out)}
    assert checks["analytics"]["status"] == "fail"
    assert checks["analytics"]["detail"] == "analytics: no PLAUSIBLE_API_KEY set (in the environment or .env)"
    failed = cli("leads", "stats", "--compare")
    assert failed.code == 3 and "no PLAUSIBLE_API_KEY set" in failed.err
