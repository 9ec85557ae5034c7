"""The crontab line for this installation."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

from arkops.errors import DataError
from arkops.runtime import Runtime


def arkops_executable() -> Path:
    beside = Path(sys.executable).parent / "arkops"  # the venv's own entry point
    if beside.exists():
        return beside
    found = shutil.which("arkops")
    return Path(found).resolve() if found else beside


def cron_line(rt: Runtime, *, log: Path, every: int) -> str:
    """The crontab line: every `every` minutes, `arkops run` in this folder, its output appended to `log`,
    whose folder must exist and be writable (else DataError: cron would not start arkops at all)."""
    import os

    folder = Path.cwd().resolve()
    rt.store.output_path(log, what="--log")  # cron would append its output to a data file
    log = log.resolve()
    if not log.parent.is_dir() or not os.access(log.parent, os.W_OK | os.X_OK):
        raise DataError(
            f"{log.parent} does not exist or is not writable, so cron could not write {log.name} and would not "
            f"start arkops: create it (mkdir -m 700 {log.parent}; `arkops init` makes logs/) or give --log"
        )
    parts = [
        str(arkops_executable()),
        "--env-file",
        str(rt.env_file.resolve()),
        "--config",
        str(rt.config_path.resolve()),
        "--data-dir",
        str(rt.data_dir.resolve()),
        "run",
    ]
    for path in (*parts, str(folder), str(log)):
        if "\n" in path or "\r" in path:
            raise DataError(f"{path!r}: a path with a line break cannot go in a crontab line")
    command = " ".join(_cron_quote(p) for p in parts)
    return f"*/{every} * * * * cd {_cron_quote(str(folder))} && {command} >> {_cron_quote(str(log))} 2>&1"


def _cron_quote(text: str) -> str:
    """Shell-quoted, with `%` escaped: cron turns a bare `%` into a line break."""
    return shlex.quote(text).replace("%", "\\%")
