"""`arkops status` and `payments report` after one, two and three years, on a kept `bench/scale.py` build.

`bench/scale.py --reuse DIR --ops years` needs the manifest that only a finished build writes; this script
measures any kept build's year copies (`data-year1`, `data-year2`) and its `data` as they stand, each in a
scratch copy (DIR is never written): one `arkops retention` at the copy's last tick + 9 minutes (it writes
the archive summaries the rules keep), the 10-minute `trials track` (derived caches current again), one
unmeasured run of each command, then REPEAT measured runs as whole processes. The figure is the median CPU
time (user + system) of the process, which the machine's load moves far less than wall time.
`PYTHONDONTWRITEBYTECODE` is dropped from the environment: an installed arkops has its bytecode compiled,
and without it every run compiles about 110 modules (0.2 s).

Run: python bench/years_status.py DIR [REPEAT]   (DIR from `python bench/scale.py --keep DIR`)
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

COMMANDS = (("status",), ("payments", "report"))


def last_tick(data: Path) -> datetime:
    """The build's last tick in this copy: the latest job start `arkops run` recorded."""
    runs = json.loads((data / "jobs.json").read_text())["runs"]
    return max(
        datetime.fromisoformat(r["last_start"].replace("Z", "+00:00")) for r in runs.values() if r.get("last_start")
    )


def arkops(root: Path, data: Path, moment: datetime, *args: str) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one `arkops ARGS` process."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(
        ARKOPS_DATA_DIR=str(data),
        ARKOPS_CONFIG=str(root / "arkops.toml"),
        ARKOPS_NOW=moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "arkops", *args], env=env, cwd=root, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        sys.exit(f"arkops {' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def main() -> None:
    root = Path(sys.argv[1]).resolve()
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    print("| history | command | CPU s (median) | wall s (median) | load average |\n| --- | --- | --- | --- | --- |")
    for years, name in enumerate(("data-year1", "data-year2", "data"), start=1):
        if not (root / name).is_dir():
            continue
        end = last_tick(root / name)
        scratch = root.parent / f"{root.name}-scratch-{name}"
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.copytree(root / name, scratch, symlinks=True)
        try:
            arkops(root, scratch, end + timedelta(minutes=9), "retention")
            arkops(root, scratch, end + timedelta(minutes=10), "trials", "track")
            for command in COMMANDS:
                arkops(root, scratch, end + timedelta(minutes=13), *command)
                runs = [arkops(root, scratch, end + timedelta(minutes=13), *command) for _ in range(repeat)]
                cpu = statistics.median(r[0] for r in runs)
                wall = statistics.median(r[1] for r in runs)
                label = f"{name} ({end.date()})" if name == "data" else f"{years} year{'s' if years > 1 else ''}"
                load = os.getloadavg()[0]
                print(f"| {label} | `{' '.join(command)}` | {cpu:.3f} | {wall:.3f} | {load:.1f} |", flush=True)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
