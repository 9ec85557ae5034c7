"""The kept state of every visitor: score, visit count, first and last visit, hot page, sources, pages, days.

`leads scan`, `leads list`, `status` and the report read this state, not the
visits: their cost follows the number of visitors, not the history stored.
It lives in `lead_state.tsv` beside the databases: a header line (how far
each day file was applied, and the settings the scores depend on), then one
line per visitor: a short JSON summary (what readers decide on), a tab, the
whole record as JSON, read only for the visitors a reader keeps. It is not
a JSON Lines database (`doctor` does not read it as one); it is derived
from the visits and made again whenever in doubt.

Exponential decay makes the kept score exact: a visitor's score is kept as
its value at their last visit `l`, so a visit at `t` of weight `w` adds
`w * 2^((t - l) / half_life)` to it (and a visit after `l` first decays the
kept value to `t`); the score at any later moment is the kept value halved
every half-life since `l`. Only the day files' new bytes are read
(`refresh`): a day file that shrank, was replaced or vanished (privacy
forget), a changed page weight, half-life or `hot_score`, or no state at
all makes the state be rebuilt from the day files (`rebuild`, `leads
rebuild`: it holds every visitor's record); the oldest days retention
deletes leave it by `drop_days`, which remakes only their visitors.
Reading keeps memory bounded by the new visits, not by the history: the
state file is streamed and rewritten a line at a time.

The lines are in three runs readers can stop early in: first every linked
visitor (one whose visits carried an email, or an imported lead's visitor:
the header keeps a digest of those links), then the visitors who may be hot
(they opened a hot page, or their score at their last visit reached
`hot_score`, which no later moment exceeds without a visit), then the
others; each of the last two by last visit, most recent first, and the
header says how many lines each run holds. A reader of the leads seen since
a moment (`status`' last 24 hours, the report's months, `leads list
--since`) reads the linked lines, then each run down to its first line older
than that moment; a reader of hot leads (`leads list --hot`, `leads scan`)
skips the last run. Their cost follows the recent or the hot visitors, not
everyone kept. When the imported leads' links changed since the state was
written, the next writer puts the lines in order again, and a read-only
reader reads every line; `hot_score` is among the settings, so a new one
makes the state again.

`status` runs read-only: it applies the new visits in memory and writes nothing.
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import BinaryIO

import orjson

from arkops.core.leads.visits import Page, day_files, match_page, tracked_pages
from arkops.errors import CorruptFileError
from arkops.runtime import Runtime
from arkops.store import ensure_dir
from arkops.store.files import FILE_MODE, fsync_dir

STATE_FILE = "lead_state.tsv"
STATE_LOCK = "lead-state"
VERSION = 4  # 2: the summary holds the last visit's epoch seconds; 3: each day file's last applied bytes;
# 4: linked visitors first, then the others by last visit, most recent first; the summary holds the first source
TAIL = 64
HISTORY_KEPT = 8  # the last visits a digest shows
READ_CHUNK = 1 << 20


def state_path(rt: Runtime) -> Path:
    return rt.data_dir / STATE_FILE


def _settings(rt: Runtime) -> str:
    """What the kept scores and the lines' runs depend on: the tracked pages (weights, labels, hot), the half-life
    and `hot_score`."""
    pages = sorted((p.path, p.weight, p.label, p.hot) for p in tracked_pages(rt))
    config = rt.config["leads"]
    text = orjson.dumps([VERSION, config["half_life_days"], pages, config["hot_score"]])
    return hashlib.sha256(text).hexdigest()[:16]


_EPOCHS: dict[str, float] = {}


def epoch(at: str) -> float:
    """Seconds since 1970 of a stored visit's `at` (`YYYY-MM-DDTHH:MM:SSZ`); a log repeats its seconds."""
    seconds = _EPOCHS.get(at)
    if seconds is None:
        if len(_EPOCHS) >= 65_536:
            _EPOCHS.clear()
        seconds = _EPOCHS[at] = datetime.fromisoformat(at[:19]).replace(tzinfo=UTC).timestamp()
    return seconds


