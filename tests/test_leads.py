"""Leads end to end: ingest formats and rotations, config, scan digests through a real SMTP server, listings."""

from __future__ import annotations

import email
import email.policy
import gzip
import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import write_config

from arkops.clock import iso
from arkops.core.leads import LEADS_DB

NOW = datetime(2026, 10, 15, 9, 0, tzinfo=UTC)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0"
SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15"
)


def line(at: datetime, ip: str, target: str, agent: str = FIREFOX, *, method="GET", status=200, ref="-") -> str:
    stamp = at.strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'{ip} - - [{stamp}] "{method} {target} HTTP/1.1" {status} 2048 "{ref}" "{agent}"\n'


def append(path: Path, *lines: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("".join(lines))


def stored(workspace: Path) -> list[dict]:
    return [
        json.loads(x)
        for p in sorted((workspace / "data" / "visits").glob("*.jsonl"))
        for x in p.read_text().splitlines()
    ]


def test_ingest_keeps_visits_to_tracked_pages_and_drops_bots(cli, workspace, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW))
    log = workspace / "access.log"
    t = NOW - timedelta(hours=1)
    append(
        log,
        line(
            t,
            "203.0.113.7",
            "/pricing?utm_source=hn&utm_medium=social&utm_campaign=launch",
            ref="https://news.ycombinator.com/item?id=1",
        ),
        line(t, "203.0.113.7", "/pricing/team"),
        line(t, "203.0.113.7", "/pricingfoo"),  # not below /pricing
        line(t, "203.0.113.7", "/trial", method="POST"),  # a form post, not a visit
        line(t, "203.0.113.7", "/demo", status=404),
        line(t, "203.0.113.7", "/demo", method="HEAD", status=304),
        line(t, "66.249.66.1", "/pricing", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
        line(t, "52.1.2.3", "/pricing", "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 3 subscribers)"),
        line(t, "52.1.2.4", "/pricing", "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)"),
        line(t, "52.1.2.5", "/trial", "-"),
        '203.0.113.7 - - [15/Oct/2026:08:00:01 +0000] "GET /trial HTTP/1.1" 200 12 "-" "Moz\n',
        line(t, "203.0.113.8", "/", SAFARI),
    )
    result = cli("leads", "ingest", str(log))
    assert result.code == 0, result.err
    assert "3 visit(s) stored, 4 from bots dropped, 1 unreadable" in result.err
    assert "unreadable: access.log: not a combined or common log line" in result.err
    visits = stored(workspace)
    assert [(v["path"], v["method"]) for v in visits] == [
        ("/pricing", "GET"),
        ("/pricing/team", "GET"),
        ("/demo", "HEAD"),
    ]
    assert visits[0]["utm_campaign"] == "launch" and visits[0]["referrer_domain"] == "news.ycombinator.com"
    again = cli("leads", "ingest", str(log))
    assert "0 visit(s) stored" in again.err and len(stored(workspace)) == 3  # re-ingesting adds nothing

    write_config(workspace, "[leads]\nkeep_bots = true\n")
    bots_log = workspace / "bots.log"
    append(bots_log, line(t, "66.249.66.1", "/pricing", "Googlebot/2.1"))
    assert "1 visit(s) stored, 0 from bots" in cli("leads", "ingest", str(bots_log)).err


def test_rotation_copytruncate_and_gzip_lose_nothing_and_count_nothing_twice(cli, workspace, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW))
    write_config(workspace, '[leads]\nsources = ["logs/access.log"]\n')
    (workspace / "logs").mkdir()
    log = workspace / "logs" / "access.log"
    t = NOW - timedelta(hours=2)
    append(log, *(line(t + timedelta(seconds=n), f"198.51.100.{n}", "/pricing") for n in range(3)))
    assert "3 visit(s) stored" in cli("leads", "ingest").err
    append(log, line(t + timedelta(seconds=10), "198.51.100.10", "/trial"))  # written just before the rotation
    log.rename(log.with_name("access.log.1"))  # logrotate: rename, new file
    append(log, line(t + timedelta(seconds=20), "198.51.100.20", "/demo"))
    result = cli("leads", "ingest")
    assert "2 visit(s) stored" in result.err and "access.log.1" in result.err
    old = log.with_name("access.log.1")
    log.with_name("access.log.2.gz").write_bytes(gzip.compress(old.read_bytes()))  # compressed a day later
    old.unlink()
    log.write_text("")  # copytruncate
    append(log, line(t + timedelta(seconds=30), "198.51.100.30", "/pricing"))
    assert "1 visit(s) stored" in cli("leads", "ingest").err
    assert sorted(v["ip"] for v in stored(workspace)) == ["198.51.100.0"] * 6


