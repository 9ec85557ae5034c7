"""`arkops demo`'s synthetic world: its people, their trials and subscriptions, the same on every run.

Each domain declares a demo part (`DemoPart` in its `DOMAIN`) that turns
this shared world into that domain's inputs, written and applied through
the same paths as real data (the web app's JSON files, Stripe events
through `apply(event)`). The domains import this module; `run` builds the
workspace and runs the parts, and is the only one that imports domains.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from arkops.runtime import Runtime

DEMO_NOW = datetime(2026, 10, 15, 9, 30, tzinfo=UTC)  # the demo is frozen at this instant
DAYS = 120
SEED = 20261015
MARKER = ".arkops-demo"

DEMO_CONFIG = """\
# arkops demo workspace: a synthetic business, frozen at {now} (see .env).
timezone = "Europe/Paris"
currency = "EUR"
locale = "en"

[trials]
upgrade_url = "https://demo.example/upgrade"
demo_url = "https://demo.example/book-a-call"

[product]
name = "Acme Watch"
url = "https://demo.example"
support_email = "help@demo.example"

[fx]
USD = 0.92

[leads]
sources = ["app/access.log*"]

[goals]
mrr = 100000
"""

DEMO_ENV = """\
# The demo is frozen in time so that every command agrees with its summary.
ARKOPS_NOW={now}
MAIL_FROM=ops@demo.example
ARKOPS_ALERT_TO=founder@demo.example
"""


@dataclass
class Person:
    email: str
    plan: str
    interval: str  # month or year
    source: str
    locale: str
    signed_up_at: datetime | None  # None: a customer from before the trials
    activity: list[tuple[datetime, str, int]] = field(default_factory=list)
    pays_from: datetime | None = None
    upgrade_at: datetime | None = None
    cancel_at: datetime | None = None
    failed_payment: bool = False
    refund: bool = False


@dataclass
class World:
    now: datetime
    rng: random.Random
    workspace: Path
    rt: Runtime
    people: list[Person]
    lines: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # what parts made for people to open (relative paths)
    figures: dict[str, dict] = field(default_factory=dict)  # a domain's figures for the summary, by its name


PLANS = ["starter", "pro", "business"]
SOURCES = ["google", "newsletter", "producthunt", "twitter", "direct"]


def make_people(rng: random.Random, now: datetime) -> list[Person]:
    """Twelve customers paying since before the window, seventy trials signed up in it, and the stories
    every operator meets; the same people on every run (`rng` is seeded)."""
    people = [_earlier_customer(rng, now, n) for n in range(12)]
    start = now - timedelta(days=DAYS)
    people += [_trial(rng, now, start, n) for n in range(70)]
    _stories(people, rng, now)
    return people


def _earlier_customer(rng: random.Random, now: datetime, n: int) -> Person:
    began = now - timedelta(days=rng.randint(DAYS + 10, DAYS + 300))
    return Person(
        f"customer{n:02d}@acme-clients.example",
        rng.choice(PLANS),
        "year" if n % 4 == 0 else "month",
        "direct",
        "fr" if n % 3 == 0 else "en",
        None,
        pays_from=began,
    )


def _trial(rng: random.Random, now: datetime, start: datetime, n: int) -> Person:
    """A trial signed up in the window; most use the product for a while, and some of those pay."""
    signed = start + timedelta(days=rng.uniform(0, DAYS - 0.5))
    person = Person(
        f"trial{n:02d}@example.org",
        rng.choices(PLANS, weights=[5, 4, 1])[0],
        "year" if rng.random() < 0.2 else "month",
        rng.choice(SOURCES),
        "fr" if rng.random() < 0.25 else "en",
        signed,
    )
    if rng.random() < 0.7:
        first = signed + timedelta(hours=rng.uniform(1, 60))
        for _ in range(rng.randint(1, 12)):
            moment = first + timedelta(hours=rng.uniform(0, 24 * 12))
            if moment < now:
                person.activity.append(
                    (moment, rng.choice(["watch_created", "api_call", "alert_configured"]), rng.randint(1, 5))
                )
        person.activity.sort()
        if person.activity and rng.random() < 0.45:
            converts = signed + timedelta(days=rng.uniform(3, 14))
            if converts < now:
                person.pays_from = converts
    return person


def _stories(people: list[Person], rng: random.Random, now: datetime) -> None:
    """The stories every operator meets, each given to a monthly payer: an upgrade, a cancellation, a failed
    then recovered payment, a refund."""
    paying = [(p, p.pays_from) for p in people if p.pays_from is not None and p.interval == "month"]
    starter, started = next((p, at) for p, at in paying if p.plan == "starter" and at < now - timedelta(days=70))
    starter.upgrade_at = started + timedelta(days=45)
    leaving = next(p for p, at in paying if p is not starter and at < now - timedelta(days=60))
    leaving.cancel_at = now - timedelta(days=rng.randint(5, 25))
    next(p for p, at in paying if p not in (starter, leaving) and at < now - timedelta(days=40)).failed_payment = True
    next(p for p, _ in reversed(paying) if p not in (starter, leaving) and not p.failed_payment).refund = True


# What the demo creates in its folder; `--force` removes only these, so a file the user put there stays.
