"""Append-only JSON Lines for high-volume records (page visits, raw events)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import orjson

from arkops.errors import CorruptFileError
from arkops.store.files import FILE_MODE, atomic_write_bytes, count_change


def json_line(record: dict) -> bytes:
    """One record as compact JSON and its newline, in UTF-8.

    orjson writes it; what orjson refuses (a lone surrogate, which a JSON
    source may hold as `\\ud800`, or a number beyond 64 bits) is written by
    json with every non-ASCII character escaped, so it reads back the same.
    """
    try:
        return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
    except (orjson.JSONEncodeError, TypeError):
        return (json.dumps(record, separators=(",", ":")) + "\n").encode("ascii")


WRITE_LINES = 1_000  # lines per writev call (IOV_MAX is 1024 on Linux)


class JsonLines:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, records: Iterable[dict]) -> int:
        """Append records; the caller holds this file's lock (see Store.append)."""
        return self.append_lines([json_line(record) for record in records])

    def append_lines(self, lines: list[bytes]) -> int:
        """Append records already encoded by `json_line`, and fsync; the caller holds this file's lock.

        Written a thousand lines a call (`writev`), so a big batch is never
        joined into one more copy of itself.
        """
        if not lines:
            return 0
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, FILE_MODE)
        try:
            _drop_torn_tail(fd)
            for start in range(0, len(lines), WRITE_LINES):
                part = lines[start : start + WRITE_LINES]
                written = os.writev(fd, part)
                if written != sum(map(len, part)):  # a short write (a full disk raises instead): finish it
                    rest = b"".join(part)[written:]
                    while rest:
                        rest = rest[os.write(fd, rest) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        count_change()
        return len(lines)

    def rewrite(self, records: Iterable[dict]) -> None:
        """Replace the file's records at once (atomically); the caller holds this file's lock."""
        atomic_write_bytes(self.path, b"".join(json_line(record) for record in records))

    def read(self) -> Iterator[dict]:
        """Yield every record; a torn last line (a crash mid-append) is skipped, any other bad line is an error."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as handle:
            lines = handle.read().split(b"\n")
        # A record is complete only with its newline: what follows the last one
        # is a write still in progress or cut off, never a record.
        for number, line in enumerate(lines[:-1]):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise CorruptFileError(self.path, f"line {number + 1} is not JSON") from None
            if not isinstance(record, dict):
                raise CorruptFileError(self.path, f"line {number + 1} is not a JSON object")
            yield record


def _drop_torn_tail(fd: int) -> None:
    """A writer killed mid-line leaves bytes after the last newline: they were never a record."""
    size = os.fstat(fd).st_size
    if not size or os.pread(fd, 1, size - 1) == b"\n":  # the usual case: one byte says the file is whole
        return
    chunk = min(size, 1 << 20)
    tail = os.pread(fd, chunk, size - chunk)
    if tail.endswith(b"\n"):
        return
    cut = tail.rfind(b"\n")
    os.ftruncate(fd, size - chunk + cut + 1 if cut >= 0 else (0 if chunk == size else size))
