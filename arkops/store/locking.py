"""Exclusive locks on separate, never-deleted lock files under `<data>/locks/`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from arkops.errors import LockBusyError

# Data locks are held for milliseconds; a wait this long means something is wrong.
DATA_LOCK_WAIT = 30.0


@contextmanager
def exclusive(lock_path: Path, *, wait: float, what: str) -> Iterator[None]:
    """Hold an exclusive flock on lock_path; wait=0 means fail at once (exit 75)."""
    from filelock import FileLock, Timeout

    lock = FileLock(
        lock_path,
        timeout=wait,
        mode=0o600,
        thread_local=False,
        preserve_lock_file=True,
        fallback_to_soft=False,
    )
    try:
        lock.acquire()
    except Timeout:
        if wait == 0:
            raise LockBusyError(f"{what} is held by another arkops run ({lock_path}); skipped") from None
        raise LockBusyError(
            f"{what} stayed locked for {wait:g} s ({lock_path}); is another arkops run stuck?"
        ) from None
    try:
        yield
    finally:
        lock.release()
