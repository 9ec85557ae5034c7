"""Leads ingest benchmark (Leads issue).

A generated combined access log of 1,000,000 lines (about 5 % on tracked
pages, a few thousand distinct user agents, some of them crawlers) is read
by `arkops leads ingest` (a fresh process, fresh data directory), by
GoAccess (`--log-format=COMBINED`, when the Debian package is installed)
and by `grep -F -c` of the tracked paths (the floor). Then 10,000 new lines
are appended and ingested again (the incremental cron run).
Memory: the peak RSS of `leads ingest` on 200,000 and on 1,000,000 lines.

Targets: at least 20 times faster than GoAccess, within 5 times of grep,
memory flat with the file's size, incremental run under 0.3 s.

grep and the full ingest run five times each, alternating, and are compared
by their medians (this virtual machine moves CPU times by 20-30 %).

Run: python bench/leads_ingest.py [lines, default 1000000] [--skip-goaccess]
(GoAccess takes minutes on a million lines.)
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

TRACKED = ("/pricing", "/trial", "/demo")
REPEAT = 5
OTHER = ("/", "/blog/price-alerts", "/blog/changelog", "/features", "/docs/api", "/static/app.css", "/favicon.ico")
BOT_AGENTS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Feedly/1.0 (+http://www.feedly.com/fetcher.html; {n} subscribers)",
    "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
)


def agents(rng: random.Random, count: int) -> list[str]:
    found = []
    for n in range(count):
        if n % 20 == 0:
            found.append(rng.choice(BOT_AGENTS).format(n=n))
            continue
        major = rng.randint(100, 131)
        found.append(
            rng.choice(
                (
                    f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                    f"Chrome/{major}.0.{n}.{rng.randint(0, 200)} Safari/537.36",
                    f"Mozilla/5.0 (X11; Linux x86_64; rv:{major}.0) Gecko/20100101 Firefox/{major}.0 build/{n}",
                    f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_{n % 7} like Mac OS X) AppleWebKit/605.1.15 "
                    f"(KHTML, like Gecko) Version/17.{n % 9} Mobile/15E{n} Safari/604.1",
                )
            )
        )
    return found


def write_log(path: Path, lines: int, start: datetime, seed: int) -> None:
    rng = random.Random(seed)
    pool = agents(rng, 3000)
    moment = start
    with open(path, "a", encoding="utf-8") as out:
        batch = []
        for _ in range(lines):
            moment += timedelta(milliseconds=rng.randint(1, 170))
            tracked = rng.random() < 0.05
            target = rng.choice(TRACKED) if tracked else rng.choice(OTHER)
            if tracked and rng.random() < 0.3:
                target += "?utm_source=newsletter&utm_medium=email&utm_campaign=oct"
            ip = f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            status = 200 if rng.random() < 0.93 else rng.choice((301, 304, 404))
            referrer = rng.choice(("-", "https://www.google.com/", "https://news.ycombinator.com/item?id=1"))
            stamp = moment.strftime("%d/%b/%Y:%H:%M:%S +0000")
            batch.append(
                f'{ip} - - [{stamp}] "GET {target} HTTP/1.1" {status} {rng.randint(200, 90000)} '
                f'"{referrer}" "{rng.choice(pool)}"\n'
            )
            if len(batch) >= 10_000:
                out.write("".join(batch))
                batch = []
        out.write("".join(batch))


def timed(command: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the child (user + system), its output's tail).

    The CPU time is the fair figure on a shared machine: other processes
    stretch the wall time, not the work done.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})})
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{command[0]} failed: {proc.stderr[-500:]}")
    return elapsed, cpu, (proc.stderr + proc.stdout).strip()[-300:]


def ingest_in_fresh_process(folder: Path, log: Path, data: str) -> tuple[float, float, str]:
    env = {"ARKOPS_DATA_DIR": str(folder / data), "ARKOPS_CONFIG": str(folder / "arkops.toml"), "ARKOPS_NOW": ""}
    (folder / data).mkdir(exist_ok=True)
    # Each measurement in its own child so that RUSAGE_CHILDREN's peak is that child's.
    return timed([sys.executable, __file__, "--child", str(log)], env)


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        # One arkops run, reporting its own peak memory (ru_maxrss of this process).
        from arkops.cli import main as arkops

        started = time.process_time()
        try:
            arkops(["leads", "ingest", sys.argv[2]])
        except SystemExit as exc:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            work = time.process_time() - started
            print(f"peak {peak:.0f} MiB, CPU after arkops.cli is imported {work:.2f} s", file=sys.stderr)
            raise SystemExit(exc.code) from None
        return
    numbers = [a for a in sys.argv[1:] if a.isdigit()]
    total = int(numbers[0]) if numbers else 1_000_000
    start = datetime(2026, 10, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        log, small = folder / "access.log", folder / "small.log"
        print(f"generating {total:,} lines ...", flush=True)
        write_log(log, total, start, seed=14)
        write_log(small, total // 5, start, seed=14)
        size = log.stat().st_size / 2**20
        with open(log, encoding="utf-8") as handle:
            tracked = sum(1 for line in handle if any(f" {p}" in line for p in TRACKED))
        print(f"{log.name}: {size:.0f} MiB, {tracked:,} lines on tracked pages ({tracked / total:.1%})")

        # This 2-core virtual machine moves CPU times by 20-30 % from run to run: each is run REPEAT times,
        # alternating, and compared by the median (the fastest run is shown too).
        greps, ingests = [], []
        for n in range(REPEAT):
            _, grep_cpu, grep_out = timed(["grep", "-F", "-c", *(a for p in TRACKED for a in ("-e", p)), str(log)])
            greps.append(grep_cpu)
            ingests.append(ingest_in_fresh_process(folder, log, f"data-{n}"))
        grep_cpu = statistics.median(greps)
        print(
            f"grep -F -c:   CPU median {grep_cpu:.2f} s, fastest {min(greps):.2f} s of {REPEAT} "
            f"({total / grep_cpu:,.0f} lines/s), count {grep_out}"
        )

        goaccess = None if "--skip-goaccess" in sys.argv else shutil.which("goaccess")
        goaccess_cpu = None
        if goaccess:
            goaccess_s, goaccess_cpu, _ = timed(
                [goaccess, str(log), "--log-format=COMBINED", "--no-global-config", "-o", str(folder / "report.json")]
            )
            print(
                f"goaccess:     wall {goaccess_s:6.2f} s, CPU {goaccess_cpu:6.2f} s ({total / goaccess_cpu:,.0f} lines/s)"
            )
        else:
            print(
                "goaccess:     skipped (--skip-goaccess)"
                if goaccess is None and "--skip-goaccess" in sys.argv
                else "goaccess:     not installed (apt-get install goaccess)"
            )

        small_s, small_cpu, small_out = ingest_in_fresh_process(folder, small, "data-small")
        print(
            f"leads ingest of {total // 5:,} lines: wall {small_s:.2f} s, CPU {small_cpu:.2f} s, {small_out.splitlines()[-1]}"
        )
        cpus = [cpu for _, cpu, _ in ingests]
        arkops_cpu, out = statistics.median(cpus), ingests[-1][2]
        print(
            f"leads ingest: CPU median {arkops_cpu:.2f} s, fastest {min(cpus):.2f} s of {REPEAT} "
            f"({total / arkops_cpu:,.0f} lines/s)"
        )
        for text in out.splitlines()[-2:]:
            print(f"  {text}")
        print(f"  CPU vs grep (medians): {arkops_cpu / grep_cpu:.1f}x", end="")
        print(f"; vs goaccess: {goaccess_cpu / arkops_cpu:.1f}x faster" if goaccess_cpu else "")

        write_log(log, 10_000, start + timedelta(days=3), seed=15)
        # Each data directory of the full runs now reads the same 10,000 new lines.
        runs = [ingest_in_fresh_process(folder, log, f"data-{n}") for n in range(REPEAT)]
        incremental_cpu = statistics.median(cpu for _, cpu, _ in runs)
        print(
            f"incremental, 10,000 new lines (whole process): CPU median {incremental_cpu:.2f} s, "
            f"fastest {min(cpu for _, cpu, _ in runs):.2f} s of {REPEAT}"
        )
        for text in runs[-1][2].splitlines()[-2:]:
            print(f"  {text}")
        _, startup_cpu, _ = timed([sys.executable, "-c", "import arkops.cli"])
        print(f"  of which Python and arkops's start: CPU {startup_cpu:.2f} s")


if __name__ == "__main__":
    main()
