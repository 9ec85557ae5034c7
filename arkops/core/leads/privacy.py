"""Visits under `privacy export` and `forget`: those naming the person, and those linked to them.

A stored visit names a person by its `email` (the app passed it) or its `ip`
(under `ip_storage = "full"`). Other visits are theirs through the visitor
id: a visitor (stored address and user agent) whose visit carried their
email, or whom one of their imported leads names. Export shows all of
them; forget removes all of them, the scan's alert records kept under
those visitor ids, and the last scan's record of what it saw. The imported leads themselves and alerts keyed by the
email go through the generic handling of the `leads` database, which runs
after this one (`visits` is declared first, so the links still exist here).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from arkops.core.leads import LEADS_DB, daily
from arkops.core.leads.imports import imported
from arkops.core.leads.ingest import VISITS_LOCK
from arkops.core.leads.scan import ALERTS, META, SEEN
from arkops.core.leads.state import forget_state
from arkops.core.leads.visits import day_files
from arkops.runtime import Runtime
from arkops.store import JsonLines

if TYPE_CHECKING:
    from arkops.core.privacy.person import Person


def _names(who: Person, visit: dict) -> bool:
    return who.found_in(visit.get("email")) or who.found_in(visit.get("ip"))


def linked_visitors(rt: Runtime, who: Person) -> set[str]:
    """The visitor ids that are this person: from their visits and their imported leads."""
    linked = {
        lead["visitor"]
        for lead in imported(rt)
        if lead.get("visitor") and (who.found_in(lead.get("email")) or who.found_in(lead.get("ip")))
    }
    for _, path in day_files(rt):
        linked |= {visit["visitor"] for visit in JsonLines(path).read() if _names(who, visit) and visit.get("visitor")}
    return linked


def export(rt: Runtime, who: Person) -> dict[str, dict[str, Any]]:
    linked = linked_visitors(rt, who)
    found: dict[str, dict[str, Any]] = {}
    for _, path in day_files(rt):
        for number, visit in enumerate(JsonLines(path).read(), 1):
            if _names(who, visit) or visit.get("visitor") in linked:
                found.setdefault(str(path.relative_to(rt.data_dir)), {})[str(number)] = visit
    return found


def forget(rt: Runtime, who: Person, *, now: datetime) -> dict[str, int]:
    removed = alerts = 0
    with rt.store.lock(VISITS_LOCK):
        linked = linked_visitors(rt, who)
        for _, path in day_files(rt):
            visits = list(JsonLines(path).read())
            kept = [v for v in visits if not (_names(who, v) or v.get("visitor") in linked)]
            if len(kept) != len(visits):
                JsonLines(path).rewrite(kept)
                removed += len(visits) - len(kept)
        if removed:
            forget_state(rt)  # it holds their address and email too; the next reader makes it again without them
    if removed:
        daily.refresh(rt)  # the rewritten days' aggregates (their emails too) made again now
    if rt.store.path(LEADS_DB).exists():
        with rt.store.transaction(LEADS_DB) as db:
            alerts = sum(db.delete(ALERTS, visitor) for visitor in linked)
            db.delete(META, SEEN)  # what the last scan saw, their alerts among it: the next scan reads every lead
    return {"visits records": removed, "lead alerts by visitor": alerts}
