"""The crm domain against local stand-ins of HubSpot and Pipedrive (tests/crm_standins.py): setup, batched
pushes, rate limits, a push killed with SIGKILL and run again, changes sent once, erased people never sent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import stripe
from conftest import free_port, serving, wait_until, write_config
from crm_standins import PIPEDRIVE_TOKEN, TOKEN, hubspot_server, pipedrive_server
from stripe_shapes import customer, event, subscription, ts

from arkops.clock import iso

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
SECRET = "whsec_" + "crmsecret0123456789abcdef"


@pytest.fixture
def hubspot(workspace, monkeypatch):
    server, state = hubspot_server(free_port())
    monkeypatch.setenv("HUBSPOT_TOKEN", TOKEN)
    monkeypatch.setenv("HUBSPOT_API_BASE", server.base)
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW))
    write_config(workspace, '[product]\nname = "Acme Watch"\n[crm]\nprovider = "hubspot"\n')
    with serving(server):
        yield server, state


@pytest.fixture
def pipedrive(workspace, monkeypatch):
    server, state = pipedrive_server(free_port())
    monkeypatch.setenv("PIPEDRIVE_TOKEN", PIPEDRIVE_TOKEN)
    monkeypatch.setenv("PIPEDRIVE_API_BASE", server.base)
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW))
    write_config(workspace, '[crm]\nprovider = "pipedrive"\n[crm.pipedrive]\ncustomer = "Customer"\n')
    with serving(server):
        yield server, state


def signups(cli, workspace, count: int, *, start: int = 0) -> list[str]:
    emails = [f"person{n:03d}@example.com" for n in range(start, start + count)]
    records = [
        {"email": e, "plan": "pro", "utm_source": "newsletter", "created_at": iso(NOW - timedelta(days=2))}
        for e in emails
    ]
    path = workspace / f"signups-{start}.json"
    path.write_text(json.dumps(records))
    assert cli("trials", "import", str(path)).code == 0
    return emails


def demo_requests(cli, workspace, emails: list[str]) -> None:
    """Demo requests named in the new-lead digest: one note each."""
    path = workspace / "requests.json"
    path.write_text(
        json.dumps(
            [
                {"email": e, "name": e.split("@")[0], "source": "pricing", "created_at": iso(NOW - timedelta(hours=1))}
                for e in emails
            ]
        )
    )
    assert cli("leads", "import", str(path)).code == 0
    assert cli("leads", "scan").code == 0


def upsert_inputs(server) -> list[list[dict]]:
    return [r.body["inputs"] for r in server.calls("POST", "/crm/v3/objects/contacts/batch/upsert")]


def test_setup_creates_the_properties_once_and_doctor_checks_them(cli, hubspot):
    server, state = hubspot
    before = cli("doctor", "--crm", "--format", "json")
    checks = {c["check"]: c for c in json.loads(before.out)}
    assert before.code == 1 and checks["hubspot properties"]["status"] == "fail"
    assert "run `arkops crm setup`" in checks["hubspot properties"]["detail"]
    first = cli("crm", "setup")
    assert first.code == 0, first.err
    assert first.out.splitlines()[:2] == ["created property group arkops", "created arkops_stage"]
    assert {p["name"] for p in state.properties} >= {"arkops_mrr", "arkops_lead_score", "arkops_promo_code"}
    mrr = next(p for p in state.properties if p["name"] == "arkops_mrr")
    assert (mrr["type"], mrr["fieldType"], mrr["groupName"]) == ("number", "number", "arkops")
    again = cli("crm", "setup")
    assert again.code == 0 and again.out == "" and "everything was already there" in again.err
    assert len(server.calls("POST", "/crm/v3/properties/contacts/batch/create")) == 1
    assert cli("doctor", "--crm").code == 0
    state.scopes.remove("crm.schemas.contacts.write")
    missing = {c["check"]: c for c in json.loads(cli("doctor", "--crm", "--format", "json").out)}
    assert missing["hubspot token"] == {
        "check": "hubspot token",
        "status": "fail",
        "detail": "missing scopes: crm.schemas.contacts.write",
    }


def test_a_push_of_200_people_goes_in_two_batches_then_nothing_until_something_changes(cli, workspace, hubspot):
    server, state = hubspot
    assert cli("crm", "setup").code == 0
    emails = signups(cli, workspace, 200)
    dry = cli("crm", "push", "--dry-run")
    assert dry.code == 0 and "would send 200 people" in dry.err and upsert_inputs(server) == []
    result = cli("crm", "push")
    assert result.code == 0, result.err
    assert "sent 200 people (200 new), 0 notes; 0 unchanged" in result.err
    batches = upsert_inputs(server)
    assert [len(b) for b in batches] == [100, 100]
    first = batches[0][0]
    assert first["id"] == "person000@example.com" and first["idProperty"] == "email"
    assert first["properties"]["lifecyclestage"] == "opportunity"  # [crm.hubspot] trial's default
    assert first["properties"]["arkops_stage"] == "trial"
    assert first["properties"]["arkops_plan"] == "pro"
    assert first["properties"]["arkops_utm_source"] == "newsletter"
    assert first["properties"]["arkops_trial_start"] == "2026-03-18"
    assert sorted(c["properties"]["email"] for c in state.contacts.values()) == emails
    requests = len(server.requests)
    cursor = workspace / "data" / "crm.json"
    written = cursor.stat().st_mtime_ns
    quiet = cli("crm", "push")
    assert quiet.code == 0 and "nothing changed since the last push" in quiet.err
    assert len(server.requests) == requests  # not even a request
    assert cursor.stat().st_mtime_ns == written  # nor a write
    status = json.loads(cli("crm", "status", "--format", "json").out)
    assert status["people"] == 200 and status["complete"] is True and status["refused"] == []
    signups(cli, workspace, 1, start=200)
    one_more = cli("crm", "push")
    assert "sent 1 people (1 new), 0 notes; 200 unchanged" in one_more.err
    assert [len(b) for b in upsert_inputs(server)] == [100, 100, 1]


def test_a_batch_hubspot_takes_in_part_207_stores_the_rest_and_names_the_refused(cli, workspace, hubspot):
    server, state = hubspot
    assert cli("crm", "setup").code == 0
    emails = signups(cli, workspace, 3)
    state.refuse[emails[1]] = ("VALIDATION_ERROR", f"Email address {emails[1]} is invalid")
    result = cli("crm", "push")
    assert result.code == 0, result.err
    assert "1 refused (see `arkops crm status`)" in result.err
    (batch,) = upsert_inputs(server)
    assert [i["objectWriteTraceId"] for i in batch] == emails  # each input named, as HubSpot's errors name it
    assert sorted(c["properties"]["email"] for c in state.contacts.values()) == [emails[0], emails[2]]
    status = json.loads(cli("crm", "status", "--format", "json").out)
    assert [r["email"] for r in status["refused"]] == [emails[1]]
    assert "is invalid" in status["refused"][0]["reason"]


def test_a_429_is_retried_after_its_retry_after(cli, workspace, hubspot):
    server, _ = hubspot
    assert cli("crm", "setup").code == 0
    signups(cli, workspace, 3)
    server.hooks.throttle, server.hooks.retry_after = 1, "1"
    result = cli("crm", "push")
    assert result.code == 0, result.err
    refused, accepted = server.calls("POST", "/crm/v3/objects/contacts/batch/upsert")
    assert accepted.at - refused.at >= 1.0
    assert "sent 3 people" in result.err and "waited 1 s for rate limits" in result.err


def test_a_rate_limit_longer_than_a_run_waits_stops_the_push_and_the_next_resumes(cli, workspace, hubspot):
    server, state = hubspot
    assert cli("crm", "setup").code == 0
    old = workspace / "old.json"  # trials long finished, in the archive
    old.write_text(
        json.dumps(
            [{"email": f"old{n}@example.com", "plan": "pro", "created_at": "2026-01-02T09:00:00Z"} for n in range(5)]
        )
    )
    assert cli("trials", "import", str(old)).code == 0
    assert cli("trials", "track").code == 0
    assert "5 trials archived" in cli("retention").out
    signups(cli, workspace, 150)
    server.hooks.throttle, server.hooks.retry_after = 1, "3600"  # a daily limit spent
    stopped = cli("crm", "push")
    assert stopped.code == 4
    assert "asks to wait 3600 s" in stopped.err and "the next push resumes" in stopped.err
    assert json.loads(cli("crm", "status", "--format", "json").out)["complete"] is False
    resumed = cli("crm", "push")
    assert resumed.code == 0 and "sent 155 people" in resumed.err
    assert len(state.contacts) == 155  # the archived trials too, though the first push stopped


def ingest_stripe(cli, workspace, evt: dict) -> None:
    payload = json.dumps(evt)
    header = stripe.WebhookSignature.generate_signature_header(payload, SECRET)
    path = workspace / "event.json"
    path.write_text(payload)
    result = cli("webhooks", "ingest", str(path), "--signature", header)
    assert result.code == 0, result.err


def test_a_changed_mrr_is_sent_once(cli, workspace, hubspot, monkeypatch):
    server, state = hubspot
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    assert cli("crm", "setup").code == 0
    ingest_stripe(
        cli, workspace, event("evt_c", "customer.created", customer("cus_1", "ana@example.com"), ts("2026-03-01"))
    )
    pro = subscription("sub_1", "cus_1", [(2900, "eur", "month", 1, 1, "prod_pro")], start="2026-03-01")
    ingest_stripe(cli, workspace, event("evt_s1", "customer.subscription.created", pro, ts("2026-03-01")))
    assert "sent 1 people" in cli("crm", "push").err
    (contact,) = state.contacts.values()
    assert contact["properties"]["arkops_mrr"] == "29"
    assert contact["properties"]["lifecyclestage"] == "customer"
    upgraded = subscription("sub_1", "cus_1", [(4900, "eur", "month", 1, 1, "prod_pro")], start="2026-03-01")
    ingest_stripe(cli, workspace, event("evt_s2", "customer.subscription.updated", upgraded, ts("2026-03-10")))
    changed = cli("crm", "push")
    assert "sent 1 people (0 new)" in changed.err
    assert contact["properties"]["arkops_mrr"] == "49"
    assert cli("crm", "push").err.count("nothing changed") == 1
    sent = [i["properties"]["arkops_mrr"] for b in upsert_inputs(server) for i in b]
    assert sent == ["29", "49"]  # each value once
    canceled = subscription(
        "sub_1",
        "cus_1",
        [(4900, "eur", "month", 1, 1, "prod_pro")],
        start="2026-03-01",
        status="canceled",
        ended_at=ts("2026-03-15"),
    )
    ingest_stripe(cli, workspace, event("evt_s3", "customer.subscription.deleted", canceled, ts("2026-03-15")))
    assert "sent 1 people" in cli("crm", "push").err
    assert (contact["properties"]["arkops_stage"], contact["properties"]["lifecyclestage"]) == ("churned", "other")
    assert contact["properties"]["arkops_mrr"] == "0"


def test_an_erased_person_is_never_sent_and_forget_deletes_them_in_the_crm(cli, workspace, hubspot):
    server, state = hubspot
    assert cli("crm", "setup").code == 0
    signups(cli, workspace, 2)  # person000, person001
    assert cli("privacy", "forget", "person000@example.com", "--yes").code == 0
    assert "sent 1 people" in cli("crm", "push").err
    seen = json.dumps([r.body for r in server.requests])
    assert "person000" not in seen
    # With [crm] forget = true, forgetting someone already pushed deletes them there (HubSpot's GDPR delete).
    write_config(workspace, '[crm]\nprovider = "hubspot"\nforget = true\n')
    demo_requests(cli, workspace, ["person001@example.com"])
    assert "1 notes" in cli("crm", "push").err
    forgot = cli("privacy", "forget", "person001@example.com", "--yes")
    assert forgot.code == 0 and "1 crm records, 1 CRM people deleted" in forgot.out, forgot.err
    (purge,) = server.calls("POST", "/crm/v3/objects/contacts/gdpr-delete")
    assert purge.body == {"objectId": "person001@example.com", "idProperty": "email"}
    assert state.contacts == {} and state.notes == {}
    assert "person001" not in (workspace / "data" / "crm.json").read_text()


def test_forget_while_the_crm_is_down_queues_the_deletion_for_the_next_push(cli, workspace, hubspot, monkeypatch):
    server, state = hubspot
    write_config(workspace, '[crm]\nprovider = "hubspot"\nforget = true\n')
    assert cli("crm", "setup").code == 0
    signups(cli, workspace, 1)
    assert cli("crm", "push").code == 0
    (contact_id,) = state.contacts
    monkeypatch.setenv("HUBSPOT_API_BASE", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    forgot = cli("privacy", "forget", "person000@example.com", "--yes")
    assert forgot.code == 0 and "1 CRM deletions queued for the next crm-sync" in forgot.out
    assert "person000" not in (workspace / "data" / "crm.json").read_text()
    monkeypatch.setenv("HUBSPOT_API_BASE", server.base)
    assert "1 queued CRM deletions made" in cli("crm", "push").err
    (purge,) = server.calls("POST", "/crm/v3/objects/contacts/gdpr-delete")
    assert purge.body == {"objectId": contact_id} and state.contacts == {}


def run_push(workspace) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "arkops", "crm", "push"],
        cwd=workspace,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_notes_killed_mid_request_are_found_not_sent_twice(cli, workspace, hubspot):
    server, state = hubspot
    assert cli("crm", "setup").code == 0
    emails = signups(cli, workspace, 3)
    demo_requests(cli, workspace, emails)
    server.hooks.hold = "/crm/v3/objects/notes/batch/create"  # the notes are made, the answer never comes
    push = run_push(workspace)
    assert wait_until(lambda: len(state.notes) == 3, timeout=30)
    push.send_signal(signal.SIGKILL)
    push.wait(timeout=10)
    server.hooks.released.set()
    server.hooks.hold = None
    rerun = cli("crm", "push")
    assert rerun.code == 0, rerun.err
    assert "3 notes of an interrupted push found already there" in rerun.err
    bodies = sorted(n["properties"]["hs_note_body"] for n in state.notes.values())
    assert len(bodies) == 3 and all("Demo request" in b and "[arkops:digest:import:" in b for b in bodies)
    assert len(server.calls("POST", "/crm/v3/objects/notes/batch/create")) == 1
    assert "nothing changed" in cli("crm", "push").err


@pytest.mark.slow
def test_a_pipedrive_push_killed_with_sigkill_then_run_again_duplicates_nobody(cli, workspace, pipedrive):
    server, state = pipedrive
    # 240 requests (a search and an add each): paced at the default 100 per 10 s, this would take 20 s
    write_config(workspace, '[crm]\nprovider = "pipedrive"\nrequests_per_10s = 2000\n')
    assert cli("crm", "setup").code == 0
    emails = signups(cli, workspace, 120)
    server.hooks.delay = 0.01
    push = run_push(workspace)
    assert wait_until(lambda: len(state.persons) >= 50, timeout=60)
    push.send_signal(signal.SIGKILL)
    push.wait(timeout=10)
    server.hooks.delay = 0
    assert 50 <= len(state.persons) < 120
    rerun = cli("crm", "push")
    assert rerun.code == 0, rerun.err
    found = sorted(p["emails"][0]["value"] for p in state.persons.values())
    assert found == emails  # everyone once
    assert len(server.calls("POST", "/api/v2/persons")) == 120


def test_pipedrive_fields_labels_notes_and_known_ids(cli, workspace, pipedrive, monkeypatch):
    server, state = pipedrive
    created = cli("crm", "setup")
    assert created.code == 0 and "created arkops stage" in created.out
    keys = {f["name"]: f["key"] for f in state.fields}
    assert (
        len(keys["arkops MRR"]) == 40
        and next(f for f in state.fields if f["name"] == "arkops MRR")["field_type"] == "double"
    )
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    ingest_stripe(
        cli, workspace, event("evt_c", "customer.created", customer("cus_1", "ana@example.com"), ts("2026-03-01"))
    )
    pro = subscription("sub_1", "cus_1", [(2900, "eur", "month", 1, 1, "prod_pro")], start="2026-03-01")
    ingest_stripe(cli, workspace, event("evt_s1", "customer.subscription.created", pro, ts("2026-03-01")))
    demo_requests(cli, workspace, ["ana@example.com"])
    result = cli("crm", "push")
    assert result.code == 0 and "sent 1 people (1 new), 1 notes" in result.err, result.err
    (person,) = state.persons.values()
    assert person["label_ids"] == [5]  # the "Customer" label, by name
    assert person["custom_fields"][keys["arkops stage"]] == "customer"
    assert person["custom_fields"][keys["arkops MRR"]] == 29.0
    assert person["emails"] == [{"value": "ana@example.com", "primary": True, "label": "work"}]
    (note,) = state.notes.values()
    assert note["person_id"] == person["id"] and "[arkops:digest:import:" in note["content"]
    upgraded = subscription("sub_1", "cus_1", [(4900, "eur", "month", 1, 1, "prod_pro")], start="2026-03-01")
    ingest_stripe(cli, workspace, event("evt_s2", "customer.subscription.updated", upgraded, ts("2026-03-10")))
    searches = len(server.calls("GET", "/api/v2/persons/search"))
    assert "sent 1 people (0 new), 0 notes" in cli("crm", "push").err
    assert len(server.calls("GET", "/api/v2/persons/search")) == searches  # the id recorded: no search
    (update,) = server.calls("PATCH", r"/api/v2/persons/\d+")
    assert update.body["custom_fields"][keys["arkops MRR"]] == 49.0
    doctor = {c["check"]: c["status"] for c in json.loads(cli("doctor", "--crm", "--format", "json").out)}
    assert doctor == {**doctor, "pipedrive token": "ok", "pipedrive fields": "ok"}


def test_without_a_provider_push_is_a_config_error_and_the_job_is_skipped(cli, workspace):
    result = cli("crm", "push")
    assert result.code == 3 and "crm.provider: no CRM provider set" in result.err
    write_config(workspace, '[crm]\nprovider = "hubspot"\n')
    missing = cli("crm", "push")
    assert missing.code == 3 and "no HUBSPOT_TOKEN set" in missing.err
    skipped = cli("run", "--only", "crm-sync", "--force", "-v")  # -v: a quiet tick does not print a skipped job
    assert skipped.code == 0 and "crm-sync  skipped  no HUBSPOT_TOKEN set (in the environment or .env)" in skipped.out


def test_the_crm_sync_job_pushes_through_arkops_run(cli, workspace, hubspot):
    _, state = hubspot
    assert cli("crm", "setup").code == 0
    signups(cli, workspace, 2)
    result = cli("run", "--only", "crm-sync", "--force")
    assert result.code == 0 and "sent 2 people (2 new)" in result.out, result.out + result.err
    assert len(state.contacts) == 2


def test_status_shows_the_last_push_red_when_it_stopped(cli, workspace, hubspot):
    _, state = hubspot
    assert cli("crm", "setup").code == 0
    signups(cli, workspace, 2)
    state.properties = [p for p in state.properties if p["name"] != "arkops_promo_code"]  # deleted by hand
    refused = cli("crm", "push")
    assert refused.code == 4, refused.err  # the whole batch refused: HubSpot names the missing property
    assert "arkops_promo_code" in refused.err
    stopped = json.loads(cli("status", "--format", "json").out)["sections"]["crm"]["figures"]["last_push"]
    assert stopped["red"] and stopped["text"] == "2026-03-20 12:00 (stopped)" and "arkops_promo_code" in stopped["note"]
    assert cli("status", "--check").code == 1
    assert cli("crm", "setup").out == "created arkops_promo_code\n"
    assert cli("crm", "push").code == 0
    figures = json.loads(cli("status", "--format", "json").out)["sections"]["crm"]["figures"]
    assert figures["people"]["value"] == 2 and figures["refused"]["value"] == 0
    assert figures["last_push"]["text"] == "2026-03-20 12:00" and not figures["last_push"]["red"]


def test_the_pacer_keeps_the_window_and_the_providers_count():
    from arkops.sources.ratelimit import Pacer, RateLimited

    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))
        now[0] += seconds

    pacer = Pacer("hubspot", limit=3, window=10.0, max_wait=60, sleep=sleep, clock=lambda: now[0])
    for _ in range(3):
        pacer.before()
        now[0] += 1
    pacer.before()  # the 4th in 10 s waits until the 1st leaves the window
    assert slept == [7.0]
    pacer.told("0", "2")  # the provider says its window is spent for 2 s
    pacer.before()
    assert slept == [7.0, 2.0]
    pacer.rate_limited(5)  # a 429 with Retry-After: 5
    pacer.before()
    assert slept[-1] == 5.0
    with pytest.raises(RateLimited, match="asks to wait 3600 s"):
        pacer.rate_limited(3600)
