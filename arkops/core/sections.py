"""What a domain shows on `arkops status`, in the HTML report and in the weekly email: plain data.

A domain names a function in its declaration (`Domain.status`,
`Domain.report`, see `arkops.core.domain.SectionPart`) that returns
`Section`s: figures (a raw value for scripts, the same value formatted for
people, red or not), charts (labelled series with a text alternative) and
tables. Nothing here knows about Rich, HTML or email: `arkops.cli.status`
draws any section on the terminal, and one set of Jinja macros
(`templates/_sections.html`, `_sections.txt`) renders it in the HTML report
and in the weekly email, so a new domain adds its part of every view by
declaring it.

Raw values follow the JSON rules of every command: money in integer minor
units with `currency`, rates as fractions, times ISO 8601 UTC with `Z`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from arkops.money import format_money

ChartKind = Literal["line", "bars", "stacked", "area"]
Unit = Literal["money", "count", "percent"]
HEAT_LEVELS = 5  # a heat table's shades, besides none (templates/_sections.html, report.css)


@dataclass(frozen=True)
class Figure:
    key: str  # stable name for scripts: "mrr", "failed_payments"
    label: str  # for people: "MRR"
    value: Any  # raw: minor units, a count, a fraction, a mapping of them, or None
    text: str  # the value formatted in the configured locale and currency
    red: bool = False  # needs attention: `status --check` exits 1
    currency: str | None = None  # when `value` is money
    note: str = ""  # why it is red, or what it is measured against

    def as_json(self) -> dict[str, Any]:
        data = {"label": self.label, "value": self.value, "text": self.text, "red": self.red}
        if self.currency:
            data["currency"] = self.currency
        if self.note:
            data["note"] = self.note
        return data


@dataclass(frozen=True)
class Chart:
    """Series over labelled points: a line, bars side by side, bars stacked above and below zero, or areas
    stacked from zero (`area`: parts of a whole over time, such as MRR by plan; values at or above zero).

    `line` (optional) names one series drawn as a line over bars (MRR over
    its movements). `alt` is the chart's text alternative, one sentence;
    renderers also offer its data as a table.
    """

    key: str
    title: str
    kind: ChartKind
    labels: list[str]
    series: dict[str, list[float]]
    unit: Unit
    alt: str
    currency: str | None = None
    line: str | None = None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"title": self.title, "kind": self.kind, "unit": self.unit, "labels": self.labels}
        data["series"] = {name: [round(v, 4) for v in values] for name, values in self.series.items()}
        if self.currency:
            data["currency"] = self.currency
        return data


@dataclass(frozen=True)
class Table:
    """Rows as raw values (for JSON) and as text cells (for people), with the rows that need attention.

    `heat` (optional) shades cells as a heat table does: for each row and column a level from 0 (none) to
    HEAT_LEVELS, or None for a cell left plain.
    """

    key: str
    title: str
    columns: list[str]  # keys of `rows`
    headers: list[str]  # what people read
    rows: list[dict[str, Any]]
    cells: list[list[str]]
    red_rows: list[int] = field(default_factory=list)
    empty: str = "none"
    heat: list[list[int | None]] | None = None
    drop: list[str] = field(default_factory=list)  # headers a narrow terminal leaves out first (least useful first)

    @property
    def numeric(self) -> list[bool]:
        """Which columns hold numbers, and nothing else where set: renderers align them to the right."""
        found = [[row[column] for row in self.rows if row.get(column) is not None] for column in self.columns]
        return [bool(values) and all(isinstance(v, (int, float)) for v in values) for values in found]

    def as_json(self) -> dict[str, Any]:
        return {"title": self.title, "rows": self.rows, "red_rows": self.red_rows}

    def without(self, column: str, value: Any) -> Table:
        """The same table without the rows whose `column` holds `value`."""
        kept = [i for i, row in enumerate(self.rows) if row.get(column) != value]
        return replace(
            self,
            rows=[self.rows[i] for i in kept],
            cells=[self.cells[i] for i in kept],
            red_rows=[n for n, i in enumerate(kept) if i in self.red_rows],
        )


@dataclass(frozen=True)
class Section:
    key: str  # "revenue", "trials", "jobs"
    title: str
    figures: list[Figure] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    note: str = ""

    @property
    def red(self) -> bool:
        return any(f.red for f in self.figures) or any(t.red_rows for t in self.tables)

    def figure(self, key: str) -> Figure | None:
        return next((f for f in self.figures if f.key == key), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "red": self.red,
            "figures": {f.key: f.as_json() for f in self.figures},
            "charts": {c.key: c.as_json() for c in self.charts},
            "tables": {t.key: t.as_json() for t in self.tables},
            **({"note": self.note} if self.note else {}),
        }


class Formats:
    """Formatting for people in the configured operator locale and reporting currency (Babel)."""

    def __init__(self, locale: str, currency: str) -> None:
        self.locale = locale
        self.currency = currency

    def money(self, minor: float, *, signed: bool = False) -> str:
        text = format_money(minor, self.currency, self.locale)
        return f"+{text}" if signed and round(minor) > 0 else text

    def number(self, value: float) -> str:
        from babel.numbers import format_decimal

        return format_decimal(value, locale=self.locale)

    def percent(self, fraction: float | None) -> str:
        """`8.5 %` (`8,5 %` in French), or `n/a`. Rounded on the float first, as Python rounds: a rate is stored to
        four decimals, and Babel alone (half to even on the decimal digits) would show 0.0845 as 8.4 %."""
        if fraction is None:
            return "n/a"
        from babel.numbers import format_percent

        return format_percent(round(fraction * 100, 1) / 100, "#,##0.0 %", locale=self.locale)

    def ratio(self, value: float | None) -> str:
        """A ratio that is not a share, such as the quick ratio: `3.25` (`3,25` in French), or `n/a`."""
        if value is None:
            return "n/a"
        from babel.numbers import format_decimal

        return format_decimal(round(value, 2), "#,##0.00", locale=self.locale)

    def axis(self, value: float, unit: Unit) -> str:
        """A short label for a chart's axis: whole units, thousands as k."""
        if unit == "percent":
            return self.percent(value)
        major = value / 100 if unit == "money" else value
        if abs(major) >= 10_000:
            text = f"{self.number(round(major / 1000))}k"
        else:
            text = self.number(round(major))
        if unit == "money":
            from babel.numbers import get_currency_symbol

            return f"{text} {get_currency_symbol(self.currency, locale=self.locale)}"
        return text