def test_json_lines_and_json_array_visit_logs(cli, workspace, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW))
    app = workspace / "visits.jsonl"
    record = {
        "timestamp": "2026-10-15T08:00:00Z",
        "page": "/trial",
        "ip": "2001:db8:85a3:1::7",
        "user_agent": SAFARI,
        "referrer": "https://www.google.com/",
        "query_params": {"utm_source": "google", "email": "Ana@Example.com"},
    }
    app.write_text(
        json.dumps(record)
        + "\n"
        + json.dumps({**record, "page": "/about"})
        + '\n{"page": "/trial", "timestamp": "yesterday"}\n'
    )
    result = cli("leads", "ingest", str(app))
    assert "1 visit(s) stored" in result.err and "1 unreadable" in result.err
    older = workspace / "page_visits_20261014.json.gz"
    older.write_bytes(
        gzip.compress(json.dumps([{**record, "timestamp": "2026-10-14T08:00:00Z", "page": "/pricing"}]).encode())
    )
    assert "1 visit(s) stored" in cli("leads", "ingest", "--format", "json", str(older)).err
    assert "0 visit(s) stored" in cli("leads", "ingest", str(older)).err
    visits = stored(workspace)
    assert {v["ip"] for v in visits} == {"2001:db8:85a3::"} and visits[-1]["email"] == "ana@example.com"


def test_a_killed_ingest_is_cut_back_and_read_again(cli, workspace, monkeypatch):
    from arkops.core.leads.ingest import JOURNAL, META
    from arkops.runtime import Runtime

    monkeypatch.setenv("ARKOPS_NOW", iso(NOW))
    log = workspace / "access.log"
    append(log, line(NOW - timedelta(hours=1), "203.0.113.7", "/pricing"))
    assert cli("leads", "ingest", str(log)).code == 0
    day = workspace / "data" / "visits" / "2026-10-15.jsonl"
    size = day.stat().st_size
    # A run that appended its visits and was killed before recording the new offsets:
    rt = Runtime(data_dir=workspace / "data", config_path=workspace / "arkops.toml", env_file=workspace / ".env")
    with rt.store.transaction(LEADS_DB) as db:
        db.put(META, JOURNAL, {"sizes": {str(day): size}})
    append(day, day.read_text())
    append(log, line(NOW - timedelta(minutes=30), "203.0.113.7", "/trial"))
    assert "1 visit(s) stored" in cli("leads", "ingest", str(log)).err
    assert [v["path"] for v in stored(workspace)] == ["/pricing", "/trial"]


def test_ingest_waits_while_a_forget_or_purge_holds_the_visit_files(cli, workspace, monkeypatch):
    """`privacy forget` and `privacy purge` rewrite or delete day files under the `visits.jsonl` lock:
    an ingest holding no such lock would append to a file being replaced, and its visits would be lost."""
    from arkops.store.locking import exclusive

    monkeypatch.setenv("ARKOPS_NOW", iso(NOW))
    log = workspace / "access.log"
    append(log, line(NOW - timedelta(hours=1), "203.0.113.7", "/pricing"))
    assert cli("leads", "list").code == 0  # the data directory and its locks/ exist
    day = workspace / "data" / "visits" / "2026-10-15.jsonl"
    with exclusive(workspace / "data" / "locks" / "visits.jsonl.lock", wait=5, what="the test"):
        ingest = subprocess.Popen(
            [sys.executable, "-m", "arkops", "leads", "ingest", str(log)], stderr=subprocess.PIPE, text=True
        )
        time.sleep(1.5)
        assert ingest.poll() is None and not day.exists()  # it waits for the lock, having written nothing
    _, err = ingest.communicate(timeout=60)
    assert ingest.returncode == 0 and "1 visit(s) stored" in err
    assert [v["path"] for v in stored(workspace)] == ["/pricing"]