def _first(current: list | None, at: str, value: str | None) -> list | None:
    """An `[at, value]` pair kept for its earliest `at`."""
    if not value or (current is not None and current[0] <= at):
        return current
    return [at, value]


def apply_visit(record: dict, visit: dict, page: Page, half_life_seconds: float) -> None:
    """Fold one visit into a visitor's record (see the module for the score)."""
    at = visit["at"]
    if record["n"] == 0:
        record.update(s=page.weight, f=at, l=at)
    elif at >= record["l"]:
        record["s"] = record["s"] * 0.5 ** ((epoch(at) - epoch(record["l"])) / half_life_seconds) + page.weight
        record["l"] = at
    else:
        record["s"] += page.weight * 0.5 ** ((epoch(record["l"]) - epoch(at)) / half_life_seconds)
    record["n"] += 1
    record["f"] = min(record["f"], at)
    if record["l"] == at:
        record["lp"] = {
            key: value
            for key, value in (
                ("label", page.label),
                ("ip", visit.get("ip")),
                ("user_agent", visit.get("user_agent")),
                ("referrer", visit.get("referrer")),
                ("referrer_domain", visit.get("referrer_domain")),
            )
            if value
        }
    if page.hot and ("ha" not in record or (at, page.label) < (record["ha"], record["hp"])):
        record["ha"], record["hp"] = at, page.label
    if visit.get("email") and at >= record.get("ea", ""):
        record["ea"], record["e"] = at, visit["email"]
    for key, name in (("us", "utm_source"), ("uc", "utm_campaign"), ("rd", "referrer_domain")):
        kept = _first(record.get(key), at, visit.get(name))
        if kept is not None:
            record[key] = kept
    pages = record.setdefault("pg", [])
    seen = next((item for item in pages if item[1] == page.label), None)
    if seen is None:
        pages.append([at, page.label])
    elif at < seen[0]:
        seen[0] = at
    pages.sort()
    day = at[:10]
    days = record.setdefault("d", [])
    if day not in days:
        days.append(day)
        days.sort()
    history = record.setdefault("h", [])
    history.append([at, page.label])
    history.sort()
    del history[:-HISTORY_KEPT]


def new_record(visitor: str) -> dict:
    return {"v": visitor, "s": 0.0, "n": 0}


@dataclass
class Header:
    settings: str = ""
    applied: dict[str, list] = field(default_factory=dict)  # day -> [bytes applied, inode, their last bytes]
    links: str = ""  # `links_digest` of the imported leads' visitors the lines were ordered with
    linked: int = 0  # the linked visitors' lines, first
    hot: int = 0  # then the lines of visitors who may be hot

    def line(self) -> bytes:
        data = {"version": VERSION, "settings": self.settings, "applied": self.applied}
        return orjson.dumps(data | {"links": self.links, "linked": self.linked, "hot": self.hot}) + b"\n"

    def run(self, number: int) -> int:
        """The run of the kept state's line `number` (0 the first visitor line)."""
        return LINKED if number < self.linked else MAY_BE_HOT if number < self.linked + self.hot else OTHERS


def links_digest(links: dict[str, str]) -> str:
    """What the lines' order depends on besides the records: which visitors an imported lead links."""
    return hashlib.sha256(orjson.dumps(sorted(links.items()))).hexdigest()[:16]


LINKED, MAY_BE_HOT, OTHERS = 0, 1, 2  # the runs of lines, in this order


def _linked(row: list, links: dict[str, str]) -> bool:
    return bool(row[4]) or row[0] in links


def _run(row: list, links: dict[str, str], threshold: float) -> int:
    return LINKED if _linked(row, links) else MAY_BE_HOT if row[3] or row[1] >= threshold else OTHERS


def _recency(row: list) -> tuple[str, str]:
    """The unlinked lines' order, most recent first: this, descending (last visit, then visitor)."""
    return row[2], row[0]


