"""JSON files written by other programs (the web app's exports, the older payments.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
