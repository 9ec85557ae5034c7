"""Small wording helpers shared by every layer's messages."""

from __future__ import annotations

from enum import StrEnum


class Locale(StrEnum):
    """The languages arkops writes emails in (templates/<locale>/)."""

    en = "en"
    fr = "fr"


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """`1 email`, `3 emails`, `0 emails`; irregular plurals are given (`counted(n, "entry", "entries")`)."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def first_few(parts: list[str], limit: int = 5) -> str:
    """`a; b; c and 4 more`: the first `limit` items of a long list, and how many were left out."""
    more = f" and {len(parts) - limit} more" if len(parts) > limit else ""
    return "; ".join(parts[:limit]) + more
