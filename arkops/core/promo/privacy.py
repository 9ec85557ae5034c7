"""Promo redemptions under `privacy forget`: kept under the person's pseudonym, so their slot stays taken.

A launch offer's slots are a promise to everyone else ("30 places"): deleting
an erased person's redemption would hand their slot to someone new and
oversell the offer, and change the code's counts and its revenue after
discount. So the redemption keeps its code, plan, language, dates and
events; its email, and the key built from it, become the person's stable
pseudonym (`erased-<hex>@erased.invalid`, the one the ledger gives the same
person, so a Checkout redemption seen in the ledger still pairs with it).
The confirmation email was queued already and is never sent again. Who was
told of a code (`announcements`, and the follow-up not sent yet) and which
redemptions the operator's digest named (`reported`) are removed.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from arkops.core.promo import PROMO_DB
from arkops.core.promo.codes import REDEMPTIONS, redemption_key
from arkops.runtime import Runtime

if TYPE_CHECKING:
    from arkops.core.privacy.person import Person


def forget(rt: Runtime, who: Person, *, now: datetime) -> dict[str, int]:
    if not rt.store.path(PROMO_DB).exists():
        return {}
    changed = 0
    with rt.store.transaction(PROMO_DB) as db:
        for key, redemption in REDEMPTIONS.items(db):
            if who.found_in(key) or who.found_in(redemption["email"]):
                REDEMPTIONS.delete(db, key)
                pseudonym = who.pseudonym_email
                REDEMPTIONS.put(db, redemption_key(redemption["code"], pseudonym), {**redemption, "email": pseudonym})
                changed += 1
        removed = 0
        for table in ("announcements", "reported"):
            for key, document in db.items(table):
                if who.found_in(key) or who.found_in(document.get("email")):
                    removed += db.delete(table, key)
    return {"promo redemptions pseudonymised": changed, "promo announcement records": removed}
