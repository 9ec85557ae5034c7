"""The privacy domain's keys of arkops.toml: `[privacy]`.

Named by the domain's declaration (`Domain.config`); `arkops.config` reads, checks and documents them.
"""

from __future__ import annotations

from arkops.config import Field, Spec, Table, at_least

CONFIG: dict[str, Spec] = {
    "privacy": Table(
        {
            "keep_temp_hours": Field(
                int, 24, at_least(1), doc="temp files a killed write left in the data directory go after this long"
            ),
        },
        doc="personal data: retention of temp files (`arkops privacy`); IP storage is `[leads] ip_storage`",
    ),
}
