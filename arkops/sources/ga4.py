"""Google Analytics 4's Data API `runReport`, through Google's client library (`google-analytics-data`).

One report per call: `dateRanges` (whole days, the property's time zone),
`dimensions` (`pagePath`, `date`, `isoYearIsoWeek`, `sessionSource`),
`metrics` (`activeUsers`, `screenPageViews`) and a `dimensionFilter` on
`pagePath` (FULL_REGEXP, one per tracked page, OR'd). Credentials are
Google's usual ones (`GOOGLE_APPLICATION_CREDENTIALS`, a service account's
JSON key). `GA4_API_BASE` points the client at another endpoint through its
`api_endpoint` option, over the REST transport; with no credentials set it
then sends none (a local stand-in, in tests).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from arkops.config import env
from arkops.errors import DataError, ServiceError
from arkops.sources.analytics import Row

DIMENSION = {"page": "pagePath", "day": "date", "week": "isoYearIsoWeek", "source": "sessionSource"}
LIMIT = 100_000


class GoogleAnalytics:
    name = "ga4"

    def __init__(self, settings: dict[str, Any]) -> None:
        self.property_id = settings["property_id"]
        if not self.property_id:
            raise DataError("analytics: [analytics] property_id is empty (the GA4 property's number)")
        try:
            from google.analytics.data_v1beta import BetaAnalyticsDataClient
        except ImportError:
            raise DataError(
                "analytics: google-analytics-data is not installed: pip install 'arkops[analytics]'"
            ) from None
        base = env("GA4_API_BASE")
        options: dict[str, Any] = {}
        if base:
            options = {"transport": "rest", "client_options": {"api_endpoint": base}}
            if not env("GOOGLE_APPLICATION_CREDENTIALS"):
                from google.auth.credentials import AnonymousCredentials

                options["credentials"] = AnonymousCredentials()
        elif not env("GOOGLE_APPLICATION_CREDENTIALS"):
            raise DataError("analytics: no GOOGLE_APPLICATION_CREDENTIALS set (a service account's JSON key)")
        self.client = BetaAnalyticsDataClient(**options)

    def visitors(
        self, *, start: datetime, end: datetime, prefixes: tuple[str, ...], dimensions: tuple[str, ...]
    ) -> list[Row]:
        from google.analytics.data_v1beta.types import (
            DateRange,
            Dimension,
            Filter,
            FilterExpression,
            FilterExpressionList,
            Metric,
            RunReportRequest,
        )

        request = RunReportRequest(
            property=f"properties/{self.property_id}",
            date_ranges=[
                DateRange(start_date=start.date().isoformat(), end_date=(end - timedelta(seconds=1)).date().isoformat())
            ],
            dimensions=[Dimension(name=DIMENSION[d]) for d in dimensions],
            metrics=[Metric(name="activeUsers"), Metric(name="screenPageViews")],
            dimension_filter=FilterExpression(
                or_group=FilterExpressionList(
                    expressions=[
                        FilterExpression(
                            filter=Filter(
                                field_name="pagePath",
                                string_filter=Filter.StringFilter(
                                    match_type=Filter.StringFilter.MatchType.FULL_REGEXP,
                                    value=_full_pattern(prefix),
                                ),
                            )
                        )
                        for prefix in prefixes
                    ]
                )
            ),
            limit=LIMIT,
        )
        try:
            response = self.client.run_report(request=request)
        except Exception as exc:  # google.api_core's errors (and transport errors) have no one base we can name
            raise ServiceError(f"ga4: runReport failed: {type(exc).__name__}: {exc}") from None
        rows = []
        for row in response.rows:
            values = [v.value for v in row.dimension_values]
            key = tuple(_value(d, v) for d, v in zip(dimensions, values, strict=True))
            metrics = [int(float(m.value or 0)) for m in row.metric_values]
            rows.append(Row(key, metrics[0], metrics[1]))
        return rows


def _full_pattern(prefix: str) -> str:
    """FULL_REGEXP must match the whole path: the prefix itself or below it."""
    return re.escape(prefix) + (".*" if prefix.endswith("/") else "(/.*)?")


def _value(dimension: str, value: str) -> str:
    if dimension == "day" and len(value) == 8:  # YYYYMMDD
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    if dimension == "week" and len(value) == 6:  # YYYYWW
        return f"{value[:4]}-W{value[4:]}"
    return value
