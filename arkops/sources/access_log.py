"""Web server access logs and the app's visit logs, read incrementally.

Three formats: nginx/Apache `combined` lines (and `common`, and the
variants with a virtual host in front or a request time after the user
agent), the app's JSON Lines visit log, and the older JSON-array files
(`page_visits_YYYYMMDD.json`); any of them gzipped. A `Hit` is one request
as the log tells it: nothing here knows about tracked pages, bots or
storage.

Speed: a big log is read in chunks of bytes into one buffer, and only the
lines holding one of the caller's `needles` (e.g. ` /pricing`) are parsed,
so the cost follows the tracked traffic, not the file. The usual combined
line is split on its quotes (`split_combined`); the regular expression reads
every other line.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

CHUNK = 4 << 20
MAX_LINE = CHUNK  # a longer line is unreadable: counted and skipped, never held in memory
FORMATS = ("auto", "combined", "jsonl", "json")
EVERY_LINE = (b"\n",)  # `read_lines` needles that every complete line holds

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


@dataclass(slots=True)  # not frozen: a frozen dataclass costs about 1 µs more to build, once per tracked line
class Hit:
    at: str  # ISO 8601 UTC, to the second: 2026-10-15T08:01:02Z
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


_time_cache: dict[str, str] = {}


def iso_z(moment: datetime) -> str:
    """`2026-10-15T08:01:02Z` of a UTC moment: what `strftime("%Y-%m-%dT%H:%M:%SZ")` gives, at a fifth of its cost."""
    return moment.isoformat(timespec="seconds")[:19] + "Z"


def parse_clf_time(text: str) -> str:
    """`10/Oct/2026:13:55:36 +0200` as `2026-10-10T11:55:36Z`; many lines share a second, so results are cached.

    A second not seen yet is read through its minute (cached too, parsed in
    full): offsets are whole minutes, so the seconds carry over as they are.
    """
    cached = _time_cache.get(text)
    if cached is not None:
        return cached
    second = text[18:20]
    result = None
    if (
        second != "00"
        and len(text) == 26
        and text[17] == ":"
        and second.isascii()
        and second.isdigit()
        and second < "60"
    ):
        # A bad minute falls through to the full parse, which says what is wrong with this line's own text.
        with contextlib.suppress(BadLine):
            result = parse_clf_time(f"{text[:18]}00{text[20:]}")[:17] + second + "Z"
    if result is None:
        result = iso_z(_parse_clf_time(text))
    if len(_time_cache) > 10_000:
        _time_cache.clear()
    _time_cache[text] = result
    return result


def _parse_clf_time(text: str) -> datetime:
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
    return result


def parse_combined(line: str) -> Hit:
    """One combined or common line (a virtual host in front, or fields after the agent, allowed)."""
    # The usual line is split without the regular expression, to the same fields.
    ip, moment, request, status, referrer, agent = split_combined(line) or _match_combined(line)
    method, space, rest = request.partition(" ")
    if not space:
        raise BadLine("no method and path in the request")
    target = rest.partition(" ")[0]
    return Hit(
        at=parse_clf_time(moment),
        ip=ip,
        method=method,
        target=target,
        status=int(status),
        referrer="" if referrer == "-" else referrer,
        user_agent="" if agent == "-" else agent,
    )


def _match_combined(line: str) -> tuple[str, str, str, str, str, str]:
    """ip, time, request, status, referrer, agent of any line the formats allow (BadLine otherwise)."""
    match = _COMBINED.fullmatch(line) or _WITH_VHOST.fullmatch(line)
    if match is None:
        raise BadLine("not a combined or common log line")
    return (
        match["ip"],
        match["time"],
        _unescape(match["request"]),
        match["status"],
        _unescape(match["referrer"] or ""),
        _unescape(match["agent"] or ""),
    )


def split_combined(line: str) -> tuple[str, str, str, str, str, str] | None:
    """The fields of a plain combined line by `str.split`, or None to leave the line to the regular expression.

    Only lines the expression would read the same way are taken: six
    quotes, no backslash (so nothing to unescape), `ip ident user [time]`
    (or a virtual host before them), a three-digit status and a size, and
    nothing but a space-led tail after the agent. Any other line, odd or
    broken, goes to `_match_combined`, which decides. `tests/test_leads_parse.py`
    checks that whatever it takes, `_match_combined` reads the same way.
    """
    parts = line.split('"')
    if len(parts) != 7 or parts[4] != " " or "\\" in line:
        return None
    head, request, middle, referrer, _, agent, tail = parts
    if tail and tail[0] != " ":
        return None
    before, bracket, moment = head.partition(" [")
    names = before.split(" ")
    if not bracket or len(names) not in (3, 4) or names != before.split() or moment[-2:] != "] ":
        return None
    moment = moment[:-2]
    if not moment or "]" in moment:
        return None
    numbers = middle.split(" ")
    if len(numbers) != 4 or numbers[0] or numbers[3] or numbers[1:3] != middle.split():
        return None
    status = numbers[1]
    if len(status) != 3 or not (status.isascii() and status.isdigit()):
        return None
    return names[-3], moment, request, status, referrer, agent


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
        at=iso_z(_moment(record.get("timestamp", record.get("time")))),
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


def open_log(path: Path) -> io.BufferedIOBase:
    if path.name.endswith(".gz"):
        return gzip.GzipFile(path, "rb")
    return open(path, "rb")


def detect_format(path: Path) -> str:
    """combined, jsonl or json, from the first bytes (a `[` is a JSON array, a `{` JSON Lines)."""
    with open_log(path) as handle:
        head = handle.read(512).lstrip()
    if head.startswith(b"["):
        return "json"
    if head.startswith(b"{"):
        return "jsonl"
    return "combined"


def fingerprint(path: Path) -> str | None:
    """The identity of a log's content: a hash of its first complete line (None while it has none).

    A file keeps it when it is renamed, copied or gzipped by logrotate, and a
    truncated or new file gets another, so it tells where to resume. A first
    line longer than `MAX_LINE` (never read as a line: it is skipped as
    unreadable) is known by its first `MAX_LINE` bytes.
    """
    head = bytearray()
    with open_log(path) as handle:
        while len(head) <= MAX_LINE:
            more = handle.read(8192 if not head else 64 << 10)
            if not more:
                return None  # not one complete line yet
            cut = more.find(b"\n")
            if cut >= 0:
                return hashlib.sha256(bytes(head) + more[: cut + 1]).hexdigest()[:24]
            head += more
    return "long:" + hashlib.sha256(bytes(head[:MAX_LINE])).hexdigest()[:24]


def record_fingerprint(record: Any) -> str:
    """The identity of a JSON-array visit file: a hash of its first record, which later rewrites keep."""
    return "json:" + hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:24]


@dataclass
class Chunk:
    lines: list[bytes]  # complete lines holding a needle, in file order
    end: int  # offset after the last complete line read (or inside an over-long line being skipped)
    scanned: int  # complete lines read in this chunk (the ones not holding a needle included)
    overlong: int = 0  # lines longer than MAX_LINE, skipped unread
    skipping: bool = False  # `end` is inside an over-long line: resume by skipping to its end


def read_lines(
    path: Path, offset: int, needles: tuple[bytes, ...], *, skipping: bool = False, whole: bool = False
) -> Iterator[Chunk]:
    """The complete lines after `offset` that contain any needle (`EVERY_LINE`: all), chunk by chunk.

    A last line without its newline (still being written, or cut by a
    crash) is left for a later run; with `whole` (a file read once, such as
    an import) it is a line like the others. Memory stays at one chunk,
    whatever the file holds: a line longer than a chunk (`MAX_LINE`) is never
    buffered whole; it is counted (`Chunk.overlong`) and skipped to its
    newline, and a file ending inside one says so (`Chunk.skipping`, with
    `skipping=True` the next read starts by skipping the rest of it).
    """
    find = _finder(needles)
    with open_log(path) as handle:
        if offset:
            handle.seek(offset)
        start = offset  # the file offset of buffer[0]
        buffer = bytearray(CHUNK)
        filled = overlong = 0
        while True:
            with memoryview(buffer) as view:
                got = handle.readinto(view[filled:])
            if not got and whole and filled and not skipping:
                buffer[filled] = ord("\n")  # the last line ends with the file (a full buffer was an over-long line)
                got, whole = 1, False
            if not got:
                if skipping or overlong:
                    yield Chunk([], start, 0, overlong, skipping)
                return
            filled += got
            if skipping:
                cut = buffer.find(b"\n", 0, filled)
                if cut < 0:
                    start, filled = start + filled, 0
                    continue
                skipping = False
                buffer[: filled - cut - 1] = buffer[cut + 1 : filled]
                start, filled = start + cut + 1, filled - cut - 1
            end = buffer.rfind(b"\n", 0, filled) + 1
            if not end:
                if filled == len(buffer):  # a whole chunk and no newline: an over-long line
                    overlong += 1
                    skipping = True
                    start, filled = start + filled, 0
                continue
            lines = [bytes(buffer[begin:stop]) for begin, stop in find(buffer, end)]
            yield Chunk(lines, start + end, buffer.count(b"\n", 0, end), overlong)
            overlong = 0
            buffer[: filled - end] = buffer[end:filled]
            start, filled = start + end, filled - end


def _finder(needles: tuple[bytes, ...]) -> Callable[[bytearray, int], Iterator[tuple[int, int]]]:
    """Where the lines holding a needle start and end (newline included) in `buffer[:end]`, each line once.

    Needles with a common start (` /pricing`, ` /trial`) are one regular
    expression, one pass over the data (its literal prefix is searched in C);
    others are searched one by one with `bytes.find`.
    """
    shared = min(needles, key=len) if needles else b""
    while shared and not all(n.startswith(shared) for n in needles):
        shared = shared[:-1]
    if len(needles) > 1 and len(shared) >= 2:
        pattern = re.compile(b"|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True)))

        def by_pattern(buffer: bytearray, end: int) -> Iterator[tuple[int, int]]:
            found = pattern.search(buffer, 0, end)
            while found is not None:
                start = buffer.rfind(b"\n", 0, found.start()) + 1
                stop = buffer.find(b"\n", found.end(), end) + 1
                yield start, stop
                found = pattern.search(buffer, stop, end)

        return by_pattern

    def one_by_one(buffer: bytearray, end: int) -> Iterator[tuple[int, int]]:
        starts: set[int] = set()
        for needle in needles:
            found = buffer.find(needle, 0, end)
            while found >= 0:
                starts.add(buffer.rfind(b"\n", 0, found) + 1)
                found = buffer.find(needle, buffer.find(b"\n", found, end) + 1, end)
        for start in sorted(starts):
            yield start, buffer.find(b"\n", start, end) + 1

    return one_by_one


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
