"""Telling people about a code: the announcement, the follow-up for those who did not redeem, and the
operator's digest of redemptions.

`promo announce CODE --to FILE.csv | --segment trials|leads|customers [--when] [--follow-up-days N]`
queues one `promo_announcement` per recipient (a lifecycle email, due at `--when`), keyed
`promo:<CODE>:announce:<email>` so a second run queues nothing twice, and records the recipient in the
promo database (`announcements`). The `promo-sync` job (every 10 minutes) then queues each
`promo_follow_up` once its day has come, for a recipient who has not redeemed the code by then (arkops
or Stripe Checkout), while the code can still be redeemed; and tells the operator in one
`promo_redemptions` digest per run who redeemed since the last one, on which plan, and how many slots
are left. A redemption older than a day when first seen (a first run, a Stripe history) is recorded
without an alert.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict, cast

from arkops.clock import from_unix, iso, local_time, parse_iso
from arkops.core.notify import batched, notify
from arkops.core.privacy.person import erased
from arkops.core.promo import PROMO_DB, Refusal
from arkops.core.promo.codes import CODES, REDEMPTIONS, Code, discount_text, duration_text, get_code, normalize_code
from arkops.core.promo.redeem import Usage, ledger_uses, remaining_doc, usage
from arkops.errors import DataError
from arkops.mail.address import normalize_customer_address
from arkops.runtime import Runtime
from arkops.store import Db
from arkops.store.tables import Table
from arkops.text import counted

SEGMENTS = ("trials", "leads", "customers")
REPORTED = "reported"  # "<CODE>:<who>" -> when the redemption was seen: named in a digest once
ALERT_WINDOW = timedelta(hours=24)  # an older redemption first seen is history: recorded, not alerted


class Announcement(TypedDict):
    code: str
    email: str
    locale: str
    announce_at: str  # when the announcement is due
    follow_up_at: str | None
    follow_up: str | None  # due, queued, or skipped: <why>; None without a follow-up


ANNOUNCEMENTS = Table[Announcement]("announcements")


@dataclass
class AnnounceReport:
    code: str
    announce_at: str
    follow_up_at: str | None
    queued: int = 0
    already: int = 0  # announced by an earlier run
    erased: int = 0  # people `privacy forget` erased: never written to
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"{counted(self.queued, 'announcement')} of {self.code} queued for {self.announce_at}"
            f", {self.already} already announced, {len(self.skipped)} skipped"
        )
        if self.erased:
            text += f", {counted(self.erased, 'erased person', 'erased people')} left out"
        if self.follow_up_at:
            text += f"; the follow-up goes on {self.follow_up_at} to those who have not redeemed"
        return text


def offer(rt: Runtime, record: Code, used: int, locale: str) -> dict[str, Any]:
    """What an announcement or a follow-up says of the code, in the customer's language."""
    percents = set((record["discounts"] or {}).values())
    discount = f"{max(percents):g} %" if percents else discount_text(record, None, locale)
    until = parse_iso(record["valid_until"]) - timedelta(seconds=1) if record["valid_until"] else None
    return {
        "code": record["code"],
        "discount": discount,
        "up_to": len(percents) > 1,  # plans get different percents: the best one, "up to"
        "duration": duration_text(record, locale),
        "plans": ", ".join(rt.config["plans"][p]["name"] or p for p in record["plans"] if p in rt.config["plans"]),
        "valid_until": until.astimezone(rt.config.tz).strftime("%Y-%m-%d") if until else "",
        "slots_left": remaining_doc(record, used)["remaining"],
    }


