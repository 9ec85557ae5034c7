"""The trials domain's keys of arkops.toml: `[trials]` and its lifecycle schedule.

Named by the domain's declaration (`Domain.config`); `arkops.config` reads, checks and documents them.
"""

from __future__ import annotations

from arkops.config import Field, Spec, Table, at_least, http_url

CONFIG: dict[str, Spec] = {
    "trials": Table(
        {
            "length_days": Field(int, 14, at_least(1), doc="trial length in days"),
            "grace_days": Field(int, 2, at_least(0), doc="a lifecycle email later than this many days is skipped"),
            "demo_activity_threshold": Field(
                int, 3, at_least(0), doc="day 1: more activities than this -> offer a demo"
            ),
            "upgrade_url": Field(str, "", http_url, doc="link in the day-12 email (empty: a mailto reply)"),
            "demo_url": Field(str, "", http_url, doc="link in the day-1 demo offer (empty: a mailto reply)"),
            "alert_window_hours": Field(
                int, 24, at_least(1), doc="older activations and conversions (an import of history) are not alerted"
            ),
            "archive_after_days": Field(
                int,
                30,
                at_least(1),
                doc="a trial ended this many days ago (and past its last email) moves to archive/trials/",
            ),
            "schedule": Table(
                {
                    "welcome": Field(int, 0, at_least(0), doc="day of the welcome email"),
                    "day1": Field(int, 1, at_least(0), doc="day of the help or demo-offer email"),
                    "day7": Field(int, 7, at_least(0), doc="day of the usage email"),
                    "day12": Field(int, 12, at_least(0), doc="day of the trial-ends-soon email"),
                    "day14": Field(int, 14, at_least(0), doc="day of the thank-you or trial-ended email"),
                },
                doc="the day of the trial each lifecycle email goes out",
            ),
        },
        doc="14-day trials and their lifecycle emails",
    ),
}
