"""Visits kept per day as compact columns: what `leads stats` and the funnel read instead of the visit lines.

Each day file `visits/YYYY-MM-DD.jsonl` has its aggregate `visit_days/YYYY-MM-DD.agg`:
one row per stored visit, in time order, of fixed-width columns: the visitor
(the 44 bits of its `v` + 11 hex id, or a 63-bit hash of any other id, kept
with its text), the second of the visit, the tracked page (its index, 255:
no tracked page now), and the indexes of its utm_source, referrer domain and
email in the day's string table. About 25 bytes a visit against 250 in the
day file, read with no parsing: every figure of a window (hits, distinct
visitors per page and per day, sources, each visitor's first visit, demo
page visits, emails) is computed exactly from them, and windows union the
days' visitors exactly.

The file is a series of chunks, each its rows' columns (appended by each
ingest); a chunk that would break the time order makes the day's file be
written again as one sorted chunk. `visit_days/index.json` says, per day,
how far the day file was applied (its bytes, inode and a digest of its first
line and last applied bytes, as the kept scores do), and how many bytes of
the aggregate are whole: a torn append is cut, a day file that shrank or
was replaced (privacy forget, an ingest's recovery) has its day made again,
a day file gone (retention) loses its aggregate, and changed tracked pages
make every day again. Only the new bytes of a day file are read, a chunk of
lines at a time.
"""

from __future__ import annotations

import hashlib
import os
import struct
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import orjson

from arkops.core.leads.state import _same_file, _tail, epoch, new_visits
from arkops.core.leads.visits import Page, day_files, match_page, tracked_pages
from arkops.errors import CorruptFileError
from arkops.runtime import Runtime
from arkops.store import ensure_dir
from arkops.store.files import atomic_write_bytes, remove_file

FOLDER = "visit_days"
INDEX = "index.json"
LOCK = "visit-days"
VERSION = 1
NO_PAGE = 255
ODD = 1 << 63  # a visitor id not of the `v` + 11 hex form: a hash, its text in the chunk's header
CHUNK = struct.Struct("<II")  # rows, header bytes
MAX_CHUNKS = 32  # a day's file is written again as one chunk past this many appends


def _check_widths() -> None:
    if array("I").itemsize != 4 or array("Q").itemsize != 8:  # pragma: no cover - every platform we run on
        raise RuntimeError("array('I') must be 4 bytes and array('Q') 8 bytes")


_check_widths()


def folder(rt: Runtime) -> Path:
    return rt.data_dir / FOLDER


def visitor_number(visitor: str) -> int:
    """The visitor's column value: its id's 44 bits, or a flagged 63-bit hash of an id of another form."""
    if len(visitor) == 12 and visitor[0] == "v":
        try:
            return int(visitor[1:], 16)
        except ValueError:
            pass
    return ODD | int.from_bytes(hashlib.blake2b(visitor.encode(), digest_size=8).digest()) >> 1


def _settings(pages: list[Page]) -> str:
    text = orjson.dumps([VERSION, sorted(p.path for p in pages)])
    return hashlib.sha256(text).hexdigest()[:16]


@dataclass
class Day:
    """One day's rows, in time order (equal seconds in the day file's order), and its string table."""

    day: str
    visitors: array = field(default_factory=lambda: array("Q"))
    ats: array = field(default_factory=lambda: array("I"))
    pages: bytearray = field(default_factory=bytearray)
    sources: array = field(default_factory=lambda: array("I"))  # utm_source, 0: none
    referrers: array = field(default_factory=lambda: array("I"))  # referrer_domain
    emails: array = field(default_factory=lambda: array("I"))
    strings: list[str | None] = field(default_factory=lambda: [None])
    odd: dict[int, str] = field(default_factory=dict)  # the hashed visitor ids' text

    def name(self, visitor: int) -> str:
        return self.odd[visitor] if visitor & ODD else f"v{visitor:011x}"

    def __len__(self) -> int:
        return len(self.ats)


class _Builder:
    """New rows of one day, from visit lines, with the strings they add to the day's table."""

    def __init__(self, day: Day) -> None:
        self.known = {text: index for index, text in enumerate(day.strings) if text is not None}
        self.base = len(day.strings)
        self.new_strings: list[str] = []
        self.new_odd: list[str] = []
        self.rows = Day(day.day)

    def string(self, text: object) -> int:
        if not text or not isinstance(text, str):
            return 0
        index = self.known.get(text)
        if index is None:
            index = self.known[text] = self.base + len(self.new_strings)
            self.new_strings.append(text)
        return index

    def add(self, visit: dict, pages: list[Page], page_index: dict[str, int]) -> None:
        visitor, at = visit.get("visitor"), visit.get("at")
        if not isinstance(visitor, str) or not visitor or not isinstance(at, str):
            return
        number = visitor_number(visitor)
        if number & ODD and number not in self.rows.odd:
            self.rows.odd[number] = visitor
            self.new_odd.append(visitor)
        page = match_page(pages, visit.get("path", ""))
        rows = self.rows
        rows.visitors.append(number)
        rows.ats.append(int(epoch(at)))
        rows.pages.append(NO_PAGE if page is None else page_index[page.path])
        rows.sources.append(self.string(visit.get("utm_source")))
        rows.referrers.append(self.string(visit.get("referrer_domain")))
        rows.emails.append(self.string(visit.get("email")))

    def chunk(self) -> bytes:
        """The new rows as one chunk, sorted by time (stable: the day file's order within a second)."""
        rows = self.rows
        order = sorted(range(len(rows)), key=rows.ats.__getitem__)
        header = orjson.dumps({"strings": self.new_strings, "odd": self.new_odd})
        parts = [CHUNK.pack(len(order), len(header)), header]
        for column in (rows.visitors, rows.ats, rows.sources, rows.referrers, rows.emails):
            parts.append(array(column.typecode, map(column.__getitem__, order)).tobytes())
        parts.append(bytes(map(rows.pages.__getitem__, order)))
        return b"".join(parts)


