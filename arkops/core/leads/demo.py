"""Demo part: the web server's combined access log over the demo's 120 days, and a demo-request list.

Visitors read the blog and the tracked pages, arrive from campaigns (UTM),
search engines and newsletters; crawlers, feed readers and uptime monitors
hit the site too; each trial signup of the shared world comes from a
visitor who opened /pricing and then /trial (the app passes the email on
the trial page). A few visitors are on the pricing page this morning.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta

from arkops.core.demo import DAYS, SEED, World
from arkops.core.leads.imports import import_files
from arkops.core.leads.ingest import ingest
from arkops.core.leads.scoring import list_leads, page_stats
from arkops.store import atomic_write_bytes, ensure_dir

LOG = "app/access.log"
BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
)
BOTS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 3 subscribers)",
    "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
)
PAGES = ("/", "/blog/price-alerts", "/blog/changelog", "/features", "/docs/api")
REFERRERS = ("https://www.google.com/", "https://news.ycombinator.com/item?id=4242", "https://duckduckgo.com/", "-")
CAMPAIGNS = (("newsletter", "email", "october"), ("twitter", "social", "launch"), ("producthunt", "referral", "ph"))


def _line(at: datetime, ip: str, method: str, target: str, status: int, referrer: str, agent: str) -> str:
    stamp = at.strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'{ip} - - [{stamp}] "{method} {target} HTTP/1.1" {status} 5120 "{referrer}" "{agent}"\n'


def _target(path: str, rng: random.Random, extra: str = "") -> str:
    if rng.random() < 0.35:
        source, medium, campaign = rng.choice(CAMPAIGNS)
        extra += f"&utm_source={source}&utm_medium={medium}&utm_campaign={campaign}"
    return path + ("?" + extra.lstrip("&") if extra else "")


def build(world: World) -> None:
    rng = random.Random(SEED + 14)  # its own stream: the other parts' data stays the same
    now = world.now
    start = now - timedelta(days=DAYS)
    lines: list[tuple[datetime, str]] = []

    def visit(at: datetime, ip: str, agent: str, path: str, extra: str = "") -> None:
        lines.append((at, _line(at, ip, "GET", _target(path, rng, extra), 200, rng.choice(REFERRERS), agent)))

    for day in range(DAYS):
        base = start + timedelta(days=day)
        for _ in range(25):  # readers who never come near the tracked pages
            at = base + timedelta(seconds=rng.randrange(86_400))
            visit(at, f"198.51.100.{rng.randrange(1, 250)}", rng.choice(BROWSERS), rng.choice(PAGES))
        for _ in range(4):  # the curious: one look at the pricing or demo page
            at = base + timedelta(seconds=rng.randrange(86_400))
            visit(
                at,
                f"10.{rng.randrange(256)}.{rng.randrange(256)}.7",
                rng.choice(BROWSERS),
                rng.choice(("/pricing", "/demo")),
            )
        for agent in BOTS:
            at = base + timedelta(seconds=rng.randrange(86_400))
            lines.append(
                (at, _line(at, "66.249.66.1", "GET", rng.choice(("/pricing", "/", "/trial")), 200, "-", agent))
            )
        at = base + timedelta(seconds=rng.randrange(86_400))
        lines.append((at, _line(at, "203.0.113.9", "HEAD", "/static/app.css", 304, "-", BROWSERS[0])))
    for n, person in enumerate(p for p in world.people if p.signed_up_at):
        assert person.signed_up_at is not None
        ip, agent = f"2001:db8:{n:x}::{rng.randrange(1, 999)}", rng.choice(BROWSERS)
        for hours in sorted(rng.uniform(2, 72) for _ in range(rng.randint(1, 3))):
            visit(person.signed_up_at - timedelta(hours=hours), ip, agent, "/pricing")
        visit(person.signed_up_at, ip, agent, "/trial", f"email={person.email}")
    for n in range(3):  # this morning's prospects
        ip, agent = f"203.0.113.{40 + n}", BROWSERS[n]
        for minutes in (300 - 70 * n, 150 - 20 * n, 60 - 10 * n, 25 - 5 * n):
            visit(now - timedelta(minutes=minutes), ip, agent, "/pricing" if minutes > 30 else "/demo")
    lines.sort(key=lambda pair: pair[0])
    folder = ensure_dir(world.workspace / "app")
    atomic_write_bytes(world.workspace / LOG, "".join(text for at, text in lines if at < now).encode())
    requests = [
        {"email": "cto@bigcorp.example", "name": "Lea Martin", "company": "BigCorp", "source": "pricing page"},
        {"email": "ops@smallshop.example", "name": "Tom Ruiz", "company": "Small Shop", "source": "newsletter"},
    ]
    for hours, request in zip((3, 400), requests, strict=True):
        request["created_at"] = (now - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    atomic_write_bytes(folder / "demo_requests.jsonl", "".join(json.dumps(r) + "\n" for r in requests).encode("utf-8"))
    report = ingest(world.rt, [str(world.workspace / LOG)], now=now)
    imported = import_files(world.rt, [folder / "demo_requests.jsonl"], now=now)
    world.lines.append(
        f"{LOG}: {report.lines} lines, {report.visits} visits to tracked pages, {report.bots} from bots left out; "
        f"app/demo_requests.jsonl: {imported.added} demo requests"
    )
    hot = list_leads(world.rt, now=now, hot=True)
    shown = ", ".join(f"{row['lead']} ({row['score']})" for row in hot[:3])
    world.lines.append(f"hot leads: {len(hot)}, hottest {shown}")
    stats = page_stats(world.rt, now=now)
    world.lines.append(
        "leads stats, last 7 days: "
        + ", ".join(f"{p['path']} {p['hits']} hits / {p['visitors']} visitors" for p in stats["pages"])
    )