def test_old_pages_map_is_a_clear_config_error(cli, workspace):
    write_config(workspace, '[leads]\npages = { "/pricing" = 3, "/trial" = 5 }\n')
    result = cli("leads", "list")
    assert result.code == 3
    assert "leads.pages: the map form is no longer read; write one [[leads.pages]] table each" in result.err
    assert '[[leads.pages]] path = "/pricing" weight = 3' in result.err
    write_config(workspace, '[[leads.pages]]\npath = "pricing"\nweight = 3\n')
    assert "must be a request path starting with /" in cli("leads", "list").err
    write_config(
        workspace,
        '[[leads.pages]]\npath = "/pricing"\nweight = 3\nlabel = "Pricing"\n[[leads.pages]]\npath = "/signup"\nweight = 9\n',
    )
    from arkops.config import load_config

    pages = load_config(workspace / "arkops.toml")["leads"]["pages"]
    assert pages == [
        {"path": "/pricing", "weight": 3.0, "label": "Pricing", "hot": False},
        {"path": "/signup", "weight": 9.0, "label": "", "hot": False},
    ]


def digests(smtp_server) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(raw, policy=email.policy.default) for raw in smtp_server.received]


def test_scan_sends_one_digest_then_only_what_grew_within_the_hourly_cap(cli, workspace, monkeypatch, smtp_server):
    write_config(workspace, '[leads]\nsources = ["access.log"]\nmax_alerts_per_hour = 1\n')
    log = workspace / "access.log"
    t0 = NOW - timedelta(minutes=12)
    append(
        log,
        *(line(t0 + timedelta(minutes=m), "203.0.113.7", "/pricing", FIREFOX) for m in (0, 3, 6)),
        *(line(t0 + timedelta(minutes=m), "198.51.100.9", "/pricing", SAFARI) for m in (1, 2, 4)),
        line(t0, "192.0.2.1", "/trial?email=ana@example.com&utm_source=newsletter", SAFARI),
        line(t0 - timedelta(days=3), "192.0.2.200", "/trial", FIREFOX),  # history: recorded, not alerted
        line(t0, "100.64.0.50", "/demo", FIREFOX),  # warm, not hot
    )

    def scan(at: datetime) -> str:
        monkeypatch.setenv("ARKOPS_NOW", iso(at))
        result = cli("leads", "scan")
        assert result.code == 0, result.err
        assert cli("mail", "flush").code == 0
        return result.err

    out = scan(NOW)
    assert "4 hot lead(s), 3 in a new digest; 1 older than the re-alert window recorded, not alerted" in out
    (first,) = digests(smtp_server)
    assert first["To"] == "owner@example.com" and first["Subject"] == "3 hot leads in the last 12 minutes"
    body = first.get_body(("plain",)).get_content()
    assert "ana@example.com: score 5.0 (hot page trial), last page trial at 2026-10-15 08:48 UTC" in body
    assert "203.0.113.0 (v" in body and "198.51.100.0 (v" in body and "source: newsletter" in body
    assert "2026-10-15 08:54 UTC pricing" in body  # the visit history

    assert "nothing new" in scan(NOW + timedelta(minutes=15))
    append(log, line(NOW + timedelta(hours=20), "203.0.113.7", "/pricing", FIREFOX))
    assert "nothing new" in scan(NOW + timedelta(hours=20, minutes=5))  # grew, but inside the re-alert window
    # Past the window: the visitor who came back scores more than when alerted; the others decayed, not again.
    assert "1 in a new digest" in scan(NOW + timedelta(hours=25))
    assert len(digests(smtp_server)) == 2
    assert "203.0.113.0" in digests(smtp_server)[1].get_body(("plain",)).get_content()

    append(log, *(line(NOW + timedelta(hours=25, minutes=m), "198.18.0.1", "/trial", SAFARI) for m in (10,)))
    assert "1 waiting: the hourly digest cap is reached" in scan(NOW + timedelta(hours=25, minutes=15))
    assert len(digests(smtp_server)) == 2
    assert "1 in a new digest" in scan(NOW + timedelta(hours=26, minutes=10))
    assert len(digests(smtp_server)) == 3


