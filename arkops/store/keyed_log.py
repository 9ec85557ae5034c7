"""Keyed records in JSON Lines day files, found through an index the process keeps.

For records looked up by key many times a second over a window of hours (the
event ids and Idempotency-Keys of `arkops serve`). A write appends its new
records to the day's file `<folder>/YYYY-MM-DD.jsonl`; a look-up first reads
what was appended since this process last looked (by any process, under the
same lock), so a request costs what its own records cost, not what the
window holds. The index keeps each key's file, offset and length; a found
record is read back from its file. Retention removes whole day files; a file
rewritten in place (`privacy forget`) is noticed by its new inode or smaller
size and read again whole.

The first record of a key stands: a key written again is not appended.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from arkops.store.files import ensure_dir
from arkops.store.jsonl import JsonLines, json_line

KEY = "key"  # the field every record carries its key in


class _File:
    __slots__ = ("inode", "read")

    def __init__(self, inode: int) -> None:
        self.inode, self.read = inode, 0


class KeyedLog:
    """One folder of day files and its index; use `keyed_log()` so a process keeps one per folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: dict[str, _File] = {}
        self.keys: dict[str, tuple[str, int, int]] = {}  # key -> (file name, offset, length)
        self.mutex = threading.Lock()  # the server's threads share the index; the store's lock spans processes

    def find(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        """The record of each of `keys` written so far; the caller holds the folder's store lock."""
        with self.mutex:
            self._refresh()
            found = {}
            for key in keys:
                record = self._record(key)
                if record is not None:
                    found[key] = record
            return found

    def add(self, records: dict[str, dict[str, Any]], day: str) -> dict[str, dict[str, Any]]:
        """Append each record whose key has none yet to `<day>.jsonl`; the record that stands for every key.

        The caller holds the folder's store lock."""
        with self.mutex:
            self._refresh()
            standing: dict[str, dict[str, Any]] = {}
            lines: list[bytes] = []
            fresh: list[tuple[str, int]] = []
            for key, record in records.items():
                earlier = self._record(key)
                if earlier is not None:
                    standing[key] = earlier
                    continue
                line = json_line({KEY: key, **record})
                fresh.append((key, len(line)))
                lines.append(line)
                standing[key] = record
            if lines:
                ensure_dir(self.folder)
                JsonLines(self.folder / f"{day}.jsonl").append_lines(lines)
                self._refresh()  # the lines just written, with their offsets, as any reader would find them
            return standing

    def _record(self, key: str) -> dict[str, Any] | None:
        for _ in range(2):
            where = self.keys.get(key)
            if where is None:
                return None
            record = self._read_at(*where)
            if record is not None and record.get(KEY) == key:
                return record
            self._forget_file(where[0])  # rewritten under a reused inode: read it again whole
            self._refresh()
        return None

    def _read_at(self, name: str, offset: int, length: int) -> dict[str, Any] | None:
        try:
            with open(self.folder / name, "rb") as handle:
                handle.seek(offset)
                record = orjson.loads(handle.read(length))
        except (OSError, orjson.JSONDecodeError):
            return None
        return record if isinstance(record, dict) else None

    def _refresh(self) -> None:
        names = sorted(p.name for p in self.folder.glob("*.jsonl")) if self.folder.is_dir() else []
        for gone in set(self.files) - set(names):
            self._forget_file(gone)
        for name in names:
            try:
                stat = os.stat(self.folder / name)
            except FileNotFoundError:
                self._forget_file(name)
                continue
            state = self.files.get(name)
            if state is not None and (state.inode != stat.st_ino or stat.st_size < state.read):
                self._forget_file(name)
                state = None
            if state is None:
                state = self.files[name] = _File(stat.st_ino)
            if stat.st_size > state.read:
                self._read(name, state)

    def _read(self, name: str, state: _File) -> None:
        with open(self.folder / name, "rb") as handle:
            handle.seek(state.read)
            tail = handle.read()
        at = state.read
        for line in _complete_lines(tail):
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                record = None  # a line no reader can use (JsonLines.read would refuse the file): not a key
            if isinstance(record, dict) and isinstance(record.get(KEY), str):
                self.keys.setdefault(record[KEY], (name, at, len(line)))
            at += len(line)
        state.read = at

    def _forget_file(self, name: str) -> None:
        self.files.pop(name, None)
        for key in [k for k, (file, _, _) in self.keys.items() if file == name]:
            del self.keys[key]

    def day_files(self) -> list[Path]:
        return sorted(self.folder.glob("*.jsonl")) if self.folder.is_dir() else []


def _complete_lines(data: bytes) -> Iterator[bytes]:
    """Each line with its newline; what follows the last newline is a write in progress, not a record."""
    start = 0
    while (end := data.find(b"\n", start)) != -1:
        yield data[start : end + 1]
        start = end + 1


_LOGS: dict[Path, KeyedLog] = {}
_LOGS_MUTEX = threading.Lock()


def keyed_log(folder: Path) -> KeyedLog:
    """The process's one index of `folder`: built once, then kept up to date by reading only what was appended."""
    folder = folder.resolve()
    with _LOGS_MUTEX:
        log = _LOGS.get(folder)
        if log is None:
            log = _LOGS[folder] = KeyedLog(folder)
        return log