def _read_header(path: Path) -> Header | None:
    try:
        with open(path, "rb") as handle:
            first = handle.readline()
    except FileNotFoundError:
        return None
    try:
        data = orjson.loads(first)
    except orjson.JSONDecodeError:
        raise CorruptFileError(path, "line 1 is not JSON") from None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return None  # another layout: rebuilt
    return Header(
        data.get("settings", ""),
        data.get("applied", {}),
        data.get("links", ""),
        data.get("linked", 0),
        data.get("hot", 0),
    )


def state_header(rt: Runtime) -> bytes:
    """The kept state's header line as it is on disk (b"" without a state): it changes with every write."""
    try:
        with open(state_path(rt), "rb") as handle:
            return handle.readline()
    except FileNotFoundError:
        return b""


def summary(record: dict) -> list:
    """What a reader decides on before it reads a whole record, and what a listing shows: [visitor, score at
    the last visit, last visit, opened a hot page, email, visits, the last visit in seconds since 1970, the
    first UTM source and the first referrer domain (each [at, value] or null), first visit, the last visit's
    page label and referrer domain]."""
    last = record.get("lp", {})
    return [
        record["v"],
        record["s"],
        record["l"],
        "ha" in record,
        record.get("e"),
        record["n"],
        epoch(record["l"]),
        record.get("us"),
        record.get("rd"),
        record["f"],
        last.get("label", ""),
        last.get("referrer_domain") or "",
    ]


def state_line(record: dict) -> bytes:
    # The summary, a tab, the record: JSON escapes tabs, so the first one ends the summary.
    return orjson.dumps(summary(record)) + b"\t" + orjson.dumps(record) + b"\n"


def _lines(path: Path) -> Iterator[tuple[list, bytes]]:
    """(summary, the record's JSON) of each visitor in a state file, streamed (the header skipped)."""
    for number, line in enumerate(_raw_lines(path)):
        yield _parse(path, number, line)


def _parse(path: Path, number: int, line: bytes) -> tuple[list, bytes]:
    """A visitor line (`number` from 0, after the header) as its summary and its record's JSON."""
    head, tab, rest = line.partition(b"\t")
    try:
        row = orjson.loads(head)
    except orjson.JSONDecodeError:
        tab = b""
    if not tab:
        raise CorruptFileError(path, f"line {number + 2} is not a kept visitor")
    return row, rest


def _visitor(line: bytes) -> str:
    """A state line's visitor, cut from its text (`["<visitor>",...`) unless it holds an escape (then parsed);
    "" for a line that is not a visitor's (the reader that parses it reports the file as corrupt)."""
    end = line.find(b'"', 2)
    found = line[2:end]
    try:
        if end < 0 or not line.startswith(b'["'):
            return ""
        return str(orjson.loads(line.partition(b"\t")[0])[0]) if b"\\" in found else found.decode()
    except (orjson.JSONDecodeError, UnicodeDecodeError, IndexError, TypeError):
        return ""


def _record(path: Path, raw: bytes) -> dict:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise CorruptFileError(path, "a kept visitor is not JSON") from None


def _new_lines(path: Path, start: int, end: int | None = None) -> Iterator[tuple[int, list[bytes]]]:
    """Complete lines of a day file after byte `start` (up to byte `end`), a chunk at a time, each with the
    offset after it."""
    with open(path, "rb") as handle:
        handle.seek(start)
        offset, rest = start, b""
        while chunk := handle.read(READ_CHUNK if end is None else min(READ_CHUNK, end - offset - len(rest))):
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            rest = data[cut:]
            if cut:
                offset += cut
                yield offset, data[:cut].split(b"\n")[:-1]