def test_a_scan_with_nothing_new_reads_no_lead_until_something_could_make_news(
    cli, workspace, monkeypatch, smtp_server
):
    write_config(workspace, '[leads]\nsources = ["access.log"]\n')  # hot_score 8, half-life 7 days
    log = workspace / "access.log"
    append(
        log,
        *(line(NOW - timedelta(minutes=m), "203.0.113.7", "/demo") for m in range(13, 4, -1)),  # 9 points: hot
        line(NOW - timedelta(minutes=5), "198.51.100.9", "/pricing", SAFARI),  # a hot page
    )

    def scan(at: datetime) -> str:
        monkeypatch.setenv("ARKOPS_NOW", iso(at))
        result = cli("leads", "scan")
        assert result.code == 0, result.err
        return result.err

    def hot(at: datetime) -> int:
        monkeypatch.setenv("ARKOPS_NOW", iso(at))
        return len(json.loads(cli("leads", "list", "--hot", "--format", "json").out))

    assert "2 hot lead(s), 2 in a new digest" in scan(NOW)
    unchanged = "nothing new (unchanged since the last scan)"
    assert f"2 hot lead(s), {unchanged}" in scan(NOW + timedelta(minutes=15))
    assert f"2 hot lead(s), {unchanged}" in scan(NOW + timedelta(days=1))
    # 9 x 2^(-t/7 days) falls under 8 after 1.19 days: the record of the last scan ends there
    out = scan(NOW + timedelta(days=2))
    assert "1 hot lead(s), nothing new" in out and "unchanged" not in out and hot(NOW + timedelta(days=2)) == 1
    assert f"1 hot lead(s), {unchanged}" in scan(NOW + timedelta(days=2, minutes=15))

    monkeypatch.setenv("ARKOPS_NOW", iso(NOW + timedelta(days=2, minutes=20)))
    assert cli("trials", "signup", "lea@example.com", "--plan", "pro").code == 0  # a new lead, no new visit
    assert "1 new lead(s) (signups, demo requests) in a new digest" in scan(NOW + timedelta(days=2, minutes=30))
    assert unchanged in scan(NOW + timedelta(days=2, minutes=45))

    write_config(workspace, '[leads]\nsources = ["access.log"]\nhot_score = 6\n')  # the demo visitor scores 7.4
    out = scan(NOW + timedelta(days=2, hours=1))
    assert "2 hot lead(s), nothing new" in out and "unchanged" not in out  # hot again, but alerted at 9 before
    assert f"2 hot lead(s), {unchanged}" in scan(NOW + timedelta(days=2, hours=1, minutes=15))

    append(log, line(NOW + timedelta(days=2, hours=1, minutes=20), "192.0.2.4", "/trial"))
    out = scan(NOW + timedelta(days=2, hours=1, minutes=30))
    assert "3 hot lead(s), 1 in a new digest" in out and "unchanged" not in out
    assert cli("mail", "flush").code == 0
    assert [m["Subject"].split(" in the last")[0] for m in digests(smtp_server)] == [
        "2 hot leads",
        "1 new lead(s)",
        "1 hot lead",
    ]


def test_import_links_demo_requests_and_skips_bad_records(cli, workspace, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW))
    log = workspace / "access.log"
    append(log, *(line(NOW - timedelta(hours=h), "203.0.113.7", "/pricing", SAFARI) for h in (30, 2)))
    assert cli("leads", "ingest", str(log)).code == 0
    requests = workspace / "demo_requests.jsonl"
    good = {
        "email": "Lea@BigCorp.example",
        "name": "Lea",
        "company": "BigCorp",
        "source": "pricing",
        "created_at": iso(NOW - timedelta(hours=1)),
        "ip": "203.0.113.7",  # the visitor's own address: the same network's 203.0.113.99 is someone else
        "user_agent": SAFARI,
    }
    requests.write_text(json.dumps(good) + "\n" + json.dumps({"email": "not an email"}) + "\nnope\n")
    result = cli("leads", "import", str(requests))
    assert result.code == 3 and "1 added, 0 already present, 2 skipped" in result.err
    assert "skipped demo_requests.jsonl line 2: email: 'not an email' is not an email address" in result.err
    assert "1 added" not in cli("leads", "import", str(requests)).err  # idempotent
    rows = json.loads(cli("leads", "list", "--format", "json").out)
    assert [(r["lead"], r["visits"]) for r in rows] == [("lea@bigcorp.example", 2)]  # the visitor is linked
    shown = cli("leads", "show", "lea@bigcorp.example")
    assert shown.code == 0 and "score" in shown.out and shown.out.count("pricing") >= 2
    assert cli("leads", "show", "nobody@example.com").code == 3

    from arkops.core.leads import query
    from arkops.runtime import Runtime

    rt = Runtime(data_dir=workspace / "data", config_path=workspace / "arkops.toml", env_file=workspace / ".env")
    seen = query.people(rt, since=NOW - timedelta(days=2), until=NOW, page="/pricing")  # linked by the import
    assert list(seen.first) == list(seen.page_first) == ["lea@bigcorp.example"] and seen.page_visits == 2
    assert [r["company"] for r in query.demo_requests(rt, since=NOW - timedelta(days=1), until=NOW)] == ["BigCorp"]
    assert query.last_visit_at(rt) == NOW - timedelta(hours=2)


