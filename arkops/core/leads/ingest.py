"""`leads ingest`: new lines of access logs and visit logs become stored visits, each exactly once.

Which files, and where to resume in each, is the follower's
(`arkops.sources.follow`, which the watched app files of `arkops.core.watch`
use too): offsets keyed by the fingerprint of a file's first line, rotated
siblings read too, a last line without its newline left for later.

Exactly once: the offsets live in the `leads` database; before visits are
appended, the day files' sizes are written there as a journal, and cleared
with the new offsets once the append is done. A run killed in between
leaves the journal, and the next run cuts the day files back to those
sizes before reading again.
"""

from __future__ import annotations

import os
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from arkops.core.leads import LEADS_DB, daily
from arkops.core.leads.bots import is_bot
from arkops.core.leads.visits import (
    TRACKED_METHODS,
    Page,
    VisitLines,
    VisitorIds,
    day_file,
    folder,
    make_visit,
    match_page,
    tracked_pages,
    visitor_key,
)
from arkops.core.privacy.person import erased_check
from arkops.core.progress import Progress
from arkops.errors import DataError, UsageError, one_line
from arkops.runtime import Runtime
from arkops.sources import access_log, follow
from arkops.sources.access_log import BadLine, Hit
from arkops.store import JsonLines, ensure_dir
from arkops.store.jsonl import json_line
from arkops.text import counted

SOURCES = "sources"
META = "meta"
JOURNAL = "journal"
VISITS_LOCK = "visits.jsonl"  # the lock every writer of the day files takes (see `arkops.core.privacy.service`)
FLUSH_EVERY = 5_000  # visits held in memory before they are written: memory stays flat
SHOWN_BAD = 5

BIG_FILE = 64 << 20  # a file this large shows its reading progress (`arkops.core.progress`)


@dataclass
class IngestReport:
    files: int = 0
    lines: int = 0  # complete lines read
    visits: int = 0
    bots: int = 0
    skipped: int = 0  # lines on tracked paths that are not visits: other methods, status >= 400
    erased: int = 0  # visits from an address or email `privacy forget` erased: never stored again
    bad: int = 0
    bad_examples: list[str] = field(default_factory=list)
    rotated: list[str] = field(default_factory=list)  # rotated files whose remainder was read
    missing: list[str] = field(default_factory=list)  # configured sources that matched no file
    unreadable: list[str] = field(default_factory=list)  # files that failed mid-way (a truncated .gz): retried

    def counts(self) -> dict[str, int]:
        return {
            "files": self.files,
            "lines": self.lines,
            "visits": self.visits,
            "bots": self.bots,
            "erased": self.erased,
            "bad_lines": self.bad,
            "unreadable_files": len(self.unreadable),
        }

    def summary(self) -> str:
        text = (
            f"{self.files} file(s), {self.lines} new line(s): {self.visits} visit(s) stored, "
            f"{self.bots} from bots dropped, {self.bad} unreadable"
        )
        if self.erased:
            text += f", {counted(self.erased, 'visit')} of erased people not recorded"
        if self.unreadable:
            text += f"; {counted(len(self.unreadable), 'file')} not read to the end (tried again next run)"
        return text + (f"; no file matches {', '.join(self.missing)}" if self.missing else "")


def _needles(pages: list[Page], fmt: str) -> tuple[bytes, ...]:
    # A combined line's request reads `"GET /pricing?... HTTP/1.1"`: the path follows a space. JSON may escape `/`.
    if fmt == "combined":
        return tuple(b" " + p.path.encode() for p in pages)
    return tuple(p.path.strip("/").encode() or b"/" for p in pages)


def _split_target(target: str) -> tuple[str, str]:
    if target.startswith("/"):
        path, _, query = target.partition("?")
        return path.partition("#")[0], query.partition("#")[0]
    parts = urlsplit(target)
    return parts.path or "/", parts.query


class _Targets:
    """(path, query) of a request target on a tracked page, None for any other; a log repeats its targets."""

    def __init__(self, pages: list[Page]) -> None:
        self.pages = pages
        self.seen: dict[str, tuple[str, str] | None] = {}

    def __call__(self, target: str) -> tuple[str, str] | None:
        try:
            return self.seen[target]
        except KeyError:
            pass
        path, query = _split_target(target)
        tracked = None if match_page(self.pages, path) is None else (path, query)
        if len(self.seen) >= 16_384:
            self.seen.clear()
        self.seen[target] = tracked
        return tracked