def new_visits(path: Path, start: int, end: int | None = None) -> Iterator[tuple[int, list[dict]]]:
    """The stored visits of a day file after byte `start` (up to byte `end`), a chunk at a time, each with the
    offset after it (a blank line or one that is not an object is passed over; one that is not JSON is a
    corrupt file)."""
    for offset, lines in _new_lines(path, start, end):
        visits = []
        for number, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                visit = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise CorruptFileError(path, f"a line near byte {offset} (#{number}) is not JSON") from None
            if isinstance(visit, dict):
                visits.append(visit)
        yield offset, visits


@dataclass
class Pending:
    """What the day files hold beyond the kept state: the visitors' updated records and the new header."""

    header: Header
    updated: dict[str, dict]
    rebuilt: bool  # the state was (or must be) made again from every day file
    replace: bool = False  # `updated` holds whole records, made again (`drop_days`), not new visits to merge
    removed: set[str] = field(default_factory=set)  # visitors who leave the state


def _tail(path: Path, offset: int) -> str:
    """A digest of the file's first line and the bytes just before `offset`: with the size and the inode, what
    tells a day file that grew from one removed and written again (an inode number is reused)."""
    start = max(offset - TAIL, 0)
    with open(path, "rb") as handle:
        first = handle.readline(min(offset, TAIL * 4))
        return hashlib.sha256(first + os.pread(handle.fileno(), offset - start, start)).hexdigest()[:32]


def _same_file(path: Path, stat: os.stat_result, mark: list) -> bool:
    """The day file the state applied up to `mark` ([bytes, inode, tail]), grown or as it was."""
    done, inode, tail = mark
    return stat.st_size >= done and stat.st_ino == inode and _tail(path, done) == tail


def _pending(rt: Runtime, kept: Header | None) -> Pending:
    settings = _settings(rt)
    files = {day.isoformat(): path for day, path in day_files(rt)}
    stats = {day: os.stat(path) for day, path in files.items()}
    rebuild = (
        kept is None
        or kept.settings != settings
        or any(day not in files or not _same_file(files[day], stats[day], mark) for day, mark in kept.applied.items())
    )
    header = Header(settings, {} if rebuild or kept is None else dict(kept.applied))
    pages = tracked_pages(rt)
    half_life = rt.config["leads"]["half_life_days"] * 86_400
    updated: dict[str, dict] = {}
    for day, path in sorted(files.items()):
        done = header.applied.get(day, [0])[0]
        if stats[day].st_size <= done:
            continue
        for offset, visits in new_visits(path, done):
            for visit in visits:
                page = match_page(pages, visit.get("path", ""))
                visitor = visit.get("visitor")
                if page is None or not visitor:
                    continue
                record = updated.get(visitor)
                if record is None:
                    record = updated[visitor] = new_record(visitor)
                apply_visit(record, visit, page, half_life)
            header.applied[day] = [offset, stats[day].st_ino, _tail(path, offset)]
    return Pending(header, updated, rebuild)


def merge_records(into: dict, extra: dict, half_life_seconds: float) -> dict:
    """Two records of one visitor (the kept one, and the new visits') as one, exactly."""
    if into["n"] == 0:
        return extra
    if extra["n"] == 0:
        return into
    later, earlier = (into, extra) if into["l"] >= extra["l"] else (extra, into)
    merged = dict(later)
    merged["s"] = later["s"] + earlier["s"] * 0.5 ** ((epoch(later["l"]) - epoch(earlier["l"])) / half_life_seconds)
    merged["n"] = into["n"] + extra["n"]
    merged["f"] = min(into["f"], extra["f"])
    hot = [r for r in (into, extra) if "ha" in r]
    if hot:
        first_hot = min(hot, key=lambda r: (r["ha"], r["hp"]))
        merged["ha"], merged["hp"] = first_hot["ha"], first_hot["hp"]
    emails = [r for r in (into, extra) if "ea" in r]
    if emails:
        last_email = max(emails, key=lambda r: r["ea"])
        merged["ea"], merged["e"] = last_email["ea"], last_email["e"]
    for key in ("us", "uc", "rd"):
        pairs = [r[key] for r in (into, extra) if key in r]
        if pairs:
            merged[key] = min(pairs)
    pages: dict[str, str] = {}
    for at, label in sorted(into.get("pg", []) + extra.get("pg", [])):
        pages.setdefault(label, at)
    merged["pg"] = sorted([at, label] for label, at in pages.items())
    merged["d"] = sorted(set(into.get("d", [])) | set(extra.get("d", [])))
    merged["h"] = sorted(into.get("h", []) + extra.get("h", []))[-HISTORY_KEPT:]
    return merged