def test_list_stats_and_since(cli, workspace, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW))
    log = workspace / "access.log"
    append(
        log,
        line(NOW - timedelta(minutes=20), "203.0.113.7", "/pricing?utm_source=hn", ref="https://news.ycombinator.com/"),
        line(NOW - timedelta(minutes=10), "203.0.113.7", "/pricing", ref="https://www.google.com/"),
        line(NOW - timedelta(days=2), "203.0.113.7", "/pricing?utm_source=hn", ref="https://news.ycombinator.com/"),
        line(NOW - timedelta(days=2), "198.51.100.9", "/trial", SAFARI),
        line(NOW - timedelta(days=20), "198.51.100.9", "/demo", SAFARI),
    )
    assert cli("leads", "ingest", str(log)).code == 0
    stats = json.loads(cli("leads", "stats", "--format", "json").out)
    pricing = next(p for p in stats["pages"] if p["path"] == "/pricing")
    assert pricing == {
        "path": "/pricing",
        "label": "pricing",
        "hits": 3,
        "visitors": 2,  # one visitor on two days
        "last_hour": 2,
        "referrers": [{"domain": "news.ycombinator.com", "hits": 2}, {"domain": "google.com", "hits": 1}],
        "sources": [{"source": "hn", "hits": 2}],
    }
    assert json.loads(cli("leads", "stats", "--since", "90m", "--format", "json").out)["pages"][1]["hits"] == 2
    assert "hits" in cli("leads", "stats", "--since", "2026-10-01", "--format", "csv").out.splitlines()[0]
    bad = cli("leads", "stats", "--since", "last week")
    assert bad.code == 2 and "is not a span back from now (90m, 12h, 7d, 6w, 6mo, 1y)" in bad.err
    rows = json.loads(cli("leads", "list", "--hot", "--format", "json").out)
    assert [(r["last_page"], r["score"]) for r in rows] == [("pricing", 8.45), ("trial", 4.24)]  # /trial: a hot page
    assert [r["last_page"] for r in json.loads(cli("leads", "list", "--min-score", "5", "--format", "json").out)] == [
        "pricing"
    ]
    # --since keeps the leads seen since then; their scores count every stored visit (the kept state).
    recent = json.loads(cli("leads", "list", "--since", "90m", "--hot", "--format", "json").out)
    assert [(r["last_page"], r["score"], r["hot"]) for r in recent] == [("pricing", 8.45, True)]


def test_retention_deletes_old_day_files(cli, workspace, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW))
    write_config(workspace, "[leads]\nretention_days = 30\n")
    log = workspace / "access.log"
    append(log, *(line(NOW - timedelta(days=d), "203.0.113.7", "/pricing") for d in (40, 31, 29, 1)))
    assert cli("leads", "ingest", str(log)).code == 0
    assert "would move or remove: 2 visit day files deleted" in cli("--dry-run", "retention").out
    assert len(list((workspace / "data" / "visits").glob("*.jsonl"))) == 4
    assert "2 visit day files deleted" in cli("retention").out
    assert sorted(p.stem for p in (workspace / "data" / "visits").glob("*.jsonl")) == ["2026-09-16", "2026-10-14"]


