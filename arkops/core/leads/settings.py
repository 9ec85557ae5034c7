"""The leads domain's keys of arkops.toml: `[leads]` and its tracked pages.

Named by the domain's declaration (`Domain.config`); `arkops.config` reads, checks and documents them.
"""

from __future__ import annotations

from arkops.config import Field, ListOf, Spec, Table, at_least, one_of, page_path, path_list

CONFIG: dict[str, Spec] = {
    "leads": Table(
        {
            "hot_score": Field(
                float,
                8.0,
                at_least(0.1),
                doc="a visitor whose decayed score reaches this is a hot lead (as is one who opened a hot page)",
            ),
            "half_life_days": Field(float, 7.0, at_least(0.01), doc="a visit counts half as much after this many days"),
            "realert_hours": Field(
                int, 24, at_least(1), doc="a lead is alerted again only after this long, and only if its score grew"
            ),
            "max_alerts_per_hour": Field(
                int, 4, at_least(1), doc="at most this many digests an hour, hot-lead and new-lead digests together"
            ),
            "digest_max": Field(
                int, 20, at_least(1), doc="leads named in one digest (the hottest first); the rest are counted"
            ),
            "retention_days": Field(int, 90, at_least(1), doc="visit files older than this are deleted"),
            "ip_storage": Field(
                str,
                "anonymized",
                one_of("anonymized", "full"),
                doc="anonymized (IPv4 /24, IPv6 /48, before anything is written) or full",
            ),
            "keep_bots": Field(bool, False, doc="keep visits from known crawlers, feed readers and monitors"),
            "sources": Field(
                list, [], path_list, doc="access logs `leads ingest` and `leads scan` read by default (globs allowed)"
            ),
            "demo_request_files": Field(
                list,
                [],
                path_list,
                doc="the app's demo request files (`leads import`'s format), followed by `leads scan` (globs, "
                "relative to arkops.toml)",
            ),
            "files_stale_hours": Field(
                int, 48, at_least(1), doc="doctor warns when no demo request file was written for this long"
            ),
            "pages": ListOf(
                Table(
                    {
                        "path": Field(str, "", page_path, doc="a request path prefix, without query string"),
                        "weight": Field(float, 1.0, at_least(0), doc="what one visit adds to the score"),
                        "label": Field(str, "", doc="the page's name in digests and stats (empty: the path)"),
                        "hot": Field(
                            bool, False, doc="one visit makes the visitor a hot lead at once, whatever the score"
                        ),
                    }
                ),
                [
                    {"path": "/demo", "weight": 1.0, "label": "demo", "hot": False},
                    {"path": "/pricing", "weight": 3.0, "label": "pricing", "hot": True},
                    {"path": "/trial", "weight": 5.0, "label": "trial", "hot": True},
                ],
                doc="tracked pages, one [[leads.pages]] table each, matched by prefix",
                legacy_map=lambda path, weight: {"path": path, "weight": weight},
            ),
        },
        doc="hot leads from the access logs and the app's visit log",
    ),
}
