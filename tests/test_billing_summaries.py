"""The ledger archive's monthly summaries: written when a month is archived, read by the reports instead of the
month files, and never trusted once they no longer describe their month file (a rewrite, a time zone, an invoice
back in the hot ledger, a re-archive into another month, a deletion). Every figure is held to a ledger that never
archived anything ("control")."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import write_config
from stripe_shapes import charge_refunded, customer, event, invoice, subscription

from arkops.clock import iso, parse_iso
from arkops.runtime import Runtime

NOW = datetime(2026, 10, 15, 9, 0, tzinfo=UTC)
REPORT = ("payments", "report", "--months", "12", "--format", "json")


def at(day: str) -> int:
    return int(datetime.fromisoformat(f"{day}T10:00:00+00:00").timestamp())


def history() -> list[dict]:
    """Ana pays 2900 and Bob 900 on the 5th of each month, January to September 2026."""
    events = []
    for who, amount in (("ana", 2900), ("bob", 900)):
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
    return events


def apply(folder: str, events: list[dict], now: datetime = NOW) -> None:
    from arkops.core.billing.service import apply_events

    apply_events(Runtime(Path(folder), Path("arkops.toml"), Path(".env")), events, now=now)


def months_read(folder: str = "data") -> list[str]:
    """The month files a report reads in full (no summary it can trust), from a fresh invocation."""
    from arkops.core.billing.report import load

    archived = load(Runtime(Path(folder), Path("arkops.toml"), Path(".env"))).archived_revenue
    assert archived is not None
    return archived.months_read


@pytest.fixture
def archived(cli, workspace, monkeypatch):
    """The same ledger twice: `data` archived by `arkops retention`, `control` never."""
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW))
    (workspace / "control").mkdir()
    for folder in ("data", "control"):
        apply(folder, history())
    result = cli("retention")
    assert result.code == 0 and "16 invoices archived, 8 ledger archive summaries written" in result.out, result.out
    return workspace


def same_as_control(cli, *command: str) -> None:
    assert cli(*command).out == cli("--data-dir", "control", *command).out, command


def test_retention_writes_a_summary_per_month_and_reports_read_them_instead_of_the_months(cli, archived):
    folder = archived / "data" / "archive" / "ledger" / "summaries"
    assert sorted(p.name for p in folder.iterdir()) == [f"2026-{m:02d}.json" for m in range(1, 9)]
    march = json.loads((folder / "2026-03.json").read_text())
    assert march["recipe"] == "ledger revenue v1 UTC"
    # what the reports need of the month: its revenue by month paid and currency, and the ids counted; no email
    assert march["value"] == {
        "revenue": {str(at("2026-03-01") - 36000): {"EUR": 3800}},
        "invoices": ["in_ana3", "in_bob3"],
    }
    assert "@" not in (folder / "2026-03.json").read_text()
    assert months_read() == []
    same_as_control(cli, *REPORT)
    assert cli("retention").out.strip() == "nothing past its age"  # fresh summaries are left as they are


def test_a_month_file_that_changed_is_read_itself_until_its_summary_is_made_again(cli, archived):
    path = archived / "data" / "archive" / "ledger" / "2026-03.json"
    data = json.loads(path.read_text())
    data["invoices"]["in_ana3"]["amount_paid"] = 1000  # what the summary says is no longer what the month holds
    path.write_text(json.dumps(data))
    assert months_read() == ["2026-03"]
    march = next(m for m in json.loads(cli(*REPORT).out)["months"] if m["month"] == "2026-03")
    assert march["revenue"] == 1000 + 900  # the month file's figures, not the summary's 3800
    assert cli("retention").out.strip() == "1 ledger archive summaries written"
    assert months_read() == []


def test_a_copy_that_did_not_keep_modification_times_still_trusts_its_summaries(cli, archived):
    shutil.copytree(archived / "data", archived / "copy", copy_function=shutil.copy)  # new times, same bytes
    source = archived / "data" / "archive" / "ledger" / "2026-03.json"
    copied = archived / "copy" / "archive" / "ledger" / "2026-03.json"
    assert copied.stat().st_mtime_ns != source.stat().st_mtime_ns
    assert months_read("copy") == []  # the SHA-256 recorded in each summary says it is the same month
    assert cli("--data-dir", "copy", *REPORT).out == cli(*REPORT).out


def test_another_time_zone_makes_every_summary_stale(cli, archived):
    write_config(archived, 'timezone = "Pacific/Auckland"\n')
    assert months_read() == [f"2026-{m:02d}" for m in range(1, 9)]  # their months were UTC's
    same_as_control(cli, *REPORT)  # 10:00 UTC on the 5th is still the 5th in Auckland, but each month is read
    assert cli("retention").out.strip() == "8 ledger archive summaries written"
    assert months_read() == []
    same_as_control(cli, *REPORT)


def test_invoices_back_in_the_hot_ledger_or_archived_again_elsewhere_count_once(cli, archived, monkeypatch):
    # A refund of an archived invoice brings it back into ledger.json; Stripe resends another one's state.
    refund = event(
        "evt_refund", "charge.refunded", charge_refunded("ch_a1", "in_ana1", 2900, at("2026-10-10")), at("2026-10-10")
    )
    resent = invoice("in_bob2", "cus_bob", 900, paid_at=at("2026-02-05"), email="bob@example.com")
    resent.update(created=at("2026-02-01"), subscription="sub_bob")
    for folder in ("data", "control"):
        apply(folder, [refund, event("evt_resent", "invoice.paid", resent, at("2026-10-12"))])
    hot = json.loads((archived / "data" / "ledger.json").read_text())["invoices"]
    assert {"in_ana1", "in_bob2"} <= set(hot)
    assert months_read() == ["2026-01", "2026-02"]  # their summaries count an invoice that is hot again
    for command in (REPORT, ("payments", "list", "--format", "json")):
        same_as_control(cli, *command)
    # Two months on, both are archived again; in_bob2's last change is now October's: it leaves February's file
    later = NOW + timedelta(days=70)
    monkeypatch.setenv("ARKOPS_NOW", iso(later))
    assert "ledger archive summaries written" in cli("retention").out
    archive = archived / "data" / "archive" / "ledger"
    assert "in_bob2" not in json.loads((archive / "2026-02.json").read_text())["invoices"]
    assert "in_bob2" in json.loads((archive / "2026-10.json").read_text())["invoices"]
    assert json.loads((archive / "index.json").read_text())["months"]["in_bob2"] == "2026-10"
    assert months_read() == []
    for command in (REPORT, ("payments", "list", "--format", "json")):
        same_as_control(cli, *command)


def test_a_missing_summary_is_read_around_and_rebuild_summaries_makes_them_all_again(cli, archived):
    folder = archived / "data" / "archive" / "ledger" / "summaries"
    (folder / "2026-05.json").unlink()
    (folder / "2026-06.json").write_text("{not json")
    assert months_read() == ["2026-05", "2026-06"]
    same_as_control(cli, *REPORT)
    before = (folder / "2026-03.json").stat().st_mtime_ns
    rebuilt = cli("retention", "--rebuild-summaries")
    assert rebuilt.code == 0
    assert rebuilt.out.strip() == "7 archive summaries dropped, 8 ledger archive summaries written", rebuilt.out
    assert (folder / "2026-03.json").stat().st_mtime_ns != before
    assert months_read() == []
    assert cli("--dry-run", "retention", "--rebuild-summaries").out.strip() == "nothing past its age"


def test_status_reads_stale_summaries_around_and_writes_nothing(cli, archived):
    from test_storage_scale import snapshot

    (archived / "data" / "archive" / "ledger" / "summaries" / "2026-02.json").unlink()
    data = archived / "data"
    before = snapshot(data)
    status = json.loads(cli("status", "--format", "json").out)
    assert status["sections"]["revenue"]["figures"]["mrr"]["value"] == 3800
    assert snapshot(data) == before  # read-only: the missing summary is not written by status


def test_forget_pseudonymises_archived_invoices_and_keeps_the_summaries_current(cli, archived):
    report = cli(*REPORT).out
    forgotten = cli("privacy", "forget", "ana@example.com", "--yes")
    assert forgotten.code == 0, forgotten.err
    data = archived / "data"
    for path in data.rglob("*.json"):
        assert "ana@example.com" not in path.read_text(), path
    assert months_read() == []  # the months forget rewrote have their summaries made again
    assert cli(*REPORT).out == report


def test_summaries_follow_the_report_currency_through_fx(cli, archived):
    write_config(archived, "[fx]\nUSD = 0.5\n")
    usd = json.loads(cli("payments", "report", "--currency", "USD", "--months", "12", "--format", "json").out)
    march = next(m for m in usd["months"] if m["month"] == "2026-03")
    assert march["revenue"] == 7600  # 3800 EUR cents at 0.5 EUR to the dollar
    assert months_read() == []  # amounts are kept in their own currency: [fx] changes no summary
    assert parse_iso(usd["as_of"]) == NOW
