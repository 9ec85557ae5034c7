"""Privacy: export and forget across every store, erasure records, retention, the audit log, file modes."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import stripe
from conftest import free_port, run_arkops, serving, write_config
from crm_standins import TOKEN, hubspot_server
from stripe_shapes import customer, event, invoice, ts

EMAIL = "Ana.Lopez@example.com"
IP = "203.0.113.77"
OTHER_IP = "198.51.100.4"
SECRET = "whsec_" + "privacysecret0123456789abcdef"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def traces(value: str) -> list[str]:
    """The value as text, and the plain hashes anyone could compute from it."""
    forms = {value, value.lower()}
    hashes = {getattr(hashlib, name)(form.encode()).hexdigest() for name in ("md5", "sha1", "sha256") for form in forms}
    return sorted(forms | hashes)


def hits(folder: Path, values: list[str]) -> list[str]:
    """Every file under the folder holding any of the values (case-insensitive), as 'file: value'."""
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", "replace").lower()
            found += [f"{path.relative_to(folder)}: {v}" for v in values if v.lower() in text]
    return found


def data_files(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "locks" not in p.parts and p.name != "audit.jsonl"
    }


def ingest(cli, workspace: Path, evt: dict):
    payload = json.dumps(evt)
    header = stripe.WebhookSignature.generate_signature_header(payload, SECRET)
    (workspace / "event.json").write_text(payload)
    return cli("webhooks", "ingest", "event.json", "--signature", header)


def at(monkeypatch, moment: datetime) -> None:
    monkeypatch.setenv("ARKOPS_NOW", stamp(moment))


@pytest.fixture
def seeded(cli, workspace, monkeypatch, smtp_server):
    """The seeding below, with her pushed to a HubSpot stand-in that `privacy forget` deletes her from."""
    server, state = hubspot_server(free_port())
    monkeypatch.setenv("HUBSPOT_TOKEN", TOKEN)
    monkeypatch.setenv("HUBSPOT_API_BASE", server.base)
    with serving(server):
        yield seed(cli, workspace, monkeypatch)
    assert [c["properties"]["email"] for c in state.contacts.values()] == ["bob@example.org"]


def seed(cli, workspace, monkeypatch):
    """One person (EMAIL, IP) in every store, through the real commands, with a neighbour who must stay."""
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    # full addresses, so that forgetting an IP has something to find (the default, anonymized, never stores one)
    write_config(
        workspace,
        '[leads]\nretention_days = 90\nip_storage = "full"\n[crm]\nprovider = "hubspot"\nforget = true\n' + PLANS,
    )
    at(monkeypatch, START)
    # Her visits in the web server's log and in the app's visit log, her demo request, and a neighbour's.
    (workspace / "access.log").write_text(
        "".join(access_lines(IP, EMAIL, hour=8) + access_lines(OTHER_IP, None, hour=8))
    )
    (workspace / "app-visits.jsonl").write_text(
        json.dumps(
            {
                "timestamp": "2026-03-02T08:30:00Z",
                "page": "/demo",
                "ip": IP,
                "user_agent": BROWSER,
                "referrer": "https://news.example/item",
                "query_params": {"email": [EMAIL], "utm_source": ["newsletter"]},
            }
        )
        + "\n"
    )
    demo = [
        {"email": EMAIL, "name": "Ana Lopez", "company": "Acme", "source": "website", "ip": IP, "user_agent": BROWSER},
        {"email": "bob@example.org", "name": "Bob", "company": "Bobco", "source": "website"},
    ]
    (workspace / "demo.json").write_text(json.dumps([{**d, "created_at": "2026-03-02T08:40:00Z"} for d in demo]))
    assert cli("leads", "ingest", "access.log", "app-visits.jsonl").code == 0
    assert cli("leads", "import", "demo.json").code == 0
    assert cli("leads", "scan").code == 0  # the operator's hot-leads digest names her
    # A launch offer she and a neighbour redeemed (her confirmation email queued), and their usage.
    assert cli("promo", "create", "LAUNCH30", "--discount", "pro=30", "--slots", "5").code == 0
    for who in (EMAIL, "bob@example.org"):
        assert cli("promo", "redeem", "LAUNCH30", "--email", who, "--plan", "pro").code == 0
        assert cli("usage", "record", who, "watches", "7").code == 0
    signups = [
        {"email": EMAIL, "plan": "pro", "created_at": stamp(START), "utm_source": "newsletter", "ip": IP},
        {"email": "bob@example.org", "plan": "starter", "created_at": stamp(START), "ip": OTHER_IP},
    ]
    activity = [{"email": EMAIL.lower(), "kind": "watch_created", "timestamp": stamp(START + timedelta(hours=2))}]
    (workspace / "signups.json").write_text(json.dumps(signups))
    (workspace / "activity.json").write_text(json.dumps(activity))
    assert cli("trials", "import", "signups.json", "activity.json").code == 0
    at(monkeypatch, START + timedelta(hours=3))
    assert cli("trials", "nudge").code == 0  # the welcome emails
    assert cli("trials", "track").code == 0  # the operator's alert names her
    assert cli("leads", "scan").code == 0  # the new-lead digest names her signup
    # The offer announced to the trials (a follow-up due), and the operator told of the redemptions.
    assert cli("promo", "announce", "LAUNCH30", "--segment", "trials", "--follow-up-days", "3").code == 0
    assert cli("run", "--only", "promo-sync", "--force").code == 0
    assert (
        cli(
            "mail",
            "send",
            "trial_day12",
            "--to",
            EMAIL,
            "--var",
            "days_left=2",
            "--var",
            "plan=Pro",
            "--var",
            "upgrade_url=https://example.com/up",
        ).code
        == 0
    )
    assert cli("mail", "flush").code == 0
    for evt in (
        event("evt_cus_ana", "customer.created", {**customer("cus_ana", EMAIL), "name": "Ana Lopez"}, ts("2026-03-05")),
        event("evt_cus_bob", "customer.created", customer("cus_bob", "bob@example.org"), ts("2026-03-05")),
        event(
            "evt_in_ana",
            "invoice.paid",
            invoice("in_ana", "cus_ana", 2900, paid_at=ts("2026-03-06"), email=EMAIL),
            ts("2026-03-06"),
        ),
        event(
            "evt_in_bob",
            "invoice.paid",
            invoice("in_bob", "cus_bob", 900, paid_at=ts("2026-03-07"), email="bob@example.org"),
            ts("2026-03-07"),
        ),
    ):
        assert ingest(cli, workspace, evt).code == 0
    # Two months on: her trial, its emails and their bodies move to the monthly archives.
    at(monkeypatch, START + timedelta(days=60))
    assert cli("trials", "track").code == 0
    assert "trials archived" in cli("retention").out
    assert (workspace / "data" / "archive" / "trials").is_dir()
    # And a dry-run message to her, rendered to an .eml file, in the hot outbox.
    assert (
        cli(
            "--dry-run",
            "mail",
            "send",
            "trial_day7",
            "--to",
            EMAIL,
            "--var",
            "days_left=7",
            "--var",
            "plan=Pro",
            "--var",
            "activity_count=3",
        ).code
        == 0
    )
    assert cli("trials", "list", "--archived").code == 0  # the conversions cache names her
    assert any((workspace / "data" / "cache").glob("*.json"))
    # Both in the CRM, with a note for each digest entry (her hot visits, the two demo requests).
    assert cli("crm", "setup").code == 0
    pushed = cli("crm", "push")
    assert pushed.code == 0 and "sent 2 people (2 new), 3 notes" in pushed.err, pushed.err
    return workspace


PLANS = """
[plans.starter]
price = 900
[plans.pro]
price = 2900
limits = { watches = 10 }
"""
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0"


def access_lines(ip: str, email: str | None, *, hour: int) -> list[str]:
    """A visitor's combined-format lines on /pricing and /trial (the trial page carrying her email, as the app links it)."""
    trial = "/trial" + (f"?email={email.replace('@', '%40')}&utm_source=newsletter" if email else "")
    return [
        f'{ip} - - [02/Mar/2026:{hour:02d}:{minute:02d}:00 +0000] "GET {page} HTTP/1.1" 200 5120 '
        f'"https://news.example/item?id=7" "{BROWSER}"\n'
        for minute, page in ((10, "/pricing"), (12, trial))
    ]


