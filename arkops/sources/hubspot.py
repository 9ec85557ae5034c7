"""HubSpot through its client library (`hubspot-api-client`, the `crm` extra), CRM API v3.

Endpoints used, as HubSpot's reference describes them:
`POST /crm/v3/objects/contacts/batch/upsert` (up to 100 inputs, each `{"id":
email, "idProperty": "email", "properties": {...}}`: creates or updates by
email, so a batch sent twice makes no duplicate), `GET /crm/v3/properties/contacts`,
`POST /crm/v3/properties/contacts/groups` and `/batch/create` (the `arkops`
group and its properties), `POST /crm/v3/objects/notes/batch/create` (each
note associated to its contact, association type 202 "note to contact"),
`POST /crm/v3/objects/notes/search` (a contact's notes, by
`associations.contact`), `POST /crm/v3/objects/contacts/gdpr-delete`
(permanent deletion by email), and `POST /oauth/v2/private-apps/get/access-token-info`
(the private app token's scopes). Requests are paced under the private
app's 10-second limit; a 429 is retried after its `Retry-After`.
"""

from __future__ import annotations

from typing import Any

from arkops.errors import ServiceError
from arkops.sources.crm import FIELDS, Contact, Note, Probe, Upserted
from arkops.sources.ratelimit import Pacer, retry_after

GROUP = "arkops"
BATCH = 100  # HubSpot's limit of inputs per batch request
NOTE_TO_CONTACT = 202  # HubSpot-defined association type id
SCOPES = (
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.schemas.contacts.read",
    "crm.schemas.contacts.write",
)
TYPES = {  # arkops field kind -> (HubSpot property type, fieldType)
    "text": ("string", "text"),
    "number": ("number", "number"),
    "date": ("date", "date"),
    "datetime": ("datetime", "date"),
}
ATTEMPTS = 5