def test_doctor_checks_the_sources(cli, workspace, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW))
    write_config(workspace, '[leads]\nsources = ["logs/*.log"]\n')
    result = cli("doctor", "--format", "json")
    check = next(c for c in json.loads(result.out) if c["check"] == "lead sources")
    assert check["status"] == "fail" and "logs/*.log" in check["detail"]
    (workspace / "logs").mkdir()
    append(workspace / "logs" / "access.log", line(NOW, "203.0.113.7", "/pricing"))
    assert cli("leads", "scan").code == 0
    check = next(c for c in json.loads(cli("doctor", "--format", "json").out) if c["check"] == "lead sources")
    assert check["status"] == "ok" and "last ingest 2026-10-15T09:00:00Z" in check["detail"]


def test_one_hot_page_visit_is_a_hot_lead_and_two_people_behind_one_network_are_two(
    cli, workspace, monkeypatch, smtp_server
):
    write_config(workspace, '[leads]\nsources = ["access.log"]\n')  # the default pages: /pricing and /trial hot
    log = workspace / "access.log"
    append(
        log,
        line(NOW - timedelta(minutes=5), "198.51.100.8", "/pricing", FIREFOX),
        line(NOW - timedelta(minutes=4), "198.51.100.9", "/pricing", FIREFOX),  # same /24, same browser: someone else
        line(NOW - timedelta(minutes=3), "192.0.2.44", "/demo", SAFARI),  # warm: weight 1, no alert
    )
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW))
    result = cli("leads", "scan")
    assert result.code == 0 and "2 hot lead(s), 2 in a new digest" in result.err, result.err
    assert cli("mail", "flush").code == 0
    (digest,) = digests(smtp_server)
    body = digest.get_body(("plain",)).get_content()
    assert digest["Subject"] == "2 hot leads in the last 5 minutes"
    assert body.count("198.51.100.0 (v") == 2 and "score 3.0 (hot page pricing)" in body
    rows = json.loads(cli("leads", "list", "--format", "json").out)
    assert len({r["lead"] for r in rows}) == 3 and [r["hot"] for r in rows] == [True, True, False]
    shown = cli("leads", "show", rows[0]["lead"])
    assert shown.out.startswith(f"{rows[0]['lead']}: score 3.0 (hot: hot page pricing at 2026-10-15T08:5")
    warm = json.loads(cli("leads", "show", rows[2]["lead"], "--format", "json").out)
    assert warm["hot"] is False and warm["hot_rule"] == ""
    stored_ips = {v["ip"] for v in stored(workspace)}
    assert stored_ips == {"198.51.100.0", "192.0.2.0"}  # the address is cut for storage all the same

    # A page marked hot = false is warm again: only the cumulative score makes that lead hot.
    write_config(
        workspace,
        '[leads]\nsources = ["access.log"]\nhot_score = 5\n'
        '[[leads.pages]]\npath = "/pricing"\nweight = 3\n[[leads.pages]]\npath = "/demo"\nweight = 1\n',
    )
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW + timedelta(minutes=3)))
    append(log, line(NOW + timedelta(minutes=1), "192.0.2.44", "/pricing", SAFARI))
    assert "0 hot lead(s)" in cli("leads", "scan").err
    append(log, line(NOW + timedelta(minutes=2), "192.0.2.44", "/pricing", SAFARI))
    assert "1 hot lead(s), 1 in a new digest" in cli("leads", "scan").err
    rule = json.loads(cli("leads", "show", rows[2]["lead"], "--format", "json").out)["hot_rule"]
    assert rule == "score 7.00 >= hot_score 5"