def promo_figures(cli) -> dict:
    stats = cli("promo", "stats", "--format", "json")
    remaining = cli("promo", "remaining", "LAUNCH30", "--format", "json")
    assert stats.code == 0 and remaining.code == 0, stats.err + remaining.err
    return {"stats": json.loads(stats.out), "remaining": json.loads(remaining.out)}


def pseudonym_of(data: Path) -> str:
    return json.loads((data / "ledger.json").read_text())["customers"]["cus_ana"]["email"]


def test_forget_reaches_visits_linked_to_them_only_by_their_visitor_id(cli, workspace, monkeypatch):
    """Under the default anonymized storage her visits hold neither her address nor her email: her demo request
    (address and user agent) links that visitor to her, so export shows those visits and forget removes them."""
    at(monkeypatch, START)
    (workspace / "access.log").write_text(
        "".join(access_lines(IP, None, hour=8) + access_lines(OTHER_IP, None, hour=8))
    )
    (workspace / "demo.json").write_text(
        json.dumps([{"email": EMAIL, "created_at": "2026-03-02T08:40:00Z", "ip": IP, "user_agent": BROWSER}])
    )
    assert cli("leads", "ingest", "access.log").code == 0 and cli("leads", "import", "demo.json").code == 0
    visits = workspace / "data" / "visits" / "2026-03-02.jsonl"
    assert IP not in visits.read_text() and EMAIL.lower() not in visits.read_text()  # nothing names her directly

    leads = json.loads(cli("leads", "list", "--format", "json").out)
    assert sorted(lead["email"] or "" for lead in leads) == ["", EMAIL.lower()]  # her visits count for her
    exported = json.loads(cli("privacy", "export", EMAIL).out)["stores"]
    assert [v["path"] for v in exported["visits"]["visits/2026-03-02.jsonl"].values()] == ["/pricing", "/trial"]
    assert "2 visits records" in cli("--dry-run", "privacy", "forget", EMAIL).out  # the preview counts them too
    forgotten = cli("privacy", "forget", EMAIL, "--yes")
    assert forgotten.code == 0 and "2 visits records" in forgotten.out, forgotten.out
    assert [json.loads(line)["ip"] for line in visits.read_text().splitlines()] == ["198.51.100.0"] * 2
    leads = json.loads(cli("leads", "list", "--format", "json").out)
    assert [lead["email"] for lead in leads] == [None] and leads[0]["visits"] == 2  # only the neighbour is left