class HubSpot:
    name = "hubspot"
    batch_size = BATCH

    def __init__(self, *, token: str, base: str, settings: dict[str, Any], pacer: Pacer) -> None:
        from hubspot import HubSpot as Client

        self.token, self.base, self.pacer = token, base.rstrip("/"), pacer
        self.stages: dict[str, str] = dict(settings)  # arkops stage -> lifecyclestage ([crm.hubspot])
        self.client = Client(access_token=token, host=self.base)

    def _call(self, what: str, method: Any, **kwargs: Any) -> Any:
        """One request through the client: paced, a 429 retried after its Retry-After, other errors one line."""
        from hubspot.crm.contacts import ApiException

        for _ in range(ATTEMPTS):
            self.pacer.before()
            try:
                data, _status, headers = method(**kwargs)
            except ApiException as exc:
                headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
                if exc.status == 429:
                    self.pacer.rate_limited(retry_after(headers, 10.0))
                    continue
                if exc.status is not None and exc.status >= 500:
                    self.pacer.rate_limited(1.0)
                    continue
                raise ServiceError(f"hubspot: {what}: HTTP {exc.status} {_message(exc.body)}") from None
            except Exception as exc:  # urllib3's connection errors, whatever their class
                raise ServiceError(f"hubspot: {what}: {type(exc).__name__}: {exc}") from None
            found = {k.lower(): v for k, v in (headers or {}).items()}
            self.pacer.told(found.get("x-hubspot-ratelimit-remaining"), _seconds(found))
            return data
        raise ServiceError(f"hubspot: {what}: still refused after {ATTEMPTS} attempts")

    def setup(self) -> list[str]:
        from hubspot.crm.properties import BatchInputPropertyCreate, PropertyCreate, PropertyGroupCreate

        api = self.client.crm.properties
        existing = self._call("read properties", api.core_api.get_all_with_http_info, object_type="contacts")
        names = {p.name for p in existing.results}
        created: list[str] = []
        groups = self._call("read property groups", api.groups_api.get_all_with_http_info, object_type="contacts")
        if GROUP not in {g.name for g in groups.results}:
            self._call(
                "create the arkops property group",
                api.groups_api.create_with_http_info,
                object_type="contacts",
                property_group_create=PropertyGroupCreate(name=GROUP, label="arkops", display_order=-1),
            )
            created.append(f"property group {GROUP}")
        missing = [f for f in FIELDS if f.name not in names]
        if missing:
            inputs = [
                PropertyCreate(
                    name=f.name, label=f.label, type=TYPES[f.kind][0], field_type=TYPES[f.kind][1], group_name=GROUP
                )
                for f in missing
            ]
            self._call(
                "create properties",
                api.batch_api.create_with_http_info,
                object_type="contacts",
                batch_input_property_create=BatchInputPropertyCreate(inputs=inputs),
            )
            created += [f.name for f in missing]
        return created

    def probe(self) -> list[Probe]:
        from arkops.sources.http_json import call

        answer = call(
            "POST",
            f"{self.base}/oauth/v2/private-apps/get/access-token-info",
            body={"tokenKey": self.token},
            service="hubspot",
        )
        if answer.status != 200 or not isinstance(answer.body, dict):
            return [Probe("hubspot token", False, f"HTTP {answer.status} {_message(answer.body)}")]
        scopes = set(answer.body.get("scopes") or [])
        lacking = [s for s in SCOPES if s not in scopes]
        probes = [
            Probe(
                "hubspot token",
                not lacking,
                f"missing scopes: {', '.join(lacking)}" if lacking else f"hub {answer.body.get('hubId')}, scopes ok",
            )
        ]
        if lacking:
            return probes
        existing = self._call(
            "read properties", self.client.crm.properties.core_api.get_all_with_http_info, object_type="contacts"
        )
        missing = sorted({f.name for f in FIELDS} - {p.name for p in existing.results})
        probes.append(
            Probe(
                "hubspot properties",
                not missing,
                f"missing: {', '.join(missing)} (run `arkops crm setup`)" if missing else f"{len(FIELDS)} present",
            )
        )
        return probes

    def upsert(self, contacts: list[Contact], known: dict[str, str]) -> Upserted:
        from hubspot.crm.contacts import (
            BatchInputSimplePublicObjectBatchInputUpsert,
            SimplePublicObjectBatchInputUpsert,
        )

        done = Upserted()
        for start in range(0, len(contacts), BATCH):
            chunk = contacts[start : start + BATCH]
            inputs = [
                SimplePublicObjectBatchInputUpsert(
                    id=c.email, id_property="email", object_write_trace_id=c.email, properties=self._properties(c)
                )
                for c in chunk
            ]
            answer = self._call(
                "upsert contacts",
                self.client.crm.contacts.batch_api.upsert_with_http_info,
                batch_input_simple_public_object_batch_input_upsert=BatchInputSimplePublicObjectBatchInputUpsert(
                    inputs=inputs
                ),
            )
            for result in answer.results or []:
                email = (result.properties or {}).get("email", "").lower()
                if email:
                    done.ids[email] = str(result.id)
                    done.created += bool(getattr(result, "new", False))
            for error in getattr(answer, "errors", None) or []:
                for email in _error_ids(error):
                    done.refused[email] = error.message or error.category or "refused"
        return done

    def _properties(self, contact: Contact) -> dict[str, str]:
        properties = {"email": contact.email, "arkops_stage": contact.stage}
        stage = self.stages.get(contact.stage, "")
        if stage:
            properties["lifecyclestage"] = stage
        kinds = {f.name: f.kind for f in FIELDS}
        for name, value in contact.values.items():
            properties[name] = "" if value is None else _text(value, kinds[name])
        return properties

    def add_notes(self, notes: list[tuple[Note, str]]) -> dict[str, str]:
        from hubspot.crm.objects.notes import (
            AssociationSpec,
            BatchInputSimplePublicObjectBatchInputForCreate,
            PublicAssociationsForObject,
            PublicObjectId,
            SimplePublicObjectBatchInputForCreate,
        )

        made: dict[str, str] = {}
        for start in range(0, len(notes), BATCH):
            chunk = notes[start : start + BATCH]
            inputs = [
                SimplePublicObjectBatchInputForCreate(
                    properties={"hs_timestamp": note.at, "hs_note_body": note.body()},
                    associations=[
                        PublicAssociationsForObject(
                            to=PublicObjectId(id=person),
                            types=[
                                AssociationSpec(
                                    association_category="HUBSPOT_DEFINED", association_type_id=NOTE_TO_CONTACT
                                )
                            ],
                        )
                    ],
                )
                for note, person in chunk
            ]
            answer = self._call(
                "create notes",
                self.client.crm.objects.notes.batch_api.create_with_http_info,
                batch_input_simple_public_object_batch_input_for_create=BatchInputSimplePublicObjectBatchInputForCreate(
                    inputs=inputs
                ),
            )
            by_marker = {note.marker: note.key for note, _ in chunk}
            for result in answer.results or []:
                body = (result.properties or {}).get("hs_note_body") or ""
                for marker, key in by_marker.items():
                    if marker in body:
                        made[key] = str(result.id)
        return made

    def noted(self, person_id: str) -> set[str]:
        from hubspot.crm.objects.notes import Filter, FilterGroup, PublicObjectSearchRequest

        request = PublicObjectSearchRequest(
            filter_groups=[
                FilterGroup(filters=[Filter(property_name="associations.contact", operator="EQ", value=person_id)])
            ],
            properties=["hs_note_body"],
            limit=200,
        )
        answer = self._call(
            "search notes",
            self.client.crm.objects.notes.search_api.do_search_with_http_info,
            public_object_search_request=request,
        )
        return {(r.properties or {}).get("hs_note_body") or "" for r in answer.results or []}

    def forget(self, email: str, person_id: str | None) -> bool:
        from hubspot.crm.contacts import PublicGdprDeleteInput

        try:
            self._call(
                "gdpr-delete a contact",
                self.client.crm.contacts.basic_api.purge_with_http_info,
                public_gdpr_delete_input=PublicGdprDeleteInput(object_id=email, id_property="email")
                if email
                else PublicGdprDeleteInput(object_id=person_id),
            )
        except ServiceError as exc:
            if "HTTP 404" not in str(exc):
                raise
        return True  # deleted, or nobody had that email


def _text(value: Any, kind: str) -> str:
    if kind == "number":
        return f"{value:g}" if isinstance(value, float) else str(value)
    if kind == "date":
        return str(value)[:10]
    return str(value)


def _seconds(headers: dict[str, str]) -> str | None:
    interval = headers.get("x-hubspot-ratelimit-interval-milliseconds")
    try:
        return str(int(interval) / 1000) if interval else None
    except ValueError:
        return None


def _error_ids(error: Any) -> list[str]:
    """The people a 207 (multi-status) error is about: a write names them by the `objectWriteTraceId` each input
    carries (its email), a read by `ids`."""
    context = getattr(error, "context", None) or {}
    return [str(v).lower() for key in ("objectWriteTraceId", "ids") for v in context.get(key, []) or []]


def _message(body: Any) -> str:
    if isinstance(body, (bytes, str)):
        import json

        try:
            body = json.loads(body)
        except ValueError:
            return str(body)[:200]
    if isinstance(body, dict):
        return str(body.get("message") or body.get("category") or "")[:200]
    return ""
