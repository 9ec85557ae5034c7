"""Job history under `privacy forget`: a failed run's message may quote an address; it is replaced, the run kept.

Deleting the job's record would forget when it last ran (and run it again
at once); only the words naming the person go.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from arkops.core.jobs import JOBS_DB
from arkops.runtime import Runtime

if TYPE_CHECKING:
    from arkops.core.privacy.person import Person


def forget(rt: Runtime, who: Person, *, now: datetime) -> dict[str, int]:
    if not rt.store.path(JOBS_DB).exists():
        return {}
    changed = 0
    with rt.store.transaction(JOBS_DB) as db:
        for name, state in db.items("runs"):
            if who.found_in(state.get("detail")):
                state["detail"] = who.replace_in(state["detail"], who.pseudonym)
                db.put("runs", name, state)
                changed += 1
    return {"job outcomes reworded": changed}
