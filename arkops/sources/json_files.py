"""JSON files written by other programs (the web app's exports, the older payments.json), read in bounded memory.

`records` streams the records of a JSON list (`iter_array`) or of JSON
Lines (`access_log.read_lines`, the reader of `leads ingest`), gzipped or
not: memory stays at one read and one record whatever the file holds. A
record longer than `MAX_RECORD` or nested deeper than `MAX_DEPTH`, or a
line that is not JSON, comes as a DataError in its place, for the caller to
report and skip; a file that cannot be read, or a list that stops being
one, raises DataError where it does.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from io import BufferedIOBase
from pathlib import Path
from typing import IO, Any

from arkops.errors import DataError

# Deeper than anything Stripe or the web app sends (a Stripe event is about 8 levels): a payload nested
# further is refused before any recursive walk (privacy's, the ledger's) could run out of stack on it.
MAX_DEPTH = 64


def parse_json(raw: bytes | str, *, what: str) -> Any:
    """One JSON document from outside (a webhook, an import record), or a one-line DataError naming `what`.

    A document nested past `MAX_DEPTH` is bad data like any other: the standard library's parser stops at
    the interpreter's recursion limit, and what is under it is refused here.
    """
    try:
        value = json.loads(raw)
    except RecursionError:
        raise DataError(f"{what}: nested deeper than {MAX_DEPTH} levels") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{what}: not JSON ({exc})") from None
    check_depth(value, what=what)
    return value


def check_depth(value: Any, *, what: str) -> None:
    """DataError when lists and objects nest deeper than `MAX_DEPTH` (walked without recursion)."""
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > MAX_DEPTH:
            raise DataError(f"{what}: nested deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


MAX_RECORD = 1 << 20  # a record (an array element, a line) larger than this is skipped unread: 1 MiB
_READ = 256 << 10
_SPACE = re.compile(r"[ \t\r\n]*")
# a string's inside up to its closing quote, or to a backslash that ends the read (whose escape is in the next)
_STRING_BODY = re.compile(r'[^"\\]*+(?:\\.[^"\\]*+)*+', re.DOTALL)
_STRUCTURE = re.compile(r'["\[\]{}]')
# what may follow a number's decoded part up to a read's end when the number itself goes on in the next read
_NUMBER_GOES_ON = re.compile(r"[0-9.eE+\-]*")


class TooLong(DataError):
    """A record over `MAX_RECORD`: reported and skipped, the records after it still read."""


class _Text:
    """A window on a binary stream decoded as UTF-8: `buf[pos:]` is what is not consumed yet."""

    def __init__(self, stream: IO[bytes] | BufferedIOBase, what: str) -> None:
        self.stream, self.what = stream, what
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.buf, self.pos, self.eof = "", 0, False

    def more(self) -> bool:
        """Read a little more; False at the end of the stream."""
        if self.eof:
            return False
        raw = self.stream.read(_READ)
        try:
            text = self.decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as exc:
            raise DataError(f"{self.what}: not UTF-8 text ({exc})") from None
        self.buf = self.buf[self.pos :] + text
        self.pos = 0
        self.eof = not raw
        return bool(raw)

    def skip_space(self) -> str:
        """The next character after white space ("" at the end)."""
        while True:
            self.pos = _SPACE.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf) or not self.more():
                return self.buf[self.pos : self.pos + 1]

    def skip_string(self) -> None:
        """Consume the rest of a string (its opening quote consumed), however long, a read at a time.

        The closing quote is searched with `str.find`, at memory speed; only from a backslash on does the
        expression read escapes (possessively: no backtracking, whatever the string holds)."""
        while True:
            buf, start = self.buf, self.pos
            quote = buf.find('"', start)
            escape = buf.find("\\", start, len(buf) if quote < 0 else quote)
            if escape >= 0:
                end = _STRING_BODY.match(buf, escape).end()  # type: ignore[union-attr]
            else:
                end = len(buf) if quote < 0 else quote
            if end < len(buf) and buf[end] == '"':
                self.pos = end + 1
                return
            self.buf, self.pos = buf[end:], 0  # "", or a backslash whose escaped character is in the next read
            if not self.more():
                raise DataError(f"{self.what}: not JSON (a string never ends)")

    def skip_value(self) -> None:
        """Consume one value without keeping it (a record too long to hold): strings and nesting followed."""
        depth = 0
        while True:
            if self.buf[self.pos : self.pos + 1] == '"':
                self.pos += 1
                self.skip_string()
                if not depth:
                    return
                continue
            found = _STRUCTURE.search(self.buf, self.pos)
            if found is None:
                self.buf, self.pos = "", 0
                if not self.more():
                    raise DataError(f"{self.what}: not JSON (the array never ends)")
                continue
            char = found.group()
            if not depth and char in "]}":
                self.pos = found.start()  # a scalar ended before the array's end
                return
            if not depth and found.start() > self.pos and char in "[{":
                self.pos = found.start()
                return
            self.pos = found.start() if char == '"' else found.end()
            depth += {"[": 1, "{": 1, "]": -1, "}": -1}.get(char, 0)
            if not depth and char in "]}":
                return


def iter_array(stream: IO[bytes] | BufferedIOBase, *, what: str) -> Iterator[Any]:
    """The elements of the JSON array a stream holds, one at a time, in bounded memory.

    An element over `MAX_RECORD` is yielded as a `TooLong` error in its place (the caller reports and skips
    it) and never held whole; one nested past `MAX_DEPTH` as a DataError. A stream that is not a JSON array
    raises DataError where it stops being one (the elements before it were already yielded).
    """
    text = _Text(stream, what)
    decoder = json.JSONDecoder()
    if text.skip_space() != "[":
        raise DataError(f"{what}: expected a JSON list")
    text.pos += 1
    if text.skip_space() == "]":
        return
    number = 0
    while True:
        number += 1
        yield _element(text, decoder, number)
        following = text.skip_space()
        if following == "]":
            return
        if following != ",":
            raise DataError(f"{what}: not JSON (expected , or ] after record {number})")
        text.pos += 1
        text.skip_space()


def _element(text: _Text, decoder: json.JSONDecoder, number: int) -> Any:
    where = f"{text.what} record {number}"
    while True:
        try:
            value, end = decoder.raw_decode(text.buf, text.pos)
        except RecursionError:
            value, end = DataError(f"{where}: nested deeper than {MAX_DEPTH} levels"), None
        except json.JSONDecodeError as exc:
            if len(text.buf) - text.pos > MAX_RECORD:
                text.skip_value()
                return TooLong(f"{where}: longer than {MAX_RECORD >> 20} MiB")
            if text.more():
                continue
            raise DataError(f"{where}: not JSON ({exc.msg})") from None
        if end is None:
            text.skip_value()
            return value
        if _NUMBER_GOES_ON.fullmatch(text.buf, end) and not isinstance(value, (str, list, dict)):
            if len(text.buf) - text.pos > MAX_RECORD:
                text.skip_value()
                return TooLong(f"{where}: longer than {MAX_RECORD >> 20} MiB")
            if text.more():
                continue  # "0." or "1e" at a read's end: the number goes on in the next read
        text.pos = end
        try:
            check_depth(value, what=where)
        except DataError as exc:
            return exc
        return value


@dataclass(frozen=True)
class Record:
    index: int  # its place among the file's records, from 0
    line: int | None  # its line number in a JSON Lines file, from 1
    # the record, or a DataError saying why it cannot be read ("record 3: longer than 1 MiB", "line 7:
    # not JSON (...)"): the caller says in which file
    value: Any


def records(path: Path, *, lines: bool = True, items: str = "records") -> Iterator[Record]:
    """The records of a JSON list file, or (`lines`) of a JSON Lines file, gzipped (`.gz`) or not, one at a time.

    Which one a file is, its first character tells (`[`: a list). A byte-order mark is fine. Blank lines are
    no records. DataError naming the file when it cannot be opened, is not a list (`lines=False`: "expected a
    list of `items`"), or stops being valid JSON mid-list (the records before were yielded already: a caller
    that must write nothing then reads the file through once first).
    """
    from arkops.sources.access_log import open_log

    try:
        with open_log(path) as handle:
            array = _first_character(handle) == "["
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not a JSON file") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot be read ({exc})") from None
    if array:
        yield from _array_records(path)
    elif lines:
        yield from _line_records(path)
    else:
        raise DataError(f"{path}: expected a list of {items}")


def _first_character(handle: IO[bytes] | BufferedIOBase) -> str:
    """The first character after a byte-order mark and white space ("" for an empty file), a block at a time."""
    first = True
    while block := handle.read(64 << 10):
        if first:
            block, first = block.removeprefix(codecs.BOM_UTF8), False
        if block := block.lstrip(b" \t\r\n"):
            return block[:1].decode("latin-1")
    return ""


def _array_records(path: Path) -> Iterator[Record]:
    from arkops.sources.access_log import open_log

    try:
        with open_log(path) as handle:
            for index, value in enumerate(iter_array(handle, what=str(path))):
                if isinstance(value, DataError):  # said where by the caller: "record 3: ...", as a line's "line 3: ..."
                    value = type(value)(str(value).removeprefix(f"{path} "))
                yield Record(index, None, value)
    except (OSError, EOFError) as exc:  # a truncated gzip, a disk error
        raise DataError(f"{path}: cannot be read to its end ({exc})") from None


def _line_records(path: Path) -> Iterator[Record]:
    from arkops.sources.access_log import EVERY_LINE, read_lines

    number = index = 0
    try:
        for chunk in read_lines(path, 0, EVERY_LINE, whole=True):
            for _ in range(chunk.overlong):  # lines too long to read come before this chunk's lines
                number += 1
                yield Record(index, number, TooLong(f"line {number}: longer than {MAX_RECORD >> 20} MiB"))
                index += 1
            for raw in chunk.lines:
                number += 1
                if number == 1:
                    raw = raw.removeprefix(codecs.BOM_UTF8)
                if not raw.strip():
                    continue
                if len(raw) > MAX_RECORD:
                    value: Any = TooLong(f"line {number}: longer than {MAX_RECORD >> 20} MiB")
                else:
                    try:
                        value = parse_json(raw, what=f"line {number}")
                    except DataError as exc:
                        value = exc
                yield Record(index, number, value)
                index += 1
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot be read to its end ({exc})") from None