def test_a_signup_and_a_demo_request_are_in_one_new_leads_digest_once(cli, workspace, monkeypatch, smtp_server):
    write_config(workspace, '[leads]\nsources = ["access.log"]\ndemo_request_files = ["app/demo_requests.jsonl"]\n')
    at = datetime(2026, 10, 15, 10, 0, tzinfo=UTC)
    log = workspace / "access.log"
    append(
        log,  # ana read the pricing page, then opened the trial page with her address (the app passes it)
        line(at - timedelta(minutes=20), "203.0.113.7", "/pricing?utm_source=newsletter&utm_campaign=launch", SAFARI),
        line(at - timedelta(minutes=2), "203.0.113.7", "/trial?email=ana@example.com", SAFARI),
    )
    monkeypatch.setenv("ARKOPS_NOW", iso(at))
    assert cli("trials", "signup", "Ana@Example.com", "--plan", "pro", "--source", "newsletter").code == 0
    (workspace / "app").mkdir()
    request = {"email": "lea@bigcorp.example", "name": "Lea", "company": "BigCorp", "created_at": iso(at)}
    (workspace / "app" / "demo_requests.jsonl").write_text(json.dumps(request) + "\n")

    def scan(moment: datetime) -> str:
        monkeypatch.setenv("ARKOPS_NOW", iso(moment))
        result = cli("leads", "scan")
        assert result.code == 0, result.err
        assert cli("mail", "flush").code == 0
        return result.err

    out = scan(at + timedelta(minutes=15))
    assert "1 demo request(s) added" in out and "2 new lead(s) (signups, demo requests) in a new digest" in out
    new = [m for m in digests(smtp_server) if "new lead" in m["Subject"]]
    (digest,) = new
    assert digest["To"] == "owner@example.com"
    assert digest["Subject"] == "2 new lead(s) in the last 15 minutes: trial signups and demo requests"
    body = digest.get_body(("plain",)).get_content()
    assert "- ana@example.com: trial signup, plan Pro at 2026-10-15 10:00 UTC" in body
    assert (
        "first saw: pricing, trial (from 2026-10-15 09:40 UTC)" in body
        and "more: arkops leads show ana@example.com" in body
    )
    assert "- lea@bigcorp.example (Lea, BigCorp): demo request at 2026-10-15 10:00 UTC" in body
    hot = [m for m in digests(smtp_server) if "hot lead" in m["Subject"]]
    assert len(hot) == 1 and "lea@bigcorp" not in hot[0].get_body(("plain",)).get_content()  # no longer a hot lead

    assert "new lead" not in scan(at + timedelta(minutes=30)) and len(digests(smtp_server)) == 2


def test_digests_name_at_most_digest_max_and_share_the_hourly_cap(cli, workspace, monkeypatch, smtp_server):
    write_config(workspace, '[leads]\nsources = ["access.log"]\ndigest_max = 2\nmax_alerts_per_hour = 1\n')
    log = workspace / "access.log"
    append(log, *(line(NOW - timedelta(minutes=m), f"198.51.100.{m}", "/pricing") for m in (1, 2, 3)))
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW - timedelta(minutes=1)))
    for n in (1, 2, 3):
        assert cli("trials", "signup", f"user{n}@example.com", "--plan", "pro").code == 0
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW))
    out = cli("leads", "scan").err
    assert "3 new lead(s)" in out and "3 waiting: the hourly digest cap is reached" in out
    assert cli("mail", "flush").code == 0
    (first,) = digests(smtp_server)  # the new leads go first; the hot leads wait for the next hour
    body = first.get_body(("plain",)).get_content()
    assert first["Subject"].startswith("3 new lead(s)") and body.count("trial signup") == 2
    assert "and 1 more: `arkops trials list` and `arkops leads list`" in body
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW + timedelta(minutes=61)))
    assert "3 in a new digest" in cli("leads", "scan").err and cli("mail", "flush").code == 0
    second = digests(smtp_server)[1]
    assert second["Subject"] == "3 hot leads in the last 64 minutes"
    assert "and 1 more: `arkops leads list --hot`" in second.get_body(("plain",)).get_content()


def test_a_scans_record_and_the_tracks_cache_of_another_shape_are_read_again_not_trusted(cli, workspace, monkeypatch):
    """What the last scan saw (in leads.json) and what the last track saw (cache/trials-track.json) are hints: a
    record of another shape (hand-edited, another version) makes the run read everything, never fail."""
    write_config(workspace, '[leads]\nsources = ["access.log"]\n')
    append(workspace / "access.log", line(NOW - timedelta(minutes=5), "198.51.100.9", "/pricing", SAFARI))
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW))
    assert cli("trials", "signup", "ana@example.com", "--plan", "pro").code == 0
    assert "1 hot lead(s), 1 in a new digest" in cli("leads", "scan").err
    assert cli("trials", "track").code == 0
    data = workspace / "data"
    leads = json.loads((data / "leads.json").read_text())
    leads["meta"]["scan"] = {"basis": leads["meta"]["scan"]["basis"], "until": 5, "hot": "many"}
    (data / "leads.json").write_text(json.dumps(leads))
    tracked = json.loads((data / "cache" / "trials-track.json").read_text())
    (data / "cache" / "trials-track.json").write_text(json.dumps(tracked | {"value": []}))  # its source still right
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW + timedelta(minutes=15)))
    scan = cli("leads", "scan")
    assert scan.code == 0 and "1 hot lead(s), nothing new" in scan.err and "unchanged" not in scan.err
    assert "unchanged" in cli("leads", "scan").err  # the record written again, in its shape
    track = cli("trials", "track")
    assert track.code == 0 and "unchanged" not in track.err
    assert "unchanged" in cli("trials", "track").err


