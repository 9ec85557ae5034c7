"""Is a user agent a crawler, feed reader or uptime monitor? The crawler-user-agents list decides.

The list (package `crawler-user-agents`) is about 1,500 regular
expressions; its own `is_crawler` tries them one after another, about
0.8 ms an agent. Most of them are plain text in regular-expression dress
(`grub\\.org`, `[wW]get`, `^curl`, `Ahrefs(Bot|SiteAudit)`, `SSL Labs$`), so
`_plain_forms` rewrites each one it can into the strings it matches:
anywhere (looked up through an index of their first three characters), at
the start, at the end. The few that are real expressions stay expressions.
The verdict is the list's own, which `tests/test_leads_parse.py` checks on
the list's samples, on browsers, and on the samples with text added before
and after (so anchors keep their meaning); and it is cached per distinct
agent, since a log holds a few thousand for millions of lines.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

_META = set("\\^$.*+?()[]{}|")
_PLAIN = re.compile(r"[^\\^$.*+?()\[\]{}|]+")
_MOST_FORMS = 16  # a pattern that expands to more strings than this stays an expression


@dataclass(frozen=True)
class _Crawlers:
    anywhere: dict[str, tuple[str, ...]]  # first three characters -> the strings starting with them
    short: tuple[str, ...]  # strings shorter than three characters
    starts: tuple[str, ...]
    ends: tuple[str, ...]
    whole: frozenset[str]
    expressions: tuple[re.Pattern[str], ...]


@lru_cache(maxsize=20_000)
def is_bot(user_agent: str) -> bool:
    """True for an agent on the crawler-user-agents list, and for an empty agent (a script)."""
    if not user_agent:
        return True
    known = _crawlers()
    if user_agent in known.whole or user_agent.startswith(known.starts) or user_agent.endswith(known.ends):
        return True
    grams = {user_agent[i : i + 3] for i in range(len(user_agent) - 2)}
    for gram in grams & known.anywhere.keys():
        if any(map(user_agent.__contains__, known.anywhere[gram])):
            return True
    if any(map(user_agent.__contains__, known.short)):
        return True
    return any(p.search(user_agent) for p in known.expressions)


@lru_cache(maxsize=1)
def _crawlers() -> _Crawlers:
    import crawleruseragents

    anywhere: dict[str, list[str]] = defaultdict(list)
    short, starts, ends, whole, expressions = [], [], [], set(), []
    for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA:
        pattern = entry["pattern"]
        forms = _plain_forms(pattern)
        if forms is None:
            expressions.append(pattern)
            continue
        for start, text, end in forms:
            if start and end:
                whole.add(text)
            elif start:
                starts.append(text)
            elif end:
                ends.append(text)
            elif len(text) < 3:
                short.append(text)
            else:
                anywhere[text[:3]].append(text)
    chunks = tuple(re.compile("|".join(expressions[i : i + 50])) for i in range(0, len(expressions), 50))
    return _Crawlers(
        {gram: tuple(texts) for gram, texts in anywhere.items()},
        tuple(short),
        tuple(starts),
        tuple(ends),
        frozenset(whole),
        chunks,
    )


def _plain_forms(pattern: str) -> list[tuple[bool, str, bool]] | None:
    """The strings `pattern` matches, as (anchored at the start, text, anchored at the end); None if not plain.

    Plain means: literal characters and escaped punctuation (`\\.`, `\\/`,
    `\\(`), classes of single characters (`[wW]`), groups of plain
    alternatives (`(Bot|SiteAudit)`), alternatives at the top (`a|b`), `^`
    first and `$` last. Anything else (`\\d`, `*`, `+`, `[^-]`, an anchor
    inside a group) keeps the pattern an expression.
    """
    if _PLAIN.fullmatch(pattern):  # most of the list: nothing to read
        return [(False, pattern, False)]
    forms: list[tuple[bool, str, bool]] = []
    alternatives = _split_top(pattern)
    if alternatives is None:
        return None
    for alternative in alternatives:
        start = alternative.startswith("^")
        end = alternative.endswith("$") and not alternative.endswith("\\$")
        body = alternative[1 if start else 0 : len(alternative) - 1 if end else len(alternative)]
        pieces = _pieces(body)
        if pieces is None or not pieces:
            return None
        count = 1
        for choices in pieces:
            count *= len(choices)
        if count * len(forms or [None]) > _MOST_FORMS:
            return None
        forms += [(start, "".join(parts), end) for parts in itertools.product(*pieces)]
    return forms


def _split_top(pattern: str) -> list[str] | None:
    """`pattern` cut at its top-level `|` (None when its brackets do not balance)."""
    alternatives: list[str] = []
    depth, current, i = 0, "", 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            current += pattern[i : i + 2]
            i += 2
            continue
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        if char == "|" and depth == 0:
            alternatives.append(current)
            current = ""
        else:
            current += char
        i += 1
    alternatives.append(current)
    return alternatives if depth == 0 else None


def _pieces(body: str) -> list[list[str]] | None:
    """`body` as a sequence of choices (one string each for literal text), or None when it is not plain."""
    pieces: list[list[str]] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            following = body[i + 1 : i + 2]
            if not following or following.isalnum() or following == "_":
                return None  # \d, \s, \b ...: a real expression
            pieces.append([following])
            i += 2
        elif char == "[":
            close = body.find("]", i + 1)
            members = body[i + 1 : close]
            if close < 0 or not members or not all(c.isalnum() for c in members):
                return None  # ranges, negations, escapes: a real expression
            pieces.append(sorted(set(members)))
            i = close + 1
        elif char == "(":
            close = body.find(")", i + 1)
            inner = body[i + 1 : close]
            if close < 0 or any(c in _META - {"|"} for c in inner):
                return None
            pieces.append(inner.split("|"))
            i = close + 1
        elif char in _META:
            return None
        else:
            pieces.append([char])
            i += 1
    return pieces
