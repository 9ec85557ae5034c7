"""What the analytics provider says of the tracked pages: the funnel's visitors, and per-page counts to compare.

Unique visitors are the provider's own count over the whole window
(Plausible's `visitors`, GA4's `activeUsers`): a person seen on three days
counts once, as the funnel's log-based visitors do. Per-page comparisons
(`leads stats --compare`) use the same definition as `leads stats`:
visitors distinct per day, summed over the days, and a request path is
counted under the tracked page that holds it (the longest prefix). The
provider's rows are per path and day, so someone who opened two paths of
one tracked page on one day (`/pricing` and `/pricing/team`) counts twice
on the provider's side.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from arkops.errors import ConfigError
from arkops.runtime import Runtime
from arkops.sources.analytics import Provider, open_provider


def connect(rt: Runtime) -> Provider:
    name = rt.config["analytics"]["provider"]
    if not name:
        raise ConfigError(rt.config.path, "analytics.provider", 'no analytics provider set ("plausible" or "ga4")')
    return open_provider(name, rt.config["analytics"])


def _prefixes(rt: Runtime) -> tuple[str, ...]:
    return tuple(page["path"] for page in rt.config["leads"]["pages"])


@dataclass
class FunnelVisitors:
    """The funnel's top from aggregates: unique visitors of the tracked pages, and of the demo page."""

    provider: str
    visitors: int
    demo: int
    groups: dict[str, tuple[int, int]] = field(default_factory=dict)  # week or source -> (visitors, demo)


def funnel_visitors(rt: Runtime, *, start: datetime, end: datetime, by: str | None) -> FunnelVisitors:
    provider = connect(rt)
    prefixes = _prefixes(rt)
    demo_page = (rt.config["funnel"]["demo_page"],)
    total = provider.visitors(start=start, end=end, prefixes=prefixes, dimensions=())
    demo = provider.visitors(start=start, end=end, prefixes=demo_page, dimensions=())
    found = FunnelVisitors(provider.name, sum(r.visitors for r in total), sum(r.visitors for r in demo))
    if by is not None:
        everyone = Counter(
            {r.key[0]: r.visitors for r in provider.visitors(start=start, end=end, prefixes=prefixes, dimensions=(by,))}
        )
        demo_by = Counter(
            {
                r.key[0]: r.visitors
                for r in provider.visitors(start=start, end=end, prefixes=demo_page, dimensions=(by,))
            }
        )
        found.groups = {key: (everyone[key], demo_by[key]) for key in everyone.keys() | demo_by.keys()}
    return found


def page_counts(rt: Runtime, *, start: datetime, end: datetime) -> dict[str, dict[str, int]]:
    """Per tracked page: `visitors` (distinct per day, summed) and `pageviews`, as the provider counts them."""
    from arkops.core.leads.visits import match_page, tracked_pages

    provider = connect(rt)
    pages = tracked_pages(rt)
    counts = {page.path: {"visitors": 0, "pageviews": 0} for page in pages}
    rows = provider.visitors(start=start, end=end, prefixes=_prefixes(rt), dimensions=("page", "day"))
    for row in rows:
        page = match_page(pages, row.key[0].split("?", 1)[0])
        if page is not None:
            counts[page.path]["visitors"] += row.visitors
            counts[page.path]["pageviews"] += row.pageviews
    return counts


def compare_pages(rt: Runtime, *, now: datetime, since: datetime | None, until: datetime | None = None) -> dict:
    """`leads stats --compare`: per tracked page, arkops' counts from the logs beside the provider's.

    `difference` is the provider's visitors minus arkops' (both distinct per day, summed): positive where
    the logs miss people (a CDN or a cache answered), negative where the provider misses them (ad
    blockers, no JavaScript) or arkops kept visitors the provider calls bots.
    """
    from arkops.clock import parse_iso
    from arkops.core.leads.scoring import page_stats

    stats = page_stats(rt, now=now, since=since, until=until)
    theirs = page_counts(rt, start=parse_iso(stats["since"]), end=until or now)
    pages = []
    for page in stats["pages"]:
        counted = theirs.get(page["path"], {"visitors": 0, "pageviews": 0})
        pages.append(
            {
                **page,
                "provider_visitors": counted["visitors"],
                "provider_pageviews": counted["pageviews"],
                "difference": counted["visitors"] - page["visitors"],
            }
        )
    return {**stats, "provider": rt.config["analytics"]["provider"], "pages": pages}
