"""Pipedrive through its documented REST API (no maintained Python client exists), with the standard library.

Endpoints used, as Pipedrive's reference describes them: `GET /v1/users/me`
(the token works), `GET /v1/personFields` and `POST /v1/personFields` (the
arkops custom fields, whose keys are the 40-character hashes Pipedrive
makes), `GET /api/v2/persons/search?term=<email>&fields=email&exact_match=true`,
`POST /api/v2/persons` and `PATCH /api/v2/persons/{id}` (custom fields under
`custom_fields`, labels as `label_ids`), `DELETE /api/v2/persons/{id}`,
`POST /v1/notes` and `GET /v1/notes?person_id=`. The token goes in the
`x-api-token` header. Pipedrive has no batch endpoint for persons: each
person is a search (skipped when an earlier push gave its id) and an add
or an update, so a push killed after an add finds that person on its next
run instead of adding a second. Pacing follows `x-ratelimit-remaining` and
`x-ratelimit-reset` (the 2-second burst window); a 429 is retried after its
`Retry-After`, and one that asks for longer than a run waits (the daily
token budget is spent) stops the push until the next run.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from arkops.errors import ServiceError
from arkops.sources.crm import FIELDS, Contact, Note, Probe, Upserted
from arkops.sources.http_json import Answer, call
from arkops.sources.ratelimit import Pacer, retry_after

TYPES = {"text": "varchar", "number": "double", "date": "date", "datetime": "varchar"}
STEP = 50  # persons per journal step: Pipedrive has no batch endpoint, the journal still works in steps
ATTEMPTS = 5


class Pipedrive:
    name = "pipedrive"
    batch_size = STEP

    def __init__(self, *, token: str, base: str, settings: dict[str, Any], pacer: Pacer) -> None:
        self.token, self.base, self.pacer = token, base.rstrip("/"), pacer
        self.labels: dict[str, str] = dict(settings)  # arkops stage -> person label name ([crm.pipedrive])
        self._fields: list[dict] | None = None

    def _request(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        url = f"{self.base}{path}" + (f"?{urlencode(query)}" if query else "")
        for _ in range(ATTEMPTS):
            self.pacer.before()
            answer = call(method, url, headers={"x-api-token": self.token}, body=body, service="pipedrive")
            self.pacer.told(answer.headers.get("x-ratelimit-remaining"), answer.headers.get("x-ratelimit-reset"))
            if answer.status == 429:
                self.pacer.rate_limited(retry_after(answer.headers, 2.0))
                continue
            if answer.status >= 500:
                self.pacer.rate_limited(1.0)
                continue
            return self._data(method, path, answer)
        raise ServiceError(f"pipedrive: {method} {path}: still refused after {ATTEMPTS} attempts")

    @staticmethod
    def _data(method: str, path: str, answer: Answer) -> Any:
        body = answer.body if isinstance(answer.body, dict) else {}
        if answer.status >= 400 or body.get("success") is False:
            problem = body.get("error") or body.get("error_info") or "refused"
            raise ServiceError(f"pipedrive: {method} {path}: HTTP {answer.status} {problem}")
        return body.get("data")

    def fields(self) -> list[dict]:
        if self._fields is None:
            self._fields = self._request("GET", "/v1/personFields", start=0, limit=500) or []
        return self._fields

    def _keys(self) -> dict[str, str]:
        """arkops field name -> Pipedrive's key for it, for the fields that exist."""
        by_label = {str(f.get("name")): str(f.get("key") or "") for f in self.fields()}
        return {f.name: by_label[f.label] for f in FIELDS if by_label.get(f.label)}

    def _label_ids(self) -> dict[str, int]:
        """Stage -> the id of the person label named for it in `[crm.pipedrive] labels`, where both exist."""
        options = next((f.get("options") or [] for f in self.fields() if f.get("key") == "label"), [])
        by_name = {o.get("label"): o.get("id") for o in options}
        return {stage: by_name[name] for stage, name in self.labels.items() if name and name in by_name}

    def setup(self) -> list[str]:
        missing = [f for f in FIELDS if f.name not in self._keys()]
        for field in missing:
            self._request("POST", "/v1/personFields", {"name": field.label, "field_type": TYPES[field.kind]})
        self._fields = None
        return [f.label for f in missing]

    def probe(self) -> list[Probe]:
        try:
            me = self._request("GET", "/v1/users/me") or {}
        except ServiceError as exc:
            return [Probe("pipedrive token", False, str(exc))]
        probes = [Probe("pipedrive token", True, f"user {me.get('id')} of company {me.get('company_id')}")]
        missing = [f.label for f in FIELDS if f.name not in self._keys()]
        probes.append(
            Probe(
                "pipedrive fields",
                not missing,
                f"missing: {', '.join(missing)} (run `arkops crm setup`)" if missing else f"{len(FIELDS)} present",
            )
        )
        absent = [name for stage, name in self.labels.items() if name and stage not in self._label_ids()]
        if absent:
            probes.append(Probe("pipedrive labels", False, f"no person label named {', '.join(absent)}"))
        return probes

    def find(self, email: str) -> str | None:
        data = self._request("GET", "/api/v2/persons/search", term=email, fields="email", exact_match="true") or {}
        for entry in data.get("items") or []:
            item = entry.get("item") or {}
            if email in [str(e).lower() for e in item.get("emails") or []]:
                return str(item["id"])
        return None

    def upsert(self, contacts: list[Contact], known: dict[str, str]) -> Upserted:
        done = Upserted()
        keys, labels = self._keys(), self._label_ids()
        for contact in contacts:
            body = self._body(contact, keys, labels)
            person = known.get(contact.email) or self.find(contact.email)
            try:
                if person:
                    self._request("PATCH", f"/api/v2/persons/{quote(person)}", body)
                else:
                    made = self._request(
                        "POST",
                        "/api/v2/persons",
                        {"name": contact.name or contact.email.split("@")[0], **body},
                    )
                    person = str(made["id"])
                    done.created += 1
            except ServiceError as exc:
                if "HTTP 404" in str(exc) and contact.email in known:  # deleted in Pipedrive since: find or add again
                    retry = self.upsert([contact], {})
                    done.ids.update(retry.ids)
                    done.created += retry.created
                    done.refused.update(retry.refused)
                    continue
                if "HTTP 400" in str(exc):
                    done.refused[contact.email] = str(exc)
                    continue
                raise
            done.ids[contact.email] = person
        return done

    @staticmethod
    def _body(contact: Contact, keys: dict[str, str], labels: dict[str, int]) -> dict[str, Any]:
        custom = {keys["arkops_stage"]: contact.stage} if "arkops_stage" in keys else {}
        for name, value in contact.values.items():
            if name in keys:
                custom[keys[name]] = value
        body: dict[str, Any] = {
            "emails": [{"value": contact.email, "primary": True, "label": "work"}],
            "custom_fields": custom,
        }
        if contact.stage in labels:
            body["label_ids"] = [labels[contact.stage]]
        return body

    def add_notes(self, notes: list[tuple[Note, str]]) -> dict[str, str]:
        made = {}
        for note, person in notes:
            data = self._request("POST", "/v1/notes", {"content": note.body(), "person_id": int(person)})
            made[note.key] = str(data["id"])
        return made

    def noted(self, person_id: str) -> set[str]:
        notes = self._request("GET", "/v1/notes", person_id=person_id, start=0, limit=500) or []
        return {str(n.get("content") or "") for n in notes}

    def forget(self, email: str, person_id: str | None) -> bool:
        person = person_id or (self.find(email) if email else None)
        if person is None:
            return True
        try:
            self._request("DELETE", f"/api/v2/persons/{quote(person)}")
        except ServiceError as exc:
            if "HTTP 404" not in str(exc):
                raise
            if email and person_id and (other := self.find(email)):  # the id we kept is gone, someone has the email
                self._request("DELETE", f"/api/v2/persons/{quote(other)}")
        return True
