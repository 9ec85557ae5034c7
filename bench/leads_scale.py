"""Leads at a busy site (Performance III): what reads visits, as history and traffic grow.

A fresh installation is given DAYS days of stored visits (the day files
`leads ingest` writes) with VISITS tracked-page visits a day from a pool of
ten times as many visitors (seeded: the same files each run). Then, each in
a fresh process with its own peak memory: the first `leads scan` (it makes
the kept state), `leads scan` with nothing new (the 15-minute cron run),
`leads list --hot`, `status`, `report --html`, `funnel report`, `funnel
check` and `leads stats`. The days' aggregates `leads ingest` keeps as it
writes (`arkops.core.leads.daily`) are made first, once, and measured apart.

Targets at 60 days x 10,000 a day: the idle scan < 0.3 s and < 100 MB;
`leads list --hot` and `status` < 0.5 s; `report --html` < 1.5 s;
`funnel report`/`check` < 0.5 s; each within 1.5 times its figure at 10 days.

Run: python bench/leads_scale.py DAYS VISITS [DAYS VISITS ...] [--code DIR]
(`--code DIR`: measure the arkops package found in DIR instead, e.g. a
`git archive` of the branch before, to compare.)
"""

from __future__ import annotations

import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

END = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)
# /pricing and /trial are hot pages: one visit makes a hot lead (about one visitor in ten here).
PAGES = (("/demo", 0.6), ("/demo/video", 0.3), ("/pricing", 0.07), ("/pricing/team", 0.01), ("/trial", 0.02))
SOURCES = ("", "", "", "newsletter", "google", "linkedin")
REFERRERS = ("", "", "https://www.google.com/", "https://news.ycombinator.com/item")
AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0"
AGGREGATES = "--make-aggregates"
COMMANDS = (
    ("jobs (the floor: start-up, one small file)", ["jobs"]),
    ("leads scan (first: makes the state)", ["leads", "scan"]),
    ("leads scan (nothing new)", ["leads", "scan"]),
    ("leads scan (nothing new, again)", ["leads", "scan"]),
    ("leads list --hot", ["leads", "list", "--hot", "--format", "json"]),
    ("leads list --hot --since 7d", ["leads", "list", "--hot", "--since", "7d", "--format", "json"]),
    ("status", ["status"]),
    ("report --html", ["report", "--html", "{out}/report.html"]),
    ("funnel report", ["funnel", "report"]),
    ("funnel check", ["funnel", "check"]),
    ("leads stats", ["leads", "stats"]),
)


def write_days(data: Path, days: int, per_day: int, seed: int = 30) -> int:
    """The day files, oldest first; each visit as `leads ingest` stores it. Returns their size in bytes."""
    rng = random.Random(seed)
    pool = per_day * 10
    folder = data / "visits"
    folder.mkdir(parents=True, exist_ok=True)
    paths, weights = zip(*PAGES, strict=True)
    size = 0
    for back in range(days - 1, -1, -1):
        day = (END - timedelta(days=back)).date()
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        span = min(86_400, int((END - start).total_seconds()))
        seconds = sorted(rng.randrange(span) for _ in range(per_day))
        lines = []
        for second in seconds:
            # Most visitors come once or twice; a few come back often.
            visitor = rng.randrange(pool) if rng.random() < 0.7 else int(rng.paretovariate(1.2) * 7) % pool
            at = (start + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%SZ")
            path = rng.choices(paths, weights)[0]
            extra = ""
            if source := rng.choice(SOURCES):
                extra += f',"utm_source":"{source}","utm_medium":"email","utm_campaign":"oct"'
            if referrer := rng.choice(REFERRERS):
                extra += f',"referrer":"{referrer}","referrer_domain":"{referrer.split("/")[2].removeprefix("www.")}"'
            lines.append(
                f'{{"at":"{at}","visitor":"v{visitor:011x}","ip":"198.51.{visitor % 256}.0",'
                f'"user_agent":"{AGENT}","path":"{path}","method":"GET","status":200{extra}}}\n'
            )
        text = "".join(lines).encode()
        (folder / f"{day.isoformat()}.jsonl").write_bytes(text)
        size += len(text)
    return size


def child() -> None:
    """One arkops run in this process; prints its peak memory (ru_maxrss) to stderr."""
    from arkops.cli import main as arkops

    try:
        if sys.argv[2:] == [AGGREGATES]:
            make_aggregates()
        else:
            arkops(sys.argv[2:])
    except SystemExit as exc:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\npeak {peak:.0f}", file=sys.stderr)
        if exc.code not in (0, 1, None):
            raise
    else:
        print(f"\npeak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}", file=sys.stderr)


def make_aggregates() -> None:
    """The days' aggregates of the day files written here, as `leads ingest` writes them as it goes."""
    from arkops.core.leads import daily
    from arkops.runtime import Runtime

    here = Path.cwd()
    daily.refresh(Runtime(data_dir=here / "data", config_path=here / "arkops.toml", env_file=here / ".env"))


def measure(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, float]:
    """(wall s, CPU s, peak MiB) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr[-800:]}")
    peak = float(proc.stderr.rsplit("peak ", 1)[1].split()[0])
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, peak


def run(days: int, per_day: int, code: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARKOPS_")}
        env |= {"ARKOPS_NOW": END.strftime("%Y-%m-%dT%H:%M:%SZ"), "PYTHONPATH": code or ""}
        env |= {"ARKOPS_ALERT_TO": "owner@example.com", "MAIL_FROM": "ops@example.com"}
        subprocess.run([sys.executable, "-m", "arkops", "init"], cwd=folder, env=env, capture_output=True, check=True)
        size = write_days(folder / "data", days, per_day)
        print(
            f"\n{days} days x {per_day:,} visits a day ({per_day * 10:,} visitors), {size / 2**20:.0f} MiB of day files"
        )
        print("| command | wall s | CPU s | peak MiB |\n| --- | --- | --- | --- |")
        if code is None or (Path(code) / "arkops" / "core" / "leads" / "daily.py").exists():
            wall, cpu, peak = measure([AGGREGATES], env, folder)
            print(
                f"| the days' aggregates, all made (ingest makes them as it goes) | {wall:.2f} | {cpu:.2f} | {peak:.0f} |"
            )
        for name, args in COMMANDS:
            wall, cpu, peak = measure([a.format(out=tmp) for a in args], env, folder)
            print(f"| `{name}` | {wall:.2f} | {cpu:.2f} | {peak:.0f} |", flush=True)


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child()
        return
    args = sys.argv[1:]
    code = None
    if "--code" in args:
        at = args.index("--code")
        code = str(Path(args[at + 1]).resolve())
        del args[at : at + 2]
    numbers = [int(a) for a in args] or [10, 1_000, 60, 1_000, 10, 10_000, 60, 10_000]
    for days, per_day in zip(numbers[::2], numbers[1::2], strict=True):
        run(days, per_day, code)


if __name__ == "__main__":
    main()
