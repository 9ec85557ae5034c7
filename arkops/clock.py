"""Time: UTC everywhere, `ARKOPS_NOW` replaces the clock for tests and replays."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo

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


ISO_LENGTH = len("2026-03-15T09:00:00Z")  # a moment as `iso` writes it: such texts sort as the moments do


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


# A span back from now, as every time option writes it: 90m, 12h, 7d, 6w, 6mo, 1y.
_SPAN = re.compile(r"(\d{1,6})(mo|m|h|d|w|y)")
_CLOCK_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
TIME_FORMS = "a span back from now (90m, 12h, 7d, 6w, 6mo, 1y), a date YYYY-MM-DD or a time YYYY-MM-DDTHH:MM"


def parse_moment(text: str, *, now: datetime, tz: tzinfo, end_of_day: bool = False) -> datetime:
    """A point in time as an operator writes it, in UTC; DataError (naming the forms) for anything else.

    - a span back from `now`: `90m`, `12h`, `7d`, `6w`, `6mo`, `1y` (months and years by the calendar);
    - a day `YYYY-MM-DD` in `tz`: its first instant, or with `end_of_day` the first instant of the next
      day (an `--until 2026-10-31` includes the 31st);
    - a time `YYYY-MM-DDTHH:MM[:SS]` in `tz`, or with `Z` or an offset in that zone. A local time that a
      daylight-saving change skips does not exist and is refused; one it repeats is its first occurrence.

    Every result lies in 1970-2099, the range of every time arkops accepts.
    """
    value = text.strip() if isinstance(text, str) else ""
    span = _SPAN.fullmatch(value.lower())
    if span:
        amount, unit = int(span[1]), span[2]
        if unit in ("mo", "y"):
            moment = _in_range(text, lambda: months_later(now, -amount * (12 if unit == "y" else 1)))
        else:
            moment = _in_range(text, lambda: now - timedelta(**{_CLOCK_UNITS[unit]: amount}))
    elif _DAY.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise DataError(f"{text!r} is not a date") from None
        if not EARLIEST.year <= day.year < LATEST.year:  # 9999-12-31 has no next day to end at
            raise DataError(f"{text!r} is out of range (1970-2099)")
        day += timedelta(days=1 if end_of_day else 0)
        # fold=0 in a gap maps to the first instant that exists after it: the day's real start
        moment = _in_range(text, lambda: datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC))
    else:
        try:
            moment = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
        except ValueError:
            raise DataError(f"{text!r} is not {TIME_FORMS}") from None
        if moment.tzinfo is None:
            local = moment.replace(tzinfo=tz)
            if local.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != moment:
                raise DataError(f"{text!r} does not exist in {tz} (a daylight-saving change skips it)")
            moment = local
        given = moment
        moment = _in_range(text, lambda: given.astimezone(UTC))
    if not EARLIEST <= moment < LATEST:
        raise DataError(f"{text!r} is out of range (1970-2099)")
    return moment


def _in_range(text: str, compute: Callable[[], datetime]) -> datetime:
    try:
        return compute()
    except (OverflowError, ValueError):  # a span reaching before year 1
        raise DataError(f"{text!r} is out of range (1970-2099)") from None


def parse_month(text: str) -> str:
    """A calendar month written YYYY-MM, or DataError."""
    return _written(text, "%Y-%m", "a month YYYY-MM")


def _written(text: str, form: str, what: str) -> str:
    try:
        datetime.strptime(text, form)
    except (TypeError, ValueError):
        raise DataError(f"{text!r} is not {what}") from None
    return text