Entry = tuple[list, Callable[[], dict]]  # a visitor's summary, and how to read their whole record


def entries(rt: Runtime, links: dict[str, str], since: str = "", hot: bool = False) -> Iterator[Entry]:
    """Every visitor's summary and record, up to date with the day files (brought up to date first, unless
    read-only: then the new visits are added in memory). The record is parsed only when asked for. With
    `since`, unlinked visitors whose last visit is before it may be left out; with `hot`, unlinked visitors who
    cannot be hot (see the module)."""
    path = state_path(rt)
    updated: dict[str, dict] = {}
    if not rt.store.read_only and rt.data_dir.is_dir():
        refresh(rt)
        kept = _read_header(path)
    else:
        kept = _read_header(path)
        pending = _pending(rt, kept)
        updated = dict(pending.updated)
        if pending.rebuilt:
            kept = None
    if kept is not None:
        ordered = kept.links == links_digest(links)
        yield from _kept_entries(rt, kept if ordered else None, updated, since, hot and ordered)
    for record in updated.values():
        yield summary(record), partial(dict, record)


def _kept_entries(rt: Runtime, kept: Header | None, updated: dict[str, dict], since: str, hot: bool) -> Iterator[Entry]:
    """`entries` of the state file's lines, each run read down to `since` (every run without `kept`: lines out
    of order), the last one skipped for `hot`; the held `updated` records merged in (and taken from it)."""
    path = state_path(rt)
    half_life = rt.config["leads"]["half_life_days"] * 86_400
    passed: set[int] = {OTHERS} if hot else set()  # runs read down to `since` (or not wanted)
    linked_end, hot_end = (kept.linked, kept.linked + kept.hot) if kept is not None else (1 << 62,) * 2
    for number, line in enumerate(_raw_lines(path)):
        run = LINKED if number < linked_end else MAY_BE_HOT if number < hot_end else OTHERS  # `Header.run`, inlined
        if run in passed and not updated:
            if run == OTHERS:
                return
            continue  # the rest of the run, unparsed
        if run in passed and _visitor(line) not in updated:
            continue  # past the cut: only the visitors whose new visits are held are looked for
        row, raw = _parse(path, number, line)
        extra = updated.pop(row[0], None) if updated else None
        if extra is not None:
            record = merge_records(_record(path, raw), extra, half_life)
            yield summary(record), partial(dict, record)
        elif since and run != LINKED and row[2] < since:
            passed.add(run)
        else:
            yield row, partial(_record, path, raw)


@dataclass
class Refreshed:
    visitors: int  # in the state written (0: nothing new, nothing written)
    rebuilt: bool
    updated: set[str]  # the visitors whose records changed


def refresh(rt: Runtime, *, rebuild: bool = False) -> Refreshed:
    """Apply the day files' new visits to the kept state (or make it again from them all), in the readers'
    order (see the module); what was done."""
    from arkops.core.leads.imports import linked_visitors

    path = state_path(rt)
    with rt.store.lock(STATE_LOCK, what="the leads' kept state"):
        kept = None if rebuild else _read_header(path)
        pending = _pending(rt, kept)
        links = linked_visitors(rt)
        pending.header.links = links_digest(links)
        reorder = kept is None or kept.links != pending.header.links
        if not pending.updated and not pending.rebuilt and path.exists() and not reorder:
            return Refreshed(0, False, set())
        visitors = _rewrite(rt, pending, None if pending.rebuilt else kept, links)
    return Refreshed(visitors, pending.rebuilt, set(pending.updated))


