"""Web server access logs and the app's visit logs, read incrementally.

Three formats: nginx/Apache `combined` lines (and `common`, and the
variants with a virtual host in front or a request time after the user
agent), the app's JSON Lines visit log, and the older JSON-array files
(`page_visits_YYYYMMDD.json`); any of them gzipped. A `Hit` is one request
as the log tells it: nothing here knows about tracked pages, bots or
storage.

Speed: a big log is read in chunks of bytes, and only the lines holding
one of the caller's `needles` (e.g. ` /pricing`) are parsed, so the cost
follows the tracked traffic, not the file.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

CHUNK = 4 << 20
FORMATS = ("auto", "combined", "jsonl", "json")

# host? ip ident user [time] "request" status size ("referrer" "agent" (anything appended: request time...)?)?
_QUOTED = r'(?:[^"\\]*(?:\\.[^"\\]*)*)'  # a quoted field's inside, with \" and \\ escapes
_REST = (
    r'(?P<ip>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<request>' + _QUOTED + r')" (?P<status>\d{3}) \S+'
    r'(?: "(?P<referrer>' + _QUOTED + r')" "(?P<agent>' + _QUOTED + r')"(?: .*)?)?'
)
_COMBINED = re.compile(_REST)
_WITH_VHOST = re.compile(r"(?P<vhost>\S+) " + _REST)
_MONTHS = {
    m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)
}
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Hit:
    at: datetime
    ip: str
    method: str
    target: str  # the request target: path and query string, or a full URL
    status: int
    referrer: str
    user_agent: str
    query: dict[str, str] = field(default_factory=dict)  # parameters the app logged apart from the URL


class BadLine(ValueError):
    """A line that is not a request of the expected format."""


def _unescape(text: str) -> str:
    return text.replace('\\"', '"').replace("\\\\", "\\") if "\\" in text else text


_time_cache: dict[str, datetime] = {}


def parse_clf_time(text: str) -> datetime:
    """`10/Oct/2026:13:55:36 +0200` to UTC; many lines share a second, so results are cached."""
    cached = _time_cache.get(text)
    if cached is not None:
        return cached
    try:
        moment = datetime(
            int(text[7:11]), _MONTHS[text[3:6]], int(text[0:2]), int(text[12:14]), int(text[15:17]), int(text[18:20])
        )
        sign = -1 if text[21] == "-" else 1
        offset = timedelta(hours=int(text[22:24]), minutes=int(text[24:26])) * sign
    except (KeyError, ValueError, IndexError):
        raise BadLine(f"bad time {text!r}") from None
    if len(text) != 26:
        raise BadLine(f"bad time {text!r}")
    result = (moment - offset).replace(tzinfo=UTC)
    if not _EARLIEST <= result < _LATEST:
        raise BadLine(f"time out of range {text!r}")
    if len(_time_cache) > 50_000:
        _time_cache.clear()
    _time_cache[text] = result
    return result


def parse_combined(line: str) -> Hit:
    match = _COMBINED.fullmatch(line) or _WITH_VHOST.fullmatch(line)
    if match is None:
        raise BadLine("not a combined or common log line")
    request = _unescape(match["request"]).split(" ")
    if len(request) < 2:
        raise BadLine("no method and path in the request")
    referrer = _unescape(match["referrer"] or "")
    agent = _unescape(match["agent"] or "")
    return Hit(
        at=parse_clf_time(match["time"]),
        ip=match["ip"],
        method=request[0],
        target=request[1],
        status=int(match["status"]),
        referrer="" if referrer == "-" else referrer,
        user_agent="" if agent == "-" else agent,
    )


def _moment(value: Any) -> datetime:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not _EARLIEST.timestamp() <= value < _LATEST.timestamp():
            raise BadLine(f"timestamp {value!r} out of range")
        return datetime.fromtimestamp(value, UTC)
    if not isinstance(value, str):
        raise BadLine("no timestamp")
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise BadLine(f"bad timestamp {value!r}") from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if not _EARLIEST <= moment < _LATEST:
        raise BadLine(f"timestamp {value!r} out of range")
    return moment


def parse_record(record: Any) -> Hit:
    """One visit object of the app's logs: timestamp, page, ip, user_agent, referrer, query_params."""
    if not isinstance(record, dict):
        raise BadLine("not a JSON object")
    page = record.get("page", record.get("path"))
    if not isinstance(page, str) or not page:
        raise BadLine("no page")
    params = record.get("query_params") or {}
    if not isinstance(params, dict):
        raise BadLine("query_params is not an object")
    status = record.get("status", 200)
    method = record.get("method", "GET")
    if isinstance(status, bool) or not isinstance(status, int) or not isinstance(method, str):
        raise BadLine("bad status or method")
    return Hit(
        at=_moment(record.get("timestamp", record.get("time"))),
        ip=str(record.get("ip") or ""),
        method=method.upper(),
        target=page,
        status=status,
        referrer=str(record.get("referrer") or record.get("referer") or ""),
        user_agent=str(record.get("user_agent") or ""),
        query={str(k): str(v[0] if isinstance(v, list) and v else v) for k, v in params.items() if v is not None},
    )


