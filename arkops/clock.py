"""Time: UTC everywhere, `ARKOPS_NOW` replaces the clock for tests and replays."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from arkops.errors import DataError


def parse_iso(text: str, *, what: str = "timestamp") -> datetime:
    """Parse ISO 8601 (a trailing Z, or an offset, or naive meaning UTC) to an aware UTC datetime."""
    if not isinstance(text, str) or not text.strip():
        raise DataError(f"{what}: {text!r} is not an ISO 8601 date")
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise DataError(f"{what}: {text!r} is not an ISO 8601 date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 falls before year 1 in UTC
        raise DataError(f"{what}: {text!r} is out of range") from None


def now() -> datetime:
    override = os.environ.get("ARKOPS_NOW")
    if override:
        return parse_iso(override, what="ARKOPS_NOW")
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_unix(seconds: int | float | None) -> datetime | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC)


def parse_month(text: str) -> str:
    """A calendar month written YYYY-MM, or DataError."""
    try:
        datetime.strptime(text, "%Y-%m")
    except (TypeError, ValueError):
        raise DataError(f"{text!r} is not a month YYYY-MM") from None
    return text


def iso_text(text: str) -> str:
    """The text itself when it is an ISO 8601 time (an option checked before the core parses it), or DataError."""
    parse_iso(text, what="time")
    return text
