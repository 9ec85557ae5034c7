"""`arkops --help` against importing every dependency eagerly: wall time, and instructions when valgrind is here.

Target (Foundation issue): arkops --help takes at most 0.3 of
`python -c "import typer, rich, stripe, jinja2, tinydb, dotenv"`.
Wall-clock medians on a shared 2-core machine move by +-15 %; callgrind's
instruction count is the same on every run, so it shows small changes.
Both run with bytecode caching on (as an installed arkops runs), whatever
PYTHONDONTWRITEBYTECODE says here.
Run: python bench/help_startup.py [runs]
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HELP = [sys.executable, "-m", "arkops", "--help"]
EAGER = [sys.executable, "-c", "import typer, rich, stripe, jinja2, tinydb, dotenv"]
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def median_seconds(command: list[str], runs: int) -> float:
    subprocess.run(command, capture_output=True, check=True, env=ENV)  # warm the file cache and write .pyc files
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True, env=ENV)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def instructions(command: list[str]) -> int | None:
    if shutil.which("valgrind") is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        out = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={folder}/cg.out", *command],
            capture_output=True,
            text=True,
            env=ENV,
        )
    found = re.search(r"Collected : (\d+)", out.stderr)
    return int(found.group(1)) if found else None


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 21
    help_time = median_seconds(HELP, runs)
    eager_time = median_seconds(EAGER, runs)
    ratio = help_time / eager_time
    print(f"arkops --help               median {help_time * 1000:7.1f} ms over {runs} runs")
    print(f"import all six dependencies median {eager_time * 1000:7.1f} ms over {runs} runs")
    print(f"ratio {ratio:.2f} (target <= 0.30): {'ok' if ratio <= 0.30 else 'MISSED'}")
    help_count, eager_count = instructions(HELP), instructions(EAGER)
    if help_count and eager_count:
        print(
            f"instructions: arkops --help {help_count / 1e6:.1f} M, eager imports {eager_count / 1e6:.1f} M, "
            f"ratio {help_count / eager_count:.3f}"
        )


if __name__ == "__main__":
    main()
