"""Storage that stays fast: no write without a change, bounded batches, archives, retention, the migration."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import run_arkops, write_config
from stripe_shapes import event, invoice

from arkops.clock import iso

NOW = datetime(2026, 10, 15, 9, 0, tzinfo=UTC)


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every data file under the folder (locks and the audit log aside) with its bytes and mtime.

    The audit log gets a line for each command people run that may change data, whether it did or not.
    """
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "locks" not in p.parts and p.name != "audit.jsonl"
    }


def history(workspace: Path, days: int, count: int, *, active_every: int = 2) -> None:
    """The web app's signups and activity files: `count` trials over the last `days` days."""
    signups, activity = [], []
    for n in range(count):
        signed = NOW - timedelta(days=days) + timedelta(seconds=n * days * 86400 // count)
        signups.append({"email": f"t{n:05d}@example.org", "plan": "pro", "created_at": iso(signed)})
        if n % active_every == 0:
            activity.append(
                {"email": f"t{n:05d}@example.org", "action": "api_call", "timestamp": iso(signed + timedelta(hours=2))}
            )
    (workspace / "signups.json").write_text(json.dumps(signups))
    (workspace / "activity.json").write_text(json.dumps(activity))


def test_a_run_that_changes_nothing_leaves_every_file_untouched(cli, workspace, smtp_server, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW))
    history(workspace, 60, 60)
    assert cli("trials", "import", "signups.json", "activity.json").code == 0
    assert cli("run", "--force").code == 0  # tracks, nudges, archives, flushes: everything there is to do
    assert cli("mail", "flush").code == 0  # ... and sends the weekly report, queued by the tick's last job
    assert len(smtp_server.received) > 0
    # The tick archived trials after it tracked them: the next track reads trials.json once more and records
    # its new identity in a disposable cache (`cache/trials-track.json`); from then on nothing is written.
    assert cli("trials", "track").code == 0
    data = workspace / "data"
    before = snapshot(data)
    assert any(name.startswith("archive/trials/") for name in before)
    for command in (
        ("trials", "track"),
        ("trials", "nudge"),
        ("mail", "flush"),
        ("retention",),
        ("run",),  # nothing is due again in this slot: not even jobs.json is written
        ("trials", "list", "--archived", "--format", "json"),
        ("mail", "outbox", "--archived"),
        ("doctor",),
    ):
        result = cli(*command)
        assert result.code in (0, 1), (command, result.err)
        assert snapshot(data) == before, command


def test_signups_and_activity_meet_the_archive(cli, workspace, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW - timedelta(days=80)))
    assert cli("trials", "signup", "old@example.com", "--plan", "pro").code == 0
    assert cli("trials", "activity", "old@example.com", "--kind", "login").code == 0
    assert cli("trials", "nudge").code == 0
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW - timedelta(days=10)))
    assert cli("trials", "signup", "new@example.com", "--plan", "pro").code == 0
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW))
    assert cli("trials", "track").code == 0
    assert (
        cli("retention").out.strip() == "1 trials archived, 1 trials archive summaries written"
    )  # its welcome email, never sent, stays in line
    hot = json.loads((workspace / "data" / "trials.json").read_text())
    assert list(hot["trials"]) == ["new@example.com"]
    assert [r["email"] for r in json.loads(cli("trials", "list", "--format", "json").out)] == ["new@example.com"]
    everyone = json.loads(cli("trials", "list", "--archived", "--format", "json").out)
    assert [(r["email"], r["state"]) for r in everyone] == [
        ("old@example.com", "expired"),
        ("new@example.com", "signed_up"),
    ]
    shown = json.loads(cli("trials", "show", "old@example.com", "--format", "json").out)
    assert [e["what"] for e in shown["timeline"]][:3] == ["signup", "activity", "step welcome"]
    assert "email trial_welcome" in [e["what"] for e in shown["timeline"]]
    again = cli("trials", "signup", "old@example.com", "--plan", "starter")
    assert again.code == 0 and "already" in again.err
    (workspace / "late.json").write_text(json.dumps([{"email": "old@example.com", "action": "login"}]))
    imported = cli("trials", "import", "late.json")  # the web app's full export, replayed: not an error
    assert imported.code == 0
    assert imported.err.strip().endswith("0 skipped, 1 activity of archived trials not recorded")
    late = cli("trials", "activity", "old@example.com", "--kind", "login")
    assert late.code == 3
    assert late.err == (
        "arkops: error: the trial of old@example.com ended and was archived (2026-07); activity after it is not recorded\n"
    )