def _rewrite(rt: Runtime, pending: Pending, kept: Header | None, links: dict[str, str]) -> int:
    """Write the state file again (`_write`) through a temporary file, under the caller's `STATE_LOCK`."""
    path = state_path(rt)
    ensure_dir(path.parent)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE), "wb") as out:
            visitors = _write(rt, out, pending, kept, links)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return visitors


def _write(rt: Runtime, out: BinaryIO, pending: Pending, kept: Header | None, links: dict[str, str]) -> int:
    """The state file: its header, then its runs of lines (see the module). The kept lines are read twice:
    first for the records the new visits change and the lines that change runs (links that changed), then
    copied in order with the changed ones merged in. Returns the visitors written."""
    path = state_path(rt)
    threshold = rt.config["leads"]["hot_score"]
    records, moved, stay = _changes(rt, pending, kept, links)
    lines = {visitor: (summary(record), orjson.dumps(record) + b"\n") for visitor, record in records.items()}
    lines |= moved
    new: list[list[tuple[list, bytes]]] = [[], [], []]  # by run; the last two oldest first, written from the end
    for row, raw in lines.values():
        new[_run(row, links, threshold)].append((row, raw))
    new[LINKED].sort()
    new[MAY_BE_HOT].sort(key=lambda line: _recency(line[0]))
    new[OTHERS].sort(key=lambda line: _recency(line[0]))
    pending.header.linked = stay[LINKED] + len(new[LINKED])
    pending.header.hot = stay[MAY_BE_HOT] + len(new[MAY_BE_HOT])
    out.write(pending.header.line())
    written = 0

    def write(row: list, raw: bytes) -> None:
        nonlocal written
        out.write(orjson.dumps(row) + b"\t" + raw)
        written += 1

    def flush(run: int) -> None:
        for row, raw in new[run] if run == LINKED else reversed(new[run]):
            write(row, raw)
        new[run] = []

    current = LINKED
    for number, (row, raw) in enumerate(_lines(path) if kept is not None else ()):
        if row[0] in lines or row[0] in pending.removed:
            continue
        run = kept.run(number) if kept is not None else LINKED
        while current < run:  # the new lines of the runs before go after the kept ones
            flush(current)
            current += 1
        if run != LINKED:
            while new[run] and _recency(new[run][-1][0]) > _recency(row):
                write(*new[run].pop())
        write(row, raw)
    for run in range(current, OTHERS + 1):
        flush(run)
    return written


def _changes(
    rt: Runtime, pending: Pending, kept: Header | None, links: dict[str, str]
) -> tuple[dict[str, dict], dict[str, tuple[list, bytes]], list[int]]:
    """`_write`'s first reading of the kept lines: the changed visitors' whole records (merged with their kept
    ones), the kept lines that change runs, and how many kept lines stay in each run."""
    path = state_path(rt)
    half_life = rt.config["leads"]["half_life_days"] * 86_400
    threshold = rt.config["leads"]["hot_score"]
    records = dict(pending.updated)
    moved: dict[str, tuple[list, bytes]] = {}
    stay = [0, 0, 0]
    if kept is None:
        return records, moved, stay
    reorder = kept.links != pending.header.links
    for number, line in enumerate(_raw_lines(path)):
        visitor = _visitor(line)
        run = kept.run(number)
        if visitor in pending.removed:
            continue
        if visitor in records:
            if not pending.replace:
                records[visitor] = merge_records(_record(path, line.partition(b"\t")[2]), records[visitor], half_life)
            continue
        if reorder and (run == LINKED or visitor in links):
            row, raw = _parse(path, number, line)
            if _run(row, links, threshold) != run:
                moved[visitor] = row, raw
                continue
        stay[run] += 1
    return records, moved, stay


