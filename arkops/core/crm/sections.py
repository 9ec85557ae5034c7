"""The CRM's part of `arkops status` (`arkops.core.sections`): the last push and what the CRM refused.

Shown only once a provider is chosen. Red when the last push stopped (a
rate limit, the CRM down: the next run resumes) or a record was refused.
"""

from __future__ import annotations

from datetime import datetime

from arkops.clock import parse_iso
from arkops.core.sections import Figure, Section, formats
from arkops.runtime import Runtime


def status(rt: Runtime, *, now: datetime) -> list[Section]:
    from arkops.core.crm.push import status as cursor

    provider = rt.config["crm"]["provider"]
    if not provider:
        return []
    fmt = formats(rt)
    found = cursor(rt)
    last = found["last_push"]
    when = "never" if last is None else parse_iso(last).astimezone(rt.config.tz).strftime("%Y-%m-%d %H:%M")
    refused = len(found["refused"])
    return [
        Section(
            "crm",
            f"CRM ({provider})",
            [
                Figure(
                    "last_push",
                    "Last push",
                    last,
                    when + ("" if found["complete"] in (None, True) else " (stopped)"),
                    red=found["complete"] is False,
                    note=found["stopped"] or (found["setup"] or ""),
                ),
                Figure("people", "People in the CRM", found["people"], fmt.number(found["people"])),
                Figure(
                    "refused",
                    "Refused records",
                    refused,
                    fmt.number(refused),
                    red=refused > 0,
                    note="see `arkops crm status`" if refused else "",
                ),
            ],
        )
    ]
