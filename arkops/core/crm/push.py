"""`crm push` and the `crm-sync` job: send the people who changed since the last push, then their new notes.

The cursor (`crm.json`) holds, per email, the fingerprint of what was last
sent and the provider's id, the notes already sent, and when the last push
ran and what its sources looked like. A run whose sources (trials, leads,
ledger, promo, privacy files) are as the last complete push found them
reads nothing else and writes nothing. Otherwise it builds everyone
(`people.gather`), leaves out erased addresses, and sends each person
whose fingerprint changed (all changed since `--since` with that option)
in the provider's batches, recording each batch as soon as the provider
answers: a push killed at any point resumes on the next run, and a batch
sent twice is an upsert by email, never a second person. Notes are
journalled (`inflight`) before their request; the next run looks for their
marker on the person before sending any again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from arkops.clock import iso
from arkops.config import env
from arkops.core.crm import CRM_DB
from arkops.core.crm.people import Person, gather
from arkops.core.progress import Progress, silent
from arkops.errors import ArkopsError, ConfigError, DataError
from arkops.runtime import Runtime
from arkops.sources.crm import PROVIDERS, Note, Provider, open_provider
from arkops.sources.ratelimit import Pacer, RateLimited

PEOPLE, NOTES, INFLIGHT, REFUSED, META = "people", "notes", "inflight", "refused", "meta"
CURSOR = "cursor"
SOURCES = ("trials", "leads", "ledger", "promo", "privacy")  # the files a person is built from
LIBRARIES = {"hubspot": ("hubspot", "hubspot-api-client")}  # provider -> (module, PyPI name); Pipedrive needs none


@dataclass
class PushReport:
    dry_run: bool = False
    sent: int = 0
    created: int = 0
    unchanged: int = 0
    notes: int = 0
    notes_found: int = 0  # notes a killed push had sent, found on the person instead of sent again
    refused: int = 0
    erased: int = 0
    forgotten: int = 0  # CRM deletions `privacy forget` queued, made now
    waited: float = 0.0
    nothing_new: bool = False
    stopped: str | None = None
    refusals: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "sent": self.sent,
            "created": self.created,
            "unchanged": self.unchanged,
            "notes": self.notes,
            "notes_found": self.notes_found,
            "refused": self.refused,
            "erased": self.erased,
            "forgotten": self.forgotten,
        }

    def summary(self) -> str:
        if self.nothing_new:
            return "nothing changed since the last push"
        verb = "would send" if self.dry_run else "sent"
        line = f"{verb} {self.sent} people ({self.created} new), {self.notes} notes; {self.unchanged} unchanged"
        if self.notes_found:
            line += f"; {self.notes_found} notes of an interrupted push found already there"
        if self.refused:
            line += f"; {self.refused} refused (see `arkops crm status`)"
        if self.erased:
            line += f"; {self.erased} erased addresses left out"
        if self.forgotten:
            line += f"; {self.forgotten} queued CRM deletions made"
        if self.waited >= 0.5:
            line += f"; waited {self.waited:.0f} s for rate limits"
        if self.stopped:
            line += f"; stopped: {self.stopped} (the next push resumes)"
        return line


def missing_setup(rt: Any) -> str | None:
    """What keeps a push from running: no provider chosen, its token, or its library (one line), else None."""
    provider = rt.config["crm"]["provider"]
    if not provider:
        return 'no [crm] provider set in arkops.toml ("hubspot" or "pipedrive")'
    _, token_name, _, _ = PROVIDERS[provider]
    if not env(token_name):
        return f"no {token_name} set (in the environment or .env)"
    return missing_library(provider)


def missing_library(provider: str) -> str | None:
    import importlib.util

    if provider in LIBRARIES and importlib.util.find_spec(LIBRARIES[provider][0]) is None:
        return f"{LIBRARIES[provider][1]} is not installed: pip install 'arkops[crm]'"
    return None


def connect(rt: Runtime) -> Provider:
    """The configured provider, paced by `[crm]`'s limits; DataError (exit 3) naming what is missing."""
    settings = rt.config["crm"]
    if not settings["provider"]:
        raise ConfigError(rt.config.path, "crm.provider", 'no CRM provider set ("hubspot" or "pipedrive")')
    problem = missing_setup(rt)
    if problem:
        raise DataError(f"crm: {problem}")
    name = settings["provider"]
    _, token_name, base_name, default_base = PROVIDERS[name]
    pacer = Pacer(name, limit=settings["requests_per_10s"], window=10.0, max_wait=settings["max_wait_seconds"])
    return open_provider(
        name, token=env(token_name), base=env(base_name) or default_base, settings=settings[name], pacer=pacer
    )


