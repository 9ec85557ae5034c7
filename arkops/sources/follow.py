"""Following files another program writes: what is new in each since the last read, across rotation.

The follower of `leads ingest` (access logs, the app's visit logs) and of the
watched app files (`arkops.core.watch`: signups, activity, demo requests,
usage). Where to resume is remembered per content, not per file name: a
log's offset is keyed by the fingerprint of its first line
(`access_log.fingerprint`), with the device and inode seen last, so a file
renamed, copied or gzipped by logrotate resumes where it stopped, and a
truncated or new file starts at 0. Each path brings its rotated siblings
(`x.log.1`, `x.log.2.gz`, `x.log-20261014`), so lines written just before a
rotation are read from the old file. A last line without its newline (being
written) waits for the next read.

A JSON array is not appended to: the program that writes it rewrites it
whole. It is streamed, its key is the fingerprint of its first record and
its offset a count of records. For `leads ingest`'s visit arrays, an array
holding fewer records than were read is read again from its start. The
watched app files (`new_records`) keep a digest of the records read too:
when the array no longer starts with them (a record removed or changed in
place), it is read again whole, and the caller's keyed intake (a signup per
email, an activity per hash) tells what it already has. A half-written
array does not parse: it is reported and read at the next run.

The caller stores `state` (fingerprint -> entry) and commits each entry
(`Position.mark`) with what it made of the records, in one transaction where
it can, so a run killed in between reads the same records again.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from arkops.clock import iso
from arkops.errors import DataError, UsageError
from arkops.sources import access_log

EVERY_LINE = (b"\n",)  # `access_log.read_lines` needles that every complete line holds


def matching_files(base: Path, patterns: list[str], *, explicit: bool) -> tuple[list[Path], list[str]]:
    """The files to read, oldest first, and the patterns that matched nothing.

    Relative patterns are relative to `base` (arkops.toml's folder) and may
    be globs; each path brings its rotated siblings. With `explicit` (paths
    named on the command line) a path that does not exist is a usage error.
    """
    found: dict[Path, None] = {}
    missing = []
    for given in patterns:
        pattern = given if explicit else str(base / os.path.expanduser(given))
        matches = sorted(glob.glob(os.path.expanduser(pattern))) if glob.has_magic(pattern) else [pattern]
        matches = [m for m in matches if Path(m).is_file()]
        if not matches:
            if explicit:
                raise UsageError(f"{pattern}: no such file")
            missing.append(given)
            continue
        for name in matches:
            path = Path(name)
            for sibling in access_log.rotated_siblings(path):
                found.setdefault(sibling)
            found.setdefault(path)
    return sorted(found, key=lambda p: p.stat().st_mtime_ns), missing


@dataclass
class Position:
    """Where reading one file resumes: its format, its fingerprint (the key of its offset), and the offset."""

    path: Path
    kind: str  # combined or jsonl (offset in bytes), or json: one JSON array (offset in records)
    key: str
    entry: dict  # its stored state, updated as reading moves on
    offset: int
    size: int | None  # bytes of a plain log; None for a gzipped log or a JSON array (read to its end)
    identity: tuple[int, int]  # device and inode when reading began

    def mark(
        self, state: dict[str, dict], position: int, now: datetime, *, skipping: bool = False, digest: str = ""
    ) -> dict[str, dict]:
        """The file's state once read up to `position`, to commit with what was read so far. `skipping`:
        `position` is inside an over-long line, which the next read skips to its end first; `digest`: of a
        JSON array's first `position` records (`new_records`)."""
        dev, ino = self.identity
        self.entry.update(offset=position, path=str(self.path), dev=dev, ino=ino, format=self.kind, seen=iso(now))
        if skipping:
            self.entry["skipping"] = True
        else:
            self.entry.pop("skipping", None)
        if digest:
            self.entry["digest"] = digest
        state[self.key] = self.entry
        return {self.key: self.entry}


def position(path: Path, fmt: str, state: dict[str, dict]) -> Position | None:
    """Where to start reading `path`; None when it has nothing new (or not even one complete line yet)."""
    kind = access_log.detect_format(path) if fmt == "auto" else fmt
    if kind == "json":
        with open_array(path) as records:
            first = next(records, None)
        key = None if first is None else access_log.record_fingerprint(first)
    else:
        key = access_log.fingerprint(path)
    if key is None:
        return None
    entry = state.get(key) or {"offset": 0}
    offset = entry["offset"]
    identity = access_log.file_identity(path)
    size = None if kind == "json" or path.name.endswith(".gz") else path.stat().st_size
    if size is not None and size < offset:
        offset = 0  # the same first line, but shorter than what was read: rewritten in place
        entry = {"offset": 0}
    if size == offset:
        return None
    return Position(path, kind, key, entry, offset, size, identity)


@contextmanager
def open_array(path: Path) -> Iterator[Iterator[Any]]:
    """The records of a JSON array file (gzipped or not), streamed; a record too long or nested too deep
    comes as a `DataError` in its place."""
    from arkops.sources.json_files import iter_array

    with access_log.open_log(path) as handle:
        yield iter_array(handle, what=str(path))


@dataclass
class Record:
    """One new record of a watched file, and where the file's position stands once it is taken."""

    where: str
    value: Any  # the parsed JSON, or a DataError for a line that is not JSON (or too long)
    after: int  # the offset after it: bytes of JSON Lines, records of an array
    skipping: bool = False  # `after` is inside an over-long line (JSON Lines)
    digest: str = ""  # of the array's first `after` records


def new_records(where: Position) -> Iterator[Record]:
    """Each new record of a JSON array or JSON Lines file (the app's files: see the module)."""
    if where.kind == "json":
        yield from _array_records(where)
        return
    name = where.path.name
    skipping = bool(where.entry.get("skipping"))
    for chunk in access_log.read_lines(where.path, where.offset, EVERY_LINE, skipping=skipping):
        # Every complete line is in `lines` (each holds a newline), back to back up to `end`.
        offset = chunk.end - sum(len(line) for line in chunk.lines)
        for _ in range(chunk.overlong):
            too_long = DataError(f"a line over {access_log.MAX_LINE >> 20} MiB, skipped")
            yield Record(f"{name} before byte {offset}", too_long, offset, chunk.skipping and not chunk.lines)
        for line in chunk.lines:
            offset += len(line)
            text = line.decode("utf-8", "backslashreplace").strip()
            if not text:
                continue
            try:
                value: Any = json.loads(text)
            except json.JSONDecodeError as exc:
                value = DataError(f"not JSON ({exc.msg})")
            yield Record(f"{name} at byte {offset - len(line)}", value, offset)


def _array_records(where: Position) -> Iterator[Record]:
    """The records after the `offset` already read, when the array still starts with them; else all of them."""
    start = where.offset
    if start:
        digest = hashlib.sha256()
        count = 0
        with open_array(where.path) as records:
            for count, record in enumerate(records, 1):
                _add(digest, record)
                if count == start:
                    break
        if count < start or digest.hexdigest()[:24] != where.entry.get("digest"):
            start = 0  # dropped or changed records: rewritten otherwise than by appending, read again whole
    digest = hashlib.sha256()
    with open_array(where.path) as records:
        for count, record in enumerate(records, 1):
            _add(digest, record)
            if count > start:
                yield Record(f"{where.path.name} record {count}", record, count, digest=digest.hexdigest()[:24])


def _add(digest: Any, record: Any) -> None:
    text = str(record) if isinstance(record, DataError) else json.dumps(record, sort_keys=True, default=str)
    digest.update(text.encode())
    digest.update(b"\n")