def parse_json_line(line: str) -> Hit:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        raise BadLine("not JSON") from None
    return parse_record(record)


def _open(path: Path) -> IO[bytes]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def detect_format(path: Path) -> str:
    """combined, jsonl or json, from the first bytes (a `[` is a JSON array, a `{` JSON Lines)."""
    with _open(path) as handle:
        head = handle.read(512).lstrip()
    if head.startswith(b"["):
        return "json"
    if head.startswith(b"{"):
        return "jsonl"
    return "combined"


def fingerprint(path: Path) -> str | None:
    """The identity of a log's content: a hash of its first complete line (None while it has none).

    A file keeps it when it is renamed, copied or gzipped by logrotate, and a
    truncated or new file gets another, so it tells where to resume.
    """
    with _open(path) as handle:
        head = handle.read(8192)
    cut = head.find(b"\n")
    if cut < 0:
        return None
    return hashlib.sha256(head[: cut + 1]).hexdigest()[:24]


def record_fingerprint(record: Any) -> str:
    """The identity of a JSON-array visit file: a hash of its first record, which later rewrites keep."""
    return "json:" + hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:24]


@dataclass
class Chunk:
    lines: list[bytes]  # complete lines holding a needle, in file order
    end: int  # offset after the last complete line read
    scanned: int  # complete lines read in this chunk (the ones not holding a needle included)


def read_lines(path: Path, offset: int, needles: tuple[bytes, ...]) -> Iterator[Chunk]:
    """The complete lines after `offset` that contain any needle, chunk by chunk.

    A last line without its newline (still being written, or cut by a
    crash) is left for a later run. Memory stays at one chunk, whatever the
    file's size.
    """
    with _open(path) as handle:
        if offset:
            handle.seek(offset)
        position = offset
        rest = b""
        while True:
            block = handle.read(CHUNK)
            if not block:
                return
            data = rest + block
            last = data.rfind(b"\n")
            if last < 0:
                rest = data
                continue
            body, rest = data[: last + 1], data[last + 1 :]
            starts: set[int] = set()
            for needle in needles:
                found = body.find(needle)
                while found >= 0:
                    start = body.rfind(b"\n", 0, found) + 1
                    starts.add(start)
                    found = body.find(needle, body.find(b"\n", found) + 1)
            lines = [body[s : body.find(b"\n", s) + 1] for s in sorted(starts)]
            position += len(body)
            yield Chunk(lines, position, body.count(b"\n"))


def rotated_siblings(path: Path) -> list[Path]:
    """Files logrotate makes from `path` (access.log.1, access.log.2.gz, access.log-20261014), oldest first."""
    if not path.parent.is_dir():
        return []
    prefix = path.name
    found = [
        p
        for p in path.parent.iterdir()
        if p.name != prefix and p.name.startswith((prefix + ".", prefix + "-")) and p.is_file()
    ]
    return sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name))


def file_identity(path: Path) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_dev, stat.st_ino
