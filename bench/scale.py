"""Scale benchmark (issue 12): a three-year installation built through the real write paths, then timed.

Build, in this process, through arkops' core functions with time advancing by
`now=` (one cron tick a day at 09:00 local time, for three years):
  - the web app's JSON files of the last 24 h (signups, activity) through
    `trials.records.import_files` (20,000 trials, 60 % of them active, 53,000 activity records);
  - that day's Stripe-shaped events (tests/stripe_shapes.py) through
    `billing.service.apply_events` (2,000 subscriptions, 50,000 invoices, their
    customers, upgrades, failed payments, refunds and cancellations);
  - `jobs.runner.run_due`: trials-track, trials-nudge (the lifecycle emails) and
    mail-flush, which sends every message to a real SMTP server (aiosmtpd, in a
    child process on loopback). About 100,000 messages over the three years.
Nothing is written to the data directory except by arkops.

Measure, each as a whole `arkops` process (median of --repeat runs of the
wall time and of the CPU time, which a loaded machine moves far less; peak RSS
of that process, from GNU time), and the same work in plain sqlite3 (WAL,
synchronous=FULL, the same row counts, also a whole Python process) as the
yardstick: a tick where nothing is due; the 10-minute tick (trials-track and
mail-flush, nothing new); the same after 10 new activations; the 09:00 tick
of the next day; `trials signup`; `webhooks ingest` of one signed event;
`payments report`; `status`; `trials list --format json`; `payments report`
and `status` on the installation as it was after one, two and three years
(the build keeps a copy of the data at the end of the first and second
year); and, in a new installation,
`trials import` of 120 days of 10,000 trials then the first `trials track` and
`trials nudge`, while another process runs `trials signup` every 0.2 s and
this process polls the data locks (the longest hold and the longest signup).
Each tick runs on a fresh copy of the installation, after the tick ten minutes
earlier (unmeasured: a real installation has always just run one, and the
copies are new files to any cache); signup, report, status, list and webhook
run in turn on one scratch copy, which (like each year's copy) has also run
`arkops retention` once, as an installation upgraded to a new arkops has after
its first night. The data files' sizes at the end of each
year are listed, to see which files keep growing.

Stripe sync is not part of the ticks (no STRIPE_SECRET_KEY: the job is skipped).

Run:
  python bench/scale.py --scale 0.05              # quick, temporary folder
  python bench/scale.py --keep /tmp/scale-1.0     # full size, keep the installation
  python bench/scale.py --reuse /tmp/scale-1.0 --json after.json
  PYTHONPATH=/path/to/other/checkout python bench/scale.py ...   # measure another version of arkops
Options: --scale F, --keep DIR, --reuse DIR, --json FILE, --repeat N, --bulk-repeat N, --bulk-scale F, --ops a,b,...
The Markdown table goes to stdout; the builder's progress to stderr.
"""

from __future__ import annotations

import argparse
import bisect
import fcntl
import json
import os
import platform
import random
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import arkops

ARKOPS_HOME = Path(arkops.__file__).resolve().parent.parent
TESTS = ARKOPS_HOME / "tests" if (ARKOPS_HOME / "tests").is_dir() else Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))  # stripe_shapes: Stripe's published object shapes

FULL = {"trials": 20_000, "subscriptions": 2_000, "invoices": 50_000, "bulk_trials": 10_000}
DAYS = 1096  # three years of daily ticks
YEAR_DAYS = (365, 730, DAYS)  # the ticks that end the first, second and third year
BULK_DAYS = 120
TIMEZONE = "Europe/Paris"
END_LOCAL = datetime(2026, 11, 16, 9, 0)  # the last tick of the build: a Monday, 09:00 in TIMEZONE
PRICES = {"starter": 900, "pro": 2900, "business": 9900}
UPGRADE = {"starter": "pro", "pro": "business"}
KINDS = ("watch_created", "api_call", "login", "report_viewed", "alert_configured")
SOURCES = ("google", "newsletter", "twitter", "partner", None)
WEBHOOK_SECRET = "whsec_" + "scalebenchmark0123456789abcdef"
OPERATOR, SENDER = "owner@example.com", "ops@example.com"
MB = 1024 * 1024

CONFIG = f'''# bench/scale.py: a three-year installation
timezone = "{TIMEZONE}"
currency = "EUR"

[plans.starter]
name = "Starter"
price = 900
stripe_price = "price_starter_month1"

[plans.pro]
name = "Pro"
price = 2900
stripe_price = "price_pro_month1"

[plans.business]
name = "Business"
price = 9900
stripe_price = "price_business_month1"

[trials]
upgrade_url = "https://app.example.com/upgrade"
demo_url = "https://app.example.com/demo"

[mail]
from_name = "Acme Watch"

[billing]
notify_subscription_welcome = true
'''

# name: (what, seconds, issue's target text)
TARGETS = {
    "idle": ("`arkops run`, nothing due", 0.4, "< 0.4 s"),
    "tick": ("`arkops run` 10-min tick: trials-track + mail-flush, nothing new", 0.4, "< 0.4 s"),
    "tick10": ("the same tick after 10 new activations (digest sent)", None, "+ < 0.2 s"),
    "nine": ("`arkops run` 09:00 tick of the next day (after the 08:50 tick and that day's import)", None, "(none)"),
    "signup": ("`arkops trials signup` of one new email", 0.4, "< 0.4 s"),
    "webhook": ("`arkops webhooks ingest` of one signed invoice.paid", 0.4, "< 0.4 s"),
    "report": ("`arkops payments report`", 0.6, "< 0.6 s"),
    "status": ("`arkops status`", 0.6, "< 0.6 s"),
    **{
        f"{op}-{years}y": (f"{what} after {years} year{'s' if years > 1 else ''}", 0.6, "< 0.6 s")
        for years in (1, 2, 3)
        for op, what in (("report", "`arkops payments report`"), ("status", "`arkops status`"))
    },
    "list": ("`arkops trials list --format json`", None, "(none)"),
    "bulk-import": ("new installation: `arkops trials import` of 120 days of trials", None, "(none)"),
    "bulk-track": ("then the first `arkops trials track` (signups every 0.2 s meanwhile)", 20.0, "< 20 s"),
    "bulk-nudge": ("then the first `arkops trials nudge` (signups every 0.2 s meanwhile)", None, "(none)"),
}
MEMORY_TARGET_MB = 300
LOCK_TARGET_S = 2.0
ACTIVATIONS_TARGET_S = 0.2
OPS = ("idle", "tick", "tick10", "nine", "signup", "report", "status", "list", "webhook", "years", "bulk")

STARTED = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - STARTED:7.1f} s] {message}", file=sys.stderr, flush=True)


def iso(moment: datetime | float) -> str:
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tick_times() -> list[datetime]:
    """09:00 local on each day, in UTC: index 0 is three years before the end, DAYS the end, DAYS + 1 the day after."""
    tz = ZoneInfo(TIMEZONE)
    return [(END_LOCAL - timedelta(days=DAYS - i)).replace(tzinfo=tz).astimezone(UTC) for i in range(DAYS + 2)]


