"""The audit log: one JSON line per run of a command that changes data, in `audit.jsonl`.

Commands declare that they change data in their domain's `Domain.audited`;
`arkops.cli.LazyGroup.invoke` is the one place that appends the line, after
the command ends, whatever its outcome. A line holds the time, the OS user,
the command, its arguments and the exit code. Arguments are redacted:
secrets (API keys, webhook secrets, the SMTP password) are replaced, and
any email or IP address becomes its keyed hash (`<email:…>`, `<ip:…>`, the
same hash as the erasure records), so the log never holds one in clear and
a line about a person can still be found by hashing their address. The
file is only appended to: `privacy forget` and retention never touch it.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from arkops.clock import iso, parse_iso
from arkops.errors import redact
from arkops.runtime import Runtime

LOG = "audit"  # DATA/audit.jsonl
EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
IP_CANDIDATE = re.compile(
    r"(?<![\w.:])(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})(?![\w.:])"
)


def os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container with no passwd entry for this uid
        return f"uid {os.getuid()}"


def redact_text(rt: Runtime, text: str) -> str:
    from arkops.core.privacy.person import keyed_hash, normalize_ip

    text = redact(text)
    text = EMAIL.sub(lambda m: f"<email:{keyed_hash(rt, 'email', m.group(0).lower())[:16]}>", text)

    def ip(match: re.Match[str]) -> str:
        value = normalize_ip(match.group(0))
        return match.group(0) if value is None else f"<ip:{keyed_hash(rt, 'ip', value)[:16]}>"

    return IP_CANDIDATE.sub(ip, text)


def redact_value(rt: Runtime, value: Any) -> Any:
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, str):
        return redact_text(rt, value)
    if isinstance(value, (list, tuple)):
        return [redact_value(rt, item) for item in value]
    if isinstance(value, dict):
        return {k: redact_value(rt, v) for k, v in value.items()}
    return value if value is None or isinstance(value, (bool, int, float)) else redact_text(rt, str(value))


def record(rt: Runtime, command: str, arguments: dict[str, Any], exit_code: int, *, now: datetime) -> None:
    line = {
        "at": iso(now),
        "user": os_user(),
        "command": command,
        "arguments": {
            name: redact_value(rt, value) for name, value in arguments.items() if value not in (None, [], ())
        },
        "dry_run": rt.dry_run,
        "exit_code": exit_code,
        "outcome": "ok" if exit_code == 0 else f"exit {exit_code}",
    }
    rt.store.append(LOG, [line])


def read(
    rt: Runtime, *, since: datetime | None = None, until: datetime | None = None, command: str | None = None
) -> list[dict]:
    """The audit lines of [since, until), of the commands starting with `command` when given."""
    rows = []
    for line in rt.store.jsonl(LOG).read():
        at = parse_iso(line["at"])
        if (since is not None and at < since) or (until is not None and at >= until):
            continue
        if command is not None and not line["command"].startswith(command):
            continue
        rows.append(line)
    return rows
