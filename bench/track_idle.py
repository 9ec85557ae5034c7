"""An idle `arkops trials track` (nothing new since the last run) as the running trials grow (Performance III).

For each count of running trials (default 0, 5,000 and 20,000), a fresh installation imports that many
trials signed up in the last 13 days (so none has ended; 60 % activated, with their activity: the shapes of
`bench/scale.py`'s trials), runs the first `trials track` (it records the activations), then measures
REPEAT more runs with nothing new, each a fresh process: the median CPU time (user + system) and the peak
memory, and the ratio to the installation without trials. The issue's aim: at most 1.3 times the empty
installation at 5,000 and 20,000 trials. `bench/scale.py`'s operations need its three-year build (about
two hours); this needs only the imports, so it is its own script.

Run: python bench/track_idle.py [COUNT ...] [--repeat N] [--code DIR]
(`--code DIR`: measure the arkops package found in DIR, e.g. a `git archive` of main before, to compare.)
"""

from __future__ import annotations

import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from scale import make_trial  # the trials' shapes: one generator for both benchmarks

END = datetime(2026, 11, 2, 10, 5, tzinfo=UTC)  # a Monday morning, 5 minutes past a tick


def write_trials(folder: Path, count: int, seed: int = 30) -> list[str]:
    """The web app's signup and activity files for `count` trials signed up in the 13 days before END."""
    rng = random.Random(seed)
    start = (END - timedelta(days=13)).timestamp()
    trials = [make_trial(rng, f"r{n:05d}@example.org", rng.uniform(start, END.timestamp())) for n in range(count)]
    signups, activity = folder / "signups.json", folder / "activity.json"
    signups.write_text(json.dumps([t.signup_record() for t in trials]), encoding="utf-8")
    activity.write_text(json.dumps([r for t in trials for r in t.activity_records(END.timestamp())]), encoding="utf-8")
    return [str(signups), str(activity)]


def run(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(CPU seconds, peak MiB) of one fresh `arkops ARGS` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", sys.executable, "-m", "arkops", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"arkops {' '.join(args)} failed ({done.returncode}): {done.stderr[-600:]}")
    peak = int(done.stderr.strip().splitlines()[-1]) / 1024
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, peak


def measure(count: int, repeat: int, code: str | None) -> tuple[float, float, str]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARKOPS_") and k != "PYTHONDONTWRITEBYTECODE"}
        env |= {"ARKOPS_NOW": END.strftime("%Y-%m-%dT%H:%M:%SZ"), "PYTHONPATH": code or ""}
        env |= {"ARKOPS_ALERT_TO": "owner@example.com", "MAIL_FROM": "ops@example.com"}
        subprocess.run([sys.executable, "-m", "arkops", "init"], cwd=folder, env=env, capture_output=True, check=True)
        if count:
            run(["trials", "import", *write_trials(folder, count)], env, folder)
        first, _ = run(["trials", "track"], env, folder)
        later = END + timedelta(minutes=10)  # the next 10-minute tick
        env["ARKOPS_NOW"] = later.strftime("%Y-%m-%dT%H:%M:%SZ")
        runs = [run(["trials", "track"], env, folder) for _ in range(repeat)]
        size = (folder / "data" / "trials.json").stat().st_size if count else 0
        note = f"first track {first:.2f} s; trials.json {size / 2**20:.1f} MiB"
        return statistics.median(cpu for cpu, _ in runs), max(peak for _, peak in runs), note


def main() -> None:
    args = sys.argv[1:]
    repeat, code = 7, None
    if "--repeat" in args:
        at = args.index("--repeat")
        repeat = int(args[at + 1])
        del args[at : at + 2]
    if "--code" in args:
        at = args.index("--code")
        code = str(Path(args[at + 1]).resolve())
        del args[at : at + 2]
    counts = [int(a) for a in args] or [0, 5_000, 20_000]
    print(f"load average {os.getloadavg()[0]:.1f}; CPU medians of {repeat} idle runs, each a fresh process")
    print(
        "| running trials | idle `trials track` CPU s | peak MiB | ratio to 0 trials | |\n| --- | --- | --- | --- | --- |"
    )
    empty = None
    for count in counts:
        started = time.perf_counter()
        cpu, peak, note = measure(count, repeat, code)
        empty = cpu if empty is None else empty
        print(
            f"| {count:,} | {cpu:.3f} | {peak:.0f} | {cpu / empty:.2f}x | {note}; {time.perf_counter() - started:.0f} s |",
            flush=True,
        )


if __name__ == "__main__":
    main()
