"""Median wall time of `arkops --help` against importing every dependency eagerly.

Target (Foundation issue): arkops --help takes at most 0.3 of
`python -c "import typer, rich, stripe, jinja2, tinydb, dotenv"`.
Run: python bench/help_startup.py [runs]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def median_seconds(command: list[str], runs: int) -> float:
    subprocess.run(command, capture_output=True, check=True)  # warm the file cache
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 21
    help_time = median_seconds([sys.executable, "-m", "arkops", "--help"], runs)
    eager_time = median_seconds([sys.executable, "-c", "import typer, rich, stripe, jinja2, tinydb, dotenv"], runs)
    ratio = help_time / eager_time
    print(f"arkops --help               median {help_time * 1000:7.1f} ms over {runs} runs")
    print(f"import all six dependencies median {eager_time * 1000:7.1f} ms over {runs} runs")
    print(f"ratio {ratio:.2f} (target <= 0.30): {'ok' if ratio <= 0.30 else 'MISSED'}")


if __name__ == "__main__":
    main()