def test_retention_removes_only_what_is_past_its_age(cli, workspace, monkeypatch):
    write_config(workspace, "[trials]\narchive_after_days = 30\n[mail]\nkeep_bodies_days = 30\n")
    # trials that ended 31 and 29 days ago (14-day trials)
    for email, days in (("ended31@example.com", 45), ("ended29@example.com", 43)):
        monkeypatch.setenv("ARKOPS_NOW", iso(NOW - timedelta(days=days)))
        assert cli("trials", "signup", email, "--plan", "pro").code == 0
    # operator messages queued 40, 8 and 6 days ago, sent (dry run: no server needed) at once
    for days in (40, 8, 6):
        monkeypatch.setenv("ARKOPS_NOW", iso(NOW - timedelta(days=days)))
        assert cli("--dry-run", "mail", "send", "test", "--to", f"d{days}@example.com").code == 0
    eml = sorted((workspace / "data" / "outbox").iterdir())
    assert len(eml) == 3
    old_file = next(p for p in eml if p.name.startswith("000001"))
    stamp = (NOW - timedelta(days=40)).timestamp()
    os.utime(old_file, (stamp, stamp))
    # Stripe event ids applied 50 and 40 days ago, and a synthetic one from 60 days ago
    from arkops.core.billing.service import apply_events
    from arkops.runtime import Runtime

    rt = Runtime(Path("data"), Path("arkops.toml"), Path(".env"))
    events = [
        event(eid, "invoice.paid", invoice(f"in_{eid}", "cus_1", 900, paid_at=ts, email="p@example.com"), ts)
        for eid, ts in (
            ("evt_50", int((NOW - timedelta(days=50)).timestamp())),
            ("evt_40", int((NOW - timedelta(days=40)).timestamp())),
            ("full:in_x:1", int((NOW - timedelta(days=60)).timestamp())),
        )
    ]
    apply_events(rt, events, now=NOW)
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW))
    assert cli("trials", "track").code == 0
    data = workspace / "data"
    before = snapshot(data)
    preview = cli("--dry-run", "retention")
    assert preview.out.strip() == (
        "would move or remove: 1 trials archived, 1 Stripe event ids folded, 2 messages archived, "
        "1 dry-run files removed"
    )
    assert snapshot(data) == before
    done = cli("retention")
    assert done.out.strip() == (
        "1 trials archived, 1 trials archive summaries written, 1 Stripe event ids folded, 2 messages archived, "
        "1 message bodies dropped, 1 dry-run files removed"
    )
    hot = json.loads((data / "trials.json").read_text())["trials"]
    assert list(hot) == ["ended29@example.com"]
    ledger = json.loads((data / "ledger.json").read_text())
    assert sorted(ledger["events"]) == ["evt_40", "full:in_x:1"]
    assert ledger["sync"]["folded"]["count"] == 1
    outbox = json.loads((data / "outbox.json").read_text())
    assert [m["to"] for m in outbox["messages"].values()] == ["d6@example.com"]
    archived = {m["to"]: m for m in json.loads(cli("mail", "outbox", "--archived", "--format", "json").out)}
    assert archived["d40@example.com"]["text"] == "" and archived["d40@example.com"]["body_dropped_at"]
    assert archived["d8@example.com"]["text"] and "body_dropped_at" not in archived["d8@example.com"]
    assert not old_file.exists() and len(list((data / "outbox").iterdir())) == 2
    # a Stripe event older than the ids kept is a duplicate, not applied again
    redelivered = apply_events(rt, [events[0]], now=NOW)
    assert (redelivered.applied, redelivered.duplicates) == (0, 1)


def test_the_same_key_after_its_message_was_archived_queues_nothing(workspace, monkeypatch):
    from arkops.core.notify import notify
    from arkops.mail.outbox import archive_settled, list_messages
    from arkops.runtime import Runtime

    rt = Runtime(Path("data"), Path("arkops.toml"), Path(".env"), dry_run=True)
    first = notify(rt, "test", {}, key="k:1", now=NOW - timedelta(days=10), to="a@example.com")
    notify(rt, "test", {}, key="k:2", now=NOW - timedelta(days=10), to="b@example.com")
    assert first[0].created
    store = rt.store
    assert archive_settled(store, now=NOW, keep_bodies=timedelta(days=30), dry_run=False) == {
        "messages archived": 2,
        "archived keys forgotten": 0,
    }
    again = notify(rt, "test", {}, key="k:1", now=NOW, to="a@example.com")
    assert (again[0].created, again[0].id, again[0].state) == (False, first[0].id, "dry-run")
    real = Runtime(Path("data"), Path("arkops.toml"), Path(".env"))
    sent = notify(real, "test", {}, key="k:1", now=NOW, to="a@example.com")  # a dry run's key: the real one goes
    assert sent[0].created and sent[0].id != first[0].id
    assert [m["state"] for m in list_messages(store)] == ["pending"]
    assert (
        archive_settled(store, now=NOW + timedelta(days=100), keep_bodies=timedelta(days=30), dry_run=False)[
            "archived keys forgotten"
        ]
        == 1
    )


