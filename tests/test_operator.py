"""Operator views: `arkops status` (agrees with the other commands, writes nothing, red under --check), the HTML
report (self-contained, opened in headless Chromium), the weekly email (through a real SMTP server, once a week),
and progress bars only at a terminal."""

from __future__ import annotations

import base64
import email
import hashlib
import json
import os
import pty
import select
import shutil
import struct
import subprocess
import sys
import time
import zlib
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import IO

import pytest

from tests.conftest import run_arkops

SCRUB = (
    "ARKOPS_DATA_DIR",
    "ARKOPS_CONFIG",
    "ARKOPS_NOW",
    "ARKOPS_ALERT_TO",
    "MAIL_FROM",
    "SMTP_HOST",
    "STRIPE_SECRET_KEY",
)


def in_demo(folder: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in SCRUB}
    return subprocess.run(
        [sys.executable, "-m", "arkops", *args],
        cwd=folder,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def demo(shared_demo) -> Path:
    """The session's demo workspace, for the module's read-only checks (each test that changes it works on a copy)."""
    return shared_demo.folder


def as_json(result: subprocess.CompletedProcess):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_status_agrees_with_the_commands_of_each_domain(demo):
    status = as_json(in_demo(demo, "status", "--format", "json"))
    assert status["as_of"] == "2026-10-15T09:30:00Z" and status["currency"] == "EUR"
    assert status["red"] == any(section["red"] for section in status["sections"].values())
    assert not any(status["sections"][key]["red"] for key in ("revenue", "trials", "outbox", "jobs"))
    revenue = status["sections"]["revenue"]["figures"]
    report = as_json(in_demo(demo, "payments", "report", "--format", "json"))
    assert revenue["mrr"]["value"] == report["mrr"] > 0 and revenue["mrr"]["currency"] == "EUR"
    assert revenue["paying_customers"]["value"] == report["paying_customers"]
    assert revenue["arpu"]["value"] == report["arpu"]
    assert revenue["goal"]["value"] == round(report["mrr"] / 100000, 4)  # the demo's [goals] mrr: 1,000.00
    month = report["months"][-1]
    assert revenue["movements"]["value"] == {
        k: month[k] for k in ("new", "expansion", "contraction", "churn", "reactivation")
    }
    assert revenue["logo_churn_rate"]["value"] == month["logo_churn_rate"]
    spark = status["sections"]["revenue"]["charts"]["mrr"]
    assert spark["series"]["mrr"] == [m["mrr"] for m in report["months"]] and len(spark["labels"]) == 12
    failed = as_json(in_demo(demo, "payments", "failed", "--format", "json"))
    assert revenue["failed_payments"]["value"] == len(failed)

    trials = as_json(in_demo(demo, "trials", "list", "--format", "json"))
    figures = status["sections"]["trials"]["figures"]
    for state in ("signed_up", "active", "converted", "expired"):
        assert figures[f"state_{state}"]["value"] == sum(t["state"] == state for t in trials)
    monday = "2026-10-11T22:00:00Z"  # Monday 00:00 in Europe/Paris
    assert figures["activations_this_week"]["value"] == sum(
        bool(t["activated_at"]) and monday <= t["activated_at"] for t in trials
    )

    leads = as_json(in_demo(demo, "leads", "list", "--format", "json"))
    recent = [lead for lead in leads if lead["last_visit"] >= "2026-10-14T09:30:00Z"]  # the last 24 h
    figures = status["sections"]["leads"]["figures"]
    assert figures["hot_24h"]["value"] == sum(lead["hot"] for lead in recent) > 0
    assert figures["leads_24h"]["value"] == len(recent)

    codes = [code for code in as_json(in_demo(demo, "promo", "list", "--format", "json")) if code["active"]]
    promo = status["sections"]["promo"]["figures"]
    assert codes and {key: f["value"] for key, f in promo.items()} == {
        f"slots_left_{code['code']}": code["remaining"] for code in codes
    }

    quotas = as_json(in_demo(demo, "usage", "report", "--format", "json"))
    usage = status["sections"]["usage"]["figures"]
    assert (
        0 < usage["customers_over_80"]["value"] <= sum(row["over_80"] for row in quotas)
    )  # pairs: one customer, 2 metrics
    assert 0 < usage["customers_at_100"]["value"] <= sum(row["over_100"] for row in quotas)

    outbox = as_json(in_demo(demo, "mail", "outbox", "--format", "json"))
    mail = status["sections"]["outbox"]["figures"]
    for state in ("pending", "failed", "dead", "unknown"):
        assert mail[state]["value"] == sum(m["state"] == state for m in outbox)

    jobs = {j["job"]: j for j in as_json(in_demo(demo, "jobs", "--format", "json"))}
    rows = status["sections"]["jobs"]["tables"]["jobs"]["rows"]
    assert [r["job"] for r in rows] == list(jobs)
    for row in rows:
        assert row["last_start"] == jobs[row["job"]]["last_start"]
    assert {r["job"]: r["outcome"] for r in rows}["weekly-email"] == "ok"


def snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    """Every file and folder under `folder`: its mtime and a hash of its content."""
    found = {}
    for path in sorted(folder.rglob("*")):
        stat = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        found[str(path.relative_to(folder))] = (stat.st_mtime_ns, digest)
    return found


def test_status_writes_nothing_not_even_a_migration_a_cache_or_a_lock(demo, tmp_path):
    copy = tmp_path / "demo"
    shutil.copytree(demo, copy)
    data = copy / "data"
    shutil.rmtree(data / "locks", ignore_errors=True)
    shutil.rmtree(data / "cache", ignore_errors=True)  # status computes who paid without keeping it
    trials = json.loads((data / "trials.json").read_bytes())
    trials["_meta"]["1"]["schema"] = 1  # an older file: other commands migrate it, status reads it as it is
    (data / "trials.json").write_text(json.dumps(trials))
    before = snapshot(copy)
    first = in_demo(copy, "status")
    second = in_demo(copy, "status", "--format", "json")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert snapshot(copy) == before
    assert "Trials" in first.stdout and json.loads(second.stdout)["sections"]["trials"]["figures"]["state_active"]
    # and a command that writes does migrate it: the check above could fail
    assert in_demo(copy, "trials", "list").returncode == 0
    assert json.loads((data / "trials.json").read_bytes())["_meta"]["1"]["schema"] == 2


def test_status_check_is_red_when_jobs_are_late_or_failing(demo, tmp_path):
    clear = in_demo(demo, "status", "--check", "--format", "json")
    assert clear.returncode == (1 if json.loads(clear.stdout)["red"] else 0)  # other domains' demo parts may be red
    assert json.loads(clear.stdout)["sections"]["jobs"]["red"] is False
    later = {"ARKOPS_NOW": "2026-10-16T12:00:00Z"}  # a day on, cron never ran: every job is late
    late = in_demo(demo, "status", "--check", "--format", "json", env=later)
    assert late.returncode == 1
    document = json.loads(late.stdout)
    assert document["red"] is True and document["sections"]["jobs"]["red"] is True
    rows = {r["job"]: r for r in document["sections"]["jobs"]["tables"]["jobs"]["rows"]}
    assert rows["mail-flush"]["problem"].startswith("last ran ") and rows["trials-nudge"]["problem"].startswith("due ")
    assert rows["stripe-sync"]["problem"] is None  # skipped (no key) is not late
    assert document["sections"]["revenue"]["red"] is False
    shown = in_demo(demo, "status", env=later)
    headline = shown.stdout.splitlines()[0]
    assert shown.returncode == 0 and "needs attention: " in headline and "Jobs" in headline  # without --check: 0

    copy = tmp_path / "demo"
    shutil.copytree(demo, copy)
    jobs_file = copy / "data" / "jobs.json"
    jobs = json.loads(jobs_file.read_bytes())
    jobs["runs"]["trials-track"].update(outcome="failed", detail="boom", consecutive_failures=2)
    jobs_file.write_text(json.dumps(jobs))
    config = copy / "arkops.toml"
    config.write_text(config.read_text().replace("mrr = 100000", "mrr = 200000"))  # a goal of 2,000.00 EUR
    failing = in_demo(copy, "status", "--check", "--format", "json")
    assert failing.returncode == 1
    document = json.loads(failing.stdout)
    rows = {r["job"]: r for r in document["sections"]["jobs"]["tables"]["jobs"]["rows"]}
    assert rows["trials-track"]["problem"] == "failing (2 in a row): boom"
    revenue = document["sections"]["revenue"]["figures"]
    assert revenue["goal"]["value"] == round(revenue["mrr"]["value"] / 200000, 4) and not revenue["goal"]["red"]
    assert revenue["goal"]["text"].endswith("of €2,000.00")


def test_status_outside_a_workspace_is_one_line_and_creates_nothing(tmp_path):
    result = run_arkops("status", cwd=tmp_path, env={"ARKOPS_DATA_DIR": str(tmp_path / "nothere")})
    assert result.code == 3 and "no arkops data directory" in result.err and not (tmp_path / "nothere").exists()


def test_weekly_schedule_is_monday_at_eight_local():
    from arkops.core.jobs.runner import Schedule, next_due
    from arkops.runtime import Runtime

    class Config(dict):
        from zoneinfo import ZoneInfo

        tz = ZoneInfo("Europe/Paris")

    rt = Runtime(Path("data"), Path("arkops.toml"), Path(".env"), _config=Config())  # type: ignore[arg-type]
    weekly = Schedule(True, None, "08:00", 0)

    def at(text: str) -> datetime:
        return datetime.fromisoformat(text)

    sunday, monday_early, monday = (
        at("2026-10-18T12:00:00+02:00"),
        at("2026-10-19T07:59:00+02:00"),
        at("2026-10-19T08:05:00+02:00"),
    )
    assert next_due(rt, weekly, None, sunday) is None  # never ran: due since last Monday 08:00
    assert next_due(rt, weekly, "2026-10-12T06:00:00Z", sunday) == at("2026-10-19T08:00:00+02:00")
    assert next_due(rt, weekly, "2026-10-12T06:00:00Z", monday_early) == at("2026-10-19T08:00:00+02:00")
    assert next_due(rt, weekly, "2026-10-12T06:00:00Z", monday) is None
    assert next_due(rt, weekly, "2026-10-19T06:05:00Z", monday) == at("2026-10-26T08:00:00+01:00")  # winter time
    assert weekly.describe() == "weekly Mon 08:00"


def test_weekly_email_goes_once_per_week_with_html_and_text(cli, smtp_server, monkeypatch, workspace):
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-01T10:00:00Z")
    assert cli("trials", "signup", "ana@example.com", "--plan", "pro", "--source", "newsletter").code == 0
    assert cli("trials", "signup", "bo@example.com", "--plan", "starter").code == 0
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T08:30:00Z")  # Monday
    first = cli("run", "--only", "weekly-email")
    assert first.code == 0 and "weekly report 2026-W09 queued" in first.out, first.out + first.err
    assert cli("mail", "flush").code == 0
    again = cli("run", "--only", "weekly-email", "--force", "-v")  # the same week: the key says it is queued already
    assert again.code == 0 and "weekly report 2026-W09 already queued" in again.out
    assert cli("mail", "flush").code == 0
    assert len(smtp_server.received) == 1
    message = email.message_from_bytes(smtp_server.received[0])
    assert message["Subject"] == "Weekly report 2026-W09" and message["To"] == "owner@example.com"
    assert message.get_content_type() == "multipart/alternative"
    parts = {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in message.walk()
        if not part.is_multipart()
    }
    assert set(parts) == {"text/plain", "text/html"}
    assert "Signups last week: 2" in parts["text/plain"] and "== Trials" in parts["text/plain"]
    assert "Trial cohorts by signup week" in parts["text/html"] and "2026-W09" in parts["text/html"]
    assert "<script" not in parts["text/html"]
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-09T08:30:00Z")  # the next Monday (UTC: no arkops.toml)
    assert cli("run", "--only", "weekly-email").out.split()[1] == "ok"
    assert cli("mail", "flush").code == 0
    assert len(smtp_server.received) == 2
    assert email.message_from_bytes(smtp_server.received[1])["Subject"] == "Weekly report 2026-W10"


def test_report_refuses_a_bad_period_and_needs_a_file(cli):
    bad = cli("report", "--html", "r.html", "--since", "twelve")
    assert bad.code == 2 and "Invalid value for '--since': 'twelve' is not a span back from now" in bad.err
    too_long = cli("report", "--html", "r.html", "--since", "15y")
    assert too_long.code == 2 and too_long.err.count("--since") == 1 and "at most 10 years" in too_long.err
    assert cli("report").code == 2
    assert not Path("r.html").exists()


class Page(HTMLParser):
    """What the report holds: tags, the URLs it names, charts and their text alternatives."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.csp = ""
        self.svgs: list[dict] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "action", "srcset", "poster", "data") or (value or "").startswith(
                ("http", "//")
            ):
                self.urls.append(value or "")
        if tag == "meta" and values.get("http-equiv") == "Content-Security-Policy":
            self.csp = values["content"] or ""
        if tag == "svg":
            self.svgs.append(values)

    def handle_data(self, data):
        self.text.append(data)


def png_is_not_blank(path: Path) -> tuple[int, int, int]:
    """Width, height and how many distinct rows of pixels a PNG holds (a blank page has one)."""
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", raw[16:24])
    chunks, offset = [], 8
    while offset < len(raw):
        (length,) = struct.unpack(">I", raw[offset : offset + 4])
        kind = raw[offset + 4 : offset + 8]
        if kind == b"IDAT":
            chunks.append(raw[offset + 8 : offset + 8 + length])
        offset += 12 + length
    pixels = zlib.decompress(b"".join(chunks))
    stride = len(pixels) // height
    rows = {pixels[i * stride + 1 : (i + 1) * stride] for i in range(height)}
    return width, height, len(rows)


class DevTools:
    """Headless Chromium driven through the DevTools protocol on --remote-debugging-pipe (it reads commands on
    fd 3 and answers on fd 4, each message JSON ended by a NUL). Every event is kept with the session it came
    from, so a page's requests and console are that page's alone: the browser's own traffic (updates, sign-in,
    network time, whatever a new version adds) belongs to no page session and cannot be mistaken for it."""

    def __init__(self, browser: str, profile: Path, log: IO[str]) -> None:
        commands_read, self.commands = os.pipe()
        self.replies, replies_write = os.pipe()

        def pipes_as_fds_3_and_4() -> None:
            os.dup2(commands_read, 3)
            os.dup2(replies_write, 4)

        self.process = subprocess.Popen(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                # No name resolves: nothing a page asks for can leave this machine (it is still seen asking).
                "--host-resolver-rules=MAP * ~NOTFOUND",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            preexec_fn=pipes_as_fds_3_and_4,
            close_fds=False,  # fds 3 and 4 must survive into the browser; Python's own fds are not inheritable
        )
        os.close(commands_read)
        os.close(replies_write)
        self.unread = b""
        self.last_id = 0
        self.events: list[dict] = []

    def read(self, deadline: float) -> dict:
        while b"\0" not in self.unread:
            ready, _, _ = select.select([self.replies], [], [], max(deadline - time.monotonic(), 0))
            assert ready, "Chromium did not answer within 30 s"
            chunk = os.read(self.replies, 1 << 20)
            assert chunk, "Chromium closed its DevTools pipe"
            self.unread += chunk
        message, self.unread = self.unread.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, session: str | None = None, **params: object) -> dict:
        self.last_id += 1
        message = {
            "id": self.last_id,
            "method": method,
            "params": params,
            **({"sessionId": session} if session else {}),
        }
        os.write(self.commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + 30
        while (reply := self.read(deadline)).get("id") != self.last_id:
            self.events.append(reply)
        assert "error" not in reply, (method, reply["error"])
        return reply["result"]

    def open_page(self) -> str:
        """A new tab, attached with its own session; its requests, console and log are recorded."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Network", "Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session)
        return session

    def load(self, session: str, url: str) -> None:
        first = len(self.events)
        self.call("Page.navigate", session, url=url)
        deadline = time.monotonic() + 30
        while not self.of(session, "Page.loadEventFired", since=first):
            self.events.append(self.read(deadline))

    def of(self, session: str, *methods: str, since: int = 0) -> list[dict]:
        return [e["params"] for e in self.events[since:] if e.get("sessionId") == session and e["method"] in methods]

    def requested(self, session: str) -> list[str]:
        """Every URL the page asked for, the attempts its CSP blocked included."""
        return [sent["request"]["url"] for sent in self.of(session, "Network.requestWillBeSent")]

    def console(self, session: str) -> list[str]:
        """console.* calls, uncaught exceptions and the browser's log for the page (CSP violations, failed loads)."""
        return [
            json.dumps(entry)
            for entry in self.of(session, "Runtime.consoleAPICalled", "Runtime.exceptionThrown", "Log.entryAdded")
        ]

    def close(self) -> None:
        os.close(self.commands)  # the browser quits when its DevTools pipe closes, whatever state it is in
        self.process.wait(timeout=30)
        os.close(self.replies)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("headless Chromium not installed (Debian: apt-get install chromium; .ci/run installs it)")
    return found


