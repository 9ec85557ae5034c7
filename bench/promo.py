"""Promo redemptions as the web app makes them: one `promo redeem` process per signup.

Measures, in a fresh workspace with a counter file registered: the wall time of one redemption (median of
`runs`, each a new email), then N processes started at once racing for the last slots of a code
(`racers` processes, `slots` slots): wall time until all are done, winners, refusals, and the counter file.
Bytecode caching on, as an installed arkops runs.
Run: python bench/promo.py [runs] [racers] [slots]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    racers = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    slots = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "data").mkdir(mode=0o700)
        (folder / "arkops.toml").write_text('timezone = "Europe/Paris"\n')
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(ARKOPS_DATA_DIR=str(folder / "data"), ARKOPS_CONFIG=str(folder / "arkops.toml"))

        def arkops(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "arkops", *args], env=env, capture_output=True, text=True)

        arkops("promo", "create", "ONE", "--discount", "pro=20", "--forever")
        arkops("promo", "remaining", "ONE", "--write", str(folder / "one.json"))
        samples = []
        for n in range(runs):
            started = time.perf_counter()
            done = arkops("promo", "redeem", "ONE", "--email", f"solo{n}@example.com", "--plan", "pro")
            samples.append(time.perf_counter() - started)
            assert done.returncode == 0, done.stderr
        print(
            f"one redemption (process, transaction, email queued, counter file): median {statistics.median(samples):.3f} s"
        )
        arkops("promo", "create", "RACE", "--discount", "pro=33", "--months", "6", "--slots", str(slots))
        arkops("promo", "remaining", "RACE", "--write", str(folder / "race.json"))
        started = time.perf_counter()
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "arkops",
                    "promo",
                    "redeem",
                    "RACE",
                    "--email",
                    f"r{n}@example.com",
                    "--plan",
                    "pro",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for n in range(racers)
        ]
        codes = [p.wait() for p in procs]
        wall = time.perf_counter() - started
        counter = json.loads((folder / "race.json").read_text())
        print(
            f"{racers} racing redemptions of {slots} slots: {wall:.2f} s, {codes.count(0)} won, {codes.count(1)} refused, "
            f"counter {counter['used']} used / {counter['remaining']} left; load average {os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    main()
