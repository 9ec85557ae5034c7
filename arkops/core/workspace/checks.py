"""The workspace's `doctor` checks: the data directory, every data file, the crontab."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess

from arkops.core.doctor import FAIL, OK, WARN, Check
from arkops.errors import ArkopsError
from arkops.runtime import Runtime
from arkops.text import counted


def data_dir(rt: Runtime) -> Check:
    path = rt.data_dir
    if not path.is_dir():
        return Check("data dir", FAIL, f"{path} does not exist (run `arkops init`)")
    if not os.access(path, os.W_OK | os.X_OK):
        return Check("data dir", FAIL, f"{path} is not writable")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & stat.S_IROTH:
        return Check("data dir", FAIL, f"{path} is world-readable (mode {mode:o}); run chmod 700 {path}")
    return Check("data dir", OK, f"{path} (mode {mode:o})")


def data_files(rt: Runtime) -> list[Check]:
    from arkops.core.registry import databases
    from arkops.store import SCHEMAS
    from arkops.store.db import read_database_file

    owners = {name: domain.name for name, (domain, _) in databases().items()}
    checks = []
    for path in rt.store.data_files():
        name = path.stem
        try:
            if path.suffix == ".jsonl":
                count = sum(1 for _ in rt.store.jsonl(name).read())
                checks.append(Check(f"data {path.name}", OK, counted(count, "record") + _owner(owners, name)))
                continue
            data = read_database_file(path) or {}
            meta = data.get("_meta", {}).get("1")
            version = meta.get("schema") if isinstance(meta, dict) else None
            schema = SCHEMAS.get(name)
            if schema is None:
                checks.append(Check(f"data {path.name}", WARN, "not an arkops database (unknown name)"))
            elif version is None or version > schema.version:
                checks.append(
                    Check(
                        f"data {path.name}",
                        FAIL,
                        f"schema version {version!r}, this arkops knows up to {schema.version}",
                    )
                )
            else:
                rows = sum(len(t) for k, t in data.items() if k != "_meta")
                note = f" (migrates to {schema.version} on next write)" if version < schema.version else ""
                detail = f"schema {version}{note}, {counted(rows, 'document')}" + _owner(owners, name)
                checks.append(Check(f"data {path.name}", OK, detail))
        except ArkopsError as exc:
            checks.append(Check(f"data {path.name}", FAIL, str(exc)))
    checks += _archives(rt)
    if not checks:
        checks.append(Check("data files", OK, "none yet"))
    return checks


def _archives(rt: Runtime) -> list[Check]:
    """Each archived database's month files must parse: they are the history reports and `show` read."""
    from arkops.core.registry import databases
    from arkops.store.archive import Archive, ArchiveIndex

    checks = []
    for name, (_, database) in databases().items():
        archive = Archive(rt.store, name)
        months, index = archive.months(), ArchiveIndex(archive)
        if not database.archive or not (months or index.path.exists()):
            continue
        try:
            rows = sum(len(t) for month in months for k, t in archive.read(month).items() if k != "_meta")
            index.load()
        except ArkopsError as exc:
            checks.append(Check(f"archive {name}", FAIL, str(exc)))
            continue
        span = "none" if not months else months[0] if len(months) == 1 else f"{months[0]} to {months[-1]}"
        checks.append(
            Check(f"archive {name}", OK, f"{counted(len(months), 'month')} ({span}), {counted(rows, 'document')}")
        )
    return checks


def _owner(owners: dict[str, str], name: str) -> str:
    return f" ({owners[name]})" if name in owners else ""


def crontab(rt: Runtime) -> Check:
    if shutil.which("crontab") is None:
        return Check("crontab", WARN, "no crontab command here; see crontab.example")
    result = subprocess.run(["crontab", "-l"], capture_output=True, text=True, timeout=10)
    if result.returncode == 0 and "arkops" in result.stdout:
        lines = [line for line in result.stdout.splitlines() if "arkops" in line and not line.lstrip().startswith("#")]
        return Check("crontab", OK, f"{len(lines)} arkops entr{'y' if len(lines) == 1 else 'ies'}")
    return Check("crontab", WARN, "no arkops entry in the crontab; `arkops cron print` gives the line")
