"""The promo domain's keys of arkops.toml: `[promo]`.

Named by the domain's declaration (`Domain.config`); `arkops.config` reads, checks and documents them.
"""

from __future__ import annotations

import re

from arkops.config import Field, Spec, Table


def file_mode(value: str) -> str | None:
    """An octal mode the counter file may have: readable and writable by arkops, writable by nobody else."""
    if not re.fullmatch(r"0?[0-7]{3}", value):
        return f'{value!r} is not an octal file mode (e.g. "0644")'
    mode = int(value, 8)
    if mode & 0o600 != 0o600:
        return f"{value!r} must let arkops read and write the file (0600 at least)"
    if mode & 0o022:
        return f'{value!r} lets others write the file; the web server only needs to read it (e.g. "0644")'
    return None


CONFIG: dict[str, Spec] = {
    "promo": Table(
        {
            "counter_mode": Field(
                str,
                "0600",
                file_mode,
                doc='mode of the counter files `promo remaining --write` keeps; "0644" lets a web server of '
                "another user read them",
            ),
        },
        doc="promo codes: the landing page's counter files",
    ),
}


def counter_mode(config: object) -> int:
    """The counter files' mode as a number (`[promo] counter_mode`)."""
    return int(config["promo"]["counter_mode"], 8)  # type: ignore[index]