def _raw_lines(path: Path) -> Iterator[bytes]:
    """A state file's visitor lines, unparsed (the header skipped; none without a file)."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, the generator may be left early
    except FileNotFoundError:
        return
    with handle:
        handle.readline()
        yield from handle


def drop_days(rt: Runtime, days: set[str]) -> None:
    """Retention deleted these days' files: their visits leave the kept state. A visitor seen only on them goes;
    one seen on them and later is made again from the remaining day files (up to where each was applied); the
    others keep their lines. Memory follows the visitors of the days dropped, not every visitor kept (a
    rebuild holds them all)."""
    from arkops.core.leads.imports import linked_visitors

    path = state_path(rt)
    with rt.store.lock(STATE_LOCK, what="the leads' kept state"):
        kept = _read_header(path)
        if kept is None or not days & kept.applied.keys():
            return  # nothing of them kept (or no state: the next reader makes it)
        if kept.settings != _settings(rt):
            path.unlink()  # the settings changed meanwhile: the next reader makes it again
            return
        removed, seen_since = _seen_on(path, days)
        header = replace(kept, applied={day: mark for day, mark in kept.applied.items() if day not in days})
        records = _remade(rt, header, seen_since)
        links = linked_visitors(rt)
        header.links = links_digest(links)
        pending = Pending(header, records, rebuilt=False, replace=True, removed=removed | (seen_since - records.keys()))
        _rewrite(rt, pending, kept, links)


def _seen_on(path: Path, days: set[str]) -> tuple[set[str], set[str]]:
    """The kept visitors with a visit on one of `days`: those seen on no other day, and those seen since."""
    last_day = max(days)
    only: set[str] = set()
    since: set[str] = set()
    for number, line in enumerate(_raw_lines(path)):
        row, raw = _parse(path, number, line)
        if row[9][:10] > last_day:
            continue  # first seen after every day dropped
        visited = _record(path, raw).get("d", [])
        if any(day in days for day in visited):
            (since if any(day not in days for day in visited) else only).add(row[0])
    return only, since


def _remade(rt: Runtime, header: Header, visitors: set[str]) -> dict[str, dict]:
    """The records of `visitors` made again from the day files `header` says were applied, as far as applied."""
    pages = tracked_pages(rt)
    half_life = rt.config["leads"]["half_life_days"] * 86_400
    files = {day.isoformat(): path for day, path in day_files(rt)}
    records: dict[str, dict] = {}
    for day, mark in sorted(header.applied.items()):
        if day not in files or not visitors:
            continue  # gone meanwhile: the next reader finds the state stale and makes it again
        for _, visits in new_visits(files[day], 0, mark[0]):
            for visit in visits:
                visitor = str(visit.get("visitor") or "")
                page = match_page(pages, visit.get("path", "")) if visitor in visitors else None
                if page is not None:
                    record = records.get(visitor) or records.setdefault(visitor, new_record(visitor))
                    apply_visit(record, visit, page, half_life)
    return records


def forget_state(rt: Runtime) -> None:
    """Drop the kept state (privacy forget rewrote day files): the next reader makes it again without them."""
    with rt.store.lock(STATE_LOCK, what="the leads' kept state"):
        state_path(rt).unlink(missing_ok=True)


def score_at(record: dict, now_seconds: float, half_life_seconds: float) -> float:
    age = max(now_seconds - epoch(record["l"]), 0.0)
    return float(record["s"] * 0.5 ** (age / half_life_seconds))


def groups(rt: Runtime, links: dict[str, str], since: str = "", hot: bool = False) -> Iterator[list[Entry]]:
    """The visitors grouped by lead: a visitor alone, or every visitor linked to one email (by a visit's email
    or an imported lead). Unlinked visitors stream; linked ones are held until the end (they are few). With
    `since` or `hot`, a lone visitor last seen before it, or who cannot be hot, may be left out (`entries`)."""
    linked: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries(rt, links, since, hot):
        row = entry[0]
        email = row[4] or links.get(row[0])  # a visit's own email wins, as it always did
        if email:
            linked[email].append(entry)
        else:
            yield [entry]
    yield from linked.values()
