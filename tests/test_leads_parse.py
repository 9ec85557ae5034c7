"""Access-log parsing on real-world shaped lines, and incremental ingestion across rotations (hypothesis)."""

from __future__ import annotations

import gzip
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arkops.core.leads.ingest import ingest
from arkops.core.leads.visits import day_files
from arkops.core.privacy.addresses import store_ip
from arkops.runtime import Runtime
from arkops.sources.access_log import (
    BadLine,
    _match_combined,
    _parse_clf_time,
    parse_clf_time,
    parse_combined,
    parse_json_line,
    split_combined,
)

NOW = datetime(2026, 10, 15, 9, 0, tzinfo=UTC)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0"


def test_combined_line_with_ipv6_utm_and_referrer():
    hit = parse_combined(
        '2001:db8:85a3::8a2e:370:7334 - - [15/Oct/2026:10:01:02 +0200] "GET /pricing?utm_source=newsletter'
        '&utm_medium=email HTTP/2.0" 200 5120 "https://www.google.com/search?q=acme" "' + FIREFOX + '"'
    )
    assert hit.ip == "2001:db8:85a3::8a2e:370:7334"
    assert hit.at == "2026-10-15T08:01:02Z"  # +0200 brought to UTC
    assert (hit.method, hit.target, hit.status) == ("GET", "/pricing?utm_source=newsletter&utm_medium=email", 200)
    assert hit.referrer == "https://www.google.com/search?q=acme" and hit.user_agent == FIREFOX


def test_dash_fields_head_304_and_common_format():
    hit = parse_combined('203.0.113.7 - frank [15/Oct/2026:08:01:02 -0000] "HEAD /trial HTTP/1.1" 304 - "-" "-"')
    assert (hit.method, hit.status, hit.referrer, hit.user_agent) == ("HEAD", 304, "", "")
    common = parse_combined('203.0.113.7 - - [15/Oct/2026:08:01:02 +0000] "GET /demo HTTP/1.0" 200 2326')
    assert common.target == "/demo" and common.user_agent == ""


def test_escaped_quotes_virtual_host_and_request_time():
    hit = parse_combined(
        'www.example.com:443 198.51.100.4 - - [15/Oct/2026:08:01:02 +0000] "GET /pricing HTTP/1.1" 200 512 '
        '"-" "Mozilla/5.0 \\"Quoted\\" Agent" 0.012 upstream=0.010'
    )
    assert hit.ip == "198.51.100.4" and hit.user_agent == 'Mozilla/5.0 "Quoted" Agent'


@pytest.mark.parametrize(
    "line",
    [
        "203.0.113.7 - - [15/Oct/2026:08:01",  # cut in the middle by a crash
        '203.0.113.7 - - [15/Oct/2026:08:01:02 +0000] "GET /pricing HTTP/1.1" 200 512 "-" "Mozilla/5.0',
        '203.0.113.7 - - [32/Foo/2026:08:01:02 +0000] "GET /pricing HTTP/1.1" 200 512 "-" "-"',
        '203.0.113.7 - - [15/Oct/2026:08:01:02 +0000] "-" 400 0 "-" "-"',
        "",
    ],
)
def test_lines_that_are_not_requests_are_bad(line):
    with pytest.raises(BadLine):
        parse_combined(line)


# Fields of combined lines, odd ones included (tabs, doubled spaces, brackets, quotes and backslashes where
# they do not belong, unicode digits, a vhost, nothing at all), joined by odd separators too.
_FIELD = st.sampled_from(
    [
        "203.0.113.7",
        "2001:db8::1",
        "[::1]",
        "www.example.com:443 198.51.100.4",
        "a b c d e",
        "-",
        "frank",
        "",
        " ",
        "\t",
        "[",
        "]",
        '"',
        "\\",
        'a\\"b',
        "15/Oct/2026:08:01:02 +0000",
        "15/Oct]/2026",
        "GET /pricing HTTP/1.1",
        "GET /trial?utm_source=x HTTP/2.0",
        "HEAD",
        "/demo",
        "200",
        "2000",
        "\u0662\u0660\u0660",
        "2326",
        "0.012",
        "https://news.example/item?id=1",
        "Mozilla/5.0 (X11; Linux x86_64)",
        "é",
        "\r",
        "xyz",
    ]
)
_SEP = st.sampled_from([" ", " ", " ", "  ", "\t", "", '"', "]"])


_VALID = ["203.0.113.7", " ", "-", " ", "frank", " ", "15/Oct/2026:08:01:02 +0000", " ", "GET /pricing HTTP/1.1", " "]
_VALID += ["200", " ", "2326", " ", "https://news.example/", " ", "Mozilla/5.0 (X11)", ""]


