"""JSON files written by other programs (the web app's exports, the older payments.json)."""

from __future__ import annotations

import json
from pathlib import Path

from arkops.errors import DataError


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