def _sources(rt: Runtime) -> dict[str, list[int] | None]:
    found: dict[str, list[int] | None] = {}
    for name in SOURCES:
        try:
            stat = rt.store.path(name).stat()
        except FileNotFoundError:
            found[name] = None
            continue
        found[name] = [stat.st_mtime_ns, stat.st_size]
    return found


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _check_setup(rt: Runtime, *, dry_run: bool) -> None:
    if not rt.config["crm"]["provider"]:
        raise ConfigError(rt.config.path, "crm.provider", 'no CRM provider set ("hubspot" or "pipedrive")')
    if not dry_run and (problem := missing_setup(rt)):
        raise DataError(f"crm: {problem}")


def push(
    rt: Runtime, *, now: datetime, since: datetime | None = None, dry_run: bool = False, progress: Progress = silent
) -> PushReport:
    """Send what changed since the last push (see the module); `dry_run` only counts, with no token needed."""
    report = PushReport(dry_run=dry_run)
    _check_setup(rt, dry_run=dry_run)
    sources = _sources(rt)
    with rt.store.transaction(CRM_DB) as db:
        cursor = db.get(META, CURSOR) or {}
        inflight = dict(db.items(INFLIGHT))
        waiting = db.get(META, "forget")  # deletions `privacy forget` queued (`crm.privacy`)
    if since is None and not (inflight or waiting) and cursor.get("complete") and cursor.get("sources") == sources:
        report.nothing_new = True
        return report
    provider = None if dry_run else connect(rt)  # its client library is imported only when there is work
    if provider is not None:
        from arkops.core.crm.privacy import retry_pending

        report.forgotten = retry_pending(rt, provider)
        if inflight:
            _recover(rt, provider, inflight, report)
    with rt.store.transaction(CRM_DB) as db:
        sent = {key: dict(doc) for key, doc in db.items(PEOPLE)}
        noted = {key for key, _ in db.items(NOTES)}
    start = iso(since) if since else None
    # Finished trials sit in the archive: read until one complete push has sent them, and under --since.
    archived = since is not None or not cursor.get("full")
    people = gather(rt, now=now, archived=archived)
    todo, notes = _changes(rt, people, sent, noted, start, report)
    if provider is None:
        report.sent, report.notes = len(todo), len(notes)
        return report
    failure = _send(rt, provider, todo, notes, sent, report, progress)
    with rt.store.transaction(CRM_DB) as db:
        db.put(
            META,
            CURSOR,
            {
                "at": iso(now),
                "complete": report.stopped is None,
                "full": bool(cursor.get("full")) or (archived and report.stopped is None),
                "sources": sources if report.stopped is None else None,
                "provider": provider.name,
                "counts": report.counts(),
                "stopped": report.stopped,
            },
        )
    if failure is not None:
        raise failure
    return report


def _send(
    rt: Runtime,
    provider: Provider,
    todo: list[tuple[Person, str]],
    notes: list[Note],
    sent: dict[str, dict],
    report: PushReport,
    progress: Progress,
) -> ArkopsError | None:
    """People, then their notes; the failure that stopped them (the push records it before raising it)."""
    try:
        _send_people(rt, provider, todo, sent, report, progress)
        _send_notes(rt, provider, notes, sent, report, progress)
    except RateLimited as exc:  # not a failure: the next run resumes where this one stopped
        report.stopped = str(exc)
    except ArkopsError as exc:  # the CRM refused or is down: recorded for `crm status`, then the job fails
        report.stopped = str(exc)
        return exc
    finally:
        report.waited = getattr(getattr(provider, "pacer", None), "waited", 0.0)
    return None


def _changes(
    rt: Runtime,
    people: dict[str, Person],
    sent: dict[str, dict],
    noted: set[str],
    start: str | None,
    report: PushReport,
) -> tuple[list[tuple[Person, str]], list[Note]]:
    from arkops.core.privacy import erased

    todo: list[tuple[Person, str]] = []
    notes: list[Note] = []
    for email in sorted(people):
        who = people[email]
        if erased(rt, email):
            report.erased += 1
            continue
        fingerprint = who.fingerprint()
        before = sent.get(email)
        if before is None or before.get("fp") != fingerprint or (start is not None and who.changed_at >= start):
            todo.append((who, fingerprint))
        else:
            report.unchanged += 1
        notes += [note for note in who.notes if note.key not in noted]
    return todo, notes