class _Batch:
    """Visits waiting to be written (as their JSON lines), and the offsets they take the sources to.

    A visit is encoded when it is added: the batch holds small byte strings,
    not thousands of dictionaries that would be freed all at once at each
    write (and their memory given back to the system and taken again, a
    page fault at a time).
    """

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.by_day: dict[Path, list[bytes]] = defaultdict(list)
        self.count = 0
        self.files: dict[str, Path] = {}  # "2026-10-15" -> its day file

    def add(self, visit: dict) -> None:
        self.add_line(visit["at"][:10], json_line(visit))

    def add_line(self, day: str, line: bytes) -> None:
        path = self.files.get(day)
        if path is None:
            path = self.files[day] = day_file(self.rt, date.fromisoformat(day))
        self.by_day[path].append(line)
        self.count += 1

    def commit(self, sources: dict[str, dict]) -> None:
        """Append the visits and record `sources`, exactly once even if killed in between (see the module)."""
        store = self.rt.store
        # The day files' lock: `privacy forget` and `privacy purge` rewrite or delete them under it.
        with store.lock(VISITS_LOCK):
            if self.by_day:
                ensure_dir(folder(self.rt))
                sizes = {str(p): (p.stat().st_size if p.exists() else 0) for p in self.by_day}
                with store.transaction(LEADS_DB) as db:
                    db.put(META, JOURNAL, {"sizes": sizes})
                for path, lines in sorted(self.by_day.items()):
                    JsonLines(path).append_lines(lines)
            with store.transaction(LEADS_DB) as db:
                for key, entry in sources.items():
                    db.put(SOURCES, key, entry)
                db.delete(META, JOURNAL)
        self.by_day.clear()
        self.count = 0


def recover(rt: Runtime) -> int:
    """Cut day files back to the sizes a killed run journaled; how many files were cut."""
    with rt.store.lock(VISITS_LOCK), rt.store.transaction(LEADS_DB) as db:
        journal = db.get(META, JOURNAL)
        if journal is None:
            return 0
        cut = 0
        for name, size in journal["sizes"].items():
            path = Path(name)
            if path.exists() and path.stat().st_size > size:
                with open(path, "r+b") as handle:
                    handle.truncate(size)
                    os.fsync(handle.fileno())
                cut += 1
        db.delete(META, JOURNAL)
        return cut


def source_files(rt: Runtime, paths: list[str] | None) -> tuple[list[Path], list[str]]:
    """The files to read, oldest first, and the patterns that matched nothing.

    Explicit paths must exist (a usage error otherwise); configured sources
    may be globs, relative to arkops.toml's folder; each path brings its
    rotated siblings.
    """
    if paths is not None:
        return follow.matching_files(rt.config.path.parent, list(paths), explicit=True)
    return follow.matching_files(rt.config.path.parent, rt.config["leads"]["sources"], explicit=False)


def ingest(
    rt: Runtime, paths: list[str] | None = None, *, fmt: str = "auto", now: datetime, progress: Progress | None = None
) -> IngestReport:
    """Read what is new in each log and store its visits to tracked pages (see the module's docstring)."""
    if fmt not in access_log.FORMATS:
        raise UsageError(f"--format {fmt!r} is not one of {', '.join(access_log.FORMATS)}")
    pages = tracked_pages(rt)
    files, missing = source_files(rt, paths)
    report = IngestReport(missing=missing)
    rt.store.ensure()
    with rt.store.lock("leads-ingest", what="leads ingest"):
        recover(rt)
        with rt.store.transaction(LEADS_DB) as db:
            state = {key: dict(entry) for key, entry in db.items(SOURCES)}
        for path in files:
            try:
                _ingest_file(rt, path, fmt, pages, state, report, now=now, progress=progress)
            except (OSError, EOFError, zlib.error, DataError) as exc:
                # One bad file (a .gz cut short, a file that is not what its name says) is reported and the
                # others are read; what it held before the fault is kept, and it is tried again next run.
                report.unreadable.append(f"{path}: {one_line(str(exc) or type(exc).__name__)}")
        if report.visits:
            daily.refresh(rt)  # the days' aggregates follow the day files: only the bytes just appended are read
    return report


