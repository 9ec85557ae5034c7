"""Who goes to the CRM and what it says of them: one contact per email, built from the other domains' reads.

A person is anyone with an email among the trials, the hot leads the
digests named, the demo requests and the Stripe customers. Their stage is
`customer` while a subscription is active (trialing, active, past due,
unpaid or paused), `churned` once they had one and none is left, `trial`
when they signed up for a trial, else `lead`. Properties: plan, MRR (the
sum of their subscriptions' MRR, in the reporting currency's major unit),
trial start and end (days), activation, the last hot page and its visit
time, the lead score at the last digest, the first UTM source and campaign
known (a visit's, else the trial's or demo request's `source`), and the
promo code redeemed. Notes: one per digest entry (a hot lead alerted, a
demo request), keyed by what the digest recorded, so each is sent once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from arkops.clock import EARLIEST
from arkops.money import exponent
from arkops.runtime import Runtime
from arkops.sources.crm import FIELD_NAMES, Contact, Note

PAYING = frozenset(("trialing", "active", "past_due", "unpaid", "paused"))


@dataclass
class Person:
    email: str
    name: str = ""
    stage: str = "lead"
    values: dict[str, Any] = field(default_factory=lambda: dict.fromkeys(FIELD_NAMES[1:]))
    changed_at: str = ""  # the latest time one of their records moved (ISO 8601 UTC), for `crm push --since`
    notes: list[Note] = field(default_factory=list)

    def contact(self) -> Contact:
        return Contact(self.email, self.stage, dict(self.values), self.name)

    def fingerprint(self) -> str:
        """What was sent, in a few bytes: a person whose fingerprint is unchanged is not sent again."""
        text = json.dumps([self.stage, self.name, self.values], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def saw(self, moment: str | None) -> None:
        if moment and moment > self.changed_at:
            self.changed_at = moment

    def first(self, name: str, value: Any) -> None:
        if value and not self.values.get(name):
            self.values[name] = value


def gather(rt: Runtime, *, now: datetime, archived: bool) -> dict[str, Person]:
    """Everyone the CRM should know, by email; `archived` also reads finished trials from the archive."""
    people: dict[str, Person] = {}

    def person(email: str) -> Person:
        address = email.strip().lower()
        return people.get(address) or people.setdefault(address, Person(address))

    _trials(rt, now, archived, person)
    _digests(rt, now, person)
    _customers(rt, now, person)
    _promo(rt, person)
    return people


def _trials(rt: Runtime, now: datetime, archived: bool, person: Any) -> None:
    from arkops.core.trials.queries import list_trials

    for trial in list_trials(rt, state=None, now=now, archived=archived):
        who = person(trial["email"])
        who.stage = "trial"
        who.values.update(
            arkops_plan=trial["plan"],
            arkops_trial_start=trial["signed_up_at"][:10],
            arkops_trial_end=(trial["trial_ends_at"] or "")[:10] or None,
            arkops_activated_at=trial["activated_at"],
        )
        who.first("arkops_utm_source", trial["source"])
        for moment in (trial["signed_up_at"], trial["activated_at"], trial["converted_at"]):
            who.saw(moment)


def _digests(rt: Runtime, now: datetime, person: Any) -> None:
    from arkops.core.leads.query import demo_requests, digest_entries

    for request in demo_requests(rt, since=EARLIEST, until=now):
        who = person(request["email"])
        who.name = who.name or request["name"] or ""
        who.first("arkops_utm_source", request["source"])
        who.saw(request["created_at"])
    for entry in sorted(digest_entries(rt), key=lambda e: e["alerted_at"]):
        who = person(entry["email"])
        if entry["key"].startswith("import:"):
            text = f"Demo request ({entry['page'] or 'demo request'}) named in the new-lead digest"
        else:
            text = f"Hot lead: score {entry['score']:g}, last page {entry['page'] or '?'} at {entry['last_visit']}"
            who.values.update(
                arkops_last_hot_page=entry["page"],
                arkops_last_hot_at=entry["last_visit"],
                arkops_lead_score=round(entry["score"], 1),
            )
        who.first("arkops_utm_source", entry["utm_source"])
        who.first("arkops_utm_campaign", entry["utm_campaign"])
        who.notes.append(Note(f"digest:{entry['key']}:{entry['alerted_at']}", who.email, entry["alerted_at"], text))
        who.saw(entry["alerted_at"])


def _customers(rt: Runtime, now: datetime, person: Any) -> None:
    from arkops.core.billing.report import subscription_rows

    scale = 10 ** exponent(rt.config.currency)
    paying: dict[str, int] = {}
    had: set[str] = set()
    for row in subscription_rows(rt, status=None, now=now):
        email = row["customer_email"]
        if not email or row["status"] not in PAYING | {"canceled"}:
            continue  # incomplete checkouts never made a customer
        who = person(email)
        who.saw(row["ended"] or row["started"])
        had.add(who.email)
        if row["status"] in PAYING:
            paying[who.email] = paying.get(who.email, 0) + row["mrr"]
            who.first("arkops_plan", row["plan"])
    for email in had:
        who = person(email)
        who.stage = "customer" if email in paying else "churned"
        who.values["arkops_mrr"] = round(paying.get(email, 0) / scale, 2)


def _promo(rt: Runtime, person: Any) -> None:
    from arkops.core.promo import PROMO_DB

    if not rt.store.path(PROMO_DB.name).exists():
        return
    with rt.store.transaction(PROMO_DB) as db:
        redemptions = db.values("redemptions")
    for redemption in sorted(redemptions, key=lambda r: r.get("redeemed_at") or ""):
        if redemption.get("state") == "redeemed":
            who = person(redemption["email"])
            who.values["arkops_promo_code"] = redemption["code"]
            who.saw(redemption.get("redeemed_at"))