def _csv_recipients(path: Path) -> list[tuple[str, Any, str | None]]:
    """(where, email, locale) of each row: a header naming `email` (and optionally `locale`), or emails alone."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read ({exc})") from None
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    if "email" in header:
        at, lang = header.index("email"), header.index("locale") if "locale" in header else None
        body = rows[1:]
        start = 2
    else:
        at, lang, body, start = 0, None, rows, 1
    return [
        (
            f"{path.name} line {number}",
            row[at] if at < len(row) else "",
            row[lang].strip() if lang is not None and lang < len(row) else None,
        )
        for number, row in enumerate(body, start)
    ]


def _segment(rt: Runtime, segment: str, now: datetime) -> list[tuple[str, Any, str | None]]:
    """(where, email, locale) of everyone in a segment: trials not converted, leads with an email (demo
    requests, visitors who gave theirs), or paying customers (a current subscription)."""
    if segment == "trials":
        from arkops.core.trials.queries import list_trials

        rows = [t for t in list_trials(rt, state=None, now=now) if t["state"] != "converted"]
        locales = _trial_locales(rt)
        return [("trials", t["email"], locales.get(t["email"])) for t in rows]
    if segment == "leads":
        from arkops.core.leads.imports import imported
        from arkops.core.leads.scoring import list_leads

        emails = {lead["email"] for lead in imported(rt)}
        emails |= {row["email"] for row in list_leads(rt, now=now) if row["email"]}
        return [("leads", email, None) for email in sorted(emails)]
    from arkops.core.plans.catalog import accounts

    paying = [a for a in accounts(rt).values() if a.status in ("active", "trialing", "past_due")]
    return [("customers", a.email, None) for a in sorted(paying, key=lambda a: a.email)]


def _trial_locales(rt: Runtime) -> dict[str, str]:
    from arkops.core.trials import TRIALS_DB
    from arkops.core.trials.state import TRIALS

    with rt.store.transaction(TRIALS_DB) as db:
        return {email: locale for email, t in TRIALS.items(db) if (locale := t.get("locale"))}


def announce(
    rt: Runtime,
    code: str,
    *,
    to_file: Path | None,
    segment: str | None,
    when: datetime | None,
    follow_up_days: int | None,
    now: datetime,
) -> AnnounceReport:
    """Queue the announcement of `code` to a CSV's addresses or a segment, due at `when` (see the module)."""
    from arkops.config import LOCALES

    name = normalize_code(code)
    at = when or now
    follow_up = at + timedelta(days=follow_up_days) if follow_up_days else None
    ledger = ledger_uses(rt)
    with rt.store.transaction(PROMO_DB) as db:
        record = get_code(db, name)
        found = usage(db, record, ledger)
    problem = _unavailable(record, at, found)
    if problem:
        raise DataError(f"{name} cannot be announced for {iso(at)}: {problem}")
    people = _csv_recipients(to_file) if to_file is not None else _segment(rt, segment or "", now)
    report = AnnounceReport(name, iso(at) or "", iso(follow_up))
    local = rt.config["mail"]["allow_local_domains"]
    recipients: dict[str, str] = {}
    for where, given, locale in people:
        try:
            email = normalize_customer_address(given, field="email", allow_local_domains=local).lower()
            if locale not in (None, "", *LOCALES):
                raise DataError(f"locale: {locale!r} is not one of {', '.join(LOCALES)}")
        except DataError as exc:
            report.skipped.append(f"{where}: {exc}")
            continue
        if erased(rt, email):
            report.erased += 1
            continue
        recipients.setdefault(email, locale or rt.config.locale)
    with rt.store.transaction(PROMO_DB) as db, batched(rt):
        for email, locale in recipients.items():
            key = f"{name}:{email}"
            if ANNOUNCEMENTS.get(db, key) is not None:
                report.already += 1
                continue
            variables = offer(rt, record, found.used, locale)
            notify(rt, "promo_announcement", variables, key=f"promo:{key}:announce", now=at, to=email, locale=locale)
            ANNOUNCEMENTS.put(
                db,
                key,
                {
                    "code": name,
                    "email": email,
                    "locale": locale,
                    "announce_at": iso(at) or "",
                    "follow_up_at": iso(follow_up),
                    "follow_up": "due" if follow_up else None,
                },
            )
            report.queued += 1
    return report


