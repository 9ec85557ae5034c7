"""What the funnel needs of each archived trial, kept per archive month so `status` and `funnel report` do not
parse every finished trial's activity and step records as history grows.

An archive month's summary (`archive/trials/summaries/<month>.json`, the store's archive-summary mechanism,
as the ledger's revenue summaries) holds, per trial: its email, source, signup, activation and the conversion
recorded when it was archived. It is written by the retention rule `refresh_summaries` (after
`archive_finished`) and by `arkops retention --rebuild-summaries`; it is trusted only while the month file is
the one it was made from (size and modification time, else its SHA-256): a month rewritten by hand reads
whole until the next retention run. `privacy forget` makes the summaries of the months it rewrote again at
once (`forget`), so none names the person and the funnel's cost does not jump until then.
A conversion after the archive comes from the billing ledger when read, as for a hot trial (`state.refresh`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from arkops.clock import ISO_LENGTH, iso
from arkops.core.trials import TRIALS_DB
from arkops.core.trials.state import TRIALS, conversions, converted_at, hot_trials
from arkops.runtime import Runtime
from arkops.store.archive import Archive

if TYPE_CHECKING:
    from arkops.core.privacy.person import Person

RECIPE = "trials funnel v1"
FIELDS = ("email", "source", "signed_up_at", "activated_at", "converted_at")


def summarize_month(tables: dict[str, dict[str, Any]]) -> list[list[Any]]:
    """One archive month's trials as rows of `FIELDS`."""
    return [[trial.get(name) for name in FIELDS] for trial in tables.get(TRIALS.name, {}).values()]


def refresh_summaries(rt: Runtime, *, now: datetime) -> dict[str, int]:
    """Retention rule: make the summary of every trials archive month that has none, or a stale one."""
    archive = Archive(rt.store, TRIALS_DB)
    stale = [month for month in archive.months() if archive.summary(month, RECIPE) is None]
    if rt.dry_run or not stale:
        return {"trials archive summaries written": len(stale)} if stale else {}
    with rt.store.lock(TRIALS_DB.name, what="database trials.json"):
        for month in stale:
            archive.summarize(month, RECIPE, summarize_month)
    return {"trials archive summaries written": len(stale)}


def forget(rt: Runtime, who: Person, *, now: datetime) -> dict[str, int]:
    """`privacy forget` of trials: the person's trials, activity and steps deleted from `trials.json` and its
    archive months, then the summaries of the months that changed made again (writing a month drops its own)."""
    from arkops.core.privacy.service import forget_documents

    erased = forget_documents(rt, TRIALS_DB, who)
    refresh_summaries(rt, now=now)
    return erased


@dataclass(frozen=True)
class FunnelTrials:
    """The trials the funnel reads: `rows` (see `funnel_trials`), and `sources`, every trial's email to the source
    its signup said, archive included (a person of any window may be named by a trial long finished)."""

    rows: list[dict[str, Any]]
    sources: dict[str, str]


def funnel_trials(rt: Runtime, now: datetime, *, since: datetime | None = None) -> FunnelTrials:
    """Every trial, running or archived, as the funnel reads it: `FIELDS`, the conversion derived as
    `list_trials` derives it, in `list_trials(archived=True)`'s order (signup, then email).

    Hot trials are read whole; archived ones from their month's summary, or the month file when it has none.
    With `since`, `rows` leaves out the trials none of whose moments (signup, activation, conversion) is at
    or after it, which no window from `since` on can place in a stage: the rows to sort and place then grow
    with the windows' trials, not with every trial ever. A moment in another text than `iso()`'s is kept.
    """
    paid = conversions(rt)
    floor = iso(since) if since is not None else ""  # iso() drops the fraction: never later than `since`
    found: list[dict[str, Any]] = []
    sources: dict[str, str] = {}
    for email, source, signed_up_at, activated_at, recorded in _trial_rows(rt):
        if source:
            sources[email] = source
        converted = converted_at(email, signed_up_at, recorded, paid, now) if email in paid else recorded
        if floor and not (
            (signed_up_at and (len(signed_up_at) != ISO_LENGTH or signed_up_at >= floor))
            or (activated_at and (len(activated_at) != ISO_LENGTH or activated_at >= floor))
            or (converted and (len(converted) != ISO_LENGTH or converted >= floor))
        ):
            continue  # every moment before `floor` (written out: this runs once per trial ever)
        found.append(
            {
                "email": email,
                "source": source,
                "signed_up_at": signed_up_at,
                "activated_at": activated_at,
                "converted_at": converted,
            }
        )
    return FunnelTrials(sorted(found, key=lambda t: (t["signed_up_at"], t["email"])), sources)


def _trial_rows(rt: Runtime) -> Iterable[list[Any]]:
    """One row of `FIELDS` per trial: the running ones from `trials.json`, the archived ones from their month's
    summary (or the month file when it has none); the hot copy wins over an archived one."""
    rows: dict[str, list[Any]] = {}
    if rt.store.path(TRIALS_DB).exists():
        for trial in hot_trials(rt):
            rows[trial["email"]] = [trial.get(name) for name in FIELDS]
    archive = Archive(rt.store, TRIALS_DB)
    for month in archive.months():
        kept = archive.summary(month, RECIPE)
        archived = kept if isinstance(kept, list) else summarize_month(archive.read(month))
        for row in archived:
            rows.setdefault(row[0], row)  # the hot copy wins: a copy left by an interrupted archive run
    return rows.values()
