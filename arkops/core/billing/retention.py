"""Billing's retention rules: old Stripe event ids are folded away, settled invoices move to monthly archives.

The ledger remembers each applied event id so a redelivery does nothing.
Stripe redelivers webhooks for 3 days and lists events for 30; ids of
Stripe's own events older than 45 days are removed, and the ledger keeps
the horizon (`sync.folded.before`) so an older `evt_` that still arrives
counts as a duplicate (`service.folded_away`).

A settled invoice (paid, void or uncollectible) untouched for
`[billing] archive_invoices_after_days` moves, with the payment links that
name it, to `archive/ledger/<YYYY-MM>.json` (the month of its last change);
`archive/ledger/index.json` maps its id and its links' charge and payment
intent ids to the month. Invoices were four fifths of a three-year ledger,
and every webhook parsed them. A later refund, dispute or event about an
archived invoice finds it by key and brings it back (`ledger.reach_archive`);
reports read the archive (`ledger.every_invoice`). Customers and
subscriptions are never archived: they are what MRR is computed from.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import cast

from arkops.core.billing import LEDGER_DB
from arkops.core.billing.records import INVOICES, PAYMENT_LINKS
from arkops.runtime import Runtime
from arkops.store.archive import Archive, ArchiveIndex

KEEP_EVENT_IDS = timedelta(days=45)
BATCH = 20_000
INVOICE_BATCH = 5_000  # invoices per transaction: the ledger lock is released between batches
SETTLED = ("paid", "void", "uncollectible")


def fold_event_ids(rt: Runtime, *, now: datetime) -> dict[str, int]:
    if not rt.store.path(LEDGER_DB).exists():
        return {}
    horizon = int((now - KEEP_EVENT_IDS).timestamp())
    folded = 0
    while True:
        with rt.store.transaction(LEDGER_DB) as db:
            old = [
                event_id
                for event_id, event in db.items("events")
                if event_id.startswith("evt_") and (event.get("created") or 0) < horizon
            ]
            if rt.dry_run or not old:
                folded += len(old)
                break
            for event_id in old[:BATCH]:
                db.delete("events", event_id)
            marker = db.get("sync", "folded") or {"before": 0, "count": 0}
            db.put(
                "sync",
                "folded",
                {"before": max(marker["before"], horizon), "count": marker["count"] + min(len(old), BATCH)},
            )
            folded += min(len(old), BATCH)
            if len(old) <= BATCH:
                break
    return {"Stripe event ids folded": folded}


def archive_settled_invoices(rt: Runtime, *, now: datetime) -> dict[str, int]:
    if not rt.store.path(LEDGER_DB).exists():
        return {}
    horizon = (now - timedelta(days=rt.config["billing"]["archive_invoices_after_days"])).timestamp()
    archive = Archive(rt.store, LEDGER_DB)
    index = ArchiveIndex(archive)
    moved = 0
    while True:
        with rt.store.transaction(LEDGER_DB) as db:
            due = [
                key
                for key, invoice in INVOICES.items(db)
                if invoice["status"] in SETTLED and invoice.get("_at", now.timestamp()) < horizon
            ]
            if rt.dry_run:
                return {"invoices archived": len(due)}
            batch = set(due[:INVOICE_BATCH])
            if not batch:
                break
            months: dict[str, dict[str, dict[str, dict]]] = {}
            month_of: dict[str, str] = {}
            for key in batch:
                invoice = cast(dict, INVOICES.get(db, key))
                month = month_of[key] = datetime.fromtimestamp(invoice["_at"], UTC).strftime("%Y-%m")
                months.setdefault(month, {"invoices": {}, "payment_links": {}})["invoices"][key] = invoice
            for key, link in PAYMENT_LINKS.items(db):
                if link["invoice"] in batch:
                    month = month_of[key] = month_of[link["invoice"]]
                    months[month]["payment_links"][key] = cast(dict, link)
            archive.move(db, months, index, month_of)
            marker = db.get("sync", "archived") or {"before": 0}
            db.put("sync", "archived", {"before": max(marker["before"], math.ceil(horizon))})  # ledger.ArchiveReach
            moved += len(batch)
        if len(due) <= INVOICE_BATCH:
            break
    return {"invoices archived": moved}
