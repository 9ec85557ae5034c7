"""Validation, redemption and release, and the counter files of the landing page.

A redemption's checks and its slot count happen in one promo transaction (the store's exclusive lock, one
atomic write on commit): processes racing for the last slot queue on the lock and each sees the one before
it, so there is exactly one winner, and a process killed before the commit leaves nothing (the file is
replaced whole or not at all). Redemptions seen in the billing ledger (a Stripe discount naming the code's
promotion code) count as used too, one per email, whichever way the person redeemed.

After the commit, the confirmation email is queued and every counter file is rewritten (atomically, under
their own lock, from the database as it is then, so the last writer always writes the newest figures).
A process killed between the commit and those two steps leaves a redemption marked
`confirmation_queued: false` and a stale file; the next redemption or release of the code, `promo
remaining --write`, or the `promo-sync` job (every 10 minutes) queues the email (same idempotency key:
never twice) and rewrites every file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from arkops.clock import iso, parse_iso
from arkops.core.billing import LEDGER_DB
from arkops.core.privacy import refuse_erased
from arkops.core.promo import PROMO_DB, Refusal
from arkops.core.promo.codes import (
    CODES,
    REDEMPTIONS,
    Code,
    Event,
    Redemption,
    check_plan,
    discount_text,
    discounted,
    duration_text,
    get_code,
    normalize_code,
    plan_price,
    redemption_key,
)
from arkops.core.promo.settings import counter_mode
from arkops.errors import DataError
from arkops.mail.address import normalize_email
from arkops.runtime import Runtime
from arkops.store import Db
from arkops.text import counted

COUNTERS_LOCK = "promo-counters"


def ledger_uses(rt: Runtime) -> dict[str, list[dict]]:
    """Redemptions at Stripe, by promotion code id; without a ledger (no Stripe yet) the billing code stays unloaded."""
    if not rt.store.path(LEDGER_DB).exists():
        return {}
    from arkops.core.billing.promotions import ledger_promotion_uses

    return ledger_promotion_uses(rt)


@dataclass
class Usage:
    """Who holds a slot of one code: arkops redemptions and ledger-seen ones, one per email."""

    by_email: dict[str, str] = field(default_factory=dict)  # email (or "customer:cus_..") -> plan
    from_stripe: set[str] = field(default_factory=set)  # those seen only in the ledger

    @property
    def used(self) -> int:
        return len(self.by_email)


def usage(db: Db, code: Code, ledger: dict[str, list[dict]]) -> Usage:
    found = Usage()
    for redemption in REDEMPTIONS.values(db):
        if redemption["code"] == code["code"] and redemption["state"] == "redeemed":
            found.by_email[redemption["email"]] = redemption["plan"]
    for group in code.get("stripe", []):
        for use in ledger.get(group["promotion_code"] or "", []):
            who = use["email"] or f"customer:{use['customer']}"
            if who not in found.by_email:
                found.by_email[who] = group["plans"][0]
                found.from_stripe.add(who)
    return found


def remaining_doc(code: Code, used: int) -> dict[str, Any]:
    """The landing page's counter: `{"code", "slots", "used", "remaining", "percent_filled"}` (null when unlimited)."""
    slots = code["slots"]
    return {
        "code": code["code"],
        "slots": slots,
        "used": used,
        "remaining": None if slots is None else max(slots - used, 0),
        "percent_filled": None if slots is None else round(min(used / slots, 1.0) * 100, 1),
    }


def refusal(code: Code | None, plan: str, email: str | None, now: datetime, found: Usage) -> Refusal | None:
    """Why the code does not apply, or None: the checks in the order a customer should hear them."""
    if code is None:
        return Refusal.unknown
    if not code["active"]:
        return Refusal.disabled
    if code["valid_from"] and now < parse_iso(code["valid_from"]):
        return Refusal.not_yet_valid
    if code["valid_until"] and now >= parse_iso(code["valid_until"]):
        return Refusal.expired
    if plan not in code["plans"]:
        return Refusal.plan_not_covered
    if email is not None and email in found.by_email:
        return Refusal.already_used
    if code["slots"] is not None and found.used >= code["slots"]:
        return Refusal.no_slots_left
    return None