@settings(max_examples=3000)
@given(st.lists(st.tuples(st.integers(0, len(_VALID) - 1), st.one_of(_SEP, _FIELD)), max_size=3))
def test_the_split_path_reads_every_line_it_takes_as_the_expression_does(changes):
    slots = list(_VALID)  # a valid line's fields and separators; then up to three replaced by odd ones
    for index, replacement in changes:
        slots[index] = replacement
    ip, s1, ident, s2, user, s3, time, s4, request, s5, status, s6, size, s7, ref, s8, agent, tail = slots
    line = f'{ip}{s1}{ident}{s2}{user}{s3}[{time}]{s4}"{request}"{s5}{status}{s6}{size}{s7}"{ref}"{s8}"{agent}"{tail}'
    fields = split_combined(line)
    if fields is not None:
        assert fields == _match_combined(line)


@given(
    ip=st.sampled_from(["203.0.113.7", "2001:db8::1", "host.example:80 198.51.100.4"]),
    user=st.sampled_from(["-", "frank"]),
    request=st.sampled_from(["GET /pricing HTTP/1.1", "HEAD /trial?ref=x HTTP/1.0", "GET /demo"]),
    status=st.sampled_from(["200", "304", "404"]),
    size=st.sampled_from(["-", "0", "5120"]),
    referrer=st.text(st.characters(blacklist_characters='"\\\n'), max_size=30),
    agent=st.text(st.characters(blacklist_characters='"\\\n'), max_size=30),
    tail=st.sampled_from(["", " 0.012", " 0.012 upstream=0.010"]),
)
def test_usual_lines_take_the_split_path(ip, user, request, status, size, referrer, agent, tail):
    line = f'{ip} - {user} [15/Oct/2026:08:01:02 +0000] "{request}" {status} {size} "{referrer}" "{agent}"{tail}'
    assert split_combined(line) == _match_combined(line)


@given(
    st.datetimes(min_value=datetime(1969, 12, 30), max_value=datetime(2100, 1, 2)),
    st.sampled_from(["+0000", "-0000", "+0200", "-0130", "+1400", "-1200"]),
    st.sampled_from(["", "60", "99", " 5", "+5", "x1"]),
)
def test_a_time_read_through_its_minute_is_the_time_read_in_full(moment, offset, odd_second):
    text = moment.strftime("%d/%b/%Y:%H:%M:%S ") + offset
    if odd_second:
        text = text[:18] + odd_second + text[20:]
    outcomes = []
    for parse in (parse_clf_time, lambda t: _parse_clf_time(t).strftime("%Y-%m-%dT%H:%M:%SZ")):
        try:
            outcomes.append(parse(text))
        except BadLine as exc:
            outcomes.append(str(exc))
    assert outcomes[0] == outcomes[1]


def test_json_visit_record_of_the_app():
    hit = parse_json_line(
        '{"timestamp": "2026-10-15T08:01:02Z", "page": "/trial", "ip": "203.0.113.7", "user_agent": "Mozilla/5.0",'
        ' "referrer": "https://news.example/", "query_params": {"utm_source": ["hn"], "email": "ana@example.com"}}'
    )
    assert hit.target == "/trial" and hit.query == {"utm_source": "hn", "email": "ana@example.com"}
    with pytest.raises(BadLine):
        parse_json_line('{"timestamp": "yesterday", "page": "/trial"}')


def test_addresses_are_anonymized_to_24_and_48_bits():
    assert store_ip("203.0.113.77", False) == "203.0.113.0"
    assert store_ip("2001:db8:85a3:1:2:3:4:5", False) == "2001:db8:85a3::"
    assert store_ip("203.0.113.77", True) == "203.0.113.77"
    assert store_ip("unknown", False) == ""


# --- Ingesting in pieces, with rotations between them, gives the visits of ingesting the whole ---

