"""Small wording helpers shared by every layer's messages."""

from __future__ import annotations

from collections.abc import Iterator
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


class Skipped:
    """What an import skipped, and why: every record counted, the first `KEEP` reasons kept, so a file of
    millions of bad records holds (and prints) a hundred lines, not millions. `len()` is the count;
    iterating gives the kept reasons, then one line for the rest."""

    KEEP = 100

    def __init__(self) -> None:
        self.reasons: list[str] = []
        self.count = 0

    def append(self, reason: str) -> None:
        self.count += 1
        if len(self.reasons) < self.KEEP:
            self.reasons.append(reason)

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: slice) -> list[str]:
        """The kept reasons in that slice (the first few, to show in one line)."""
        return self.reasons[index]

    def __iter__(self) -> Iterator[str]:
        yield from self.reasons
        if self.count > len(self.reasons):
            yield f"{counted(self.count - len(self.reasons), 'more record')}, not listed"
