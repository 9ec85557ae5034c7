"""Usage at scale: `usage import` of 10,000 values (5,000 customers x 2 metrics, JSON Lines), then `usage check`
(first run: the quota emails of those past 80 %; second run: nothing new), each as a whole process.

    python bench/usage.py [--customers 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = """\
[mail]
allow_local_domains = true
[plans.free]
name = "Free"
price = 0
limits = { watches = 10, api_calls = 1000 }
"""


def timed(args: list[str], env: dict, cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "arkops", *args], env=env, cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - start, (done.stderr or done.stdout).strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=5000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "arkops.toml").write_text(CONFIG)
        (work / "data").mkdir(mode=0o700)
        lines = []
        for n in range(options.customers):
            share = (n % 12) / 10  # 0 % to 110 %
            for metric, limit in (("watches", 10), ("api_calls", 1000)):
                value = round(limit * share)
                lines.append(
                    json.dumps(
                        {
                            "email": f"c{n:05d}@example.com",
                            "metric": metric,
                            "value": value,
                            "timestamp": "2026-11-20T08:00:00Z",
                        }
                    )
                )
        (work / "usage.jsonl").write_text("\n".join(lines) + "\n")
        env = {
            **os.environ,
            "ARKOPS_NOW": "2026-11-20T10:00:00Z",
            "ARKOPS_ALERT_TO": "ops@example.com",
            "MAIL_FROM": "ops@example.com",
            "ARKOPS_DATA_DIR": str(work / "data"),
            "ARKOPS_CONFIG": str(work / "arkops.toml"),
        }
        for args in (
            ["usage", "import", "usage.jsonl"],
            ["usage", "check"],
            ["usage", "check"],
            ["usage", "report", "--format", "json"],
        ):
            seconds, last = timed(args, env, work)
            print(f"{' '.join(args)}: {seconds:.2f} s  ({last[:90]})")
        print(
            f"usage.json {(work / 'data' / 'usage.json').stat().st_size / 1e6:.1f} MB, "
            f"outbox.json {(work / 'data' / 'outbox.json').stat().st_size / 1e6:.1f} MB"
        )


if __name__ == "__main__":
    main()
