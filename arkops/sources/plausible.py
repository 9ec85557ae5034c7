"""Plausible's Stats API v2 (`POST /api/v2/query`), with the standard library.

One query per call, as Plausible's reference describes it: `site_id`,
`metrics` (`visitors`, `pageviews`), `date_range` as two ISO 8601
datetimes (inclusive), `dimensions` (`event:page`, `time:day`,
`time:week`, `visit:source`), `filters` (`["matches", "event:page",
[regex, ...]]`: the tracked pages) and `pagination`; the answer's
`results` are `{"metrics": [...], "dimensions": [...]}`. The key is a
Bearer token (`PLAUSIBLE_API_KEY`); `PLAUSIBLE_API_BASE` points at a
self-hosted Plausible (default https://plausible.io).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from arkops.config import env
from arkops.errors import DataError, ServiceError
from arkops.sources.analytics import Row, iso_week, prefix_pattern
from arkops.sources.http_json import call

DIMENSION = {"page": "event:page", "day": "time:day", "week": "time:week", "source": "visit:source"}
PAGE = 10_000


class Plausible:
    name = "plausible"

    def __init__(self, settings: dict[str, Any]) -> None:
        self.site_id = settings["site_id"]
        self.key = env("PLAUSIBLE_API_KEY")
        self.base = (env("PLAUSIBLE_API_BASE") or "https://plausible.io").rstrip("/")
        if not self.site_id:
            raise DataError("analytics: [analytics] site_id is empty (the site's domain in Plausible)")
        if not self.key:
            raise DataError("analytics: no PLAUSIBLE_API_KEY set (in the environment or .env)")

    def visitors(
        self, *, start: datetime, end: datetime, prefixes: tuple[str, ...], dimensions: tuple[str, ...]
    ) -> list[Row]:
        query: dict[str, Any] = {
            "site_id": self.site_id,
            "metrics": ["visitors", "pageviews"],
            "date_range": [start.isoformat(), (end - timedelta(seconds=1)).isoformat()],
            "dimensions": [DIMENSION[d] for d in dimensions],
            "filters": [["matches", "event:page", [prefix_pattern(p) for p in prefixes]]],
        }
        rows: list[Row] = []
        offset = 0
        while True:
            query["pagination"] = {"limit": PAGE, "offset": offset}
            answer = call(
                "POST",
                f"{self.base}/api/v2/query",
                headers={"Authorization": f"Bearer {self.key}"},
                body=query,
                service="plausible",
            )
            body = answer.body if isinstance(answer.body, dict) else {}
            if answer.status != 200:
                raise ServiceError(f"plausible: HTTP {answer.status} {body.get('error') or ''}".strip())
            results = body.get("results") or []
            for result in results:
                values = [str(v) for v in result.get("dimensions") or []]
                key = tuple(iso_week(v[:10]) if d == "week" else v for d, v in zip(dimensions, values, strict=True))
                metrics = result.get("metrics") or [0, 0]
                rows.append(Row(key, int(metrics[0] or 0), int(metrics[1] or 0)))
            if len(results) < PAGE:
                return rows
            offset += PAGE
