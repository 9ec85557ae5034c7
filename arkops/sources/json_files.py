"""JSON files written by other programs (the web app's exports, the older payments.json)."""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
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


def read_json_list(path: Path, *, items: str = "records") -> list:
    """The list a file holds, or a one-line DataError naming the file."""
    try:
        records = json.loads(path.read_text(encoding="utf-8-sig"))  # a BOM from a Windows editor is fine
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not a JSON file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not JSON ({exc})") from None
    if not isinstance(records, list):
        raise DataError(f"{path}: expected a list of {items}")
    return records


MAX_RECORD = 1 << 20  # a record (an array element, a line) larger than this is skipped unread: 1 MiB
_READ = 256 << 10
_SPACE = re.compile(r"[ \t\r\n]*")
_STRING_END = re.compile(r'(?:[^"\\]|\\.)*"', re.DOTALL)  # the rest of a string, through its closing quote
_STRUCTURE = re.compile(r'["\[\]{}]')


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

    def skip_value(self) -> None:
        """Consume one value without keeping it (a record too long to hold): strings and nesting followed."""
        depth = 0
        while True:
            if self.buf[self.pos : self.pos + 1] == '"':
                self.pos += 1
                while (found := _STRING_END.match(self.buf, self.pos)) is None or found.end() == len(self.buf):
                    keep = self.buf[self.pos :][-2:]  # an escape may straddle the read
                    self.buf, self.pos = keep, 0
                    if not self.more():
                        raise DataError(f"{self.what}: not JSON (a string never ends)")
                self.pos = found.end()
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
                return TooLong(f"{where}: longer than {MAX_RECORD >> 20} MiB, skipped")
            if text.more():
                continue
            raise DataError(f"{where}: not JSON ({exc.msg})") from None
        if end is None:
            text.skip_value()
            return value
        if end == len(text.buf) and text.more():
            continue  # a number may go on in the next read
        text.pos = end
        try:
            check_depth(value, what=where)
        except DataError as exc:
            return exc
        return value
