"""`arkops status` on the demo workspace: the whole process, table and JSON, and what it costs beyond starting.

Target (Operator II): under 0.5 s on the demo workspace. Also times
`arkops jobs` (a command that reads one small file) as the floor every
command pays (Python, Typer and its option parsing), and `arkops report
--html` for scale. Runs with bytecode caching on, as an installed arkops
does, whatever PYTHONDONTWRITEBYTECODE says here, and checks that status
left every file of the workspace as it was.
Run: python bench/status.py [runs]
"""

from __future__ import annotations

import hashlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRUB = ("PYTHONDONTWRITEBYTECODE", "ARKOPS_DATA_DIR", "ARKOPS_CONFIG", "ARKOPS_NOW")
ENV = {k: v for k, v in os.environ.items() if k not in SCRUB}


def arkops(*args: str, cwd: Path) -> None:
    subprocess.run([sys.executable, "-m", "arkops", *args], cwd=cwd, env=ENV, capture_output=True, check=True)


def seconds(args: list[str], cwd: Path, runs: int) -> tuple[float, float, float]:
    """Median and worst wall time, and median CPU time (user + system: steadier on a shared, loaded machine)."""
    arkops(*args, cwd=cwd)  # warm the file cache and the .pyc files
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        arkops(*args, cwd=cwd)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), max(walls), statistics.median(cpus)


def fingerprint(folder: Path) -> dict[str, tuple[int, str]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp) / "demo"
        started = time.perf_counter()
        arkops("demo", str(workspace), cwd=Path(tmp))
        print(f"arkops demo: {time.perf_counter() - started:.2f} s")
        before = fingerprint(workspace)
        for label, args in (
            ("status", ["status"]),
            ("status --format json", ["status", "--format", "json"]),
            ("jobs (the floor: start, parse, one small file)", ["jobs", "--format", "json"]),
            ("report --html", ["report", "--html", str(Path(tmp) / "report.html")]),
        ):
            median, worst, cpu = seconds(args, workspace, runs)
            print(
                f"{label}: median {median * 1000:.0f} ms, worst {worst * 1000:.0f} ms of {runs}; CPU {cpu * 1000:.0f} ms"
            )
            if label.startswith("status"):
                assert fingerprint(workspace) == before, "status wrote to the workspace"
        print("status left every file of the workspace as it was")


if __name__ == "__main__":
    main()