def _parse(path: Path, data: bytes, day: str) -> tuple[Day, int, bool]:
    """The rows of an aggregate's bytes, how many chunks, and whether they are in time order across chunks."""
    found = Day(day)
    offset = chunks = 0
    ordered = True
    while offset < len(data):
        try:
            count, size = CHUNK.unpack_from(data, offset)
            offset += CHUNK.size
            header = orjson.loads(data[offset : offset + size])
        except (struct.error, orjson.JSONDecodeError):
            raise CorruptFileError(path, f"a chunk at byte {offset} is not whole") from None
        offset += size
        found.strings.extend(header["strings"])
        for text in header["odd"]:
            found.odd[visitor_number(text)] = text
        previous_last = found.ats[-1] if found.ats else 0
        for column, width in (
            (found.visitors, 8),
            (found.ats, 4),
            (found.sources, 4),
            (found.referrers, 4),
            (found.emails, 4),
        ):
            column.frombytes(data[offset : offset + count * width])
            offset += count * width
        found.pages.extend(data[offset : offset + count])
        offset += count
        if count and found.ats[len(found.ats) - count] < previous_last:
            ordered = False
        chunks += 1
    if offset != len(data) or len(found.pages) != len(found.ats):
        raise CorruptFileError(path, "its columns do not add up")
    return found, chunks, ordered


def _sorted(day: Day) -> bytes:
    """A day's rows written again as one chunk in time order."""
    builder = _Builder(Day(day.day))
    builder.rows = day
    builder.new_strings = [text for text in day.strings[1:] if text is not None]
    builder.new_odd = list(day.odd.values())
    return builder.chunk()


@dataclass
class _Index:
    settings: str = ""
    days: dict[str, dict] = field(default_factory=dict)  # day -> {"applied": [bytes, inode, tail], "size": n}


def _read_index(rt: Runtime) -> _Index | None:
    path = folder(rt) / INDEX
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except orjson.JSONDecodeError:
        raise CorruptFileError(path, "it is not JSON") from None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return None
    return _Index(data.get("settings", ""), data.get("days", {}))


def _load(rt: Runtime, day: str, size: int) -> Day:
    path = folder(rt) / f"{day}.agg"
    return _parse(path, _read_all(path, size), day)[0]


def _new_rows(day: Day, path: Path, start: int, pages: list[Page]) -> tuple[_Builder, int]:
    """The rows of a day file's lines after byte `start` (streamed), and the offset they end at."""
    builder = _Builder(day)
    index = {page.path: number for number, page in enumerate(sorted(pages, key=lambda p: p.path))}
    end = start
    for offset, visits in new_visits(path, start):
        for visit in visits:
            builder.add(visit, pages, index)
        end = offset
    return builder, end


@dataclass
class _Plan:
    """What the index and the day files say must be done: days to make again, to extend, to drop."""

    index: _Index
    files: dict[str, Path]
    stats: dict[str, os.stat_result]
    remade: set[str]
    dropped: list[str]


def _plan(rt: Runtime, pages: list[Page], *, rebuild: bool) -> _Plan:
    settings = _settings(pages)
    kept = None if rebuild else _read_index(rt)
    files = {day.isoformat(): path for day, path in day_files(rt)}
    stats = {day: os.stat(path) for day, path in files.items()}
    if kept is None or kept.settings != settings:
        old = list(kept.days) if kept else []
        index = _Index(settings, {})
        return _Plan(index, files, stats, set(files), [d for d in old if d not in files])
    dropped = [day for day in kept.days if day not in files]
    remade = {
        day
        for day, entry in kept.days.items()
        if day in files and not _same_file(files[day], stats[day], entry["applied"])
    }
    remade |= {day for day in files if day not in kept.days}
    index = _Index(settings, {day: entry for day, entry in kept.days.items() if day in files and day not in remade})
    return _Plan(index, files, stats, remade, dropped)


