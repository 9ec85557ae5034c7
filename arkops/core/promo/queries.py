"""Listings: every code with its counts, one code in full, and the export of redemptions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from arkops.clock import iso
from arkops.core.promo import PROMO_DB
from arkops.core.promo.codes import CODES, REDEMPTIONS, get_code, normalize_code, settings_row
from arkops.core.promo.redeem import ledger_uses, remaining_doc, usage
from arkops.runtime import Runtime
from arkops.store import Db


def list_codes(rt: Runtime) -> list[dict[str, Any]]:
    uses = ledger_uses(rt)
    with rt.store.transaction(PROMO_DB) as db:
        rows = []
        for _, record in sorted(CODES.items(db)):
            counter = remaining_doc(record, usage(db, record, uses).used)
            rows.append({**settings_row(record), "used": counter["used"], "remaining": counter["remaining"]})
    return rows


def _rows(db: Db, uses: dict[str, list[dict]], code: str | None) -> list[dict[str, Any]]:
    rows = [
        {
            "code": r["code"],
            "email": r["email"],
            "plan": r["plan"],
            "state": r["state"],
            "source": "arkops",
            "redeemed_at": r["redeemed_at"],
            "released_at": r["released_at"],
        }
        for r in REDEMPTIONS.values(db)
        if code is None or r["code"] == code
    ]
    for name, record in CODES.items(db):
        if code is not None and name != code:
            continue
        found = usage(db, record, uses)
        for group in record.get("stripe", []):
            for use in uses.get(group["promotion_code"] or "", []):
                who = use["email"] or f"customer:{use['customer']}"
                if who in found.from_stripe:
                    rows.append(
                        {
                            "code": name,
                            "email": use["email"],
                            "plan": found.by_email[who],
                            "state": "redeemed",
                            "source": "stripe",
                            "redeemed_at": iso(datetime.fromtimestamp(use["at"], UTC)),
                            "released_at": None,
                        }
                    )
    return sorted(rows, key=lambda r: (r["code"], r["redeemed_at"] or "", r["email"] or ""))


def show(rt: Runtime, code: str) -> dict[str, Any]:
    """One code: its settings, counts by plan, and every redemption with its events."""
    uses = ledger_uses(rt)
    name = normalize_code(code)
    with rt.store.transaction(PROMO_DB) as db:
        record = get_code(db, name)
        found = usage(db, record, uses)
        redemptions = _rows(db, uses, name)
        events = {r["email"]: r["events"] for r in REDEMPTIONS.values(db) if r["code"] == name}
    by_plan: dict[str, int] = {}
    for plan in found.by_email.values():
        by_plan[plan] = by_plan.get(plan, 0) + 1
    return {
        **settings_row(record),
        **{k: v for k, v in remaining_doc(record, found.used).items() if k != "code"},
        "by_plan": dict(sorted(by_plan.items())),
        "counter_files": record["counter_files"],
        "stripe_groups": record.get("stripe", []),
        "redemptions": [{**r, "events": events.get(r["email"], [])} for r in redemptions],
    }


def export(rt: Runtime) -> list[dict[str, Any]]:
    """Every redemption of every code (arkops's and those seen at Stripe)."""
    uses = ledger_uses(rt)
    with rt.store.transaction(PROMO_DB) as db:
        return _rows(db, uses, None)