PATHS = ("/pricing", "/trial", "/demo", "/blog/post", "/pricing/team")
AGENTS = (FIREFOX, "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "curl/8.5.0")


@st.composite
def log_lines(draw) -> list[str]:
    count = draw(st.integers(min_value=1, max_value=40))
    lines = []
    for n in range(count):  # real lines differ (time, client): a sequence number stands for that
        path = draw(st.sampled_from(PATHS))
        method = draw(st.sampled_from(("GET", "GET", "HEAD", "POST")))
        status = draw(st.sampled_from((200, 200, 304, 404)))
        agent = draw(st.sampled_from(AGENTS))
        ip = draw(st.sampled_from(("203.0.113.7", "198.51.100.9", "2001:db8::1")))
        lines.append(
            f'{ip} - - [15/Oct/2026:08:{n // 60:02d}:{n % 60:02d} +0000] "{method} {path}?n={n} HTTP/1.1" '
            f'{status} 100 "https://ref.example/{n}" "{agent}"\n'
        )
    return lines


def _runtime(folder: Path) -> Runtime:
    (folder / "data").mkdir()
    (folder / "data" / "privacy.key").write_text("5a" * 32 + "\n")  # one key: the same visitor ids in every folder
    return Runtime(data_dir=folder / "data", config_path=folder / "arkops.toml", env_file=folder / ".env")


def _stored(rt: Runtime) -> list[str]:
    return sorted(line for _, path in day_files(rt) for line in path.read_text().splitlines())


def _rotate(log: Path) -> None:
    """logrotate: access.log.N -> N+1 (from .2 on gzipped), access.log -> access.log.1."""
    rotated = sorted(log.parent.glob("access.log.*"), key=lambda p: int(p.name.split(".")[2]), reverse=True)
    for path in rotated:
        number = int(path.name.split(".")[2])
        target = log.parent / f"access.log.{number + 1}.gz"
        data = path.read_bytes()
        target.write_bytes(data if path.name.endswith(".gz") else gzip.compress(data))
        path.unlink()
    log.rename(log.parent / "access.log.1")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(log_lines(), st.data())
def test_ingesting_in_pieces_with_rotations_equals_ingesting_whole(lines, data):
    cuts = sorted(data.draw(st.sets(st.integers(min_value=1, max_value=len(lines)), max_size=5)))
    with tempfile.TemporaryDirectory() as whole_dir, tempfile.TemporaryDirectory() as pieces_dir:
        whole = _runtime(Path(whole_dir))
        (Path(whole_dir) / "access.log").write_text("".join(lines))
        ingest(whole, [str(Path(whole_dir) / "access.log")], now=NOW)

        pieces = _runtime(Path(pieces_dir))
        log = Path(pieces_dir) / "access.log"
        start = 0
        for cut in [*cuts, len(lines)]:
            if start and data.draw(st.booleans(), label="rotate before this piece"):
                _rotate(log)
            half = cut < len(lines) and data.draw(st.booleans(), label="the writer is mid-line when we read")
            with open(log, "a") as handle:
                handle.write("".join(lines[start:cut]) + (lines[cut][:20] if half else ""))
            if half or data.draw(st.booleans(), label="ingest now (else more lines, or a rotation, come first)"):
                ingest(pieces, [str(log)], now=NOW)
                ingest(pieces, [str(log)], now=NOW)  # again: nothing new
            if half:
                with open(log, "a") as handle:
                    handle.write(lines[cut][20:])
            start = cut + 1 if half else cut
        ingest(pieces, [str(log)], now=NOW)
        assert _stored(pieces) == _stored(whole)


def test_visits_keep_only_what_is_needed(tmp_path):
    rt = _runtime(tmp_path)
    log = tmp_path / "access.log"
    log.write_bytes(
        b'203.0.113.77 - - [15/Oct/2026:08:01:02 +0000] "GET /pricing?utm_source=hn&utm_campaign=oct&ref=x&token=s3'
        b' HTTP/1.1" 200 512 "https://news.example/item?id=1&email=a@b.example" "Mozilla/5.0 \xff\xfe Opera"\n'
    )
    report = ingest(rt, [str(log)], now=NOW)
    assert report.visits == 1
    (visit,) = [json.loads(line) for line in _stored(rt)]
    assert visit["ip"] == "203.0.113.0" and "203.0.113.77" not in json.dumps(visit)
    assert visit["referrer"] == "https://news.example/item" and visit["referrer_domain"] == "news.example"
    assert visit["user_agent"] == "Mozilla/5.0 \\xff\\xfe Opera"  # non-UTF-8 bytes kept visible, not dropped
    assert (visit["utm_source"], visit["utm_campaign"], visit["ref"]) == ("hn", "oct", "x") and "token" not in visit


BROWSERS = [
    FIREFOX,
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6"
    " Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.6723.102 Mobile"
    " Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
    " Edg/131.0.0.0",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Opera/9.80 (Windows NT 6.1; U; en) Presto/2.10.289 Version/12.00",
]


def test_bot_verdicts_are_the_lists_own():
    """`is_bot` rewrites most of the list's expressions as plain strings: its verdicts must stay the list's.

    On the list's own samples, on browsers, and on each sample with text put before and after it (an anchored
    `^curl` or `SSL Labs$` must then stop matching) and with its case changed."""
    import crawleruseragents

    from arkops.core.leads.bots import _crawlers, is_bot

    samples = [s for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA for s in entry.get("instances", [])]
    assert len(samples) > 1000
    variants = [v for s in samples for v in (s, f"Mozilla/5.0 {s}", f"{s} (compatible)", s.lower(), s.upper())]
    candidates = [*variants, *BROWSERS, "curl", "wget/1.21", "Wget/1.21", "xcurl", "SSL Labs", "SSL Labs x"]
    disagree = [s for s in candidates if is_bot(s) != crawleruseragents.is_crawler(s)]
    assert disagree == []
    assert sum(map(crawleruseragents.is_crawler, candidates)) < len(candidates) * 0.9  # both verdicts were exercised
    assert not any(map(is_bot, BROWSERS)) and is_bot("")
    assert is_bot("Feedly/1.0 (+http://www.feedly.com/fetcher.html; 3 subscribers)")
    assert len(_crawlers().expressions) <= 2  # most of the list is plain strings now (50 expressions a chunk)


# Fields of combined lines as logs hold them, the odd ones included, for the two readings of `_Reader`.
_IPS = st.sampled_from(["203.0.113.7", "010.0.0.1", "256.1.1.1", "2001:DB8::1", "[::1]", "-", "unknown", "10.1.2.3"])
_AGENTS = st.one_of(
    st.sampled_from([FIREFOX, "-", "Googlebot/2.1 (+http://www.google.com/bot.html)", "curl/8.5.0", "x" * 600]),
    st.text(st.characters(blacklist_characters='"\\\n\r', blacklist_categories=("Cs",)), max_size=40),
)
_TARGETS = st.sampled_from(
    [
        "/pricing", "/pricing/team", "/pricingfoo", "/trial?utm_source=hn&utm_medium=social&utm_campaign=oct",
        "/trial?email=Ana%40Example.com", "/demo?ref=ana@example.com", "/demo?ref=partner&x=1#top", "/",
        "https://www.example.com/pricing?utm_source=x", "/trial?utm_source=%E2%9C%93", "/pricing?utm_source=",
    ]
)  # fmt: skip
_REFERRERS = st.sampled_from(
    ["-", "", "https://www.google.com/search?q=acme", "https://news.ycombinator.com/item?id=1#c", "android-app://x",
     "not a url", "http://[::1]:8080/a?b"]
)  # fmt: skip


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            _IPS,
            st.sampled_from(["15/Oct/2026:08:01:02 +0000", "15/Oct/2026:10:01:59 +0200", "15/Oct/2026:08:01:61 +0000"]),
            st.sampled_from(["GET", "HEAD", "POST", "get"]),
            _TARGETS,
            st.sampled_from(["200", "304", "404", "500", "099"]),
            _REFERRERS,
            _AGENTS,
        ),
        min_size=1,
        max_size=12,
    ),
    st.booleans(),
    st.booleans(),
)
def test_the_usual_lines_reading_stores_what_the_general_reading_stores(tmp_path, rows, full_ip, keep_bots):
    """`_Reader.combined` builds the stored line from cached pieces; `_Reader.parsed` goes through `Hit`,
    `make_visit` and `json_line`. On any lines, both store the same bytes in the same order and count alike."""
    from arkops.core.leads.ingest import IngestReport, _Reader
    from arkops.core.leads.visits import tracked_pages

    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    storage = "full" if full_ip else "anonymized"
    (folder / "arkops.toml").write_text(f'[leads]\nip_storage = "{storage}"\nkeep_bots = {str(keep_bots).lower()}\n')
    rt = _runtime(folder)
    raws = [
        f'{ip} - - [{time}] "{method} {target} HTTP/1.1" {status} 512 "{ref}" "{agent}"\n'.encode()
        for ip, time, method, target, status, ref, agent in rows
    ]
    outcomes = []
    for fast in (True, False):
        batch = _Collect()
        report = IngestReport()
        reader = _Reader(rt, tracked_pages(rt), report, batch, folder / "access.log")  # type: ignore[arg-type]
        if fast:
            reader.combined(raws)
        else:
            for raw in raws:
                reader.parsed(raw, parse_combined)
        outcomes.append((batch.lines, report))
    assert outcomes[0] == outcomes[1]


class _Collect:
    """What `_Reader` adds to its batch, in order."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, bytes]] = []

    def add(self, visit: dict) -> None:
        from arkops.store.jsonl import json_line

        self.lines.append((visit["at"][:10], json_line(visit)))

    def add_line(self, day: str, line: bytes) -> None:
        self.lines.append((day, line))


@settings(max_examples=50, deadline=None)
@given(st.binary(min_size=1, max_size=100), st.ip_addresses().map(str), st.text(max_size=200))
def test_visitor_ids_are_the_hmac_of_the_whole_address_and_agent(key, ip, agent):
    """`VisitorIds` computes HMAC-SHA256 from its definition (for speed): the same digest as the library's."""
    import hmac

    from arkops.core.leads.visits import VisitorIds

    expected = hmac.new(key, f"visitor:{ip}\0{agent}".encode(), "sha256").hexdigest()[:11]
    assert VisitorIds(key)(ip, agent) == "v" + expected
