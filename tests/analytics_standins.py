"""Local stand-ins of the web-analytics endpoints arkops uses, on loopback, written from the providers' references.

Plausible Stats API v2 (plausible.io/docs/stats-api): `POST /api/v2/query`
with a Bearer key and a JSON query (`site_id`, `metrics`, `date_range`,
`dimensions`, `filters`, `pagination`); the answer is `{"results":
[{"metrics": [...], "dimensions": [...]}], "meta": {}, "query": {...}}`;
`time:week` is the week's first day (Monday), `visit:source` the source's
name; filters are `[operator, dimension, clauses]` (`matches` is a regular
expression, any clause may match); errors are `{"error": "..."}`.

GA4 Data API v1beta (developers.google.com/analytics/devguides/reporting/data/v1):
`POST /v1beta/properties/{id}:runReport` with `dateRanges`, `dimensions`,
`metrics`, `dimensionFilter` and `limit` (an int64, so a JSON string);
the answer has `dimensionHeaders`, `metricHeaders`, `rows` of
`dimensionValues`/`metricValues` (values as strings), `rowCount` and
`metadata`; dates are YYYYMMDD, ISO weeks YYYYWW. Enums may come as names or
numbers (the client library's REST transport asks for `enum-encoding=int`).

Both compute from a list of page views the test gives: `(visitor, path, at, source)`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

PLAUSIBLE_KEY = "plausible-key-0123456789"
FULL_REGEXP = 5


@dataclass(frozen=True)
class View:
    visitor: str
    path: str
    at: datetime
    source: str = "Direct / None"


class AnalyticsStandIn(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, views: list[View]) -> None:
        super().__init__(("127.0.0.1", port), AnalyticsHandler)
        self.views = views
        self.queries: list[tuple[str, dict]] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def aggregate(views: list[View], keys) -> dict[tuple, tuple[int, int]]:
    """(unique visitors, pageviews) per key; `keys(view)` gives a view's key, None to leave it out."""
    visitors: dict[tuple, set[str]] = {}
    pageviews: dict[tuple, int] = {}
    for view in views:
        key = keys(view)
        if key is None:
            continue
        visitors.setdefault(key, set()).add(view.visitor)
        pageviews[key] = pageviews.get(key, 0) + 1
    return {key: (len(visitors[key]), pageviews[key]) for key in visitors}


class AnalyticsHandler(BaseHTTPRequestHandler):
    server: AnalyticsStandIn

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        path = unquote(urlparse(self.path).path)
        self.server.queries.append((path, body))
        if path == "/api/v2/query":
            status, answer = self.plausible(body)
        elif match := re.fullmatch(r"/v1beta/properties/(\d+):runReport", path):
            status, answer = self.ga4(match[1], body)
        else:
            status, answer = 404, {"error": f"no route {path}"}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def plausible(self, query: dict) -> tuple[int, dict]:
        if self.headers.get("Authorization") != f"Bearer {PLAUSIBLE_KEY}" or query.get("site_id") != "example.com":
            return 401, {
                "error": "Invalid API key or site ID. Please make sure you're using a valid API key with access to the site you've requested."
            }
        if query.get("metrics") != ["visitors", "pageviews"]:
            return 400, {"error": f"#/metrics: unexpected {query.get('metrics')}"}
        start, end = (datetime.fromisoformat(v).astimezone(UTC) for v in query["date_range"])
        patterns = []
        for operator, dimension, clauses in query.get("filters", []):
            if operator != "matches" or dimension != "event:page":
                return 400, {"error": f"#/filters: unsupported {operator} {dimension}"}
            patterns.append([re.compile(c) for c in clauses])
        names = {
            "event:page": lambda v: v.path,
            "time:day": lambda v: v.at.date().isoformat(),
            "time:week": lambda v: (v.at.date() - timedelta(days=v.at.weekday())).isoformat(),
            "visit:source": lambda v: v.source,
        }
        try:
            pick = [names[d] for d in query.get("dimensions", [])]
        except KeyError as exc:
            return 400, {"error": f"#/dimensions: invalid dimension {exc}"}

        def keys(view: View) -> tuple | None:
            if not start <= view.at <= end or not all(any(p.search(view.path) for p in group) for group in patterns):
                return None
            return tuple(f(view) for f in pick)

        counts = aggregate(self.server.views, keys)
        page = query.get("pagination", {"limit": 10000, "offset": 0})
        rows = sorted(counts.items(), key=lambda item: (-item[1][0], item[0]))[
            page["offset"] : page["offset"] + page["limit"]
        ]
        results = [{"metrics": [v, p], "dimensions": list(key)} for key, (v, p) in rows]
        if not pick and not results:
            results = [{"metrics": [0, 0], "dimensions": []}]
        return 200, {"results": results, "meta": {}, "query": query}

    def ga4(self, property_id: str, request: dict) -> tuple[int, dict]:
        if property_id != "123456789":
            return 403, {
                "error": {
                    "code": 403,
                    "message": "User does not have sufficient permissions for this property.",
                    "status": "PERMISSION_DENIED",
                }
            }
        (dates,) = request["dateRanges"]
        first = datetime.strptime(dates["startDate"], "%Y-%m-%d").replace(tzinfo=UTC)
        last = datetime.strptime(dates["endDate"], "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(days=1)
        expressions = request.get("dimensionFilter", {}).get("orGroup", {}).get("expressions", [])
        patterns = []
        for expression in expressions:
            condition = expression["filter"]
            string = condition["stringFilter"]
            if condition["fieldName"] != "pagePath" or string["matchType"] not in ("FULL_REGEXP", FULL_REGEXP):
                return 400, {"error": {"code": 400, "message": "unsupported filter", "status": "INVALID_ARGUMENT"}}
            patterns.append(re.compile(string["value"]))
        names = {
            "pagePath": lambda v: v.path,
            "date": lambda v: v.at.strftime("%Y%m%d"),
            "isoYearIsoWeek": lambda v: "{}{:02d}".format(*v.at.isocalendar()[:2]),
            "sessionSource": lambda v: v.source,
        }
        dimensions = [d["name"] for d in request.get("dimensions", [])]
        metrics = [m["name"] for m in request["metrics"]]
        if metrics != ["activeUsers", "screenPageViews"]:
            return 400, {
                "error": {"code": 400, "message": f"unexpected metrics {metrics}", "status": "INVALID_ARGUMENT"}
            }

        def keys(view: View) -> tuple | None:
            if not first <= view.at < last or (patterns and not any(p.fullmatch(view.path) for p in patterns)):
                return None
            return tuple(names[d](view) for d in dimensions)

        counts = aggregate(self.server.views, keys)
        rows = [
            {"dimensionValues": [{"value": v} for v in key], "metricValues": [{"value": str(u)}, {"value": str(p)}]}
            for key, (u, p) in sorted(counts.items())
        ]
        return 200, {
            "dimensionHeaders": [{"name": d} for d in dimensions],
            "metricHeaders": [
                {"name": "activeUsers", "type": "TYPE_INTEGER"},
                {"name": "screenPageViews", "type": "TYPE_INTEGER"},
            ],
            "rows": rows,
            "rowCount": len(rows),
            "metadata": {"currencyCode": "USD", "timeZone": "Etc/GMT"},
            "kind": "analyticsData#runReport",
        }
