"""`privacy forget` for the crm domain: our records of the person go, and with `[crm] forget = true` the CRM's.

The cursor's records naming the email (fingerprint and id, notes sent,
notes in flight, refusals) are deleted. With `[crm] forget = true` a
person arkops pushed is then deleted at the provider: HubSpot's GDPR
delete (by email, permanent) or Pipedrive's person delete (by the id the
push recorded). When the provider cannot be reached, that id (no address)
waits in the cursor and every push tries again. A second forget finds
nothing and calls nothing.
"""

from __future__ import annotations

from datetime import datetime

from arkops.core.crm import CRM_DB
from arkops.core.crm.push import INFLIGHT, META, NOTES, PEOPLE, REFUSED
from arkops.core.privacy.person import Person
from arkops.errors import ArkopsError
from arkops.runtime import Runtime
from arkops.sources.crm import Provider

PENDING = "forget"  # META key: provider ids still to delete


def forget(rt: Runtime, who: Person, *, now: datetime) -> dict[str, int]:
    person_id = None
    removed = 0
    if rt.store.path(CRM_DB.name).exists():
        with rt.store.transaction(CRM_DB) as db:
            for table in (PEOPLE, NOTES, INFLIGHT, REFUSED):
                for key, document in db.items(table):
                    if who.found_in(key):
                        person_id = person_id or (document.get("id") if table == PEOPLE else None)
                        removed += db.delete(table, key)
    counts = {"crm records": removed}
    settings = rt.config["crm"]
    if person_id is None or not (settings["forget"] and settings["provider"]):
        return counts  # arkops never put them in the CRM: what others entered there is theirs to delete
    from arkops.core.crm.push import connect

    try:
        connect(rt).forget(who.value, person_id)
    except ArkopsError:
        with rt.store.transaction(CRM_DB) as db:
            pending = (db.get(META, PENDING) or {}).get("ids", [])
            db.put(META, PENDING, {"ids": sorted({*pending, person_id})})
        counts["CRM deletions queued for the next crm-sync"] = 1
        return counts
    counts["CRM people deleted"] = 1
    return counts


def retry_pending(rt: Runtime, provider: Provider) -> int:
    """The deletions `forget` could not make: tried again by each push; how many went through."""
    with rt.store.transaction(CRM_DB) as db:
        pending = list((db.get(META, PENDING) or {}).get("ids", []))
    if not pending:
        return 0
    done = [person for person in pending if provider.forget("", person)]
    with rt.store.transaction(CRM_DB) as db:
        left = sorted(set((db.get(META, PENDING) or {}).get("ids", [])) - set(done))
        if left:
            db.put(META, PENDING, {"ids": left})
        else:
            db.delete(META, PENDING)
    return len(done)