def take_visits(rt: Runtime, records: list[Any]) -> list[tuple[str, str | None]]:
    """Visits posted by the web app (`arkops serve`'s /api/events), each the object a line of its visit log
    holds: read as `leads ingest` reads those lines, stored in one append (all or nothing, as an ingest
    batch), one outcome per record in order ("stored", "ignored" and why, "refused" and why)."""
    report = IngestReport()
    batch = _Batch(rt)
    reader = _Reader(rt, tracked_pages(rt), report, batch, Path("/api/events"))
    reader.erased = erased_check(rt)
    outcomes: list[tuple[str, str | None]] = []
    for record in records:
        try:
            hit = access_log.parse_record(record)
        except BadLine as exc:
            outcomes.append(("refused", str(exc)))
            continue
        before = (report.visits, report.bots, report.skipped, report.erased)
        reader.general(hit)
        if report.visits > before[0]:
            outcomes.append(("stored", None))
        elif report.bots > before[1]:
            outcomes.append(("ignored", "a bot's user agent"))
        elif report.skipped > before[2]:
            outcomes.append(("ignored", f"not a page view (method {hit.method}, status {hit.status})"))
        elif report.erased > before[3]:
            outcomes.append(("ignored", "erased by privacy forget: not recorded"))
        else:
            outcomes.append(("ignored", f"{one_line(hit.target[:200])} is not a tracked page"))
    if batch.count:
        rt.store.ensure()
        recover(rt)  # a torn append of a killed writer is cut first, as `leads ingest` does
        batch.commit({})
        daily.refresh(rt)
    return outcomes


class _Reader:
    """One file's tracked lines to stored visits: the settings, caches and counters they share.

    `general` reads a hit of any format (`Hit`, then `make_visit`, then its
    JSON line). `combined` reads a chunk of combined lines: the usual line
    (`access_log.split_combined`) goes straight from its fields to its JSON
    line through `VisitLines`' cached pieces, with no `Hit` and no
    dictionary (a third of the cost), and any other line goes to `general`.
    `tests/test_leads_parse.py` holds the two to the same stored bytes and
    the same counts, line by line.
    """

    def __init__(self, rt: Runtime, pages: list[Page], report: IngestReport, batch: _Batch, path: Path) -> None:
        self.targets = _Targets(pages)
        self.keep_bots = rt.config["leads"]["keep_bots"]
        self.full_ip = rt.config["leads"]["ip_storage"] == "full"
        self.ids = VisitorIds(visitor_key(rt))
        self.lines = VisitLines(full_ip=self.full_ip, ids=self.ids)
        self.report, self.batch, self.path = report, batch, path
        self.erased: Callable[[str], bool] | None = None  # `erased_check`, taken again for each chunk

    def general(self, hit: Hit) -> None:
        tracked = self.targets(hit.target)
        if tracked is None:
            return
        path, query = tracked
        report = self.report
        if hit.method not in TRACKED_METHODS or hit.status >= 400:
            report.skipped += 1
            return
        if not self.keep_bots and is_bot(hit.user_agent):
            report.bots += 1
            return
        visit = make_visit(hit, path, query, full_ip=self.full_ip, ids=self.ids)
        erased = self.erased
        if erased is not None and (erased(hit.ip) or erased(visit.get("email", ""))):
            report.erased += 1
            return
        self.batch.add(visit)
        report.visits += 1

    def parsed(self, raw: bytes, parse: Callable[[str], Hit]) -> None:
        try:
            hit = parse(raw.decode("utf-8", "backslashreplace").rstrip("\r\n"))
        except BadLine as exc:
            self.bad(raw, str(exc))
            return
        self.general(hit)

    def combined(self, raws: list[bytes]) -> None:
        """The checks of `parse_combined` then `general`, in their order, on the usual line's fields."""
        split, clf, targets, encode = access_log.split_combined, access_log.parse_clf_time, self.targets, self.lines
        report, add, keep_bots, erased = self.report, self.batch.add_line, self.keep_bots, self.erased
        for raw in raws:
            text = raw.decode("utf-8", "backslashreplace").rstrip("\r\n")
            fields = split(text)
            method, space, rest = fields[2].partition(" ") if fields is not None else ("", "", "")
            if not space:  # an odd line, or a request without a path: the general reading decides and says why
                self.parsed(raw, access_log.parse_combined)
                continue
            ip, moment, _, status, referrer, agent = fields  # type: ignore[misc]
            try:
                at = clf(moment)
            except BadLine as exc:
                self.bad(raw, str(exc))
                continue
            tracked = targets(rest.partition(" ")[0])
            if tracked is None:
                continue
            code = int(status)
            if method not in TRACKED_METHODS or code >= 400:
                report.skipped += 1
                continue
            agent = "" if agent == "-" else agent
            if not keep_bots and is_bot(agent):
                report.bots += 1
                continue
            line, email = encode(at, ip, agent, tracked, method, code, "" if referrer == "-" else referrer)
            if erased is not None and (erased(ip) or erased(email)):
                report.erased += 1
                continue
            add(at[:10], line)
            report.visits += 1

    def bad(self, line: bytes, why: str) -> None:
        _bad(self.report, self.path, line, why)