def formats(rt: Any) -> Formats:
    return Formats(rt.config.operator_locale, rt.config.currency)


def table(
    key: str,
    title: str,
    columns: list[tuple[str, str]],
    rows: list[dict[str, Any]],
    show: dict[str, Any] | None = None,
    *,
    red: list[int] | None = None,
    empty: str = "none",
    heat: Iterable[str] = (),
    drop: list[str] | None = None,
) -> Table:
    """A Table from raw rows; `show` maps a column to a function that formats its value for people. The
    `heat` columns hold fractions (0 to 1, more is capped) that shade their cells, darker for more."""
    show = show or {}
    shaded = set(heat)

    def cell(column: str, value: Any) -> str:
        if value is None:
            return "-"
        return str(show[column](value)) if column in show else str(value)

    def level(column: str, value: Any) -> int | None:
        if column not in shaded or not isinstance(value, (int, float)):
            return None
        return round(min(max(value, 0.0), 1.0) * HEAT_LEVELS)

    return Table(
        key=key,
        title=title,
        columns=[c for c, _ in columns],
        headers=[h for _, h in columns],
        rows=rows,
        cells=[[cell(c, row.get(c)) for c, _ in columns] for row in rows],
        red_rows=red or [],
        empty=empty,
        heat=[[level(c, row.get(c)) for c, _ in columns] for row in rows] if shaded else None,
        drop=[h for c, h in columns if c in (drop or [])],
    )


def collect(rt: Any, kind: Literal["status", "report"], **arguments: Any) -> list[Section]:
    """Every domain's sections of one view, in their declared order."""
    from arkops.core.domain import resolve
    from arkops.core.registry import section_parts

    sections: list[Section] = []
    for _, part in section_parts(kind):
        sections.extend(resolve(part.target)(rt, **arguments))
    return sections
