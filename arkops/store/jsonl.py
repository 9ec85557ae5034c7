"""Append-only JSON Lines for high-volume records (page visits, raw events)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from arkops.errors import CorruptFileError
from arkops.store.files import FILE_MODE


class JsonLines:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, records: Iterable[dict]) -> int:
        """Append records; the caller holds this file's lock (see Store.append)."""
        lines = [json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n" for record in records]
        if not lines:
            return 0
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, FILE_MODE)
        try:
            _drop_torn_tail(fd)
            os.write(fd, "".join(lines).encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        return len(lines)

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
    if not size:
        return
    chunk = min(size, 1 << 20)
    tail = os.pread(fd, chunk, size - chunk)
    if tail.endswith(b"\n"):
        return
    cut = tail.rfind(b"\n")
    os.ftruncate(fd, size - chunk + cut + 1 if cut >= 0 else (0 if chunk == size else size))