def test_a_job_queues_all_its_messages_in_one_outbox_write(cli, workspace, monkeypatch):
    history(workspace, 3, 40, active_every=1)
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW))
    assert cli("trials", "import", "signups.json", "activity.json").code == 0
    outbox = workspace / "data" / "outbox.json"
    writes = []
    from arkops.store import files

    real = files.atomic_write_bytes

    def counting(path, data):
        writes.append(Path(path).name)
        return real(path, data)

    monkeypatch.setattr(files, "atomic_write_bytes", counting)
    monkeypatch.setattr("arkops.store.db.atomic_write_bytes", counting)
    result = cli("trials", "nudge")
    assert result.code == 0 and "31 emails queued" in result.err, result.err
    assert writes.count("outbox.json") == 1 and writes.count("trials.json") == 1
    assert len(json.loads(outbox.read_text())["messages"]) == 31


@pytest.mark.slow
def test_bulk_first_track_with_concurrent_signups_loses_none_and_sends_once(workspace, smtp_server, monkeypatch):
    history(workspace, 120, 3000)
    env = {"ARKOPS_NOW": iso(NOW)}
    assert run_arkops("trials", "import", "signups.json", "activity.json", env=env, cwd=workspace).code == 0
    jobs = [
        subprocess.Popen([sys.executable, "-m", "arkops", "trials", command], cwd=workspace, env={**os.environ, **env})
        for command in ("track", "nudge", "nudge", "track")
    ]
    signups = []
    for n in range(12):
        signups.append(run_arkops("trials", "signup", f"late{n}@example.com", "--plan", "pro", env=env, cwd=workspace))
    assert [p.wait(timeout=240) for p in jobs] == [0, 0, 0, 0]
    assert [s.code for s in signups] == [0] * 12, [s.err for s in signups]
    assert run_arkops("trials", "nudge", env=env, cwd=workspace).code == 0  # the late signups' welcome
    assert run_arkops("mail", "flush", env=env, cwd=workspace, timeout=240).code == 0
    trials = json.loads((workspace / "data" / "trials.json").read_text())["trials"]
    assert len(trials) == 3012
    import email as email_lib

    sent = [email_lib.message_from_bytes(raw) for raw in smtp_server.received]
    keys = [m["X-Arkops-Key"] for m in sent]
    assert len(keys) == len(set(keys)) > 12
    assert {f"trial:late{n}@example.com:welcome" for n in range(12)} <= set(keys)


def all_records(data: Path) -> dict[str, dict]:
    """Every trial, step, activity and message, from the hot files and the archives (hot copy first)."""
    found: dict[str, dict] = {"trials": {}, "steps": {}, "activity": {}, "messages": {}}
    sources = [data / "trials.json", data / "outbox.json", *sorted((data / "archive").rglob("????-??.json"))]
    for path in sources:
        if not path.exists():
            continue
        content = json.loads(path.read_text())
        for table, rows in found.items():
            for key, doc in content.get(table, {}).items():
                rows.setdefault(key, doc)
    return found


