"""The outbox under `privacy forget`: messages naming the person stay, emptied, so idempotency holds.

A message to or about the person keeps its id, state, template, dates and
(pseudonymised) key, so nothing is sent twice; its subject, text and HTML
are emptied and its recipient becomes the person's pseudonym (an operator
alert keeps the operator's address). A message still waiting to go to
them is never sent (state `failed`). Dry-run `.eml` files of those
messages, and any other rendered file naming them, are removed.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, cast

from arkops.clock import iso
from arkops.core.messaging import OUTBOX_DB
from arkops.mail import outbox
from arkops.runtime import Runtime
from arkops.store.archive import Archive

if TYPE_CHECKING:
    from arkops.core.privacy.person import Person

FIELDS = ("to", "subject", "text", "html", "key", "last_error")


def _names(who: Person, doc: dict) -> bool:
    return any(who.found_in(doc.get(name)) for name in FIELDS)


def _redact(who: Person, doc: dict, now: datetime) -> None:
    if who.found_in(doc.get("to")):
        doc["to"] = who.pseudonym_email
        if doc.get("state") in ("pending", "sending"):
            doc.update({"state": "failed", "last_error": "recipient erased (privacy forget)", "claimed_by": None})
    doc.update(
        {
            "subject": "",
            "text": "",
            "html": "",
            "key": who.replace_in(doc["key"], who.pseudonym),
            "erased_at": iso(now),
        }
    )
    if doc.get("last_error"):  # a server's refusal may quote the address
        doc["last_error"] = who.replace_in(doc["last_error"], who.pseudonym_email)


def forget(rt: Runtime, who: Person, *, now: datetime) -> dict[str, int]:
    store = rt.store
    ids: set[str] = set()
    if store.path(OUTBOX_DB).exists():
        with store.transaction(OUTBOX_DB) as db:
            for message_id, doc in db.items("messages"):
                if _names(who, doc):
                    _redact(who, doc, now)
                    db.put("messages", message_id, doc)
                    ids.add(message_id)
            for key, entry in db.items("keys"):
                if who.found_in(key):
                    db.delete("keys", key)
                    db.put("keys", who.replace_in(key, who.pseudonym), entry)
        archive = Archive(store, OUTBOX_DB)
        with store.lock(OUTBOX_DB):
            for month in archive.months():
                data = archive.read(month)
                messages = data.get("messages", {})
                named = [m for m, doc in messages.items() if _names(who, doc)]
                for message_id in named:
                    _redact(who, cast(dict, messages[message_id]), now)
                    ids.add(message_id)
                if named:
                    archive.write(month, data)
    return {"outbox messages emptied": len(ids), "rendered files removed": _remove_rendered(rt, who, ids)}


def _remove_rendered(rt: Runtime, who: Person, ids: set[str]) -> int:
    folder = outbox.eml_folder(rt.store)
    if not folder.is_dir():
        return 0
    numbers = {int(message_id) for message_id in ids}
    removed = 0
    for path in folder.iterdir():
        if not path.is_file():
            continue
        number = path.name.partition("-")[0]
        ours = number.isdigit() and int(number) in numbers  # `000042-trial_day7.eml`: message 42
        if ours or who.found_in(path.read_bytes().decode("utf-8", "replace")):
            path.unlink(missing_ok=True)
            removed += 1
    return removed
