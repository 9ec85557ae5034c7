"""The trials domain's keys of arkops.toml: `[trials]` and its lifecycle schedule.

Named by the domain's declaration (`Domain.config`); `arkops.config` reads, checks and documents them.
"""

from __future__ import annotations

from arkops.config import Field, Spec, Table, at_least, http_url, path_list

CONFIG: dict[str, Spec] = {
    "trials": Table(
        {
            "length_days": Field(int, 14, at_least(1), doc="trial length in days"),
            "grace_days": Field(int, 2, at_least(0), doc="a lifecycle email later than this many days is skipped"),
            "demo_activity_threshold": Field(
                int, 3, at_least(0), doc="day 1: more activities than this -> offer a demo"
            ),
            "upgrade_url": Field(
                str,
                "",
                http_url,
                doc="link in the day-12 and day-14 emails (empty: `arkops serve`'s upgrade link for the trial's plan "
                "when [serve] public_url is set, else a Checkout link, else a reply)",
            ),
            "key_activity": Field(
                str,
                "",
                doc="the activity kind that counts for day 1 and for activation, e.g. watch_created (empty: any)",
            ),
            "case_study_url": Field(
                str, "", http_url, doc="a customer story linked from the day-7 email (empty: none)"
            ),
            "case_study_text": Field(str, "", doc="one sentence introducing that story in the day-7 email"),
            "early_offer": Field(
                str, "", doc="a promo code offered in the day-12 email, e.g. LAUNCH30 (empty: no offer)"
            ),
            "demo_url": Field(str, "", http_url, doc="link in the day-1 demo offer (empty: a mailto reply)"),
            "alert_window_hours": Field(
                int, 24, at_least(1), doc="older activations and conversions (an import of history) are not alerted"
            ),
            "signup_files": Field(
                list,
                [],
                path_list,
                doc="the app's signup files (`trials import`'s format), followed by `trials-track` (globs, relative "
                "to arkops.toml)",
            ),
            "activity_files": Field(
                list, [], path_list, doc="the app's activity files, followed by `trials-track` after the signups"
            ),
            "files_stale_hours": Field(
                int, 48, at_least(1), doc="doctor warns when no signup or activity file was written for this long"
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
