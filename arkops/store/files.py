"""Whole-file writes that leave either the old content or the new one, never a mix."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from arkops.errors import DataError

FILE_MODE = 0o600
DIR_MODE = 0o700

# Files this process wrote, appended to or removed: a job that changed none did nothing (`arkops run` is quiet
# about it). Every write goes through here (no write without a change), so the count is the work done.
_changes = [0]


def changes() -> int:
    return _changes[0]


def count_change() -> None:
    _changes[0] += 1


def remove_file(path: Path) -> bool:
    """Remove a file (retention, purges); whether it was there."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    count_change()
    return True


def ensure_dir(path: Path) -> Path:
    """Make a folder and any missing parent, each 0700 (`mkdir(parents=True)` would give parents the umask's mode)."""
    missing = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
    return path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Temp file in the same folder, fsync, os.replace, fsync the folder; mode 0600.

    A write that fails (disk full, permissions) leaves the old file as it was
    and is one DataError naming the file and the reason.
    """
    try:
        _write_and_replace(path, data)
    except OSError as exc:
        raise DataError(f"cannot write {path}: {exc.strerror or exc}; the file was left as it was") from None


def _write_and_replace(path: Path, data: bytes) -> None:
    folder = path.parent
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp_name)
        raise
    os.close(fd)
    os.replace(tmp_name, path)
    fsync_dir(folder)
    count_change()


def remove_stale_temps(path: Path) -> None:
    """Drop temp files a killed writer left; call only while holding the file's lock."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