@pytest.mark.slow
def test_html_report_is_self_contained_and_renders_at_phone_and_desktop_width(demo, tmp_path):
    browser = chromium()
    page_file = tmp_path / "report.html"
    made = in_demo(demo, "report", "--html", str(page_file), "--since", "6mo")
    assert made.returncode == 0 and f"report: wrote {page_file}" in made.stderr, made.stderr
    html = page_file.read_text()
    page = Page()
    page.feed(html)
    assert (
        "script" not in page.tags and "link" not in page.tags and "img" not in page.tags and "iframe" not in page.tags
    )
    assert page.urls == [] and "http://" not in html
    assert "https://" not in html and "url(" not in html and "@import" not in html
    assert page.csp.startswith("default-src 'none'")
    assert "prefers-color-scheme:dark" in html and 'name="viewport"' in html
    charts = {svg["aria-labelledby"].split()[0][: -len("-t")] for svg in page.svgs}
    assert charts >= {"mrr", "revenue", "cohorts", "lead_sources"} and all(svg["role"] == "img" for svg in page.svgs)
    for key in charts:  # each chart: a title, a description (its text alternative), and its data as a table
        assert f'<title id="{key}-t">' in html and f'<desc id="{key}-d">' in html and f'id="chart-{key}"' in html
    assert html.count("<details>") == len(charts)
    assert "Trial cohorts by signup week" in html and "Failed payments open" in html and "Top lead sources" in html
    assert "Promo results" in html and "LAUNCH30" in html
    hot_spots = html.split("Quota hot spots")[1].split("</table>")[0]
    quotas = json.loads(in_demo(demo, "usage", "report", "--format", "json").stdout)
    assert hot_spots.count("<tr") - 1 == sum(row["over_80"] for row in quotas) > 0  # every customer-metric pair

    # The control: a page that does load something from outside and logs an error is seen doing both.
    control = tmp_path / "control.html"
    control.write_text(
        '<!DOCTYPE html><img src="http://assets.example.invalid/pixel.png"><script>console.error("control")</script>'
    )
    log_file = tmp_path / "chromium.log"
    with log_file.open("w") as log:
        devtools = DevTools(browser, tmp_path / "profile", log)
        try:
            report = devtools.open_page()
            shots = {}
            for name, (width, height, mobile) in (("phone", (390, 844, True)), ("desktop", (1280, 900, False))):
                devtools.call(
                    "Emulation.setDeviceMetricsOverride",
                    report,
                    width=width,
                    height=height,
                    deviceScaleFactor=1,
                    mobile=mobile,
                )
                devtools.load(report, page_file.as_uri())
                shot = tmp_path / f"report-{name}.png"
                shot.write_bytes(
                    base64.b64decode(devtools.call("Page.captureScreenshot", report, format="png")["data"])
                )
                shots[name] = png_is_not_blank(shot)
            checked = devtools.open_page()
            devtools.load(checked, control.as_uri())
        finally:
            devtools.close()
    assert devtools.requested(report) == [page_file.as_uri()] * 2, log_file.read_text()[-2000:]  # only itself, twice
    assert devtools.console(report) == []  # no console error, no CSP violation, no failed load
    assert devtools.requested(checked) == [control.as_uri(), "http://assets.example.invalid/pixel.png"]
    assert any('"control"' in line for line in devtools.console(checked))
    assert shots["phone"][:2] == (390, 844) and shots["desktop"][:2] == (1280, 900)
    assert shots["phone"][2] > 50 and shots["desktop"][2] > 50  # many different rows of pixels: not blank


