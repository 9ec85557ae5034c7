"""Time: UTC everywhere, `ARKOPS_NOW` replaces the clock for tests and replays."""

from __future__ import annotations

import math
import os
import re
from datetime import UTC, datetime, timedelta, tzinfo

from arkops.errors import DataError

# Every time arkops accepts from outside lies in this range; a date outside it is a typo or a unit mistake.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


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
        moment = moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 falls before year 1 in UTC
        moment = EARLIEST - timedelta(days=1)
    if not EARLIEST <= moment < LATEST:
        raise DataError(f"{what}: {text!r} is out of range (1970-2099)")
    return moment


def from_seconds(value: object, *, what: str = "timestamp") -> datetime:
    """A timestamp from outside, in seconds since 1970 (as Stripe and Unix write them), or DataError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(f"{what}: {value!r} is not a timestamp in seconds")
    if not EARLIEST.timestamp() <= value < LATEST.timestamp():
        if EARLIEST.timestamp() <= value / 1000 < LATEST.timestamp():
            raise DataError(f"{what}: {value!r} looks like milliseconds; give seconds since 1970")
        raise DataError(f"{what}: {value!r} is out of range (1970-2099)")
    return datetime.fromtimestamp(value, UTC)


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


def local_time(moment: datetime, tz: tzinfo) -> str:
    """A moment as people read it where they are: `2026-10-15 11:30 CEST`."""
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def months_later(moment: datetime, months: int) -> datetime:
    """`moment` moved on by `months` calendar months; a day after the 28th becomes the 28th, which every month has."""
    index = moment.year * 12 + moment.month - 1 + months
    return moment.replace(year=index // 12, month=index % 12 + 1, day=min(moment.day, 28))


_DURATION = re.compile(r"(\d{1,6})([mhd])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def since_moment(text: str, *, now: datetime, tz: tzinfo) -> datetime:
    """Where a `--since` window starts: `90m`, `24h`, `7d` back from now, or a day YYYY-MM-DD from its midnight
    in `tz`; DataError for anything else."""
    value = text.strip()
    match = _DURATION.fullmatch(value)
    if match:
        return now - timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        day = datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        raise DataError(f"{text!r} is neither a duration (90m, 24h, 7d) nor a date YYYY-MM-DD") from None
    return day.replace(tzinfo=tz).astimezone(now.tzinfo)


def since_text(text: str) -> str:
    """The text itself when `since_moment` reads it (an option checked before the core reads it), or DataError."""
    since_moment(text, now=datetime.now(UTC), tz=UTC)
    return text


def parse_month(text: str) -> str:
    """A calendar month written YYYY-MM, or DataError."""
    return _written(text, "%Y-%m", "a month YYYY-MM")


def parse_day(text: str) -> str:
    """A calendar day written YYYY-MM-DD, or DataError."""
    return _written(text, "%Y-%m-%d", "a day YYYY-MM-DD")


def _written(text: str, form: str, what: str) -> str:
    try:
        datetime.strptime(text, form)
    except (TypeError, ValueError):
        raise DataError(f"{text!r} is not {what}") from None
    return text


def iso_text(text: str) -> str:
    """The text itself when it is an ISO 8601 time (an option checked before the core parses it), or DataError."""
    parse_iso(text, what="time")
    return text