@dataclass
class Verdict:
    code: str
    plan: str
    reason: Refusal | None
    price: int
    discounted_price: int
    currency: str
    interval: str
    remaining: int | None
    email: str | None = None
    warnings: list[str] = field(default_factory=list)
    percent: float | None = None  # the plan's percent off; None for an amount off or an unknown code
    months: int | None = None  # how many months the discount lasts (a repeating coupon); None: once or forever
    valid_until: str | None = None  # ISO 8601 UTC, the first moment it no longer applies

    @property
    def valid(self) -> bool:
        return self.reason is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "plan": self.plan,
            "valid": self.valid,
            "reason": None if self.reason is None else self.reason.value,
            "price": self.price,
            "discounted_price": self.discounted_price,
            "currency": self.currency,
            "interval": self.interval,
            "remaining": self.remaining,
            "percent": self.percent,
            "months": self.months,
            "valid_until": self.valid_until,
        }


def _verdict(rt: Runtime, name: str, code: Code | None, plan: str, reason: Refusal | None, found: Usage) -> Verdict:
    price, currency, interval = plan_price(rt, plan)
    applies = code is not None and reason is None
    remaining = None if code is None else remaining_doc(code, found.used)["remaining"]
    return Verdict(
        name,
        plan,
        reason,
        price,
        discounted(code, price, currency, plan) if applies and code else price,
        currency,
        interval,
        remaining,
        percent=(code["discounts"] or {}).get(plan) if code else None,
        months=code["months"] if code and code["duration"] == "repeating" else None,
        valid_until=code["valid_until"] if code else None,
    )


def validate(rt: Runtime, code: str, plan: str, email: str | None, *, now: datetime) -> Verdict:
    """Whether the code applies to this plan (and email) now, and the price after it; nothing is written."""
    name, plan, local = normalize_code(code), check_plan(rt, plan), rt.config["mail"]["allow_local_domains"]
    address = normalize_email(email, allow_local_domains=local) if email is not None else None
    ledger = ledger_uses(rt)
    with rt.store.transaction(PROMO_DB) as db:
        record = CODES.get(db, name)
        found = usage(db, record, ledger) if record else Usage()
    return _verdict(rt, name, record, plan, refusal(record, plan, address, now, found), found)


def redeem(rt: Runtime, code: str, email: str, plan: str, *, locale: str | None, now: datetime) -> Verdict:
    """Take a slot for this email and plan, or say why not; the checks and the count in one transaction."""
    local = rt.config["mail"]["allow_local_domains"]
    name, plan = normalize_code(code), check_plan(rt, plan)
    address = normalize_email(email, allow_local_domains=local, intake=True)
    refuse_erased(rt, address)
    ledger = ledger_uses(rt)
    stamp = cast(str, iso(now))
    with rt.store.transaction(PROMO_DB) as db:
        record = CODES.get(db, name)
        found = usage(db, record, ledger) if record else Usage()
        reason = refusal(record, plan, address, now, found)
        if reason is None:
            key = redemption_key(name, address)
            earlier = REDEMPTIONS.get(db, key)
            REDEMPTIONS.put(
                db,
                key,
                {
                    "code": name,
                    "email": address,
                    "plan": plan,
                    "locale": locale or (earlier["locale"] if earlier else rt.config.locale),
                    "state": "redeemed",
                    "redeemed_at": stamp,
                    "released_at": None,
                    "confirmation_queued": False,
                    "events": [
                        *(earlier["events"] if earlier else []),
                        {"what": "redeemed", "at": stamp, "plan": plan},
                    ],
                },
            )
            found.by_email[address] = plan
    verdict = _verdict(rt, name, record, plan, reason, found)
    verdict.email = address
    if reason is None:
        confirm_pending(rt, now=now, code=name)
        verdict.warnings = refresh_counters(rt, [name], ledger)
    return verdict