def add_months(ts: float, months: int) -> int:
    moment = datetime.fromtimestamp(ts, UTC)
    index = moment.year * 12 + moment.month - 1 + months
    return int(moment.replace(year=index // 12, month=index % 12 + 1, day=min(moment.day, 28)).timestamp())


# --- The synthetic business -------------------------------------------------------------------------


@dataclass
class Trial:
    email: str
    plan: str
    source: str | None
    locale: str | None
    signed: float
    activity: list[tuple[float, str, int]] = field(default_factory=list)

    def signup_record(self) -> dict:
        record = {"email": self.email, "plan": self.plan, "source": self.source, "created_at": iso(self.signed)}
        if self.locale:
            record["locale"] = self.locale
        return {k: v for k, v in record.items() if v is not None}

    def activity_records(self, until: float) -> list[dict]:
        return [
            {"email": self.email, "action": kind, "count": count, "timestamp": iso(at)}
            for at, kind, count in self.activity
            if at <= until
        ]


def make_trial(rng: random.Random, email: str, signed: float) -> Trial:
    trial = Trial(
        email,
        rng.choices(list(PRICES), weights=(5, 4, 1))[0],
        rng.choice(SOURCES),
        "fr" if rng.random() < 0.2 else None,
        signed,
    )
    if rng.random() < 0.6:  # activated
        first = signed + min(rng.expovariate(1 / (10 * 3600)), 13 * 86400)
        times = [first] + [rng.uniform(first, signed + 14 * 86400) for _ in range(rng.randint(0, 7))]
        trial.activity = sorted((int(t), rng.choice(KINDS), rng.randint(1, 5)) for t in times)
    return trial


@dataclass
class Sub:
    n: int
    email: str
    plan: str
    start: float
    anniversaries: list[int]
    length: int  # invoices
    ended: int | None = None
    upgrade_at: int | None = None  # index of the first invoice at the higher plan

    @property
    def sub(self) -> str:
        return f"sub_{self.n:05d}"

    @property
    def cus(self) -> str:
        return f"cus_{self.n:05d}"

    def plan_at(self, k: int) -> str:
        return UPGRADE[self.plan] if self.upgrade_at is not None and k >= self.upgrade_at else self.plan


def bulk_trials(scale: float, end: float, seed: int = 13) -> list[Trial]:
    """A new installation's history: 120 days of trials, as the web app exported them."""
    rng = random.Random(seed)
    start = end - BULK_DAYS * 86400
    count = max(20, round(FULL["bulk_trials"] * scale))
    return [make_trial(rng, f"b{n:05d}@example.org", rng.uniform(start, end)) for n in range(count)]


class World:
    """Every record of three years (and the day after), generated once from a seed, bucketed by daily tick."""

    def __init__(self, scale: float, seed: int = 12) -> None:
        rng = random.Random(seed)
        self.ticks = tick_times()
        self.cuts = [int(t.timestamp()) - 300 for t in self.ticks]  # imports at 08:55 cover everything up to 08:55
        start, end = self.ticks[0].timestamp(), self.ticks[DAYS].timestamp()
        self.end = end
        n_trials = max(20, round(FULL["trials"] * scale))
        next_day = max(1, round(n_trials * 86400 / (end - start)))
        times = sorted(rng.uniform(start, end) for _ in range(n_trials))
        times += sorted(rng.uniform(end, self.ticks[DAYS + 1].timestamp() - 600) for _ in range(next_day))
        domains = ("example.com", "example.org", "example.net")
        self.trials = [make_trial(rng, f"t{n:05d}@{domains[n % 3]}", t) for n, t in enumerate(times)]
        self.subs = self._subscriptions(rng, scale)
        self.events = self._events(rng)

    def _subscriptions(self, rng: random.Random, scale: float) -> list[Sub]:
        n_subs = max(4, round(FULL["subscriptions"] * scale))
        from_trials = round(n_subs * 0.35)
        candidates = [t for t in self.trials if t.activity and t.signed < self.end - 20 * 86400]
        converting = rng.sample(candidates, min(from_trials, len(candidates)))
        begin = self.ticks[0].timestamp()
        starts = [(t.email, t.plan, t.signed + rng.uniform(3, 13) * 86400) for t in converting]
        starts += [
            (
                f"c{n:05d}@example.net",
                rng.choices(list(PRICES), weights=(3, 5, 2))[0],
                begin + rng.uniform(0, 60) * 86400,
            )
            for n in range(n_subs - len(starts))
        ]
        subs = []
        for n, (email, plan, at) in enumerate(sorted(starts, key=lambda s: s[2])):
            anniversaries = []
            while (moment := add_months(at, len(anniversaries))) <= self.end:
                anniversaries.append(moment)
            subs.append(Sub(n, email, plan, at, anniversaries, len(anniversaries)))
        # churn until the invoice count is the target: each churned subscription ends at one of its anniversaries
        excess = sum(s.length for s in subs) - round(FULL["invoices"] * scale)
        for sub in rng.sample(subs, len(subs)):
            if excess <= 0:
                break
            if sub.length < 2:
                continue
            keep = max(rng.randint(1, sub.length - 1), sub.length - excess)
            excess -= sub.length - keep
            sub.length, sub.ended = keep, sub.anniversaries[keep]
        for sub in subs:
            if sub.plan in UPGRADE and sub.length >= 4 and rng.random() < 0.1:
                sub.upgrade_at = rng.randint(1, sub.length - 2)
        return subs

    def _events(self, rng: random.Random) -> list[tuple[int, str, dict]]:
        """(created, type, what to build), oldest first; built into Stripe-shaped objects only when applied."""
        events: list[tuple[int, str, dict]] = []
        for sub in self.subs:
            base = {"sub": sub.sub, "cus": sub.cus, "email": sub.email, "start": int(sub.start)}
            events.append((int(sub.start) - 60, "customer.created", base))
            events.append((int(sub.start), "customer.subscription.created", {**base, "plan": sub.plan}))
            for k in range(sub.length):
                plan = sub.plan_at(k)
                if k == sub.upgrade_at:
                    events.append(
                        (sub.anniversaries[k] - 3600, "customer.subscription.updated", {**base, "plan": plan})
                    )
                due = sub.anniversaries[k] + 30
                invoice = {**base, "inv": f"in_{sub.n:05d}_{k:03d}", "amount": PRICES[plan]}
                if k and rng.random() < 0.04:  # a failed attempt, paid three days later
                    events.append((due, "invoice.payment_failed", {**invoice, "next": due + 3 * 86400}))
                    due += 3 * 86400
                events.append((due, "invoice.paid", {**invoice, "paid": due}))
                if rng.random() < 0.005:
                    refund = {"charge": f"ch_{sub.n:05d}_{k:03d}", "inv": invoice["inv"], "amount": invoice["amount"]}
                    events.append((due + 2 * 86400, "charge.refunded", refund))
            if sub.ended:
                last = {**base, "plan": sub.plan_at(sub.length - 1)}
                if sub.ended - 10 * 86400 > sub.start:
                    events.append((sub.ended - 10 * 86400, "customer.subscription.updated", {**last, "cancel": True}))
                events.append((sub.ended, "customer.subscription.deleted", {**last, "ended": sub.ended}))
        return sorted((e for e in events if e[0] <= self.cuts[DAYS]), key=lambda e: e[0])

    def day_of(self, ts: float) -> int:
        return max(1, bisect.bisect_left(self.cuts, ts))

    def by_day(self) -> tuple[dict[int, list[dict]], dict[int, list[dict]], dict[int, list[int]]]:
        signups: dict[int, list[dict]] = {}
        activity: dict[int, list[dict]] = {}
        for trial in self.trials:
            signups.setdefault(self.day_of(trial.signed), []).append(trial.signup_record())
            for record in trial.activity_records(self.cuts[DAYS + 1]):
                activity.setdefault(self.day_of(datetime.fromisoformat(record["timestamp"]).timestamp()), []).append(
                    record
                )
        events: dict[int, list[int]] = {}
        for index, (created, _, _) in enumerate(self.events):
            events.setdefault(self.day_of(created), []).append(index)
        return signups, activity, events

    def stripe_event(self, index: int) -> dict:
        created, kind, spec = self.events[index]
        return stripe_event(f"evt_{index + 1:07d}", kind, spec, created)


def stripe_event(event_id: str, kind: str, spec: dict, created: int) -> dict:
    import stripe_shapes as shapes

    if kind == "customer.created":
        obj = shapes.customer(spec["cus"], spec["email"])
        obj["created"] = created
    elif kind.startswith("customer.subscription."):
        ended = spec.get("ended")
        obj = shapes.subscription(
            spec["sub"],
            spec["cus"],
            [(PRICES[spec["plan"]], "eur", "month", 1, 1, spec["plan"])],
            status="canceled" if ended else "active",
            start=datetime.fromtimestamp(spec["start"], UTC).strftime("%Y-%m-%d"),
            ended_at=ended,
            cancel_at_period_end=bool(spec.get("cancel")),
        )
        obj.update(start_date=spec["start"], created=spec["start"])
    elif kind.startswith("invoice."):
        obj = shapes.invoice(
            spec["inv"],
            spec["cus"],
            spec["amount"],
            paid_at=spec.get("paid"),
            email=spec["email"],
            next_attempt=spec.get("next"),
            subscription=spec["sub"],
        )
        obj["created"] = created - 3600  # Stripe finalizes a subscription's invoice about an hour before charging
    else:
        obj = shapes.charge_refunded(spec["charge"], spec["inv"], spec["amount"], created)
    return shapes.event(event_id, kind, obj, created)


# --- A real SMTP server, in its own process -----------------------------------------------------------

SMTP_SERVER = r"""
import asyncio, re, sys, time
from pathlib import Path
from aiosmtpd.controller import Controller

folder = Path(sys.argv[2])
keys = open(folder / "keys.tsv", "a", buffering=1)
samples = set(p.name for p in folder.glob("sample-*.eml"))
KEY = re.compile(rb"^X-Arkops-Key: *(.+?)\r?$", re.M)

def kind(key):
    parts = key.split(":")
    tail = [p for p in parts[1:] if p and not p.isdigit() and "@" not in p and not p.startswith(("in_", "sub_"))]
    return parts[0] + ("-" + tail[-1] if tail and parts[0] != "trials" else "")

class Handler:
    async def handle_DATA(self, server, session, envelope):
        found = KEY.search(envelope.content)
        key = found.group(1).decode("utf-8", "replace") if found else "?"
        keys.write(f"{key}\t{len(envelope.content)}\n")
        name = f"sample-{re.sub(r'[^a-z0-9_-]', '_', kind(key))}.eml"
        if name not in samples and len(samples) < 40:
            samples.add(name)
            (folder / name).write_bytes(envelope.content)
        return "250 OK queued"

controller = Controller(Handler(), hostname="127.0.0.1", port=int(sys.argv[1]), enable_SMTPUTF8=True)
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
"""


class SmtpServer:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SMTP_SERVER, str(self.port), str(folder)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"

    def received(self) -> list[tuple[str, int]]:
        path = self.folder / "keys.tsv"
        if not path.exists():
            return []
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            key, _, size = line.rpartition("\t")
            rows.append((key, int(size)))
        return rows

    def count(self) -> int:
        path = self.folder / "keys.tsv"
        return path.read_bytes().count(b"\n") if path.exists() else 0

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


def environment(smtp_port: int) -> dict[str, str]:
    """What arkops sees: the SMTP server, the operator, the webhook secret; no Stripe key (stripe-sync is skipped)."""
    names = ("ARKOPS_", "STRIPE_", "SMTP_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(names) and k != "MAIL_FROM"}
    env.update(
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp_port),
        SMTP_SECURITY="none",
        MAIL_FROM=SENDER,
        ARKOPS_ALERT_TO=OPERATOR,
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )
    return env


# --- Files ---------------------------------------------------------------------------------------------


def file_sizes(folder: Path) -> dict[str, int]:
    return {str(path.relative_to(folder)): path.stat().st_size for path in sorted(folder.rglob("*")) if path.is_file()}


def file_states(folder: Path) -> dict[str, tuple[int, int]]:
    states = {}
    for path in folder.rglob("*"):
        if path.is_file():
            stat = path.stat()
            states[str(path.relative_to(folder))] = (stat.st_size, stat.st_mtime_ns)
    return states


def written(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    return sorted(name for name, state in after.items() if before.get(name) != state)


def write_json(path: Path, value: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=1), encoding="utf-8")


# --- Build ------------------------------------------------------------------------------------------


def build(root: Path, world: World, smtp: SmtpServer, scale: float) -> dict:
    from arkops.core.billing.service import apply_events
    from arkops.core.jobs.runner import run_due
    from arkops.core.trials.records import import_files
    from arkops.runtime import Runtime

    root.mkdir(parents=True, exist_ok=True)
    (root / "arkops.toml").write_text(CONFIG, encoding="utf-8")
    data = root / "data"
    data.mkdir(mode=0o700)
    app = root / "app"
    app.mkdir()
    env = environment(smtp.port)
    os.environ.clear()
    os.environ.update(env)
    rt = Runtime(data, root / "arkops.toml", root / ".env")
    signups, activity, events = world.by_day()
    phases = Counter[str]()
    size_history: dict[str, dict[str, int]] = {}
    failures: list[str] = []
    skipped = 0
    started = time.perf_counter()
    log(
        f"building {len(world.trials)} trials, {len(world.subs)} subscriptions, {len(world.events)} Stripe events "
        f"over {DAYS} days in {root}"
    )
    for day in range(1, DAYS + 1):
        tick = world.ticks[day]
        files = []
        for name, records in (("signups", signups.get(day)), ("activity", activity.get(day))):
            if records:
                write_json(app / f"{name}.json", records)
                files.append(app / f"{name}.json")
        moment = time.perf_counter()
        if files:
            report = import_files(rt, files, now=tick - timedelta(minutes=5))
            skipped += len(report.skipped)
        phases["trials import"] += time.perf_counter() - moment
        moment = time.perf_counter()
        if day in events:
            batch = [world.stripe_event(i) for i in events[day]]
            apply_events(rt, batch, now=tick - timedelta(minutes=4), cursor=True)
        phases["apply_events"] += time.perf_counter() - moment
        moment = time.perf_counter()
        for result in run_due(rt, now=tick).results:
            phases[result.name] += result.seconds
            if result.status == "failed":
                failures.append(f"{iso(tick)} {result.name}: {result.detail}")
        phases["run_due"] += time.perf_counter() - moment
        if day in (365, 730, DAYS):
            size_history[f"day {day}"] = file_sizes(data)
        if (
            day in YEAR_DAYS[:-1]
        ):  # the installation as it was after one and two years, to time reports as history grows
            shutil.copytree(data, root / f"data-year{YEAR_DAYS.index(day) + 1}", symlinks=True)
        if day % 30 == 0 or day == DAYS:
            elapsed = time.perf_counter() - started
            log(
                f"day {day}/{DAYS} ({tick.date()}): {elapsed:.0f} s, eta {elapsed / day * (DAYS - day):.0f} s; "
                f"{smtp.count()} emails sent; data {sum(file_sizes(data).values()) / MB:.1f} MB; "
                + ", ".join(f"{k} {v:.0f} s" for k, v in phases.most_common())
            )
    build_seconds = time.perf_counter() - started
    if failures:
        log(f"{len(failures)} job failures during the build, first: {failures[0]}")
    # The web app's files of the day after the build, for the 09:00 tick.
    write_json(app / "next-day-signups.json", signups.get(DAYS + 1, []))
    write_json(app / "next-day-activity.json", activity.get(DAYS + 1, []))
    received = smtp.received()
    fresh = [
        t.email
        for t in world.trials
        if world.end - 12 * 86400 < t.signed <= world.cuts[DAYS]
        and not any(a[0] <= world.end + 600 for a in t.activity)
    ]
    manifest = {
        "scale": scale,
        "arkops": str(ARKOPS_HOME),
        "end": iso(world.ticks[DAYS]),
        "year_ends": [iso(world.ticks[day]) for day in YEAR_DAYS],
        "next_day": iso(world.ticks[DAYS + 1]),
        "counts": {
            "trials": sum(1 for t in world.trials if t.signed <= world.cuts[DAYS]),
            "activity_records": sum(len(r) for d, r in activity.items() if d <= DAYS),
            "subscriptions": len(world.subs),
            "churned_subscriptions": sum(1 for s in world.subs if s.ended),
            "invoices": len({spec["inv"] for _, kind, spec in world.events if kind.startswith("invoice.")}),
            "stripe_events": len(world.events),
            "emails_sent": len(received),
            "emails_by_kind": dict(Counter(key.split(":")[0] for key, _ in received)),
            "import_records_skipped": skipped,
        },
        "build_seconds": round(build_seconds, 1),
        "phase_seconds": {k: round(v, 1) for k, v in phases.most_common()},
        "job_failures": failures[:20],
        "size_history": size_history,
        "fresh_trials": fresh[:10],
        "webhook_subscriptions": [
            {
                "sub": s.sub,
                "cus": s.cus,
                "email": s.email,
                "amount": PRICES[s.plan_at(s.length - 1)],
                "start": int(s.start),
            }
            for s in world.subs
            if not s.ended
        ][:50],
    }
    log(f"built in {build_seconds:.0f} s: {json.dumps(manifest['counts'])}")
    build_yardstick(root / "yardstick.sqlite", world, received, manifest)
    write_json(root / "manifest.json", manifest)
    return manifest


# --- The sqlite3 yardstick ------------------------------------------------------------------------------

SCHEMA = """
create table if not exists jobs(name text primary key, doc text);
create table if not exists trials(email text primary key, state text, signed_up_at text, trial_ends_at text,
    activated_at text, alerted text, doc text);
create index if not exists trials_open on trials(state, trial_ends_at);
create index if not exists trials_signed on trials(signed_up_at);
create index if not exists trials_unalerted on trials(email) where activated_at is not null and alerted is null;
create table if not exists activity(key text primary key, email text, at text, doc text);
create index if not exists activity_email on activity(email);
create table if not exists steps(key text primary key, email text, doc text);
create index if not exists steps_email on steps(email);
create table if not exists messages(id integer primary key, key text unique, state text, next_attempt_at text, doc text);
create index if not exists messages_due on messages(state, next_attempt_at);
create table if not exists customers(id text primary key, email text, doc text);
create table if not exists subscriptions(id text primary key, customer text, start integer, ended integer,
    mrr integer, doc text);
create table if not exists invoices(id text primary key, customer text, paid_at integer, amount_paid integer,
    refunded integer, doc text);
create index if not exists invoices_paid on invoices(paid_at);
create table if not exists events(id text primary key, type text, created integer, applied_at text);
"""


def trial_doc(trial: Trial, until: float) -> tuple:
    acts = [a for a in trial.activity if a[0] <= until]
    activated = iso(acts[0][0]) if acts else None
    ends = trial.signed + 14 * 86400
    state = "expired" if ends <= until else ("active" if activated else "signed_up")
    doc = {
        **trial.signup_record(),
        "signed_up_at": iso(trial.signed),
        "trial_ends_at": iso(ends),
        "activity": dict(Counter(k for _, k, _ in acts)),
        "activity_total": sum(c for _, _, c in acts),
        "activated_at": activated,
        "activated_kind": acts[0][1] if acts else None,
        "converted_at": None,
        "state": state,
        "extra": {},
        "alerted": {"activated": activated} if activated else {},
    }
    return (trial.email, state, iso(trial.signed), iso(ends), activated, activated, json.dumps(doc))


def build_yardstick(path: Path, world: World, received: list[tuple[str, int]], manifest: dict) -> None:
    """The same rows in plain sqlite3: trials, activity, lifecycle steps, every message sent, the ledger."""
    started = time.perf_counter()
    samples = {p.name: p.read_bytes().decode("utf-8", "replace") for p in (path.parent / "smtp").glob("sample-*.eml")}
    body = max(samples.values(), key=len) if samples else "x" * 4000
    con = sqlite3.connect(path)
    con.executescript("pragma journal_mode=wal;" + SCHEMA)
    until = world.cuts[DAYS]
    with con:
        trials = [t for t in world.trials if t.signed <= until]
        con.executemany("insert into trials values (?,?,?,?,?,?,?)", (trial_doc(t, until) for t in trials))
        con.executemany(
            "insert into activity values (?,?,?,?)",
            (
                (f"{t.email}:{at}:{kind}", t.email, iso(at), json.dumps({"email": t.email, "kind": kind, "count": c}))
                for t in trials
                for at, kind, c in t.activity
                if at <= until
            ),
        )
        lifecycle = [key for key, _ in received if key.startswith("trial:")]
        con.executemany(
            "insert or ignore into steps values (?,?,?)",
            ((key, key.split(":")[1], json.dumps({"key": key, "state": "queued"})) for key in lifecycle),
        )
        con.executemany(
            "insert or ignore into messages values (?,?,?,?,?)",
            (
                (n + 1, key, "sent", manifest["end"], json.dumps({"key": key, "body": body[:size]}))
                for n, (key, size) in enumerate(received)
            ),
        )
        con.executemany(
            "insert or ignore into customers values (?,?,?)",
            ((s.cus, s.email, json.dumps({"id": s.cus, "email": s.email})) for s in world.subs),
        )
        con.executemany(
            "insert into subscriptions values (?,?,?,?,?,?)",
            (
                (s.sub, s.cus, int(s.start), s.ended, PRICES[s.plan_at(s.length - 1)], json.dumps(asdict(s)))
                for s in world.subs
            ),
        )
        invoices = {}
        for n, (created, kind, spec) in enumerate(world.events):
            con.execute("insert into events values (?,?,?,?)", (f"evt_{n + 1:07d}", kind, created, iso(created)))
            if kind.startswith("invoice."):
                invoices[spec["inv"]] = (
                    spec["inv"],
                    spec["cus"],
                    spec.get("paid"),
                    spec["amount"],
                    0,
                    json.dumps(spec),
                )
        con.executemany("insert into invoices values (?,?,?,?,?,?)", invoices.values())
        for name in ("trials-track", "trials-nudge", "mail-flush"):
            con.execute("insert into jobs values (?,?)", (name, json.dumps({"last_start": manifest["end"]})))
    con.close()
    (path.parent / "yardstick-body.eml").write_text(body, encoding="utf-8")
    log(f"sqlite3 yardstick built in {time.perf_counter() - started:.0f} s ({path.stat().st_size / MB:.1f} MB)")


YARDSTICK = r"""
import hashlib, hmac, json, smtplib, sqlite3, sys, time
from datetime import datetime, timedelta, timezone

op, db, args = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
con = sqlite3.connect(db, isolation_level=None)
con.execute("pragma journal_mode=wal")
con.execute("pragma synchronous=full")
now = args["now"]
run = f'{now}#{args.get("run", 0)}'  # keys unique to this run, so that repeated runs do the same work

def send(rows):
    if not rows:
        return
    smtp = smtplib.SMTP("127.0.0.1", args["smtp_port"])
    body = open(args["body"], "rb").read()
    for message_id, to in rows:
        smtp.sendmail("ops@example.com", [to], body)
    smtp.quit()
    con.execute("begin immediate")
    con.executemany("update messages set state='sent' where id=?", [(m,) for m, _ in rows])
    con.execute("update jobs set doc=? where name='mail-flush'", (json.dumps({"last_start": now}),))
    con.execute("commit")

def queue(con, keys, to):
    body = json.dumps({"body": open(args["body"]).read()})
    ids = []
    for key in keys:
        cur = con.execute("insert or ignore into messages(key, state, next_attempt_at, doc) values (?,?,?,?)",
                          (key, "pending", now, body))
        ids.append((cur.lastrowid, to))
    return ids

def tick():
    con.execute("begin immediate")
    changed = con.execute("select email from trials where activated_at is not null and alerted is null").fetchall()
    changed += con.execute("select email from trials where state in ('signed_up','active') and trial_ends_at <= ?",
                           (now,)).fetchall()
    con.executemany("update trials set alerted=? where email=?", [(now, e) for e, in changed])
    if changed:
        queue(con, ["trials:updates:" + run], "owner@example.com")
    con.execute("update jobs set doc=? where name='trials-track'", (json.dumps({"last_start": now}),))
    con.execute("commit")
    due = con.execute("select id, 'owner@example.com' from messages where state='pending' and next_attempt_at<=?",
                      (now,)).fetchall()
    send(due)

def nudge():
    con.execute("begin immediate")
    since = (datetime.fromisoformat(now[:-1]) - timedelta(days=16)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = [e for e, in con.execute("select email from trials where signed_up_at >= ?", (since,))]
    done = set()
    for email in recent:
        done.update(k for k, in con.execute("select key from steps where email=?", (email,)))
    keys = [f"trial:bench{n}@example.com:step{run}" for n in range(args["queued"])]
    con.executemany("insert or ignore into steps values (?,?,?)", [(k, "x", "{}") for k in keys])
    con.executemany("insert or ignore into steps values (?,?,?)",
                    [(f"skip{n}:{run}", "x", "{}") for n in range(args.get("skipped", 0))])
    ids = queue(con, keys, "customer@example.com")
    con.execute("update jobs set doc=? where name='trials-nudge'", (json.dumps({"last_start": now}),))
    con.execute("commit")
    return ids

if op == "idle":
    rows = con.execute("select name, doc from jobs").fetchall()
    print(len(rows))
elif op == "tick":
    tick()
elif op == "activate":
    emails = [e for e, in con.execute("select email from trials where state='signed_up' limit ?", (args["count"],))]
    con.execute("begin immediate")
    con.executemany("update trials set activated_at=?, alerted=null where email=?", [(now, e) for e in emails])
    con.execute("commit")
elif op == "nine":
    tick()
    ids = nudge()
    send(ids[: args.get("sent", len(ids))])
elif op == "import":
    signups = json.load(open(args["signups"]))
    activity = json.load(open(args["activity"]))
    con.execute("begin immediate")
    con.executemany("insert or ignore into trials(email, state, signed_up_at, trial_ends_at, doc) values (?,?,?,?,?)",
                    [(r["email"], "signed_up", r["created_at"], r["created_at"], json.dumps(r)) for r in signups])
    con.executemany("insert or ignore into activity values (?,?,?,?)",
                    [(f"{r['email']}:{r['timestamp']}:{r['action']}", r["email"], r["timestamp"], json.dumps(r))
                     for r in activity])
    con.executemany("update trials set activated_at=?, state='active' where email=? and activated_at is null",
                    [(r["timestamp"], r["email"]) for r in activity])
    con.execute("commit")
elif op == "track":
    con.execute("begin immediate")
    rows = con.execute("select email, doc from trials").fetchall()
    con.executemany("update trials set alerted=?, doc=? where email=?", [(now, d, e) for e, d in rows])
    queue(con, ["trials:updates:" + run], "owner@example.com")
    con.execute("commit")
elif op == "nudge":
    nudge()
elif op == "signup":
    con.execute("begin immediate")
    if con.execute("select 1 from trials where email=?", (args["email"],)).fetchone() is None:
        con.execute("insert into trials(email, state, signed_up_at, trial_ends_at, doc) values (?,?,?,?,?)",
                    (args["email"], "signed_up", now, now, json.dumps(args)))
    con.execute("commit")
elif op == "webhook":
    payload = open(args["payload"], "rb").read()
    stamp, signature = args["signature"].split(",")
    expected = hmac.new(args["secret"].encode(), stamp[2:].encode() + b"." + payload, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, signature[3:]), "bad signature"
    event = json.loads(payload)
    invoice = event["data"]["object"]
    con.execute("begin immediate")
    if con.execute("select 1 from events where id=?", (event["id"],)).fetchone() is None:
        con.execute("insert into events values (?,?,?,?)", (event["id"], event["type"], event["created"], now))
        con.execute("insert or replace into invoices values (?,?,?,?,?,?)",
                    (invoice["id"], invoice["customer"], event["created"], invoice["amount_paid"], 0, json.dumps(invoice)))
    con.execute("commit")
elif op == "report":
    end = datetime.fromisoformat(now[:-1]).replace(tzinfo=timezone.utc)
    months = []
    for back in range(11, -1, -1):
        index = end.year * 12 + end.month - 1 - back
        first = datetime(index // 12, index % 12 + 1, 1, tzinfo=timezone.utc)
        nxt = datetime((index + 1) // 12, (index + 1) % 12 + 1, 1, tzinfo=timezone.utc)
        lo, hi = int(first.timestamp()), int(min(nxt, end).timestamp())
        revenue, paid = con.execute("select coalesce(sum(amount_paid - refunded), 0), count(*) from invoices "
                                    "where paid_at >= ? and paid_at < ?", (lo, hi)).fetchone()
        mrr, paying = con.execute("select coalesce(sum(mrr), 0), count(distinct customer) from subscriptions "
                                  "where start <= ? and (ended is null or ended > ?)", (hi, hi)).fetchone()
        months.append({"month": first.strftime("%Y-%m"), "revenue": revenue, "invoices": paid, "mrr": mrr,
                       "paying": paying})
    print(json.dumps(months))
elif op == "list":  # the same number of trials as arkops listed, the most recent
    rows = [json.loads(d) for d, in con.execute("select doc from trials order by signed_up_at desc, email limit ?",
                                                 (args["rows"],))]
    print(json.dumps(rows[::-1]))
else:
    raise SystemExit(f"unknown yardstick {op}")
"""


# --- Measuring ---------------------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    peak_mb: float
    code: int
    out: str
    err: str
    written: list[str] = field(default_factory=list)
    cpu: float = 0.0  # user + system seconds of the process: what a loaded machine moves least


# The peak RSS of a child started from this (large) process would include this process's own RSS (Linux
# carries the pre-exec high-water mark over exec); GNU time's child is forked from a small process.
GNU_TIME = Path("/usr/bin/time")


def run(args: list[str], *, env: dict[str, str], cwd: Path, watch: Path | None = None) -> Run:
    """One whole process: wall time, CPU time (user + system), and the peak RSS of that process alone."""
    before = file_states(watch) if watch else {}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile() as rss:
        timed = [str(GNU_TIME), "-f", "%M %U %S", "-o", rss.name, *args] if GNU_TIME.exists() else args
        started = time.perf_counter()
        proc = subprocess.Popen(timed, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if GNU_TIME.exists():
            peak, user, system = Path(rss.name).read_text().split()[-3:]
            peak_kb, cpu = int(peak), float(user) + float(system)
        else:
            peak_kb, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
        out.seek(0)
        err.seek(0)
        result = Run(
            seconds,
            peak_kb / 1024,
            proc.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace")[-4000:],
            cpu=cpu,
        )
    if watch:
        result.written = written(before, file_states(watch))
    return result


def arkops_command() -> list[str]:
    script = Path(sys.executable).parent / "arkops"
    return [str(script)] if script.exists() else [sys.executable, "-m", "arkops"]


@dataclass
class Result:
    op: str
    what: str
    runs: list[Run] = field(default_factory=list)
    yardstick: list[Run] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    @property
    def median(self) -> float | None:
        good = [r.seconds for r in self.runs if r.code == 0]
        return statistics.median(good) if good else None

    @property
    def cpu(self) -> float | None:
        good = [r.cpu for r in self.runs if r.code == 0]
        return statistics.median(good) if good else None

    @property
    def peak_mb(self) -> float | None:
        return max((r.peak_mb for r in self.runs), default=None)

    @property
    def sqlite(self) -> float | None:
        good = [r.seconds for r in self.yardstick if r.code == 0]
        return statistics.median(good) if good else None

    def as_json(self) -> dict:
        return {
            "op": self.op,
            "what": self.what,
            "median_s": self.median,
            "cpu_median_s": self.cpu,
            "peak_mb": self.peak_mb,
            "sqlite_median_s": self.sqlite,
            "runs": [asdict(r) | {"out": r.out[:300]} for r in self.runs],
            "yardstick": [asdict(r) | {"out": r.out[:300]} for r in self.yardstick],
            "notes": self.notes,
            "extra": self.extra,
        }


class Bench:
    def __init__(
        self, root: Path, manifest: dict, smtp: SmtpServer, repeat: int, bulk_repeat: int, bulk_scale: float
    ) -> None:
        self.root = root
        self.manifest = manifest
        self.smtp = smtp
        self.repeat = repeat
        self.bulk_repeat = bulk_repeat
        self.bulk_scale = bulk_scale
        self.end = datetime.fromisoformat(manifest["end"].replace("Z", "+00:00"))
        self.work = Path(tempfile.mkdtemp(prefix="arkops-scale-work-"))
        self.warmups: list[float] = []
        self.scratch = self.settled("scratch", self.end)
        self.sqlite = self.work / "yardstick.sqlite"
        shutil.copy(root / "yardstick.sqlite", self.sqlite)
        self.results: list[Result] = []

    def copy(self, name: str, *ticks: datetime, source: Path | None = None) -> Path:
        """A copy of the installation (or of `source`), after the cron ticks at `ticks` (not measured).

        A copied file is a new file (inode, ctime) to anything that caches what it derived from it; on a
        real installation the tick ten minutes earlier has seen the same files, so the last tick runs on
        the copy itself.
        """
        target = self.work / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source or self.root / "data", target, symlinks=True)
        for tick in ticks:
            self.warmups.append(round(self.arkops(target, tick, "run").seconds, 3))
        return target

    def settled(self, name: str, end: datetime, source: Path | None = None) -> Path:
        """A copy after `arkops retention` at `end` + 9 min and the tick at + 10 min, neither measured: an upgraded
        installation after its first night (the rules make what they keep, such as the ledger archive's month
        summaries, when the build's arkops made none) and the tick that follows (caches current again)."""
        target = self.copy(name, source=source)
        self.warmups.append(round(self.arkops(target, end + timedelta(minutes=9), "retention").seconds, 3))
        self.warmups.append(round(self.arkops(target, end + timedelta(minutes=10), "run").seconds, 3))
        return target

    def env(self, data: Path, now: datetime) -> dict[str, str]:
        env = environment(self.smtp.port)
        env.update(ARKOPS_DATA_DIR=str(data), ARKOPS_CONFIG=str(self.root / "arkops.toml"), ARKOPS_NOW=iso(now))
        return env

    def arkops(self, data: Path, now: datetime, *args: str, check: bool = True) -> Run:
        result = run([*arkops_command(), *args], env=self.env(data, now), cwd=self.root, watch=data)
        if check and result.code != 0:
            log(f"arkops {' '.join(args)} exited {result.code}: {result.err.strip()[-500:]}")
        return result

    def yard(self, op: str, db: Path | None = None, **args: object) -> Run:
        params = {
            "now": iso(args.pop("now", self.end)),
            "smtp_port": self.smtp.port,
            "body": str(self.root / "yardstick-body.eml"),
            **args,
        }
        result = run(
            [sys.executable, "-c", YARDSTICK, op, str(db or self.sqlite), json.dumps(params)],
            env=dict(os.environ),
            cwd=self.work,
        )
        if result.code != 0:
            log(f"sqlite3 yardstick {op} exited {result.code}: {result.err.strip()[-500:]}")
        return result

    def floor(self) -> dict[str, float]:
        """What any process costs here: Python doing nothing, and `arkops --version`."""
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "arkops --version": [*arkops_command(), "--version"],
        }
        return {
            name: round(statistics.median(run(c, env=dict(os.environ), cwd=self.work).seconds for _ in range(5)), 3)
            for name, c in commands.items()
        }

    def measure(self, op: str) -> None:
        what = TARGETS.get(op, (op,))[0]
        log(f"measuring {op}")
        getattr(self, "op_" + op.replace("-", "_"))(Result(op, what))

    def add(self, result: Result) -> None:
        self.results.append(result)
        median = result.median
        log(
            f"  {result.op}: arkops {median if median is None else round(median, 3)} s, "
            f"{result.peak_mb and round(result.peak_mb)} MB; sqlite3 {result.sqlite and round(result.sqlite, 3)} s"
            + (f"; {'; '.join(result.notes)}" if result.notes else "")
        )

    def op_idle(self, result: Result) -> None:
        now = self.end + timedelta(minutes=11)
        for _ in range(self.repeat):
            result.runs.append(self.arkops(self.scratch, now, "run"))
            result.yardstick.append(self.yard("idle"))
        result.extra["files_written"] = sorted({f for r in result.runs for f in r.written})
        result.extra["output"] = result.runs[0].out.strip()
        self.add(result)

    def op_tick(self, result: Result) -> None:
        now = self.end + timedelta(minutes=20)
        for _ in range(self.repeat):
            data = self.copy("tick", now - timedelta(minutes=10))
            result.runs.append(self.arkops(data, now, "run"))
            result.yardstick.append(self.yard("tick", now=now))
        result.extra["files_written"] = sorted({f for r in result.runs for f in r.written})
        result.extra["output"] = result.runs[0].out.strip()
        self.add(result)

    def op_tick10(self, result: Result) -> None:
        now = self.end + timedelta(minutes=20)
        fresh = list(self.manifest["fresh_trials"])
        prep: list[float] = []
        for rep in range(self.repeat):
            data = self.copy("tick10", now - timedelta(minutes=10))
            emails = fresh[:10]
            for n in range(10 - len(emails)):  # too few trials waiting for their first use at this scale
                email = f"late{rep}-{n}@example.com"
                self.arkops(data, now - timedelta(minutes=8), "trials", "signup", email, "--plan", "pro")
                emails.append(email)
            for email in emails:
                activity = self.arkops(data, now - timedelta(minutes=5), "trials", "activity", email, "--kind", "login")
                prep.append(activity.seconds)
            sent = self.smtp.count()
            result.runs.append(self.arkops(data, now, "run"))
            result.extra.setdefault("emails_sent", []).append(self.smtp.count() - sent)
            self.yard("activate", count=10, now=now - timedelta(minutes=5))
            result.yardstick.append(self.yard("tick", now=now, run=rep))
        result.extra["trials_activity_median_s"] = statistics.median(prep) if prep else None
        result.extra["activations_from_new_signups"] = max(0, 10 - len(fresh))
        result.extra["files_written"] = sorted({f for r in result.runs for f in r.written})
        result.extra["output"] = result.runs[0].out.strip()
        base = next((r for r in self.results if r.op == "tick"), None)
        if base and base.median is not None and result.median is not None:
            result.extra["added_s"] = result.median - base.median
        if prep:
            result.notes.append(f"`trials activity` itself: median {statistics.median(prep):.2f} s")
        self.add(result)

    def op_nine(self, result: Result) -> None:
        now = datetime.fromisoformat(self.manifest["next_day"].replace("Z", "+00:00"))
        app = self.root / "app"
        # The night's ticks (every two hours: the daily jobs of the night run, as they would have), then each
        # measured copy runs the 08:50 tick, takes the day's import at 08:55 and is timed at 09:00.
        night = self.copy("night", *(self.end + timedelta(hours=h) for h in range(2, 24, 2)))
        for _ in range(self.repeat):
            data = self.copy("nine", now - timedelta(minutes=10), source=night)
            files = [str(app / "next-day-signups.json"), str(app / "next-day-activity.json")]
            imported = self.arkops(data, now - timedelta(minutes=5), "trials", "import", *files)
            result.extra.setdefault("import_s", []).append(round(imported.seconds, 3))
            sent = self.smtp.count()
            result.runs.append(self.arkops(data, now, "run"))
            result.extra.setdefault("emails_sent", []).append(self.smtp.count() - sent)
        jobs = json.loads(self.arkops(data, now, "jobs", "--format", "json").out or "[]")
        counts = {j["job"]: j["counts"] for j in jobs}
        queued = counts.get("trials-nudge", {}).get("queued", 0)
        skipped = counts.get("trials-nudge", {}).get("skipped", 0)
        result.extra["job_counts"] = counts
        result.extra["output"] = result.runs[0].out.strip()
        result.extra["files_written"] = sorted({f for r in result.runs for f in r.written})
        sent = result.extra["emails_sent"][0]
        for rep in range(self.repeat):
            result.yardstick.append(self.yard("nine", now=now, queued=queued, skipped=skipped, sent=sent, run=rep))
        result.notes.append(f"{queued} lifecycle emails queued, {result.extra['emails_sent'][0]} sent over SMTP")
        self.add(result)

    def op_signup(self, result: Result) -> None:
        now = self.end + timedelta(minutes=12)
        for rep in range(self.repeat):
            email = f"new{rep}@example.com"
            result.runs.append(self.arkops(self.scratch, now, "trials", "signup", email, "--plan", "pro"))
            result.yardstick.append(self.yard("signup", email=email))
        result.extra["files_written"] = sorted({f for r in result.runs for f in r.written})
        self.add(result)

    def op_webhook(self, result: Result) -> None:
        import stripe

        now = self.end + timedelta(minutes=14)
        created = int((now - timedelta(minutes=1)).timestamp())
        subs = self.manifest["webhook_subscriptions"]
        for rep in range(self.repeat):
            sub = subs[rep % len(subs)]
            spec = {**sub, "inv": f"in_webhook_{rep}", "paid": created}
            payload = json.dumps(stripe_event(f"evt_webhook_{rep}", "invoice.paid", spec, created))
            header = stripe.WebhookSignature.generate_signature_header(payload, WEBHOOK_SECRET)
            path = self.work / f"webhook-{rep}.json"
            path.write_text(payload, encoding="utf-8")
            result.runs.append(self.arkops(self.scratch, now, "webhooks", "ingest", str(path), "--signature", header))
            result.yardstick.append(self.yard("webhook", payload=str(path), signature=header, secret=WEBHOOK_SECRET))
        result.extra["payload_bytes"] = len(payload)
        result.extra["files_written"] = sorted({f for r in result.runs for f in r.written})
        self.add(result)

    def op_report(self, result: Result) -> None:
        now = self.end + timedelta(minutes=13)
        for _ in range(self.repeat):
            result.runs.append(self.arkops(self.scratch, now, "payments", "report"))
            result.yardstick.append(self.yard("report"))
        result.extra["files_written"] = sorted({f for r in result.runs for f in r.written})
        self.add(result)

    def op_status(self, result: Result) -> None:
        now = self.end + timedelta(minutes=13)
        for _ in range(self.repeat):
            result.runs.append(self.arkops(self.scratch, now, "status"))
        result.extra["files_written"] = sorted({f for r in result.runs for f in r.written})
        self.add(result)

    def op_years(self, _: Result) -> None:
        """`payments report` and `status` on the installation as it was after one, two and three years (copies the
        build kept at the end of each year), each after its tick and one retention run: how their cost grows."""
        ends = [datetime.fromisoformat(end.replace("Z", "+00:00")) for end in self.manifest.get("year_ends", [])]
        folders = [self.root / "data-year1", self.root / "data-year2", self.root / "data"]
        for years, (end, folder) in enumerate(zip(ends, folders, strict=False), start=1):
            if not folder.is_dir():
                log(f"  no installation after {years} years ({folder}): build with this bench/scale.py to keep one")
                continue
            data = self.settled(f"year{years}", end, source=folder)
            archive = data / "archive" / "ledger"
            for op, command in (("report", ("payments", "report")), ("status", ("status",))):
                result = Result(f"{op}-{years}y", TARGETS[f"{op}-{years}y"][0])
                for _ in range(self.repeat):
                    result.runs.append(self.arkops(data, end + timedelta(minutes=13), *command))
                result.extra["archive_months"] = len(list(archive.glob("20*.json")))
                result.extra["ledger_mb"] = round((data / "ledger.json").stat().st_size / MB, 2)
                result.extra["archive_mb"] = round(sum(f.stat().st_size for f in archive.rglob("*.json")) / MB, 2)
                result.extra["files_written"] = sorted({f for r in result.runs for f in r.written})
                result.notes.append(
                    f"ledger.json {result.extra['ledger_mb']} MB, {result.extra['archive_months']} archive months "
                    f"({result.extra['archive_mb']} MB)"
                )
                self.add(result)

    def op_list(self, result: Result) -> None:
        now = self.end + timedelta(minutes=13)
        for _ in range(self.repeat):
            result.runs.append(self.arkops(self.scratch, now, "trials", "list", "--format", "json"))
        try:
            rows = len(json.loads(result.runs[0].out))
        except ValueError:
            rows = self.manifest["counts"]["trials"]
        for _ in range(self.repeat):
            result.yardstick.append(self.yard("list", rows=rows))
        result.extra["rows"] = rows
        result.extra["files_written"] = sorted({f for r in result.runs for f in r.written})
        result.notes.append(f"{rows} trials listed (of {self.manifest['counts']['trials']} signed up)")
        for measured in result.runs:
            measured.out = measured.out[:300]
        self.add(result)

    def op_bulk(self, _: Result) -> None:
        """A new installation: import 120 days of trials, then the first track and nudge, under concurrent signups."""
        results = {op: Result(op, TARGETS[op][0]) for op in ("bulk-import", "bulk-track", "bulk-nudge")}
        now = self.end
        trials = bulk_trials(self.bulk_scale, now.timestamp())
        activity = [r for t in trials for r in t.activity_records(now.timestamp())]
        files = [self.work / "bulk-signups.json", self.work / "bulk-activity.json"]
        write_json(files[0], [t.signup_record() for t in trials])
        write_json(files[1], activity)
        for rep in range(self.bulk_repeat):
            data = self.work / f"bulk{rep}"
            if data.exists():
                shutil.rmtree(data)
            data.mkdir(mode=0o700)
            for command in ("import", "track", "nudge"):
                args = ["trials", "import", *map(str, files)] if command == "import" else ["trials", command]
                self.contended(results[f"bulk-{command}"], data, now, args, f"w{rep}{command[0]}")
            shutil.rmtree(data, ignore_errors=True)
        nudge = results["bulk-nudge"]
        counts = re.search(r"(\d+) emails? queued(?:, (\d+) skipped)?", nudge.runs[0].err) if nudge.runs else None
        queued = int(counts.group(1)) if counts else 0
        skipped = int(counts.group(2) or 0) if counts else 0
        for _ in range(self.bulk_repeat):
            db = self.work / "yardstick-bulk.sqlite"
            db.unlink(missing_ok=True)
            con = sqlite3.connect(db)
            con.executescript("pragma journal_mode=wal;" + SCHEMA)
            con.execute("insert into jobs values ('trials-nudge', '{}')")
            con.commit()
            con.close()
            results["bulk-import"].yardstick.append(
                self.yard("import", db, signups=str(files[0]), activity=str(files[1]))
            )
            results["bulk-track"].yardstick.append(self.yard("track", db))
            nudge.yardstick.append(self.yard("nudge", db, queued=queued, skipped=skipped))
        results["bulk-import"].notes.append(f"{len(trials)} trials, {len(activity)} activity records")
        nudge.notes.append(f"{queued} emails queued, {skipped} steps skipped as too late")
        for result in results.values():
            worst = max((longest_trials_hold(r["longest_lock_hold_s"]) for r in result.extra["runs"]), default=0)
            others = max((max(r["longest_lock_hold_s"].values(), default=0) for r in result.extra["runs"]), default=0)
            wait = max((r["longest_signup_s"] or 0 for r in result.extra["runs"]), default=0)
            failures = sum(r["signup_failures"] for r in result.extra["runs"])
            result.extra["longest_trials_lock_s"] = worst
            result.extra["longest_data_lock_s"] = others
            result.extra["longest_signup_s"] = wait
            result.notes.append(
                f"trials lock held up to {worst:.2f} s (any data lock: {others:.2f} s); "
                f"signups meanwhile: longest {wait:.2f} s, {failures} failed"
            )
            self.add(result)

    def contended(self, result: Result, data: Path, now: datetime, args: list[str], prefix: str) -> None:
        """Run one command while another process signs up a trial every 0.2 s and this one polls the data locks."""
        probe = LockProbe(data / "locks")
        signups = SignupLoop(self, data, now, prefix)
        probe.start()
        signups.start()
        sent = self.smtp.count()
        result.runs.append(self.arkops(data, now, *args))
        signups.stop()
        probe.stop()
        result.extra.setdefault("runs", []).append(
            {
                "longest_lock_hold_s": probe.longest(),
                "signups": len(signups.waits),
                "signup_failures": signups.failures,
                "longest_signup_s": max(signups.waits, default=None),
                "median_signup_s": statistics.median(signups.waits) if signups.waits else None,
                "summary": result.runs[-1].err.strip()[-300:],
                "emails_sent": self.smtp.count() - sent,
            }
        )

    def close(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)


class LockProbe(threading.Thread):
    """Polls every data lock under locks/ (flock, non-blocking) every 5 ms: how long each stayed held by someone.

    Job locks (`job-*`) are held for a whole job run by design and are not data locks: they are left out.
    """

    def __init__(self, folder: Path) -> None:
        super().__init__(daemon=True)
        self.folder = folder
        self.halt = threading.Event()
        self.holds: dict[str, list[float]] = {}

    def run(self) -> None:
        handles: dict[str, int] = {}
        since: dict[str, float | None] = {}
        looked = 0.0
        while not self.halt.is_set():
            if time.perf_counter() - looked > 0.2 and self.folder.is_dir():  # new lock files appear as data is written
                looked = time.perf_counter()
                for path in self.folder.glob("*.lock"):
                    if path.stem not in handles and not path.stem.startswith("job-"):
                        handles[path.stem] = os.open(path, os.O_RDWR)
                        since[path.stem] = None
                        self.holds.setdefault(path.stem, [])
            for name, handle in handles.items():
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    since[name] = since[name] or time.perf_counter()
                    continue
                fcntl.flock(handle, fcntl.LOCK_UN)
                if (began := since[name]) is not None:
                    self.holds[name].append(time.perf_counter() - began)
                    since[name] = None
            time.sleep(0.005)
        for name, began in since.items():
            if began is not None:
                self.holds[name].append(time.perf_counter() - began)
        for handle in handles.values():
            os.close(handle)

    def stop(self) -> None:
        self.halt.set()
        self.join()

    def longest(self) -> dict[str, float]:
        return {name: round(max(holds), 3) for name, holds in sorted(self.holds.items()) if holds}


def longest_trials_hold(holds: dict[str, float]) -> float:
    """The longest hold of the trials data (its lock, or the locks of its files once they are split)."""
    return max((seconds for name, seconds in holds.items() if name.startswith("trials")), default=0.0)


class SignupLoop(threading.Thread):
    """Another process signs a trial up every 0.2 s (the web app), each waiting for the trials lock."""

    def __init__(self, bench: Bench, data: Path, now: datetime, prefix: str) -> None:
        super().__init__(daemon=True)
        self.bench, self.data, self.now, self.prefix = bench, data, now, prefix
        self.halt = threading.Event()
        self.waits: list[float] = []
        self.failures = 0

    def run(self) -> None:
        n = 0
        while not self.halt.is_set():
            result = run(
                [*arkops_command(), "trials", "signup", f"{self.prefix}-{n}@example.com", "--plan", "pro"],
                env=self.bench.env(self.data, self.now),
                cwd=self.bench.root,
            )
            self.waits.append(result.seconds)
            self.failures += result.code != 0
            n += 1
            self.halt.wait(0.2)

    def stop(self) -> None:
        self.halt.set()
        self.join()


# --- Report ------------------------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "NO")


def table(results: list[Result]) -> list[str]:
    lines = [
        "| operation | arkops median s | CPU median s | peak MB | sqlite3 s | ratio | target | ok? |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    by_op = {r.op: r for r in results}
    for result in results:
        median, sqlite = result.median, result.sqlite
        ratio = "n/a" if median is None or not sqlite else f"{median / sqlite:.{1 if median < 10 * sqlite else 0}f}x"
        _, limit, target = TARGETS[result.op]
        memory_ok = result.peak_mb is not None and result.peak_mb < MEMORY_TARGET_MB
        ok: bool | None = None
        if median is None:
            ok = False
        elif limit is not None:
            ok = median < limit and memory_ok
        elif result.op == "tick10" and "added_s" in result.extra:
            ok = result.extra["added_s"] < ACTIVATIONS_TARGET_S and memory_ok
        else:
            ok = memory_ok
        if result.op.startswith("bulk-"):
            ok = bool(ok) and result.extra.get("longest_data_lock_s", 0) <= LOCK_TARGET_S
            target = (target + ", " if target != "(none)" else "") + "no lock > 2 s"
        if result.op == "tick10" and "added_s" in result.extra:
            target = f"adds < 0.2 s (adds {result.extra['added_s']:.2f} s)"
        target += f", < {MEMORY_TARGET_MB} MB"
        failed = [r.code for r in result.runs if r.code != 0]
        label = result.what + (f" (exit {failed[0]} in {len(failed)} of {len(result.runs)} runs)" if failed else "")
        lines.append(
            f"| {label} | {fmt(median)} | {fmt(result.cpu)} | {fmt(result.peak_mb, 0)} | {fmt(sqlite, 3)} | {ratio} | "
            f"{target} | {verdict(ok)} |"
        )
    for op in ("bulk-import", "bulk-track", "bulk-nudge"):
        if op in by_op:
            extra = by_op[op].extra
            lines.append(
                f"| {op}: longest hold of the trials lock / of any data lock; longest signup meanwhile | "
                f"{fmt(extra.get('longest_trials_lock_s'))} / {fmt(extra.get('longest_data_lock_s'))}; "
                f"{fmt(extra.get('longest_signup_s'))} | | | | | locks <= 2 s | "
                f"{verdict(extra.get('longest_data_lock_s', 99) <= LOCK_TARGET_S)} |"
            )
    return lines


def size_table(manifest: dict, data: Path) -> list[str]:
    history = manifest["size_history"]
    final = file_sizes(data)
    columns = list(history)
    names = sorted(set(final) | {n for sizes in history.values() for n in sizes})
    lines = [
        "| file | " + " | ".join(f"{c} (MB)" for c in columns) + " | kind |",
        "| --- | " + " | ".join("---:" for _ in columns) + " | --- |",
    ]
    kinds: dict[str, str] = {}
    for name in names:
        kind = "archive" if re.search(r"archive|\d{4}-\d{2}", name) else "hot"
        kinds[name] = {"locks": "lock", "cache": "cache"}.get(name.partition("/")[0], kind)
        sizes = [history[c].get(name) for c in columns]
        lines.append(
            f"| {name} | "
            + " | ".join(fmt(s / MB if s is not None else None, 3) for s in sizes)
            + f" | {kinds[name]} |"
        )
    for kind in ("hot", "archive", "cache"):
        if kind in kinds.values():
            sums = [sum(size for n, size in history[c].items() if kinds.get(n) == kind) / MB for c in columns]
            count = sum(1 for k in kinds.values() if k == kind)
            lines.append(f"| all {kind} files ({count}) | " + " | ".join(f"{t:.3f}" for t in sums) + " | |")
    total = [sum(history[c].values()) / MB for c in columns]
    lines.append("| **total** | " + " | ".join(f"{t:.3f}" for t in total) + " | |")
    return lines


def machine() -> dict:
    cpu = ""
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version(), "load": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size (default 1.0)")
    parser.add_argument("--keep", type=Path, help="build the installation here and keep it")
    parser.add_argument("--reuse", type=Path, help="measure an installation kept by --keep (no build)")
    parser.add_argument("--json", type=Path, help="save the raw results here")
    parser.add_argument("--repeat", type=int, default=5, help="runs per operation (default 5)")
    parser.add_argument(
        "--bulk-repeat", type=int, default=1, help="runs of the bulk import and first track (default 1)"
    )
    parser.add_argument(
        "--bulk-scale", type=float, help="size of the bulk import (a new installation), as a fraction (default --scale)"
    )
    parser.add_argument("--ops", default=",".join(OPS), help=f"operations to measure (default all: {','.join(OPS)})")
    options = parser.parse_args()
    ops = [op for op in options.ops.split(",") if op]
    unknown = set(ops) - set(OPS)
    if unknown:
        parser.error(f"unknown operations: {', '.join(sorted(unknown))}")
    if options.keep and options.reuse:
        parser.error("--keep and --reuse are exclusive")
    load_before = os.getloadavg()
    temporary = None
    if options.reuse:
        root = options.reuse.resolve()
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
        log(f"reusing {root} (scale {manifest['scale']}, built by {manifest['arkops']})")
    else:
        if options.keep:
            root = options.keep.resolve()
            if root.exists() and any(root.iterdir()):
                parser.error(f"{root} is not empty")
        else:
            temporary = Path(tempfile.mkdtemp(prefix="arkops-scale-"))
            root = temporary / "installation"
    smtp = SmtpServer(root / "smtp")
    bench = None
    try:
        if not options.reuse:
            world = World(options.scale)
            manifest = build(root, world, smtp, options.scale)
            del world
        load_measure = os.getloadavg()
        bulk_scale = options.bulk_scale if options.bulk_scale is not None else manifest["scale"]
        bench = Bench(root, manifest, smtp, options.repeat, options.bulk_repeat, bulk_scale)
        floor = bench.floor()
        for op in ops:
            bench.measure(op)
        results = bench.results
    finally:
        if bench:
            bench.close()
        smtp.stop()
    info = machine()
    counts = manifest["counts"]
    lines = [
        f"Scale {manifest['scale']}: {counts['trials']:,} trials ({counts['activity_records']:,} activity records), "
        f"{counts['emails_sent']:,} emails sent, {counts['subscriptions']:,} subscriptions "
        f"({counts['churned_subscriptions']:,} churned), {counts['invoices']:,} invoices, "
        f"{counts['stripe_events']:,} Stripe events; built in {manifest['build_seconds']:.0f} s "
        f"({', '.join(f'{k} {v:.0f} s' for k, v in manifest['phase_seconds'].items())}).",
        f"arkops from {ARKOPS_HOME}; measured with {options.repeat} runs each (bulk: {options.bulk_repeat} at scale "
        f"{bench.bulk_scale}); "
        f"{info['cpus']} CPUs ({info['cpu']}), Python {info['python']}; load average "
        f"{load_before[0]:.2f} before, {load_measure[0]:.2f} when measuring started, {os.getloadavg()[0]:.2f} after; "
        f"a process doing nothing: {', '.join(f'{k} {v:.3f} s' for k, v in floor.items())} (medians of 5).",
        "",
        *table(results),
        "",
        "Data files (MB) at the end of each year of the build:",
        "",
        *size_table(manifest, root / "data"),
    ]
    print("\n".join(lines))
    if options.json:
        write_json(
            options.json,
            {
                "manifest": {k: v for k, v in manifest.items() if k != "size_history"},
                "size_history": manifest["size_history"],
                "machine": info | {"load_before": load_before, "load_measuring": load_measure, "floor": floor},
                "first_tick_on_each_copy_s": bench.warmups if bench else [],
                "results": [r.as_json() for r in results],
            },
        )
    if temporary:
        shutil.rmtree(temporary, ignore_errors=True)


if __name__ == "__main__":
    main()
