"""Property tests for the parsers and the money maths."""

from __future__ import annotations

import json
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


# The streamed reader of every import (`sources.json_files`): whatever a file holds, each record comes back as
# it was written, or as a DataError in its place when it is too long or too deep, and nothing else is lost.
json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20),  # quotes, backslashes, controls, beyond BMP
)
json_records = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)
TOO_DEEP = "[" * 200 + "]" * 200
TOO_LONG = '"' + '\\\\\\"x' * 300_000 + '"'  # 1.5 MiB of escapes: a string skipped unread


class Trickle:
    """A stream that hands out its bytes in reads of the given sizes (in turn), as a pipe or gzip may."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.data, self.sizes, self.at, self.turn = data, sizes, 0, 0

    def read(self, size: int = -1) -> bytes:
        step = min(size, self.sizes[self.turn % len(self.sizes)])
        self.turn += 1
        chunk = self.data[self.at : self.at + step]
        self.at += len(chunk)
        return chunk


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(json_records, st.sampled_from([TOO_DEEP, TOO_LONG])), max_size=6),
    st.lists(st.integers(min_value=1, max_value=300_000), min_size=1, max_size=5),
)
def test_a_streamed_list_gives_back_each_record_or_an_error_in_its_place(items, sizes):
    from arkops.sources.json_files import TooLong, iter_array

    if TOO_LONG in items:  # a 1.5 MiB string read a byte at a time would take minutes: big reads for it
        sizes = [max(size, 64 << 10) for size in sizes]
    text = "[" + ", ".join(i if isinstance(i, str) and i in (TOO_DEEP, TOO_LONG) else json.dumps(i) for i in items)
    got = list(iter_array(Trickle((text + "]").encode(), sizes), what="f"))  # type: ignore[arg-type]
    assert len(got) == len(items)
    for item, value in zip(items, got, strict=True):
        if item is TOO_LONG:
            assert isinstance(value, TooLong)
        elif item is TOO_DEEP:
            assert isinstance(value, DataError) and "nested deeper than 64 levels" in str(value)
        else:
            assert value == item


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.one_of(json_records, st.sampled_from(["not json {", TOO_DEEP, "long"])), max_size=6),
    st.booleans(),
    st.booleans(),
)
def test_json_lines_give_back_each_line_gzipped_or_not_with_or_without_a_last_newline(
    tmp_path_factory, items, zipped, last_newline
):
    import gzip

    from arkops.sources.json_files import records

    def line(item: object) -> str:
        if item == "long":
            return '"' + "a" * (1 << 20) + '"'  # over the 1 MiB record limit, under the 4 MiB line limit
        return item if isinstance(item, str) and item in ("not json {", TOO_DEEP) else json.dumps(item)

    body = ("\n".join(line(i) for i in items) + ("\n" if last_newline else "")).encode()
    path = tmp_path_factory.mktemp("lines") / ("export.jsonl.gz" if zipped else "export.jsonl")
    path.write_bytes(gzip.compress(body) if zipped else body)
    if items and line(items[0]).startswith("["):
        return  # a file whose first record is a list reads as one JSON list: covered above
    got = list(records(path))
    assert [r.line for r in got] == list(range(1, len(items) + 1))
    for item, found in zip(items, got, strict=True):
        if item in ("not json {", TOO_DEEP, "long") and isinstance(item, str):
            assert isinstance(found.value, DataError)
        else:
            assert found.value == item