@dataclass
class Released:
    code: str
    email: str
    released: bool  # False: it was released already
    warnings: list[str] = field(default_factory=list)


def release(rt: Runtime, code: str, email: str, *, now: datetime) -> Released:
    """Give a redemption's slot back (a refunded or abandoned checkout), recorded in its events."""
    local = rt.config["mail"]["allow_local_domains"]
    name, address = normalize_code(code), normalize_email(email, allow_local_domains=local)
    stamp = cast(str, iso(now))
    with rt.store.transaction(PROMO_DB) as db:
        get_code(db, name)
        key = redemption_key(name, address)
        redemption = REDEMPTIONS.get(db, key)
        if redemption is None:
            raise DataError(f"{address} has no redemption of {name} in arkops to release")
        if redemption["state"] == "released":
            return Released(name, address, False)
        event: Event = {"what": "released", "at": stamp, "plan": redemption["plan"]}
        REDEMPTIONS.put(
            db, key, {**redemption, "state": "released", "released_at": stamp, "events": [*redemption["events"], event]}
        )
    return Released(name, address, True, refresh_counters(rt, [name], ledger_uses(rt)))


def confirmation_key(redemption: Redemption) -> str:
    times = sum(1 for e in redemption["events"] if e["what"] == "redeemed")
    return f"promo:{redemption['code']}:{redemption['email']}:confirmation:{times}"


def confirm_pending(rt: Runtime, *, now: datetime, code: str | None = None) -> int:
    """Queue `promo_confirmation` for each redemption that has not had it yet (a killed process's included).

    The emails are rendered and queued outside the promo lock (rendering costs more than a redemption, and
    racing redemptions wait on that lock), then marked in a second transaction: a kill in between queues
    them again next time under the same idempotency keys, so nobody gets two.
    """
    with rt.store.transaction(PROMO_DB) as db:
        due = [
            (key, redemption, record)
            for key, redemption in REDEMPTIONS.items(db)
            if redemption["state"] == "redeemed"
            and not redemption["confirmation_queued"]
            and (code is None or redemption["code"] == code)
            and (record := CODES.get(db, redemption["code"])) is not None
        ]
    if not due:
        return 0
    from arkops.core.notify import batched, notify  # here: `status` reads the codes and sends nothing

    with batched(rt):
        for _, redemption, record in due:
            locale = redemption["locale"]
            notify(
                rt,
                "promo_confirmation",
                {
                    "code": record["code"],
                    "discount": discount_text(record, redemption["plan"], locale),
                    "duration": duration_text(record, locale),
                },
                key=confirmation_key(redemption),
                to=redemption["email"],
                locale=locale,
                now=now,
            )
    with rt.store.transaction(PROMO_DB) as db:
        for key, queued, _ in due:
            current = REDEMPTIONS.get(db, key)
            if current is not None and confirmation_key(current) == confirmation_key(queued):
                REDEMPTIONS.put(db, key, {**current, "confirmation_queued": True})
    return len(due)


def counter_bytes(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, ensure_ascii=False) + "\n").encode("utf-8")


def refresh_counters(rt: Runtime, codes: list[str] | None, ledger: dict[str, list[dict]]) -> list[str]:
    """Rewrite every counter file of these codes (all codes: None) from the database as it is now.

    Under the counters lock, so two refreshes never interleave and the last one writes the newest
    figures. A file that cannot be written is a warning: the redemption itself stands.
    """
    problems: list[str] = []
    mode = counter_mode(rt.config)
    with rt.store.lock(COUNTERS_LOCK):
        with rt.store.transaction(PROMO_DB) as db:
            wanted = [
                (record["counter_files"], remaining_doc(record, usage(db, record, ledger).used))
                for name, record in CODES.items(db)
                if (codes is None or name in codes) and record["counter_files"]
            ]
        for files, doc in wanted:
            payload = counter_bytes(doc)
            for name in files:
                path = Path(name)
                try:
                    target = rt.store.output_path(path, what="counter file")
                    if not target.exists() or target.read_bytes() != payload or target.stat().st_mode & 0o777 != mode:
                        rt.store.write_output(path, payload, what="counter file", mode=mode)
                except (DataError, OSError) as exc:
                    problems.append(f"counter file {path} not written: {exc}")
    return problems


