"""Tracked pages, the stored visit record, and the day files under `visits/`.

A visit is one GET or HEAD to a tracked page with a status below 400, kept
as one JSON object per line in `visits/YYYY-MM-DD.jsonl` (UTC day):

    {"at": "2026-10-15T08:01:02Z", "visitor": "v3f9c0a1b2c", "ip": "203.0.113.0",
     "user_agent": "Mozilla/5.0 ...", "path": "/pricing", "method": "GET", "status": 200,
     "referrer": "https://news.example/item", "referrer_domain": "news.example",
     "utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "october",
     "ref": "...", "email": "ana@example.com"}

Empty fields are left out. The IP is anonymized before the record exists
(`[leads] ip_storage`), the referrer loses its query string and fragment (they
can carry emails or tokens), and the visitor id is a keyed hash (HMAC-SHA256
with the installation's key, `privacy.key`) of the full address and the user
agent, made before the address is cut: two people behind one /24 with the
same browser stay two visitors, and the id cannot be turned back into an
address by hashing candidates without the key.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson

from arkops.core.privacy.addresses import whole_and_stored
from arkops.errors import CorruptFileError
from arkops.runtime import Runtime
from arkops.sources.access_log import Hit

FOLDER = "visits"
TRACKED_METHODS = frozenset(("GET", "HEAD"))
UTM = ("utm_source", "utm_medium", "utm_campaign")
_EMAIL = re.compile(r"[^@\s<>\"',;]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}")


@dataclass(frozen=True)
class Page:
    path: str
    weight: float
    label: str
    hot: bool = False  # one visit makes the visitor a hot lead


def tracked_pages(rt: Runtime) -> list[Page]:
    pages = [
        Page(p["path"], p["weight"], p["label"] or p["path"].strip("/") or "/", p["hot"])
        for p in rt.config["leads"]["pages"]
    ]
    return sorted(pages, key=lambda p: len(p.path), reverse=True)  # the longest prefix wins


def match_page(pages: list[Page], path: str) -> Page | None:
    """The tracked page a request path belongs to: the path itself or below it (`/pricing` holds `/pricing/team`)."""
    for page in pages:
        if path == page.path or (
            path.startswith(page.path) and (page.path.endswith("/") or path[len(page.path)] == "/")
        ):
            return page
    return None


def visitor_key(rt: Runtime) -> bytes:
    """The key of visitor ids: the installation's key (`privacy.key`), so ids are stable across runs and hosts."""
    from arkops.core.privacy.person import hashing_key

    return hashing_key(rt)


class VisitorIds:
    """`v` and 11 hex digits: HMAC-SHA256, with the installation's key, of `visitor:`, the whole address (as
    `store_ip(ip, True)` writes it), a NUL and the user agent.

    The HMAC is computed from its definition (RFC 2104) with SHA-256 states made once for the key's inner
    and outer pads and copied for each id: the same digest as `hmac.new`, at half its cost on the ingest's
    hot path (a copy of `hmac.new`'s object costs more than two SHA-256 copies). Ids are not cached: on
    the benchmark's log a cache's misses cost more than its hits save.
    """

    def __init__(self, key: bytes) -> None:
        block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
        self.inner = hashlib.sha256(bytes(b ^ 0x36 for b in block) + b"visitor:")
        self.outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def __call__(self, ip: str, user_agent: str) -> str:
        inner = self.inner.copy()
        inner.update(f"{ip}\0{user_agent}".encode())
        outer = self.outer.copy()
        outer.update(inner.digest())
        return "v" + outer.hexdigest()[:11]


def email_in(value: str) -> str | None:
    match = _EMAIL.fullmatch(value.strip())
    return match.group(0).lower() if match else None


def make_visit(hit: Hit, path: str, query: str, *, full_ip: bool, ids: VisitorIds) -> dict:
    """The stored record of a hit on a tracked page (see the module's docstring).

    A log repeats its referrers and query strings: what is read from each is
    cached, so a visit costs little more than its dictionary.
    """
    whole, ip = whole_and_stored(hit.ip, full_ip)
    visit: dict = {"at": hit.at, "visitor": ids(whole, hit.user_agent)}
    if ip:
        visit["ip"] = ip
    if hit.user_agent:
        visit["user_agent"] = hit.user_agent[:500]
    visit["path"] = path
    visit["method"] = hit.method
    visit["status"] = hit.status
    if hit.referrer:
        visit.update(_referrer_fields(hit.referrer))
    if hit.query:  # the app logged its parameters apart: they add to (and win over) the URL's
        params = dict(_params(query)) if query else {}
        params.update(hit.query)
        visit.update(_fields_of(params))
    elif query:
        visit.update(_query_fields(query))
    return visit