def message_ids(data: Path) -> list[str]:
    files = [data / "outbox.json", *sorted((data / "archive" / "outbox").glob("20*.json"))]
    return sorted(i for f in files for i in json.loads(f.read_text()).get("messages", {}))


def report(cli) -> dict:
    result = cli("payments", "report", "--months", "3", "--format", "json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_forget_leaves_no_trace_keeps_the_figures_and_is_not_undone_by_a_reimport(cli, seeded, monkeypatch):
    data = seeded / "data"
    assert hits(data, [EMAIL]), "the seeding reached no store"
    assert hits(data, [IP])
    exported = json.loads(cli("privacy", "export", EMAIL).out)
    assert exported["person"] == EMAIL.lower()
    assert {"trials", "outbox", "ledger", "leads", "visits"} <= set(exported["stores"]), exported["stores"].keys()
    seeded_in = {h.split(":")[0].split("/")[0] for h in hits(data, [EMAIL, IP])}
    assert {"visits", "leads.json", "outbox.json"} <= seeded_in, seeded_in  # her visits, demo request, digest
    assert "trials (archive 2026-03)" in exported["stores"]["trials"]
    assert exported["stores"]["ledger"]["customers"]["cus_ana"]["name"] == "Ana Lopez"
    assert list(exported["stores"]["ledger"]["invoices"]) == ["in_ana"]  # hers, not her neighbour's
    figures = report(cli)
    offer = promo_figures(cli)
    messages = message_ids(data)

    first = cli("privacy", "forget", EMAIL, "--yes")
    assert first.code == 0, first.err
    assert "erased:" in first.out and "ledger customers pseudonymised" in first.out
    assert "CRM people deleted" in first.out
    assert cli("privacy", "forget", IP, "--yes").code == 0

    assert hits(data, traces(EMAIL) + traces(IP)) == []
    assert report(cli) == figures  # the same revenue, customers and movements
    assert promo_figures(cli) == offer  # her slot stays taken: the offer is never oversold
    promo = json.loads((data / "promo.json").read_text())
    assert [r["email"] for r in promo["redemptions"].values()].count(pseudonym_of(data)) == 1
    assert message_ids(data) == messages  # emptied, not removed: their keys still say "already sent"
    ledger = json.loads((data / "ledger.json").read_text())
    pseudonym = ledger["customers"]["cus_ana"]["email"]
    assert pseudonym.startswith("erased-") and pseudonym.endswith("@erased.invalid")
    assert ledger["invoices"]["in_ana"]["customer_email"] == pseudonym
    assert ledger["invoices"]["in_ana"]["amount_paid"] == 2900
    assert hits(data, ["bob@example.org", OTHER_IP]), "the neighbour was erased too"

    before = data_files(data)
    again = cli("privacy", "forget", EMAIL, "--yes")
    assert again.out.strip() == "privacy forget: nothing held about them (already erased)"
    assert data_files(data) == before  # a second run is a no-op

    # The same files imported again, a customer update and a legacy payment naming her: she does not come back.
    reimport = cli("trials", "import", "signups.json", "activity.json")
    assert reimport.code == 0, reimport.err
    assert "2 records of erased people not recorded" in reimport.err
    assert (
        ingest(
            cli,
            seeded,
            event(
                "evt_cus_ana_2",
                "customer.updated",
                {**customer("cus_ana", EMAIL), "name": "Ana Lopez"},
                ts("2026-05-01"),
            ),
        ).code
        == 0
    )
    (seeded / "payments.json").write_text(
        json.dumps(
            [
                {
                    "invoice_id": "legacy_9",
                    "customer_email": EMAIL,
                    "amount": 5,
                    "currency": "EUR",
                    "status": "paid",
                    "paid_at": "2026-04-02T10:00:00Z",
                }
            ]
        )
    )
    assert cli("payments", "import", "payments.json").code == 0
    # Her demo request imported again, and a new log holding her visits again: neither stored; the neighbour's are.
    again = cli("leads", "import", "demo.json")
    assert again.code == 0 and "1 record of erased people not recorded" in again.err, again.err
    (seeded / "access-2.log").write_text(
        "".join(access_lines(OTHER_IP, None, hour=10) + access_lines(IP, EMAIL, hour=10))
    )
    ingested = cli("leads", "ingest", "access-2.log")
    assert (
        ingested.code == 0
        and "2 visit(s) stored" in ingested.err
        and "2 visits of erased people not recorded" in ingested.err
    )
    (seeded / "dave.json").write_text(json.dumps([{"email": "dave@example.net", "plan": "pro", "ip": IP}]))
    assert cli("trials", "import", "dave.json").code == 0  # another person from her address: kept, without it
    assert hits(data, traces(EMAIL) + traces(IP)) == []
    assert json.loads((data / "ledger.json").read_text())["customers"]["cus_ana"]["email"] == pseudonym
    signup = cli("trials", "signup", EMAIL, "--plan", "pro")
    assert signup.code == 3 and "erased at their request" in signup.err
    # Nor does a new redemption, usage value or checkout link for her: refused, nothing written or sent.
    before = data_files(data)
    for args in (
        ("promo", "redeem", "LAUNCH30", "--email", EMAIL, "--plan", "pro"),
        ("usage", "record", EMAIL, "watches", "9"),
        ("billing", "checkout", EMAIL, "--plan", "pro"),
    ):
        refused = cli(*args)
        assert refused.code == 3 and "was erased at their request" in refused.err, (args, refused.err)
    assert data_files(data) == before
    (seeded / "usage.json").write_text(
        json.dumps([{"email": e, "metric": "watches", "value": 8} for e in (EMAIL, "bob@example.org")])
    )
    imported = cli("usage", "import", "usage.json")
    assert imported.code == 0 and "1 recorded" in imported.err and "1 record of erased people" in imported.err

    # The audit log kept every line, names nobody in clear, and logged the forget by its keyed hash.
    lines = [json.loads(line) for line in (data / "audit.jsonl").read_text().splitlines()]
    forgets = [line for line in lines if line["command"] == "privacy forget"]
    assert len(forgets) == 3 and forgets[0]["arguments"]["person"].startswith("<email:")
    assert forgets[1]["arguments"]["person"].startswith("<ip:")


def test_every_declared_store_is_reached_and_an_undeclared_one_is_caught(cli, seeded, monkeypatch):
    """A store left out of the declarations is found by the same walk: the guard for domains to come."""
    from arkops.core.registry import databases
    from arkops.store import read_json_file

    for name, (_, database) in databases().items():
        # Each database lists every table it writes, with its personal fields or () for none: a table nobody
        # declared is a table whose personal data privacy commands would never reach.
        assert database.personal, f"{name} declares no tables; list each, with () where it holds nobody"
        path = seeded / "data" / f"{name}.json"
        if database.kind == "tinydb" and path.exists():
            written = {table for table in read_json_file(path) if not table.startswith("_")}
            assert written <= database.personal.keys(), f"{name}: {sorted(written - database.personal.keys())}"
    stray = seeded / "data" / "stray.json"
    stray.write_text(json.dumps({"notes": {"1": {"who": EMAIL}}}))
    stray.chmod(0o600)
    assert cli("privacy", "forget", EMAIL, "--yes").code == 0
    found = hits(seeded / "data", traces(EMAIL))
    assert found and {line.split(":")[0] for line in found} == {"stray.json"}


def test_forget_asks_and_dry_run_counts_without_writing(cli, workspace):
    assert cli("trials", "signup", "eve@example.com", "--plan", "pro").code == 0
    before = data_files(workspace / "data")
    preview = cli("--dry-run", "privacy", "forget", "eve@example.com")
    assert preview.out.strip() == "privacy forget: would erase: 1 trials records"
    refused = run_arkops("privacy", "forget", "eve@example.com", input="n\n")
    assert refused.code == 130 and "Erase eve@example.com from every arkops store?" in refused.out
    assert data_files(workspace / "data") == before
    assert cli("privacy", "forget", "not an address").code == 3


def test_purge_removes_only_visit_files_and_temp_files_past_their_age(cli, workspace, monkeypatch):
    from arkops.core import registry
    from arkops.core.domain import Database, Domain
    from arkops.core.privacy.purge import day_files, temp_files
    from arkops.runtime import Runtime

    leads = Domain(
        "leads",
        "visits",
        databases=(
            Database("visits", 1, {"visits": ("ip", "user_agent")}, kind="jsonl", keep_days="leads.retention_days"),
        ),
    )
    monkeypatch.setattr(registry, "domains", lambda: (leads,))
    data = workspace / "data"
    folder = data / "visits"
    folder.mkdir(mode=0o700)
    for day in ("2026-08-23", "2026-08-24", "2026-11-20"):
        (folder / f"{day}.jsonl").write_text(json.dumps({"ip": IP, "at": f"{day}T10:00:00Z"}) + "\n")
    old_temp, new_temp = data / ".trials.json.abc.tmp", data / ".outbox.json.def.tmp"
    for path in (old_temp, new_temp):
        path.write_text("{")
    now = datetime(2026, 11, 22, 3, 30, tzinfo=UTC)
    os.utime(old_temp, (now.timestamp() - 25 * 3600,) * 2)
    os.utime(new_temp, (now.timestamp() - 3600,) * 2)
    rt = Runtime(data_dir=data, config_path=workspace / "arkops.toml", env_file=workspace / ".env", dry_run=True)
    assert day_files(rt, now=now) == {"visits day files removed": 1}
    assert temp_files(rt, now=now) == {"temp files removed": 1}
    assert len(list(folder.iterdir())) == 3 and old_temp.exists()  # a dry run only counts
    rt.dry_run = False
    assert day_files(rt, now=now) == {"visits day files removed": 1}  # 2026-08-23 is 91 days old; 08-24 is 90
    assert sorted(p.name for p in folder.iterdir()) == ["2026-08-24.jsonl", "2026-11-20.jsonl"]
    assert temp_files(rt, now=now) == {"temp files removed": 1}
    assert not old_temp.exists() and new_temp.exists()


def test_privacy_purge_runs_the_retention_rules(cli, workspace, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", "2026-11-22T03:30:00Z")
    old = workspace / "data" / ".ledger.json.x1.tmp"
    old.write_text("{")
    os.utime(old, (datetime(2026, 11, 20, tzinfo=UTC).timestamp(),) * 2)
    assert (
        cli("--dry-run", "privacy", "purge").out.strip() == "privacy purge: would move or remove: 1 temp files removed"
    )
    assert old.exists()
    assert cli("privacy", "purge").out.strip() == "privacy purge: 1 temp files removed"
    assert cli("privacy", "purge").out.strip() == "privacy purge: nothing past its age"
    assert not old.exists()


def test_files_are_private_and_doctor_fails_when_they_are_not(cli, workspace, monkeypatch):
    os.umask(0o022)
    data = workspace / "data"
    assert cli("trials", "signup", "fay@example.com", "--plan", "pro").code == 0
    assert cli("--dry-run", "trials", "nudge").code == 0  # outbox.json, outbox/*.eml
    monkeypatch.setenv("ARKOPS_NOW", stamp(datetime.now(UTC) + timedelta(days=60)))
    assert cli("retention").code == 0  # archive/outbox/<month>.json, made with its parent folder
    modes = {str(p.relative_to(data)): stat.S_IMODE(p.stat().st_mode) for p in data.rglob("*")}
    assert "archive" in modes and any(name.startswith("archive/outbox/") for name in modes)
    assert {name: mode for name, mode in modes.items() if mode not in (0o600, 0o700)} == {}
    assert "data permissions" in cli("doctor").out
    (data / "trials.json").chmod(0o644)
    result = cli("doctor", "--format", "json")
    check = next(c for c in json.loads(result.out) if c["check"] == "data permissions")
    assert result.code == 1 and check["status"] == "fail" and "trials.json (644)" in check["detail"]


def test_audit_log_names_no_secret_and_no_address(cli, workspace, monkeypatch):
    key = "sk_test_" + "privacyauditkey12345"
    monkeypatch.setenv("STRIPE_SECRET_KEY", key)
    assert cli("trials", "signup", "gil@example.com", "--plan", "pro", "--source", f"from {IP} via {key}").code == 0
    assert cli("trials", "list").code == 0  # reads only: no line
    assert cli("trials", "signup", "bad-address", "--plan", "pro").code == 3
    text = (workspace / "data" / "audit.jsonl").read_text()
    for secret in ["gil@example.com", IP, key, *traces("gil@example.com")]:
        assert secret not in text
    rows = json.loads(cli("audit", "--format", "json").out)
    assert [(r["command"], r["outcome"]) for r in rows] == [("trials signup", "ok"), ("trials signup", "exit 3")]
    assert rows[0]["arguments"]["email"].startswith("<email:") and "<ip:" in rows[0]["arguments"]["source"]
    assert rows[0]["user"] and rows[0]["at"].endswith("Z")
    assert json.loads(cli("audit", "--since", "2099-01-01", "--format", "json").out) == []


def test_anonymized_ip_storage_writes_no_full_address(cli, workspace):
    write_config(workspace, '[leads]\nip_storage = "anonymized"\n')
    v6 = "2001:db8:1234:5678:9abc::1"
    signups = [{"email": "hal@example.com", "plan": "pro", "ip": IP, "client": {"addresses": [v6, "not an ip"]}}]
    (workspace / "signups.json").write_text(json.dumps(signups))
    assert cli("trials", "import", "signups.json").code == 0
    extra = json.loads((workspace / "data" / "trials.json").read_text())["trials"]["hal@example.com"]["extra"]
    assert extra == {"ip": "203.0.113.0", "client": {"addresses": ["2001:db8:1234::", "not an ip"]}}
    assert hits(workspace / "data", [IP, v6, "2001:db8:1234:5678"]) == []


def test_json_lines_stores_are_exported_and_forgotten_line_by_line(workspace, monkeypatch):
    """A domain to come (leads) declares its visit files; export and forget reach them with no code of its own."""
    from arkops.core import registry
    from arkops.core.domain import Database, Domain
    from arkops.core.privacy import erased
    from arkops.core.privacy.service import export, forget
    from arkops.runtime import Runtime

    leads = Domain("leads", "visits", databases=(Database("visits", 1, {"visits": ("ip", "email")}, kind="jsonl"),))
    today = registry.domains()
    monkeypatch.setattr(registry, "domains", lambda: (*today, leads))
    data = workspace / "data"
    (data / "visits").mkdir(mode=0o700)
    lines = [
        {"ip": IP, "path": "/pricing", "user_agent": "Mozilla/5.0 (X11; Linux x86_64)"},
        {"ip": f"{IP}1", "path": "/"},  # 203.0.113.771 is not an address, and not hers
        {"ip": OTHER_IP, "path": "/signup", "email": EMAIL.lower()},
    ]
    (data / "visits" / "2026-11-20.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    rt = Runtime(data_dir=data, config_path=workspace / "arkops.toml", env_file=workspace / ".env")
    now = datetime(2026, 11, 22, tzinfo=UTC)
    assert export(rt, IP, now=now)["stores"] == {"visits": {"visits/2026-11-20.jsonl": {"1": lines[0]}}}
    assert forget(rt, IP, now=now).done["visits records"] == 1
    assert forget(rt, EMAIL, now=now).done["visits records"] == 1
    left = [json.loads(line) for line in (data / "visits" / "2026-11-20.jsonl").read_text().splitlines()]
    assert left == [lines[1]]
    assert erased(rt, IP) and erased(rt, f" {EMAIL} ") and not erased(rt, OTHER_IP)  # what leads will ask


def test_a_job_outcome_naming_the_person_is_reworded_and_the_run_kept(cli, workspace):
    assert cli("run", "--only", "retention", "--force").code == 0
    path = workspace / "data" / "jobs.json"
    jobs = json.loads(path.read_text())
    jobs["runs"]["retention"].update(outcome="failed", detail=f"no trial for {EMAIL.lower()}; record the signup first")
    path.write_text(json.dumps(jobs))
    assert "1 job outcomes reworded" in cli("privacy", "forget", EMAIL, "--yes").out
    run = json.loads(path.read_text())["runs"]["retention"]
    assert (
        run["detail"].startswith("no trial for erased-")
        and run["last_start"] == jobs["runs"]["retention"]["last_start"]
    )


def test_a_lost_privacy_key_is_refused_while_erasures_need_it(cli, workspace):
    """Without its key the erasure records match nobody: a new key would silently let the erased back in."""
    data = workspace / "data"
    assert cli("trials", "signup", "eve@example.com", "--plan", "pro").code == 0
    assert cli("privacy", "forget", "eve@example.com", "--yes").code == 0
    key = (data / "privacy.key").read_bytes()
    (data / "privacy.key").unlink()
    for args in (
        ("trials", "signup", "eve@example.com", "--plan", "pro"),
        ("privacy", "forget", "zoe@example.com", "--yes"),
        ("privacy", "export", "eve@example.com"),
    ):
        refused = cli(*args)
        assert refused.code == 3, (args, refused.out, refused.err)
        assert "privacy.key is missing" in refused.err and "restore privacy.key" in refused.err, refused.err
    assert not (data / "privacy.key").exists()  # no new key was made
    (data / "privacy.key").write_text("")
    assert cli("trials", "signup", "eve@example.com", "--plan", "pro").code == 3  # an emptied key: refused as well
    (data / "privacy.key").write_bytes(key)
    (data / "privacy.key").chmod(0o600)
    restored = cli("trials", "signup", "eve@example.com", "--plan", "pro")
    assert restored.code == 3 and "erased at their request" in restored.err  # the key back, the erasure holds


def test_a_new_key_is_made_while_nobody_was_erased(cli, workspace):
    assert cli("trials", "signup", "eve@example.com", "--plan", "pro").code == 0
    assert cli("privacy", "export", "eve@example.com").code == 0
    (workspace / "data" / "privacy.key").unlink()
    assert cli("privacy", "export", "eve@example.com").code == 0
    assert (workspace / "data" / "privacy.key").is_file()


def test_forget_and_export_reach_the_archived_invoices_too(cli, seeded, monkeypatch):
    """After `retention` moves her settled invoice to archive/ledger/, export shows it and forget pseudonymises
    it there: no trace of her in any store, hot or archived (visit day files, .eml renderings, outbox)."""
    data = seeded / "data"
    at(monkeypatch, START + timedelta(days=66))  # her invoice untouched 60 days; her visits younger than 90
    assert "invoices archived" in cli("retention").out
    archived = [h for h in hits(data, [EMAIL]) if h.startswith("archive/ledger/")]
    assert archived, hits(data, [EMAIL])
    assert {h.split(":")[0].split("/")[0] for h in hits(data, [EMAIL, IP])} >= {"visits", "outbox", "archive"}
    exported = json.loads(cli("privacy", "export", EMAIL).out)["stores"]["ledger"]
    (table,) = [t for t in exported if t.startswith("invoices (archive ")]
    assert list(exported[table]) == ["in_ana"] and "invoices" not in exported  # hers only, found in the archive
    figures = report(cli)
    counted = cli("--dry-run", "privacy", "forget", EMAIL)
    assert "ledger records" in counted.out, counted.out

    first = cli("privacy", "forget", EMAIL, "--yes")
    assert first.code == 0 and "1 ledger invoices pseudonymised" in first.out, first.out
    assert cli("privacy", "forget", IP, "--yes").code == 0
    assert hits(data, traces(EMAIL) + traces(IP)) == []
    assert report(cli) == figures
    assert hits(data, ["bob@example.org"])  # the neighbour's archived invoice stays his
    before = data_files(data)
    assert (
        cli("privacy", "forget", EMAIL, "--yes").out.strip()
        == "privacy forget: nothing held about them (already erased)"
    )
    assert data_files(data) == before