def remaining(rt: Runtime, code: str, *, write: Path | None = None) -> tuple[dict[str, Any], list[str]]:
    """The counter of one code; `write` registers a file that every redemption and release then rewrites."""
    name = normalize_code(code)
    ledger = ledger_uses(rt)
    if write is not None:
        rt.store.output_path(write, what="--write")  # refused before it is registered
    target = str(write.expanduser().absolute()) if write is not None else None
    if target is not None and not Path(target).parent.is_dir():
        raise DataError(f"--write {write}: the folder {Path(target).parent} does not exist")
    with rt.store.transaction(PROMO_DB) as db:
        record = get_code(db, name)
        if target is not None and target not in record["counter_files"]:
            record = {**record, "counter_files": [*record["counter_files"], target]}
            CODES.put(db, name, record)
        doc = remaining_doc(record, usage(db, record, ledger).used)
    problems = refresh_counters(rt, [name], ledger) if target is not None else []
    return doc, problems


@dataclass
class RefreshOutcome:
    confirmations: int
    problems: list[str]
    follow_ups: int = 0
    redemptions: int = 0  # named in the operator's digest

    def summary(self) -> str:
        text = f"{counted(self.confirmations, 'late confirmation')} queued, counter files refreshed"
        if self.follow_ups:
            text += f", {counted(self.follow_ups, 'follow-up')} queued"
        if self.redemptions:
            text += f", {counted(self.redemptions, 'redemption')} told to the operator"
        return text + (f", {counted(len(self.problems), 'file')} not written" if self.problems else "")

    def counts(self) -> dict[str, int]:
        return {
            "confirmations": self.confirmations,
            "follow_ups": self.follow_ups,
            "redemptions": self.redemptions,
            "problems": len(self.problems),
        }


def refresh_job(rt: Runtime, *, now: datetime) -> RefreshOutcome:
    """Cron: confirmations a killed redemption did not queue, the announcements' follow-ups that are due, the
    operator's digest of new redemptions (`promo.announce`), and counter files (Checkout redemptions seen by
    `stripe sync`, a redemption killed before its refresh)."""
    from arkops.core.notify import batched
    from arkops.core.promo.announce import follow_ups, redemptions_digest

    if not rt.store.path(PROMO_DB).exists():
        return RefreshOutcome(0, [])
    confirmations = confirm_pending(rt, now=now)
    ledger = ledger_uses(rt)
    with rt.store.transaction(PROMO_DB) as db, batched(rt):
        outcome = RefreshOutcome(
            confirmations, [], follow_ups(rt, db, ledger, now), redemptions_digest(rt, db, ledger, now)
        )
    outcome.problems = refresh_counters(rt, None, ledger)
    if outcome.problems:
        raise DataError("; ".join(outcome.problems))
    return outcome


def offer(rt: Runtime, code: str, plan: str, *, now: datetime) -> dict[str, Any]:
    """What the landing page shows for a code and plan (`GET /api/promo/{code}`): `validate`'s verdict with
    the discount's terms (percent or amount off, duration, months) and the slots left; nothing is written."""
    verdict = validate(rt, code, plan, None, now=now)
    with rt.store.transaction(PROMO_DB) as db:
        record = CODES.get(db, verdict.code)
    terms: dict[str, Any] = {"percent_off": None, "amount_off": None, "duration": None, "months": None, "slots": None}
    if record is not None:
        terms = {
            "percent_off": (record["discounts"] or {}).get(verdict.plan),
            "amount_off": record["amount_off"],
            "duration": record["duration"],
            "months": record["months"],
            "slots": record["slots"],
        }
    return {**verdict.as_dict(), **terms}