@pytest.mark.slow
def test_the_migration_keeps_every_record_and_can_be_killed_and_rerun(workspace, smtp_server, monkeypatch):
    """Today's layout (schema 1, everything in the hot files) moves to the archives by `arkops retention`."""
    from arkops.core.messaging.service import flush
    from arkops.core.trials.lifecycle import nudge, track
    from arkops.core.trials.records import import_files
    from arkops.runtime import Runtime

    write_config(workspace, "[trials]\ngrace_days = 6\n")
    history(workspace, 120, 400)
    rt = Runtime(workspace / "data", workspace / "arkops.toml", workspace / ".env")
    import_files(rt, [workspace / "signups.json", workspace / "activity.json"], now=NOW - timedelta(days=120))
    for day in range(120, -1, -6):  # cron, every sixth day, for 120 days
        moment = NOW - timedelta(days=day)
        track(rt, now=moment)
        nudge(rt, now=moment)
        flush(rt, now=moment)
    data = workspace / "data"
    for name in ("trials", "outbox"):  # the files as the previous arkops wrote them
        content = json.loads((data / f"{name}.json").read_text())
        content["_meta"]["1"]["schema"] = 1
        (data / f"{name}.json").write_text(json.dumps(content, separators=(",", ":")))
    before = all_records(data)
    assert len(before["trials"]) == 400 and len(before["messages"]) > 1000

    env = {"ARKOPS_NOW": iso(NOW)}
    rng = random.Random(12)
    killed = 0
    for _ in range(6):
        proc = subprocess.Popen(
            [sys.executable, "-m", "arkops", "retention"],
            cwd=workspace,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.05, 0.3))  # arkops starts in about 0.12 s; the whole retention run takes longer
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait()
        middle = all_records(data)
        for table in before:
            assert set(middle[table]) == set(before[table]), table  # never a gap, whatever the moment
    final = run_arkops("retention", env=env, cwd=workspace, timeout=240)
    assert final.code == 0, final.err
    assert killed >= 1
    after = all_records(data)
    for table in before:
        assert set(after[table]) == set(before[table]), table
    for email in ("t00000@example.org", "t00200@example.org", "t00399@example.org"):
        assert after["trials"][email] == before["trials"][email]
    for message_id in list(before["messages"])[:: len(before["messages"]) // 5]:
        old, new = before["messages"][message_id], after["messages"][message_id]
        assert {k: v for k, v in new.items() if k not in ("text", "html", "body_dropped_at")} == {
            k: v for k, v in old.items() if k not in ("text", "html")
        }
    hot = json.loads((data / "trials.json").read_text())
    assert (
        hot["_meta"]["1"]["schema"] == 2 and len(hot["trials"]) == 146
    )  # the last 44 days: in trial or ended < 30 days ago
    assert run_arkops("retention", env=env, cwd=workspace).out.strip() == "nothing past its age"


def test_the_ledger_migration_drops_only_the_unread_version_lists(cli, workspace):
    """Schema 1 kept every version of customers and invoices; nothing read them. Schema 2 keeps the newest state."""
    from arkops.core.billing.service import apply_events
    from arkops.runtime import Runtime

    rt = Runtime(Path("data"), Path("arkops.toml"), Path(".env"))
    paid = int((NOW - timedelta(days=3)).timestamp())
    apply_events(
        rt,
        [event("evt_1", "invoice.paid", invoice("in_1", "cus_1", 2900, paid_at=paid, email="p@example.com"), paid)],
        now=NOW,
    )
    path = workspace / "data" / "ledger.json"
    current = json.loads(path.read_text())
    old = {**current, "_meta": {"1": {"schema": 1}}}
    old["invoices_history"] = {"in_1": {"versions": [current["invoices"]["in_1"]]}}
    old["customers_history"] = {"cus_1": {"versions": [{"id": "cus_1", "email": "p@example.com", "_at": paid}]}}
    path.write_text(json.dumps(old))
    before = cli("payments", "list", "--format", "json").out
    migrated = json.loads(path.read_text())
    assert migrated["_meta"]["1"]["schema"] == 3
    assert "invoices_history" not in migrated and "customers_history" not in migrated
    assert {k: v for k, v in migrated.items() if k != "_meta"} == {k: v for k, v in current.items() if k != "_meta"}
    assert json.loads(before)[0]["invoice"] == "in_1"


def test_a_broken_archive_is_named_left_as_it_is_and_failed_by_doctor(cli, workspace):
    assert cli("trials", "signup", "a@example.com", "--plan", "pro").code == 0
    folder = workspace / "data" / "archive" / "trials"
    folder.mkdir(parents=True)
    (folder / "2026-01.json").write_bytes(b"")
    (folder / "index.json").write_bytes(b'{"months": 5}')
    listed = cli("trials", "list", "--archived")
    assert listed.code == 3 and "2026-01.json is not readable (the file is empty)" in listed.err
    signup = cli("trials", "signup", "b@example.com", "--plan", "pro")
    assert signup.code == 3 and "index.json is not readable" in signup.err
    doctor = cli("doctor")
    assert doctor.code == 1 and "archive trials" in doctor.out
    assert (folder / "2026-01.json").read_bytes() == b"" and (folder / "index.json").read_bytes() == b'{"months": 5}'


def test_settled_invoices_move_to_the_archive_and_every_figure_stays(cli, workspace, monkeypatch):
    """Paid and void invoices untouched for 60 days move to archive/ledger/; reports read them there, a refund
    of an archived invoice brings it back, and every figure equals a ledger that never archived anything."""
    from stripe_shapes import charge_refunded, customer, subscription

    from arkops.core.billing.service import apply_events
    from arkops.runtime import Runtime

    def at(day: str) -> int:
        return int(datetime.fromisoformat(f"{day}T10:00:00+00:00").timestamp())

    events = []
    for who, amount in (("a", 2900), ("b", 900)):
        events.append(
            event(f"evt_c{who}", "customer.created", customer(f"cus_{who}", f"{who}@example.com"), at("2026-01-05"))
        )
        sub = subscription(f"sub_{who}", f"cus_{who}", [(amount, "eur", "month", 1, 1, "pro")], start="2026-01-05")
        events.append(event(f"evt_s{who}", "customer.subscription.created", sub, at("2026-01-05")))
        for month in range(1, 10):
            paid = at(f"2026-{month:02d}-05")
            obj = invoice(f"in_{who}{month}", f"cus_{who}", amount, paid_at=paid, email=f"{who}@example.com")
            obj["subscription"] = f"sub_{who}"
            events.append(event(f"evt_i{who}{month}", "invoice.paid", obj, paid))
    events.append(
        event(
            "evt_open",
            "invoice.payment_failed",
            invoice("in_open", "cus_b", 900, email="b@example.com"),
            at("2026-02-01"),
        )
    )
    refund = event(
        "evt_refund", "charge.refunded", charge_refunded("ch_a1", "in_a1", 2900, at("2026-10-10")), at("2026-10-10")
    )

    monkeypatch.setenv("ARKOPS_NOW", iso(NOW))
    (workspace / "control").mkdir()
    for folder in ("data", "control"):
        apply_events(Runtime(Path(folder), Path("arkops.toml"), Path(".env")), events, now=NOW)
    report = ("payments", "report", "--format", "json")
    before = cli(*report).out
    retention = "21 Stripe event ids folded, 16 invoices archived, 8 ledger archive summaries written"
    assert cli("retention").out.strip() == retention
    data = workspace / "data"
    hot = json.loads((data / "ledger.json").read_text())["invoices"]
    assert sorted(hot) == ["in_a9", "in_b9", "in_open"]  # paid since Aug 16, and the open one
    months = sorted(p.name for p in (data / "archive" / "ledger").iterdir())
    assert months == [
        "2026-01.json",
        "2026-02.json",
        "2026-03.json",
        "2026-04.json",
        "2026-05.json",
        "2026-06.json",
        "2026-07.json",
        "2026-08.json",
        "index.json",
        "summaries",
    ]
    assert cli(*report).out == before
    assert cli("retention").out.strip() == "nothing past its age"
    # a new invoice's webhook leaves the archive alone; a refund of an archived one brings it back
    archived = snapshot(data / "archive")
    late = invoice("in_a10", "cus_a", 2900, paid_at=at("2026-10-05"), email="a@example.com")
    late["created"] = at("2026-10-04")  # after every archived invoice: the archive's index is not even read
    apply_events(
        Runtime(Path("data"), Path("arkops.toml"), Path(".env")),
        [event("evt_ia10", "invoice.paid", late, at("2026-10-05"))],
        now=NOW,
    )
    assert snapshot(data / "archive") == archived
    # Stripe resends an archived invoice's state under a new event id (a dunning tool's update, say)
    resent = invoice("in_b2", "cus_b", 900, paid_at=at("2026-02-05"), email="b@example.com")
    resent.update(created=at("2026-02-01"), subscription="sub_b")
    resent_event = event("evt_resent", "invoice.paid", resent, at("2026-10-12"))
    for folder in ("data", "control"):
        rt = Runtime(Path(folder), Path("arkops.toml"), Path(".env"))
        apply_events(rt, [refund, resent_event], now=NOW)
        if folder == "control":
            apply_events(rt, [event("evt_ia10", "invoice.paid", late, at("2026-10-05"))], now=NOW)
    hot = json.loads((data / "ledger.json").read_text())["invoices"]
    assert hot["in_a1"]["refunded"] == 2900 and hot["in_b2"]["_at"] == at("2026-10-12")
    assert sorted(hot) == ["in_a1", "in_a10", "in_a9", "in_b2", "in_b9", "in_open"]
    for command in (report, ("payments", "list", "--format", "json"), ("payments", "movements", "--format", "json")):
        assert cli(*command).out == cli("--data-dir", "control", *command).out, command