def _bad(report: IngestReport, path: Path, line: bytes, why: str) -> None:
    report.bad += 1
    if len(report.bad_examples) < SHOWN_BAD:
        text = line.decode("utf-8", "backslashreplace").rstrip("\n")
        report.bad_examples.append(f"{path.name}: {why}: {text[:100]}")


def _ingest_file(
    rt: Runtime,
    path: Path,
    fmt: str,
    pages: list[Page],
    state: dict[str, dict],
    report: IngestReport,
    *,
    now: datetime,
    progress: Progress | None,
) -> None:
    resume = follow.position(path, fmt, state)
    if resume is None:
        return
    batch = _Batch(rt)
    reader = _Reader(rt, pages, report, batch, path)
    if resume.kind == "json":
        reader.erased = erased_check(rt)
        _ingest_array(reader, resume, state, now=now)
        return
    report.files += 1
    if resume.entry.get("path") not in (None, str(path)) and resume.offset:
        report.rotated.append(path.name)
    offset, skipping = resume.offset, bool(resume.entry.get("skipping"))
    try:
        for chunk in access_log.read_lines(path, offset, _needles(pages, resume.kind), skipping=skipping):
            report.lines += chunk.scanned + chunk.overlong
            for _ in range(chunk.overlong):
                reader.bad(b"", f"a line over {access_log.MAX_LINE >> 20} MiB, skipped")
            reader.erased = erased_check(rt)  # once a chunk: cheap, and an erasure made meanwhile is seen
            if resume.kind == "combined":
                reader.combined(chunk.lines)
            else:
                for raw in chunk.lines:
                    reader.parsed(raw, access_log.parse_json_line)
            if batch.count >= FLUSH_EVERY:
                batch.commit(resume.mark(state, chunk.end, now, skipping=chunk.skipping))
            if progress and resume.size is not None and resume.size >= BIG_FILE:
                progress(f"reading {path.name}", chunk.end, resume.size, unit="bytes")
            offset, skipping = chunk.end, chunk.skipping
    finally:  # a fault mid-file keeps the visits read before it, and where they end
        if offset != resume.offset or batch.count:
            batch.commit(resume.mark(state, offset, now, skipping=skipping))


def _ingest_array(reader: _Reader, resume: follow.Position, state: dict[str, dict], *, now: datetime) -> None:
    """The older `page_visits_YYYYMMDD.json` files: a JSON list, streamed; the offset counts records.

    A file with fewer records than were read from it was rewritten: it is read again from its start.
    """
    count = _read_records(reader, resume, state, resume.offset, now=now)
    if count < resume.offset:
        count = _read_records(reader, resume, state, 0, now=now)
    if count != resume.offset:
        reader.batch.commit(resume.mark(state, count, now))


def _read_records(
    reader: _Reader, resume: follow.Position, state: dict[str, dict], start: int, *, now: datetime
) -> int:
    """Read the records after the first `start`; how many the file holds."""
    report = reader.report
    count = 0
    with follow.open_array(resume.path) as records:
        for count, record in enumerate(records, 1):
            if count <= start:
                continue
            if count == start + 1:
                report.files += 1
            report.lines += 1
            if isinstance(record, DataError):  # too long, or nested too deep: skipped
                reader.bad(f"record {count}".encode(), str(record))
                continue
            try:
                hit = access_log.parse_record(record)
            except BadLine as exc:
                reader.bad(f"record {count}".encode(), str(exc))
                continue
            reader.general(hit)
            if reader.batch.count >= FLUSH_EVERY:
                reader.batch.commit(resume.mark(state, count, now))
    return count