def test_progress_bars_only_when_stderr_is_a_terminal(workspace, tmp_path):
    records = [{"email": f"t{n}@example.org", "plan": "pro", "created_at": "2026-03-01T10:00:00Z"} for n in range(30)]
    (tmp_path / "signups.json").write_text(json.dumps(records))
    env = {**os.environ, "ARKOPS_NOW": "2026-03-02T10:00:00Z"}
    piped = subprocess.run(
        [sys.executable, "-m", "arkops", "trials", "import", "signups.json"], capture_output=True, text=True, env=env
    )
    assert piped.returncode == 0 and "importing records" not in piped.stderr
    assert piped.stderr.strip().endswith("trials import: 30 signups, 0 activities, 0 already present, 0 skipped")

    leader, follower = pty.openpty()
    at_terminal = subprocess.run(
        [sys.executable, "-m", "arkops", "trials", "import", "signups.json"],
        stdout=subprocess.PIPE,
        stderr=follower,
        env={**env, "COLUMNS": "100", "TERM": "xterm"},
        timeout=30,
    )
    os.close(follower)
    shown = b""
    try:
        while chunk := os.read(leader, 65536):
            shown += chunk
    except OSError:
        pass
    os.close(leader)
    assert at_terminal.returncode == 0
    assert b"importing records" in shown and b"30/30" in shown  # the bar, drawn on the terminal


def test_every_declared_section_function_exists():
    from arkops.core.domain import resolve
    from arkops.core.registry import section_parts

    for kind in ("status", "report"):
        parts = section_parts(kind)
        assert [name for name, _ in parts][:2] == ["billing", "trials"] and parts[-1][0] == "jobs"
        for _, part in parts:
            assert callable(resolve(part.target))
