"""Property tests of the promo rules: no sequence of redeem/release/disable ever exceeds the slots, and
validity windows hold at their edges in a non-UTC time zone, across daylight-saving changes."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from arkops.clock import parse_moment
from arkops.core.promo import Refusal
from arkops.core.promo.codes import create, new_code, set_active
from arkops.core.promo.redeem import Usage, redeem, refusal, release, remaining
from arkops.errors import DataError
from arkops.runtime import Runtime

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
EMAILS = [f"p{n}@example.com" for n in range(6)]

operations = st.lists(
    st.one_of(
        st.tuples(st.just("redeem"), st.sampled_from(EMAILS)),
        st.tuples(st.just("release"), st.sampled_from(EMAILS)),
        st.tuples(st.sampled_from(["disable", "enable"]), st.just("")),
    ),
    max_size=14,
)


def runtime(folder: Path) -> Runtime:
    (folder / "data").mkdir()
    (folder / "arkops.toml").write_text('timezone = "Europe/Paris"\n')
    return Runtime(folder / "data", folder / "arkops.toml", folder / ".env")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(slots=st.integers(1, 4), ops=operations)
def test_no_sequence_of_redeem_release_disable_exceeds_the_slots(workspace, slots, ops):
    with tempfile.TemporaryDirectory() as tmp:
        rt = runtime(Path(tmp))
        code = new_code(
            rt,
            "SALE",
            discounts=["pro=20"],
            amount_off=None,
            currency=None,
            plans=[],
            months=3,
            forever=False,
            slots=slots,
            valid_from=None,
            valid_until=None,
            now=NOW,
        )
        create(rt, code)
        holders: set[str] = set()
        active = True
        for step, (op, email) in enumerate(ops):
            now = NOW + timedelta(minutes=step)
            if op == "redeem":
                verdict = redeem(rt, "sale", email, "pro", locale=None, now=now)
                expected = (
                    Refusal.disabled
                    if not active
                    else Refusal.already_used
                    if email in holders
                    else Refusal.no_slots_left
                    if len(holders) >= slots
                    else None
                )
                assert verdict.reason == expected
                if expected is None:
                    holders.add(email)
            elif op == "release":
                try:
                    release(rt, "SALE", email, now=now)
                except DataError:
                    assert email not in holders
                holders.discard(email)
            else:
                active = op == "enable"
                set_active(rt, "SALE", active, now=now)
            doc, _ = remaining(rt, "SALE")
            assert doc["used"] == len(holders) <= slots
            assert doc["used"] + doc["remaining"] == slots


def window(valid_from: str, valid_until: str):
    """A code valid from `valid_from` through `valid_until`, read as `promo create` reads them (`parse_moment`)."""
    with tempfile.TemporaryDirectory() as tmp:
        rt = runtime(Path(tmp))
        return new_code(
            rt,
            "WINDOW",
            discounts=["pro=10"],
            amount_off=None,
            currency=None,
            plans=[],
            months=None,
            forever=False,
            slots=None,
            valid_from=parse_moment(valid_from, now=NOW, tz=PARIS),
            valid_until=parse_moment(valid_until, now=NOW, tz=PARIS, end_of_day=True),
            now=NOW,
        )


def applies(code, moment: datetime) -> Refusal | None:
    return refusal(code, "pro", None, moment, Usage())


SECOND = timedelta(seconds=1)


@settings(max_examples=30, deadline=None)
@given(first=st.dates(date(2026, 3, 20), date(2026, 11, 5)), days=st.integers(0, 10))
def test_day_windows_start_and_end_at_local_midnight_across_dst(first, days):
    last = first + timedelta(days=days)
    code = window(first.isoformat(), last.isoformat())
    start = datetime(first.year, first.month, first.day, tzinfo=PARIS).astimezone(UTC)
    after = last + timedelta(days=1)
    end = datetime(after.year, after.month, after.day, tzinfo=PARIS).astimezone(UTC)
    assert applies(code, start - SECOND) == Refusal.not_yet_valid
    assert applies(code, start) is None
    assert applies(code, end - SECOND) is None
    assert applies(code, end) == Refusal.expired
    # the window is whole local days: 24 h each, one hour less or more on the days the clocks change
    spring, autumn = (first <= day <= last for day in (date(2026, 3, 29), date(2026, 10, 25)))
    assert (end - start) / timedelta(hours=1) == 24 * (days + 1) - spring + autumn


def test_the_dst_days_are_23_and_25_hours_long():
    spring, autumn = window("2026-03-29", "2026-03-29"), window("2026-10-25", "2026-10-25")
    assert (spring["valid_from"], spring["valid_until"]) == ("2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z")
    assert (autumn["valid_from"], autumn["valid_until"]) == ("2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z")


@settings(max_examples=30, deadline=None)
@example(minutes=150, day=date(2026, 3, 29))  # 02:30, skipped in spring
@example(minutes=150, day=date(2026, 10, 25))  # 02:30, twice in autumn
@given(minutes=st.integers(0, 4 * 60 - 1), day=st.sampled_from([date(2026, 3, 29), date(2026, 10, 25)]))
def test_local_times_around_the_change_are_exact_or_refused(minutes, day):
    local = datetime(day.year, day.month, day.day, 0, 0) + timedelta(minutes=minutes)  # 00:00-03:59 local
    text = local.strftime("%Y-%m-%dT%H:%M")
    skipped = day.month == 3 and local.hour == 2  # 02:00-02:59 does not exist on the spring change
    if skipped:
        with pytest.raises(DataError, match="does not exist in Europe/Paris"):
            window(text, "2026-12-31")
        return
    code = window(text, "2026-12-31")
    # a repeated hour (02:00-02:59 on the autumn change) is its first occurrence, still summer time (+02:00)
    offset = 2 if (day.month == 10 and local.hour < 3) or (day.month == 3 and local.hour >= 3) else 1
    start = local.replace(tzinfo=UTC) - timedelta(hours=offset)
    assert code["valid_from"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert applies(code, start - SECOND) == Refusal.not_yet_valid
    assert applies(code, start) is None