def _unavailable(record: Code, at: datetime, found: Usage) -> str | None:
    """Why the code cannot be redeemed at `at` (disabled, expired, full), or None."""
    if not record["active"]:
        return Refusal.disabled.value
    if record["valid_until"] and at >= parse_iso(record["valid_until"]):
        return Refusal.expired.value
    if record["slots"] is not None and found.used >= record["slots"]:
        return Refusal.no_slots_left.value
    return None


def follow_ups(rt: Runtime, db: Db, ledger: dict[str, list[dict]], now: datetime) -> int:
    """Queue each follow-up that is due (inside the promo transaction and a `batched` block); how many."""
    queued = 0
    found: dict[str, Usage] = {}
    for key, sent in ANNOUNCEMENTS.items(db):
        if sent["follow_up"] != "due" or parse_iso(cast(str, sent["follow_up_at"])) > now:
            continue
        record = CODES.get(db, sent["code"])
        if record is None:
            ANNOUNCEMENTS.put(db, key, {**sent, "follow_up": "skipped: the code was removed"})
            continue
        uses = found.get(sent["code"]) or found.setdefault(sent["code"], usage(db, record, ledger))
        if sent["email"] in uses.by_email:
            ANNOUNCEMENTS.put(db, key, {**sent, "follow_up": "skipped: redeemed"})
            continue
        problem = _unavailable(record, now, uses)
        if problem:
            ANNOUNCEMENTS.put(db, key, {**sent, "follow_up": f"skipped: {problem}"})
            continue
        variables = offer(rt, record, uses.used, sent["locale"])
        notify(
            rt,
            "promo_follow_up",
            variables,
            key=f"promo:{key}:follow-up",
            now=now,
            to=sent["email"],
            locale=sent["locale"],
        )
        ANNOUNCEMENTS.put(db, key, {**sent, "follow_up": "queued"})
        queued += 1
    return queued


def redemptions_digest(rt: Runtime, db: Db, ledger: dict[str, list[dict]], now: datetime) -> int:
    """One `promo_redemptions` digest of the redemptions not reported yet; how many it names."""
    named: list[dict[str, Any]] = []
    for code, record in sorted(CODES.items(db)):
        found = usage(db, record, ledger)
        left = remaining_doc(record, found.used)["remaining"]
        times = _redeemed_at(db, record, ledger)
        for who, plan in sorted(found.by_email.items()):
            key = f"{code}:{who}"
            if db.get(REPORTED, key) is not None:
                continue
            at = times.get(who) or now
            recent = now - at <= ALERT_WINDOW
            db.put(REPORTED, key, {"at": iso(now), "alerted": recent})
            if recent:
                named.append(
                    {
                        "code": code,
                        "who": who,
                        "plan": rt.config["plans"].get(plan, {}).get("name") or plan,
                        "at": local_time(at, rt.config.tz),
                        "source": "stripe" if who in found.from_stripe else "arkops",
                        "slots_left": left,
                    }
                )
    if named:
        keys = ",".join(f"{r['code']}:{r['who']}" for r in named)
        digest = hashlib.sha256(keys.encode()).hexdigest()[:16]
        notify(rt, "promo_redemptions", {"redemptions": named}, key=f"promo:redemptions:{digest}", now=now)
    return len(named)


def _redeemed_at(db: Db, record: Code, ledger: dict[str, list[dict]]) -> dict[str, datetime]:
    """When each holder of a slot redeemed: arkops's redemption time, or the ledger's discount time."""
    times = {
        r["email"]: parse_iso(r["redeemed_at"])
        for r in REDEMPTIONS.values(db)
        if r["code"] == record["code"] and r["state"] == "redeemed"
    }
    for group in record.get("stripe", []):
        for use in ledger.get(group["promotion_code"] or "", []):
            who = use["email"] or f"customer:{use['customer']}"
            if who not in times and use.get("at"):
                moment = from_unix(use["at"])
                if moment is not None:
                    times[who] = moment
    return times
