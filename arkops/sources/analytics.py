"""The one small interface of a web-analytics provider: visitors and pageviews of the tracked pages, aggregated.

Providers give aggregates, never individual visitors: a `Row` is a count
for one combination of the dimensions asked (`page`: the request path,
`day`: YYYY-MM-DD, `week`: an ISO week YYYY-Www, `source`: the provider's
name for where the visit came from), over the tracked pages only (a path
equal to a tracked prefix or below it). A provider is one module
(`plausible`, `ga4`) with a class built from `(key, base, settings)` and
its line in `PROVIDERS`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, NamedTuple, Protocol

DIMENSIONS = ("page", "day", "week", "source")


class Row(NamedTuple):
    key: tuple[str, ...]  # one value per dimension asked, in order
    visitors: int
    pageviews: int


class Provider(Protocol):
    name: str

    def visitors(
        self, *, start: datetime, end: datetime, prefixes: tuple[str, ...], dimensions: tuple[str, ...]
    ) -> list[Row]:
        """Unique visitors and pageviews of the tracked pages in `[start, end)`, per combination of `dimensions`."""
        ...


def prefix_pattern(prefix: str) -> str:
    """A regular expression for a path equal to a tracked prefix or below it (`/pricing` holds `/pricing/team`)."""
    escaped = re.escape(prefix)
    return f"^{escaped}" if prefix.endswith("/") else f"^{escaped}(/.*)?$"


def iso_week(day: str) -> str:
    """`2026-10-12` (any day of the week) -> `2026-W42`."""
    year, week, _ = datetime.strptime(day, "%Y-%m-%d").isocalendar()
    return f"{year}-W{week:02d}"


PROVIDERS = {
    "plausible": "arkops.sources.plausible:Plausible",
    "ga4": "arkops.sources.ga4:GoogleAnalytics",
}


def open_provider(name: str, settings: dict[str, Any]) -> Provider:
    import importlib

    module, _, attribute = PROVIDERS[name].partition(":")
    return getattr(importlib.import_module(module), attribute)(settings)