def _send_people(
    rt: Runtime,
    provider: Provider,
    todo: list[tuple[Person, str]],
    sent: dict[str, dict],
    report: PushReport,
    progress: Progress,
) -> None:
    done = 0
    for batch in _chunks(todo, provider.batch_size):
        known = {who.email: sent[who.email]["id"] for who, _ in batch if sent.get(who.email, {}).get("id")}
        result = provider.upsert([who.contact() for who, _ in batch], known)
        stamp = iso(rt.now())
        with rt.store.transaction(CRM_DB) as db:
            for who, fingerprint in batch:
                if who.email in result.ids:
                    sent[who.email] = {"fp": fingerprint, "id": result.ids[who.email], "at": stamp}
                    db.put(PEOPLE, who.email, sent[who.email])
                    db.delete(REFUSED, who.email)
                elif who.email in result.refused:
                    db.put(REFUSED, who.email, {"reason": result.refused[who.email][:300], "at": stamp})
        report.sent += len(result.ids)
        report.created += result.created
        report.refused += len(result.refused)
        report.refusals += [f"{email}: {reason}" for email, reason in result.refused.items()]
        done += len(batch)
        progress("crm: people", done, len(todo))


def _send_notes(
    rt: Runtime, provider: Provider, notes: list[Note], sent: dict[str, dict], report: PushReport, progress: Progress
) -> None:
    ready = [(note, sent[note.email]["id"]) for note in notes if sent.get(note.email, {}).get("id")]
    done = 0
    for batch in _chunks(ready, provider.batch_size):
        with rt.store.transaction(CRM_DB) as db:  # journalled first: a push killed in the request finds them
            for note, person in batch:
                db.put(INFLIGHT, note.key, {"person": person, "marker": note.marker})
        made = provider.add_notes(batch)
        stamp = iso(rt.now())
        with rt.store.transaction(CRM_DB) as db:
            for note, _ in batch:
                db.put(NOTES, note.key, {"id": made.get(note.key, ""), "at": stamp})
                db.delete(INFLIGHT, note.key)
        report.notes += len(batch)
        done += len(batch)
        progress("crm: notes", done, len(ready))


def _recover(rt: Runtime, provider: Provider, inflight: dict[str, dict], report: PushReport) -> None:
    """Notes whose request a killed push sent: those found on their person are recorded, the rest sent again."""
    bodies: dict[str, set[str]] = {}
    found = []
    for key, entry in inflight.items():
        person = entry["person"]
        if person not in bodies:
            bodies[person] = provider.noted(person)
        if any(entry["marker"] in body for body in bodies[person]):
            found.append(key)
    stamp = iso(rt.now())
    with rt.store.transaction(CRM_DB) as db:
        for key in found:
            db.put(NOTES, key, {"id": "", "at": stamp, "found": True})
        for key in inflight:
            db.delete(INFLIGHT, key)
    report.notes_found = len(found)


def push_now(rt: Runtime, *, now: datetime, since: datetime | None, dry_run: bool, progress: Progress) -> PushReport:
    """`arkops crm push`: the job's work under its lock (a scheduled run in progress: exit 75)."""
    if dry_run:
        return push(rt, now=now, since=since, dry_run=True, progress=progress)
    with rt.store.job_lock("crm-sync"):
        return push(rt, now=now, since=since, progress=progress)


def sync_job(rt: Runtime, *, now: datetime) -> PushReport:
    """The `crm-sync` job (every 15 minutes): `arkops run` already holds the job lock."""
    return push(rt, now=now, dry_run=rt.dry_run)


def setup(rt: Runtime) -> list[str]:
    """`arkops crm setup`: create the custom fields (idempotent); the names created."""
    return connect(rt).setup()


def status(rt: Runtime) -> dict[str, Any]:
    """`arkops crm status`: the cursor, the last push, what is in flight and every refused record."""
    if not rt.store.path(CRM_DB.name).exists():
        cursor, people, notes, inflight, refused = {}, 0, 0, 0, []
    else:
        with rt.store.transaction(CRM_DB) as db:
            cursor = db.get(META, CURSOR) or {}
            people = len(db.items(PEOPLE))
            notes = len(db.items(NOTES))
            inflight = len(db.items(INFLIGHT))
            refused = [{"email": key, **doc} for key, doc in db.items(REFUSED)]
    return {
        "provider": rt.config["crm"]["provider"] or None,
        "setup": missing_setup(rt),
        "last_push": cursor.get("at"),
        "complete": cursor.get("complete"),
        "stopped": cursor.get("stopped"),
        "last_counts": cursor.get("counts") or {},
        "people": people,
        "notes": notes,
        "inflight": inflight,
        "refused": sorted(refused, key=lambda r: r["email"]),
    }