def refresh(rt: Runtime, *, rebuild: bool = False) -> int:
    """Bring every day's aggregate up to date with its day file (or make them all again); the days written."""
    pages = tracked_pages(rt)
    base = folder(rt)
    with rt.store.lock(LOCK, what="the visits' daily aggregates"):
        plan = _plan(rt, pages, rebuild=rebuild)
        written = 0
        changed = bool(plan.dropped) or rebuild
        for day in plan.dropped:
            remove_file(base / f"{day}.agg")
        for day, path in sorted(plan.files.items()):
            entry = plan.index.days.get(day)
            done = entry["applied"][0] if entry else 0
            if entry is not None and plan.stats[day].st_size <= done:
                continue
            ensure_dir(base)
            target = base / f"{day}.agg"
            data = _read_all(target, entry["size"]) if entry else b""
            current, chunks, _ = _parse(target, data, day)
            builder, end = _new_rows(current, path, done, pages)
            if entry is not None and end == done:
                continue
            if entry is None:
                chunk = builder.chunk()
                atomic_write_bytes(target, chunk)
                size = len(chunk)
            else:
                size = _append(target, data, chunks, current, builder)
            plan.index.days[day] = {"applied": [end, plan.stats[day].st_ino, _tail(path, end)], "size": size}
            written += 1
            changed = True
        if changed:  # nothing written when nothing changed
            ensure_dir(base)
            document = {"version": VERSION, "settings": plan.index.settings, "days": plan.index.days}
            atomic_write_bytes(base / INDEX, orjson.dumps(document))
    return written


def _append(target: Path, data: bytes, chunks: int, current: Day, builder: _Builder) -> int:
    """Add the new rows to a day's aggregate (`data`, `chunks` long): a chunk appended when it keeps the time
    order, else the day written again as one sorted chunk; the aggregate's whole size."""
    rows, chunk = builder.rows, builder.chunk()
    if (not len(current) or not len(rows) or min(rows.ats) >= current.ats[-1]) and chunks < MAX_CHUNKS:
        with open(target, "r+b") as handle:
            handle.truncate(len(data))  # a torn append of a killed run
            handle.seek(len(data))
            handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        return len(data) + len(chunk)
    whole = _sorted(_parse(target, data + chunk, current.day)[0])
    atomic_write_bytes(target, whole)
    return len(whole)


def _read_all(path: Path, size: int) -> bytes:
    """The first `size` bytes of an aggregate: those its index says are whole."""
    with open(path, "rb") as handle:
        data = handle.read(size)
    if len(data) != size:
        raise CorruptFileError(path, f"it holds {len(data)} bytes, its index says {size}")
    return data


def days(rt: Runtime, since: datetime, until: datetime) -> Iterator[tuple[Day, int, int]]:
    """Each day with a visit in `[since, until)` (to the second, as the day files' `at`), oldest first, with
    the range of its rows in the window. Brought up to date first (read-only: stale days made in memory)."""
    low, high = int(since.timestamp()), int(until.timestamp())
    first, last = since.date().isoformat(), until.date().isoformat()
    pages = tracked_pages(rt)
    if not rt.store.read_only and rt.data_dir.is_dir():
        refresh(rt)
        index = _read_index(rt) or _Index()
        stale: set[str] = set()
        plan = None
    else:
        plan = _plan(rt, pages, rebuild=False)
        index, stale = plan.index, plan.remade
    for day in sorted(set(index.days) | stale):
        if not first <= day <= last:
            continue
        entry = index.days.get(day)
        current = _load(rt, day, entry["size"]) if entry and day not in stale else Day(day)
        if plan is not None:  # read-only: what the aggregate lacks, in memory
            done = entry["applied"][0] if entry and day not in stale else 0
            if plan.stats[day].st_size > done:
                current = _in_memory(current, plan.files[day], done, pages)
        lo, hi = bisect_left(current.ats, low), bisect_left(current.ats, high)
        if hi > lo:
            yield current, lo, hi


def _in_memory(current: Day, path: Path, done: int, pages: list[Page]) -> Day:
    """A day's rows with its day file's lines after `done` added, written nowhere (a read-only reader)."""
    builder, _ = _new_rows(current, path, done, pages)
    if not len(builder.rows):
        return current
    merged, _, ordered = _parse(path, _sorted(current) + builder.chunk(), current.day)
    return merged if ordered else _parse(path, _sorted(merged), current.day)[0]


TRACKED = bytes(0 if number == NO_PAGE else 1 for number in range(256))


def only(page: int) -> bytes:
    """A `bytes.translate` table: 1 for the page's index, 0 for any other (a mask of its rows)."""
    return bytes(int(number == page) for number in range(256))


def both(first: bytes | bytearray, second: bytes | bytearray, *, without: bool = False) -> bytes:
    """Two masks of 0/1 bytes as one: rows in both (`without`: in the first and not the second)."""
    a, b = int.from_bytes(first), int.from_bytes(second)
    return (a & ~b if without else a & b).to_bytes(len(first))


def nonzero(column: array) -> bytes:
    return bytes(map(bool, column))


def page_order(rt: Runtime) -> list[Page]:
    """The tracked pages in their column's order (a row's page is an index into this list)."""
    return sorted(tracked_pages(rt), key=lambda p: p.path)
