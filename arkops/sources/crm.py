"""The one small interface every CRM provider implements, and the fields arkops writes to a person.

A provider is one module (`arkops/sources/hubspot.py`, `pipedrive.py`)
with a class built from `(token, base_url, settings, pacer)` that
implements `Provider`; a third one is that module, its line in
`PROVIDERS`, and its name in `[crm] provider`'s choices. What a person is
and which changed is the crm domain's business (`arkops.core.crm`); a
provider only maps `Contact` and `Note` onto its API, in its batch
endpoints where it has them, keyed by email so that sending the same
person twice never makes two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from arkops.sources.ratelimit import Pacer

STAGES = ("lead", "trial", "customer", "churned")


class Field(NamedTuple):
    name: str  # the property's internal name (HubSpot) and, with spaces, its label (Pipedrive's field name)
    label: str
    kind: str  # text, number, date (YYYY-MM-DD) or datetime (ISO 8601 UTC)


# What arkops writes beside the email and the lifecycle stage: created once by `arkops crm setup`.
FIELDS = (
    Field("arkops_stage", "arkops stage", "text"),
    Field("arkops_plan", "arkops plan", "text"),
    Field("arkops_mrr", "arkops MRR", "number"),
    Field("arkops_trial_start", "arkops trial start", "date"),
    Field("arkops_trial_end", "arkops trial end", "date"),
    Field("arkops_activated_at", "arkops activated", "datetime"),
    Field("arkops_last_hot_page", "arkops last hot page", "text"),
    Field("arkops_last_hot_at", "arkops last hot visit", "datetime"),
    Field("arkops_lead_score", "arkops lead score", "number"),
    Field("arkops_utm_source", "arkops UTM source", "text"),
    Field("arkops_utm_campaign", "arkops UTM campaign", "text"),
    Field("arkops_promo_code", "arkops promo code", "text"),
)
FIELD_NAMES = tuple(f.name for f in FIELDS)


@dataclass(frozen=True)
class Contact:
    email: str
    stage: str  # one of STAGES
    values: dict[str, Any] = field(default_factory=dict)  # FIELD_NAMES -> value (None: leave it empty)
    name: str = ""


@dataclass(frozen=True)
class Note:
    key: str  # idempotency key; its marker is written into the note, so a resumed push finds it
    email: str
    at: str  # ISO 8601 UTC
    text: str

    @property
    def marker(self) -> str:
        return f"[arkops:{self.key}]"

    def body(self) -> str:
        return f"{self.text}\n{self.marker}"


@dataclass
class Upserted:
    ids: dict[str, str] = field(default_factory=dict)  # email -> the provider's id
    created: int = 0
    refused: dict[str, str] = field(default_factory=dict)  # email -> the provider's reason


class Probe(NamedTuple):
    check: str
    ok: bool
    detail: str


class Provider(Protocol):
    name: str
    batch_size: int  # people per request where the provider has batch endpoints, else per journal step

    def setup(self) -> list[str]:
        """Create what is missing (property group, custom fields); the names created, [] when all existed."""
        ...

    def probe(self) -> list[Probe]:
        """The token works and has what pushes need; every custom field exists."""
        ...

    def upsert(self, contacts: list[Contact], known: dict[str, str]) -> Upserted:
        """Create or update people by email; `known` holds ids from earlier pushes (a hint, never trusted alone)."""
        ...

    def add_notes(self, notes: list[tuple[Note, str]]) -> dict[str, str]:
        """Attach each note to the person id given; note key -> the provider's note id."""
        ...

    def noted(self, person_id: str) -> set[str]:
        """The markers of the notes already on a person (a push that died mid-request is resumed with it)."""
        ...

    def forget(self, email: str, person_id: str | None) -> bool:
        """Delete the person (the provider's privacy deletion where it has one); True when gone or never there."""
        ...


PROVIDERS = {
    "hubspot": ("arkops.sources.hubspot:HubSpot", "HUBSPOT_TOKEN", "HUBSPOT_API_BASE", "https://api.hubapi.com"),
    "pipedrive": (
        "arkops.sources.pipedrive:Pipedrive",
        "PIPEDRIVE_TOKEN",
        "PIPEDRIVE_API_BASE",
        "https://api.pipedrive.com",
    ),
}


def open_provider(name: str, *, token: str, base: str, settings: dict[str, Any], pacer: Pacer) -> Provider:
    import importlib

    module, _, attribute = PROVIDERS[name][0].partition(":")
    return getattr(importlib.import_module(module), attribute)(token=token, base=base, settings=settings, pacer=pacer)
