"""Property tests for the parsers and the money maths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arkops.clock import iso, parse_iso
from arkops.config import parse_config, schema
from arkops.core.billing.report import monthly, subscription_mrr
from arkops.errors import ConfigError, DataError
from arkops.money import Converter, to_minor
from arkops.store.jsonl import JsonLines

moments = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)).map(
    lambda d: d.replace(microsecond=0)
)


@given(moments, st.integers(min_value=-14 * 60, max_value=14 * 60))
def test_iso_round_trips_through_any_offset(moment, offset_minutes):
    shifted = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    assert parse_iso(shifted.isoformat()) == moment
    assert parse_iso(iso(moment)) == moment


@given(st.text(max_size=30))
def test_parse_iso_gives_utc_or_a_data_error_quoting_the_text(text):
    try:
        moment, problem = parse_iso(text), None
    except DataError as exc:
        moment, problem = None, exc.args
    if moment is None:
        assert problem in (
            (f"timestamp: {text!r} is not an ISO 8601 date",),
            (f"timestamp: {text!r} is out of range (1970-2099)",),
        )
    else:
        assert moment.utcoffset() == timedelta(0) and 1970 <= moment.year <= 2099
        assert parse_iso(iso(moment)) == moment.replace(microsecond=0)


@given(st.integers(min_value=0, max_value=10**9), st.sampled_from(["EUR", "USD", "GBP"]))
def test_major_to_minor_is_exact_for_two_decimal_currencies(cents, currency):
    major = Decimal(cents) / 100
    assert to_minor(str(major), currency) == cents
    assert to_minor(major, currency) == cents


@given(st.integers(min_value=0, max_value=10**9))
def test_zero_decimal_currencies_refuse_fractions(amount):
    assert to_minor(amount, "JPY") == amount
    with pytest.raises(DataError, match=rf"^amount: '{amount}\.5' has more decimals than JPY allows$"):
        to_minor(f"{amount}.5", "JPY")


@given(st.integers(min_value=1, max_value=10**7), st.integers(min_value=1, max_value=12))
def test_monthly_normalisation(amount, count):
    assert monthly(amount * 12 * count, "year", count) == pytest.approx(amount)
    assert monthly(amount * count, "month", count) == pytest.approx(amount)
    assert monthly(amount, "week", 1) == pytest.approx(amount * 52 / 12)


@given(
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=1, max_value=20),
    st.floats(min_value=0, max_value=100),
)
def test_mrr_is_never_negative_and_discount_only_lowers_it(amount, quantity, percent):
    item = {"unit_amount": amount, "quantity": quantity, "interval": "month", "interval_count": 1, "currency": "EUR"}
    convert = Converter("EUR", {})
    base = {"status": "active", "items": [item], "discounts": []}
    discounted = {**base, "discounts": [{"percent_off": percent, "duration": "forever", "start": 0, "end": None}]}
    full = subscription_mrr(base, 10, convert)
    assert full == amount * quantity
    assert 0 <= subscription_mrr(discounted, 10, convert) <= full
    assert subscription_mrr({**base, "status": "trialing"}, 10, convert) == 0


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12))
def test_any_unknown_top_level_key_is_refused(key):
    if key in schema():
        return
    with pytest.raises(ConfigError, match=key):
        parse_config(f"{key} = 1\n", "arkops.toml")


@settings(max_examples=50)
@given(st.lists(st.dictionaries(st.text(max_size=5), st.integers(), max_size=3), max_size=8), st.binary(max_size=20))
def test_jsonl_keeps_complete_records_and_drops_a_torn_tail(tmp_path_factory, records, tail):
    path = tmp_path_factory.mktemp("jsonl") / "visits.jsonl"
    log = JsonLines(path)
    log.append(records)
    with open(path, "ab") as handle:
        handle.write(tail.replace(b"\n", b""))  # a write cut off before its newline
    assert list(log.read()) == records
    log.append([{"after": 1}])
    assert list(log.read()) == [*records, {"after": 1}]


version_strategy = st.fixed_dictionaries(
    {
        "_at": st.integers(min_value=0, max_value=1000),
        "status": st.sampled_from(["active", "past_due", "trialing", "canceled"]),
        "amount": st.integers(min_value=0, max_value=10_000),
        "ended_at": st.one_of(st.none(), st.integers(min_value=0, max_value=1200)),
        "percent": st.one_of(st.none(), st.integers(min_value=1, max_value=100)),
        "discount_end": st.integers(min_value=0, max_value=1200),
    }
)


@given(
    st.lists(version_strategy, min_size=1, max_size=6),
    st.lists(st.integers(min_value=0, max_value=1300), min_size=1, max_size=12),
)
def test_mrr_series_matches_evaluating_each_instant(raw_versions, raw_instants):
    from arkops.core.billing.report import mrr_series

    versions = sorted(
        (
            {
                "_at": v["_at"],
                "status": v["status"],
                "ended_at": v["ended_at"],
                "items": [
                    {
                        "unit_amount": v["amount"],
                        "quantity": 1,
                        "interval": "month",
                        "interval_count": 1,
                        "currency": "EUR",
                    }
                ],
                "discounts": [
                    {"percent_off": v["percent"], "duration": "repeating", "start": 0, "end": v["discount_end"]}
                ]
                if v["percent"]
                else [],
            }
            for v in raw_versions
        ),
        key=lambda v: v["_at"],
    )
    instants = sorted(raw_instants)
    convert = Converter("EUR", {})

    def naive(at):
        current = [v for v in versions if v["_at"] <= at]
        return subscription_mrr(current[-1], at, convert) if current else 0.0

    assert mrr_series(versions, instants, convert) == [naive(at) for at in instants]


@given(st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.text(max_size=5)))
def test_from_seconds_takes_only_seconds_between_1970_and_2100(value):
    from arkops.clock import from_seconds

    try:
        moment, problem = from_seconds(value), ""
    except DataError as exc:
        moment, problem = None, str(exc)
    if moment is None:
        assert problem.startswith(f"timestamp: {value!r} ")
    else:
        assert isinstance(value, (int, float)) and not isinstance(value, bool)
        assert 1970 <= moment.year <= 2099
