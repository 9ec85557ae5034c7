"""The jobs domain's keys of arkops.toml: `[jobs.<job>]` schedule overrides.

Named by the domain's declaration (`Domain.config`); `arkops.config` reads, checks and documents them.
"""

from __future__ import annotations

from arkops.config import Field, MapOf, Spec, Table, at_least, clock_time

CONFIG: dict[str, Spec] = {
    "jobs": MapOf(
        Table(
            {
                "enabled": Field(bool, True, doc="false switches the job off"),
                "every_minutes": Field(int, 0, at_least(1), doc="run every N minutes (0: the job's own schedule)"),
                "at": Field(str, "", clock_time, doc="run daily at HH:MM, local time (empty: the job's own schedule)"),
            }
        ),
        {},
        doc="schedule overrides for `arkops run` (see `arkops jobs`)",
        key_name="job",
        example='[jobs.trials-nudge]\nat = "09:00"\n[jobs.stripe-sync]\nevery_minutes = 10\nenabled = true',
    ),
}
