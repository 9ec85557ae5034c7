"""What a domain brings, declared in one place.

Each domain package (`arkops/core/<domain>/__init__.py`) holds one `Domain`:
its command groups, its databases and the personal data they hold, its cron
jobs, its doctor checks, its demo part, the messages it sends and its
keys of arkops.toml. Code is
named by `"module:attribute"` strings and imported only when used, so the
declarations stay cheap to read: `arkops --help` reads every one of them
without importing any domain code.

`arkops.core.registry.DOMAINS` lists the domain packages;
docs/architecture.md, "Adding a domain", walks through a new one. The declarations are
NamedTuples: immutable, and several times cheaper to define than
dataclasses on the `--help` path.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple, Protocol, runtime_checkable


def resolve(target: str) -> Any:
    """The object a `"package.module:attribute"` string names."""
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


class Database(NamedTuple):
    """A data file the domain owns.

    `personal` maps every table the database writes to the fields that
    hold personal data (emails, names, IP addresses, message bodies): what
    `privacy export` and `forget` must reach; `_key` stands for the
    document's own key (an idempotency key such as `trial:<email>:day7`),
    and `()` says, explicitly, that a table holds nobody. A table left out
    fails the privacy test, which seeds every store and reads their files.
    `migrations` names a `{version: function}` dict that brings an older
    file up to `version`, imported only when a migration runs. `archive`
    says finished records move to `archive/<name>/<YYYY-MM>.json`
    (`arkops.store.archive`), which privacy commands must reach too.
    A "jsonl" database's files are `<name>.jsonl` and `<name>/**/*.jsonl`,
    written under the lock `<name>.jsonl`; its `personal` fields apply to
    every line. `arkops.core.privacy.service` reaches every declared field
    with no code of the domain's own, unless `forget`/`export` name some.
    """

    name: str
    version: int
    personal: dict[str, tuple[str, ...]]
    kind: str = "tinydb"  # or "jsonl" for high-volume append-only records
    migrations: str | None = None
    archive: bool = False
    # Privacy (`arkops.core.privacy`): a store whose records cannot simply be deleted names its own
    # handling, a function `(rt, person) -> dict[str, int]` (e.g. billing keeps invoices under a pseudonym).
    forget: str | None = None
    # ... and one whose records link to the person by something else (a customer id, a visitor id) names its
    # own export, a function `(rt, person) -> {table: {key: document}}`.
    export: str | None = None
    # For kind "jsonl": the `[table] key` of arkops.toml saying how many days of day files
    # (`<name>/YYYY-MM-DD.jsonl`) to keep; `arkops privacy purge` removes older ones.
    keep_days: str | None = None


@runtime_checkable
class JobOutcome(Protocol):
    """What a job's function returns: the line `arkops run` prints and records, and the counts behind it.

    The command that does the same work prints the same `summary()`;
    `counts()` feeds `arkops jobs --format json` and the job history.
    """

    def summary(self) -> str: ...

    def counts(self) -> dict[str, int]: ...


class Job(NamedTuple):
    """A cron job run by `arkops run`.

    `run` names a function `(rt, *, now) -> JobOutcome`. It raises on failure.
    """

    name: str
    description: str
    run: str
    every_minutes: int | None = None
    daily_at: str | None = None  # "HH:MM", local time
    weekday: int | None = None  # with daily_at: only on this day of the week (0 = Monday), once a week
    order: int = 50  # lower runs first within a tick (mail-flush runs last, to send what others queued)
    skip_reason: str | None = None  # names a function (rt) -> str | None, e.g. "no STRIPE_SECRET_KEY set"


class DoctorCheck(NamedTuple):
    """A `doctor` check: names a function `(rt) -> Check | list[Check]` (`arkops.core.doctor.Check`).

    `needs` is the doctor option that turns on a check reaching an outside
    service (`smtp`, `stripe`); None runs it always.
    """

    target: str
    order: int = 50
    needs: str | None = None


class DemoPart(NamedTuple):
    """Names a function `(world) -> None` that feeds the domain's share of the demo business.

    `after_jobs` runs it once the demo's jobs have run (the operator's report shows their outcome).
    """

    build: str
    order: int = 50
    after_jobs: bool = False


class Retention(NamedTuple):
    """A rule of the daily `retention` job (and `arkops retention`): archives or removes what is past its age.

    `target` names a function `(rt, *, now) -> dict[str, int]`: how many
    records of each kind it moved or removed ("trials archived": 812). It
    works in bounded batches, writes nothing under `--dry-run` (it only
    counts), and is safe to kill and run again.
    """

    target: str
    order: int = 50


class SectionPart(NamedTuple):
    """Names a function that gives the domain's sections of `arkops status` or of the HTML report.

    For `Domain.status`: `(rt, *, now) -> list[Section]`, read-only and fast
    (it runs on a read-only store: no lock, no migration written, no cache
    written); for `Domain.report`: `(rt, *, now, months) -> list[Section]`.
    `Section` and its parts are plain data (`arkops.core.sections`); the
    status screen, its JSON, the HTML report and the weekly email render
    them generically. `order` places the sections among the other domains'.
    """

    target: str
    order: int = 50


class Message(NamedTuple):
    """An email (or chat alert) a domain sends, as its `messages.py` declares it.

    `category` says who reads it and what they agreed to: "operator" (alerts
    to you), "transactional" (what a customer's own action or account
    needs: receipts, failed payments, quota reached: sent whatever their
    marketing consent), "lifecycle" (trial nudges, quota warnings,
    announcements: never to an address on the suppression list, and with
    an unsubscribe link). `sample` holds a value for every variable the
    template takes: `doctor`, `mail preview` and the tests render with it,
    never a send. `optional` names the variables a sender may leave out,
    with the default they then take; every other variable of `sample` is
    required, and a variable not in `sample` is refused. Every template
    also receives `recipient`, `locale`, `product`, `product_url`,
    `support_email`, `postal_address`, `unsubscribe_url` and, in HTML,
    `subject`.
    """

    category: str
    sample: dict[str, Any]
    optional: dict[str, Any] = {}  # noqa: RUF012 (never mutated)

    @property
    def for_operator(self) -> bool:
        return self.category == "operator"

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(name for name in self.sample if name not in self.optional)

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(self.sample)


class Domain(NamedTuple):
    name: str
    summary: str
    commands: dict[str, str] = {}  # noqa: RUF012 (never mutated)  command name -> "arkops.cli.module:app or function"
    databases: tuple[Database, ...] = ()
    jobs: tuple[Job, ...] = ()
    checks: tuple[DoctorCheck, ...] = ()
    demo: DemoPart | None = None
    templates: str | None = None  # names a `dict[str, Message]`: the templates it sends (templates/<locale>/<name>.*)
    retention: tuple[Retention, ...] = ()
    status: SectionPart | None = None  # its sections of `arkops status`
    report: SectionPart | None = None  # its sections of the HTML report and the weekly email
    order: int = 50  # position of its commands in `arkops --help`
    # Commands that change data ("trials import", "init"): each run appends a line to the audit log.
    audited: tuple[str, ...] = ()
    # Its keys of arkops.toml: names a `dict[str, arkops.config.Spec]` ({"trials": Table(...)}), read when a
    # config is first parsed, so `arkops --help` never builds them.
    config: str | None = None
