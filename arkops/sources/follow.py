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
whole. Its key is the fingerprint of its first record and its offset a count
of records, with a digest of the records read so far: when the first
`offset` records are still those read, what is new is the records after them;
when they are not (a record removed or changed in place), the file is read
again from its first record, and the caller's keyed intake (a signup per
email, an activity per hash) tells what it already has. A half-written
array does not parse: it is reported and read at the next run.

The caller stores `state` (fingerprint -> entry) and commits each entry
(`Position.mark`) with what it made of the records, in one transaction where
it can, so a run killed in between reads the same records again.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import json
import os
from collections.abc import Iterator
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


def records_digest(records: list) -> str:
    """The identity of the first records of a JSON array, to tell an append from a rewrite."""
    digest = hashlib.sha256()
    for record in records:
        digest.update(json.dumps(record, sort_keys=True, default=str).encode())
        digest.update(b"\n")
    return digest.hexdigest()[:24]


@dataclass
class Position:
    """Where reading one file resumes: its format, its fingerprint (the key of its offset), and the offset."""

    path: Path
    kind: str  # combined or jsonl (offset in bytes), or json: one JSON array (offset in records)
    key: str
    entry: dict  # its stored state, updated as reading moves on
    offset: int
    records: list  # a JSON array's records; empty for a log
    size: int | None  # bytes of a plain log, records of an array; None for a gzipped log (read to its end)
    identity: tuple[int, int]  # device and inode when reading began

    def mark(self, state: dict[str, dict], position: int, now: datetime) -> dict[str, dict]:
        """The file's state once read up to `position`, to commit with what was read so far."""
        dev, ino = self.identity
        self.entry.update(offset=position, path=str(self.path), dev=dev, ino=ino, format=self.kind, seen=iso(now))
        if self.kind == "json":
            self.entry["digest"] = records_digest(self.records[:position])
        state[self.key] = self.entry
        return {self.key: self.entry}


def position(path: Path, fmt: str, state: dict[str, dict]) -> Position | None:
    """Where to start reading `path`; None when it has nothing new (or not even one complete line yet)."""
    kind = access_log.detect_format(path) if fmt == "auto" else fmt
    records = json_list(path) if kind == "json" else []
    if kind == "json":
        key = access_log.record_fingerprint(records[0]) if records else None
    else:
        key = access_log.fingerprint(path)
    if key is None:
        return None
    entry = state.get(key) or {"offset": 0}
    offset = entry["offset"]
    identity = access_log.file_identity(path)
    size = len(records) if kind == "json" else None if path.name.endswith(".gz") else path.stat().st_size
    if size is not None and size < offset:
        offset = 0  # the same first line, but shorter than what was read: rewritten in place
    elif kind == "json" and offset and entry.get("digest") not in (None, records_digest(records[:offset])):
        offset = 0  # the records read are no longer the first ones: rewritten, read again (see the module)
    if size == offset:
        return None
    return Position(path, kind, key, entry, offset, records, size, identity)


def json_list(path: Path) -> list:
    """The records of a JSON array file, gzipped or not."""
    from arkops.sources.json_files import read_json_list

    if not path.name.endswith(".gz"):
        return read_json_list(path, items="records")
    try:
        records = json.loads(gzip.decompress(path.read_bytes()))
    except (ValueError, OSError) as exc:
        raise DataError(f"{path}: not gzipped JSON ({exc})") from None
    if not isinstance(records, list):
        raise DataError(f"{path}: expected a list of records")
    return records


def new_records(where: Position) -> Iterator[tuple[str, Any, int]]:
    """(where, record, offset after it) for each new record of a JSON array or JSON Lines file.

    A line that is not JSON comes as a `DataError` in place of its record,
    for the caller to report and skip; reading goes on past it.
    """
    name = where.path.name
    if where.kind == "json":
        for index in range(where.offset, len(where.records)):
            yield f"{name} record {index + 1}", where.records[index], index + 1
        return
    offset = where.offset
    for chunk in access_log.read_lines(where.path, where.offset, EVERY_LINE):
        for line in chunk.lines:
            offset += len(line)
            text = line.decode("utf-8", "backslashreplace").strip()
            if not text:
                continue
            try:
                record: Any = json.loads(text)
            except json.JSONDecodeError as exc:
                record = DataError(f"not JSON ({exc.msg})")
            yield f"{name} at byte {offset - len(line)}", record, offset