class VisitLines:
    """The stored line of a usual combined-log visit, from cached pieces: `json_line(make_visit(...))`'s bytes.

    A log repeats its user agents, pages, referrers and query strings; their
    JSON text is made once, and a visit costs its address, its visitor id
    and one string format. Only for text the log gave as it is (`method`
    GET or HEAD, `at` from `parse_clf_time`): the JSON-log path and any odd
    line use `make_visit`. `tests/test_leads_parse.py` compares the two.
    """

    def __init__(self, *, full_ip: bool, ids: VisitorIds) -> None:
        self.full_ip, self.ids = full_ip, ids
        self.agents: dict[str, str] = {}
        self.paths: dict[str, str] = {}

    def __call__(
        self, at: str, ip: str, agent: str, tracked: tuple[str, str], method: str, status: int, referrer: str
    ) -> tuple[bytes, str]:
        """(the visit's JSON line, the email it links to or "")."""
        whole, stored = whole_and_stored(ip, self.full_ip)
        agents, paths = self.agents, self.paths
        path, query = tracked
        about = agents.get(agent)
        if about is None:
            if len(agents) >= 4_096:
                agents.clear()
            about = agents[agent] = ',"user_agent":' + orjson.dumps(agent[:500]).decode() if agent else ""
        page = paths.get(path)
        if page is None:
            page = paths[path] = orjson.dumps(path).decode()
        extra, email = _query_text(query) if query else ("", "")
        address = f',"ip":"{stored}"' if stored else ""
        came = _referrer_text(referrer) if referrer else ""
        visitor = self.ids(whole, agent)
        line = (
            f'{{"at":"{at}","visitor":"{visitor}"{address}{about},"path":{page},"method":"{method}",'
            f'"status":{status}{came}{extra}}}\n'
        )
        return line.encode(), email


@lru_cache(maxsize=4_096)
def _referrer_text(referrer: str) -> str:
    return "".join(f',"{key}":{orjson.dumps(value).decode()}' for key, value in _referrer_fields(referrer))


@lru_cache(maxsize=4_096)
def _query_text(query: str) -> tuple[str, str]:
    fields = _query_fields(query)
    text = "".join(f',"{key}":{orjson.dumps(value).decode()}' for key, value in fields)
    return text, dict(fields).get("email", "")


@lru_cache(maxsize=4_096)
def _referrer_fields(referrer: str) -> tuple[tuple[str, str], ...]:
    """`referrer` without its query string and fragment (they can carry emails or tokens), and its domain."""
    parts = urlsplit(referrer)
    fields = [("referrer", f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.netloc else referrer[:200])]
    if parts.hostname:
        fields.append(("referrer_domain", parts.hostname.removeprefix("www.")))
    return tuple(fields)


def _params(query: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(query, keep_blank_values=False).items()}


@lru_cache(maxsize=4_096)
def _query_fields(query: str) -> tuple[tuple[str, str], ...]:
    return _fields_of(_params(query))


def _fields_of(params: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """The UTM parameters, `ref` and a linked email a visit keeps from its parameters."""
    fields = [(key, params[key][:100]) for key in (*UTM, "ref") if params.get(key)]
    email = email_in(params.get("email", "")) or email_in(params.get("ref", ""))
    if email:
        fields.append(("email", email))
    return tuple(fields)


def folder(rt: Runtime) -> Path:
    return rt.data_dir / FOLDER


def day_file(rt: Runtime, day: date) -> Path:
    return rt.data_dir / FOLDER / f"{day.isoformat()}.jsonl"


def day_files(rt: Runtime) -> list[tuple[date, Path]]:
    """Every day file, oldest first."""
    base = folder(rt)
    if not base.is_dir():
        return []
    found = []
    for path in base.glob("*.jsonl"):
        try:
            found.append((date.fromisoformat(path.stem), path))
        except ValueError:
            continue
    return sorted(found)


def read_visits(rt: Runtime, since: datetime, until: datetime) -> Iterator[dict]:
    """Stored visits with `since <= at < until`, oldest first (a torn last line, from a crash, is skipped)."""
    low, high = since.strftime("%Y-%m-%dT%H:%M:%SZ"), until.strftime("%Y-%m-%dT%H:%M:%SZ")
    first, last = since.date() - timedelta(days=1), until.date()
    for day, path in day_files(rt):
        if not first <= day <= last:
            continue
        with open(path, "rb") as handle:
            lines = handle.read().split(b"\n")
        for number, line in enumerate(lines[:-1], 1):
            if not line.strip():
                continue
            try:
                visit = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise CorruptFileError(path, f"line {number} is not JSON") from None
            if low <= visit.get("at", "") < high:
                yield visit