def test_retention_forgets_the_alerts_of_leads_no_kept_visit_names(cli, workspace, monkeypatch):
    """An alert record names a visitor or an email: it goes when the lead's visits have gone and it is older than
    `retention_days`; a lead still seen keeps its record, however old, so it is not alerted again as new."""
    write_config(workspace, '[leads]\nsources = ["access.log"]\nretention_days = 30\n')
    log = workspace / "access.log"
    append(
        log,
        line(NOW - timedelta(minutes=5), "198.51.100.9", "/pricing", SAFARI),  # gone with its day file
        line(NOW - timedelta(minutes=4), "203.0.113.7", "/pricing"),  # comes back on day 25
    )
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW))
    assert cli("trials", "signup", "ana@example.com", "--plan", "pro").code == 0
    assert "2 hot lead(s), 2 in a new digest" in cli("leads", "scan").err
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW + timedelta(days=25)))
    append(log, line(NOW + timedelta(days=25), "203.0.113.7", "/demo"))
    assert "2 hot lead(s), nothing new" in cli("leads", "scan").err  # both opened /pricing within 30 days

    def alerts() -> list[str]:
        return sorted(json.loads((workspace / "data" / "leads.json").read_text())["alerts"])

    assert len(alerts()) == 3 and "trial:ana@example.com" in alerts()
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW + timedelta(days=31)))
    counted = cli("--dry-run", "retention")
    assert counted.code == 0 and "1 lead alert records forgotten" in counted.out and len(alerts()) == 3
    out = cli("retention").out
    assert "1 visit day files deleted" in out and "2 lead alert records forgotten" in out
    (kept,) = alerts()  # the visitor seen on day 25 keeps theirs; the other and the signup's are forgotten
    assert kept.startswith("v")
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW + timedelta(days=31, minutes=15)))
    assert "0 hot lead(s), nothing new" in cli("leads", "scan").err  # its /pricing visit went with day 0


def test_an_unreadable_kept_state_is_named_left_as_it_is_and_does_not_stop_retention(cli, workspace, monkeypatch):
    """A broken line in `lead_state.tsv` (any bytes) is exit 3 naming the file, which is left untouched; the
    retention job's other rules still run; moved aside, the state is made again from the day files."""
    write_config(workspace, '[leads]\nsources = ["access.log"]\n')
    log = workspace / "access.log"
    append(log, line(NOW - timedelta(minutes=5), "198.51.100.9", "/pricing", SAFARI))
    monkeypatch.setenv("ARKOPS_NOW", iso(NOW))
    assert cli("leads", "ingest").code == 0 and cli("leads", "list").code == 0
    state = workspace / "data" / "lead_state.tsv"
    broken = state.read_bytes() + b'["v1\xff\xfe",1\tnot a record\n'
    state.write_bytes(broken)
    append(log, line(NOW - timedelta(minutes=4), "203.0.113.7", "/demo"))  # the next reader has visits to add
    assert cli("leads", "ingest").code == 0
    for command in (("leads", "list"), ("leads", "scan"), ("status",)):
        result = cli(*command)
        assert result.code == 3 and result.err.count("\n") == 1 and "lead_state.tsv is not readable" in result.err
        assert state.read_bytes() == broken
    assert cli("retention").code == 0 and state.read_bytes() == broken
    state.rename(workspace / "lead_state.tsv.broken")
    listed = json.loads(cli("leads", "list", "--format", "json").out)
    assert len(listed) == 2
