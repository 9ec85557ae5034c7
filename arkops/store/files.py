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


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = FILE_MODE, change: bool = True) -> None:
    """Temp file in the same folder, fsync, os.replace, fsync the folder; mode 0600 unless told.

    A write that fails (disk full, permissions) leaves the old file as it was
    and is one DataError naming the file and the reason. `change=False`: a
    disposable cache, which is not a change a job reports (`changes`).
    """
    try:
        _write_and_replace(path, data, mode, change)
    except OSError as exc:
        raise DataError(f"cannot write {path}: {exc.strerror or exc}; the file was left as it was") from None


def outside_data_dir(data_dir: Path, path: Path, *, what: str) -> Path:
    """The absolute, symlink-resolved form of a path the user named for arkops to write (a report, a preview,
    a counter file), or DataError (exit 3) when it lies in the data directory or resolves into it.

    Every write of a user-named path goes through here: a report written over `data/ledger.json`, or over
    a symlink pointing at it, would replace the ledger, and every later command would stop on it.
    """
    target = path.expanduser().resolve()
    home = data_dir.expanduser().resolve()
    if target == home or home in target.parents:
        through = "" if path.expanduser().absolute() == target else f" (through a link, to {target})"
        raise DataError(
            f"{what} {path}: inside the data directory {data_dir}{through}, which holds arkops' own files; "
            "choose a path outside it (nothing was written)"
        )
    return target


def write_output(data_dir: Path, path: Path, data: bytes, *, what: str, mode: int = FILE_MODE) -> Path:
    """Write a user-named file atomically, never inside the data directory (`outside_data_dir`); its real path."""
    target = outside_data_dir(data_dir, path, what=what)
    atomic_write_bytes(target, data, mode=mode)
    return target


def _write_and_replace(path: Path, data: bytes, mode: int, change: bool = True) -> None:
    folder = path.parent
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
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
    if change:
        count_change()


def remove_stale_temps(path: Path) -> None:
    """Drop temp files a killed writer left; call only while holding the file's lock."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
