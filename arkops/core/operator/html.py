"""The HTML report: one self-contained page from every domain's report sections.

Inline CSS and inline SVG only: no script, no font, no image, no link
leaves the page (a `default-src 'none'` Content-Security-Policy says so to
the browser too). Light and dark follow `prefers-color-scheme`; figures
and tables reflow to a phone's width; every chart is an `<svg role="img">`
with a title and description, followed by its data as a table.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from html import escape
from pathlib import Path

from arkops.clock import iso
from arkops.core.sections import Chart, Figure, Formats, Section, Table, collect, formats
from arkops.errors import DataError
from arkops.runtime import Runtime

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
PALETTE = 6  # series colours, .s0 to .s5, set for light and dark

CSS = """
:root{color-scheme:light dark;--bg:#f6f7f9;--card:#fff;--fg:#1f2328;--muted:#5b6270;--line:#d8dce2;--red:#c62828;
--c0:#2f6fdf;--c1:#2e9d5b;--c2:#8e5bd0;--c3:#e08a1e;--c4:#d64545;--c5:#16a2b8}
@media (prefers-color-scheme:dark){:root{--bg:#111418;--card:#1b1f24;--fg:#e6e8eb;--muted:#9aa3ad;--line:#33393f;
--red:#ff6b6b;--c0:#6ea1ff;--c1:#5fd08f;--c2:#b892ff;--c3:#ffb155;--c4:#ff7b7b;--c5:#4fd4e8}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:960px;margin:0 auto;padding:16px}
header p{color:var(--muted);margin:0}
h1{font-size:1.5rem;margin:8px 0}
h2{font-size:1.2rem;margin:0 0 12px}
h3{font-size:1rem;margin:16px 0 8px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:16px;margin:16px 0}
section.red{border-color:var(--red)}
.figures{display:grid;align-items:start;grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:8px;margin:0;padding:0;list-style:none}
.figures li{border:1px solid var(--line);border-radius:6px;padding:8px 10px}
.figures .label{color:var(--muted);font-size:.8rem;display:block}
.figures .value{font-size:1.1rem;font-weight:600;overflow-wrap:anywhere}
.figures .note{color:var(--muted);font-size:.75rem;display:block}
.figures li.red{border-color:var(--red)}
.figures li.red .value,tr.red td{color:var(--red)}
figure{margin:16px 0}
figcaption{color:var(--muted);font-size:.85rem}
svg{width:100%;height:auto;display:block}
svg text{fill:var(--muted);font-size:13px}
@media (max-width:600px){svg text{font-size:18px}}
svg .grid{stroke:var(--line);stroke-width:1}
svg .zero{stroke:var(--muted);stroke-width:1}
svg .line{fill:none;stroke-width:2.5}
.s0{fill:var(--c0);stroke:var(--c0)}.s1{fill:var(--c1);stroke:var(--c1)}.s2{fill:var(--c2);stroke:var(--c2)}
.s3{fill:var(--c3);stroke:var(--c3)}.s4{fill:var(--c4);stroke:var(--c4)}.s5{fill:var(--c5);stroke:var(--c5)}
svg rect{stroke:none}
.legend{list-style:none;margin:4px 0;padding:0;display:flex;flex-wrap:wrap;gap:4px 14px;font-size:.85rem}
.legend span{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px}
.legend .s0{background:var(--c0)}.legend .s1{background:var(--c1)}.legend .s2{background:var(--c2)}
.legend .s3{background:var(--c3)}.legend .s4{background:var(--c4)}.legend .s5{background:var(--c5)}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);white-space:nowrap}
td.num,th.num{text-align:right}
details summary{cursor:pointer;color:var(--muted);font-size:.85rem}
.empty{color:var(--muted)}
footer{color:var(--muted);font-size:.8rem;text-align:center;margin:24px 0}
"""

WIDTH, HEIGHT = 640, 260
LABEL_CHARS = 10  # an x-axis label longer than this is cut
LEFT, RIGHT, TOP, BOTTOM = 84, 30, 12, 28

NUM = ' class="num"'
SINCE = re.compile(r"^(\d{1,3})(mo|y)$")


def parse_since(text: str) -> int:
    """`12mo`, `6mo`, `2y`: how many months the report covers (1 to 120), or DataError."""
    match = SINCE.match(text.strip().lower()) if isinstance(text, str) else None
    months = (int(match[1]) * (12 if match[2] == "y" else 1)) if match else 0
    if not 1 <= months <= 120:
        raise DataError(f"--since {text!r} is not a period such as 12mo or 2y (1 month to 10 years)")
    return months


def _figure(figure: Figure) -> str:
    red = ' class="red"' if figure.red else ""
    note = f'<span class="note">{escape(figure.note)}</span>' if figure.note else ""
    return (
        f'<li{red}><span class="label">{escape(figure.label)}</span>'
        f'<span class="value">{escape(figure.text)}</span>{note}</li>'
    )


def _scale(chart: Chart) -> tuple[float, float, float]:
    """The value range the y axis covers (from zero, stacked totals included) and its gridline step."""
    if chart.kind == "stacked":
        bars = [name for name in chart.series if name != chart.line]
        ups = [sum(max(chart.series[n][i], 0) for n in bars) for i in range(len(chart.labels))]
        downs = [sum(min(chart.series[n][i], 0) for n in bars) for i in range(len(chart.labels))]
        values = ups + downs + (chart.series[chart.line] if chart.line else [])
    else:
        values = [v for series in chart.series.values() for v in series]
    low, high = min([0.0, *values]), max([0.0, *values])
    if chart.unit == "percent":
        step = max(high - low, 0.01) / 4
    else:
        step = nice_step((high - low) / 4, 100 if chart.unit == "money" else 1)
    return math.floor(low / step) * step, max(math.ceil(high / step), math.floor(low / step) + 1) * step, step


def nice_step(raw: float, unit: float) -> float:
    """A gridline step of 1, 2, 2.5 or 5 times a power of ten (in whole `unit`s: cents make whole euros)."""
    raw = max(raw / unit, 1.0)
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw) * unit


def svg_chart(chart: Chart, fmt: Formats) -> str:
    """One chart as inline SVG: axes and gridlines, bars (side by side or stacked) and an optional line."""
    low, high, grid = _scale(chart)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    count = max(len(chart.labels), 1)
    step = plot_w / count

    def y(value: float) -> float:
        return TOP + plot_h * (high - value) / (high - low)

    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{chart.key}-t {chart.key}-d">',
        f'<title id="{chart.key}-t">{escape(chart.title)}</title><desc id="{chart.key}-d">{escape(chart.alt)}</desc>',
    ]
    for i in range(round((high - low) / grid) + 1):
        value = low + grid * i
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{escape(fmt.axis(value, chart.unit))}</text>'
        )
    parts.append(f'<line class="zero" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(0):.1f}" y2="{y(0):.1f}"/>')
    every = max(1, -(-count // 8))  # at most about 8 labels on the x axis
    for i, label in enumerate(chart.labels):
        if (count - 1 - i) % every == 0:  # counted back from the last, which is always named
            x = LEFT + step * (i + 0.5)
            short = (
                label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"
            )  # the data table has it whole
            parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">{escape(short)}</text>')
    names = list(chart.series)
    bars = [n for n in names if n != chart.line]
    if chart.kind == "line":
        bars = []
    for i in range(len(chart.labels)):
        x0 = LEFT + step * i + step * 0.15
        width = step * 0.7
        if chart.kind == "stacked":
            up = down = 0.0
            for name in bars:
                value = chart.series[name][i]
                if not value:
                    continue
                base = up if value > 0 else down
                top, bottom = (base + value, base) if value > 0 else (base, base + value)
                if value > 0:
                    up += value
                else:
                    down += value
                parts.append(
                    f'<rect class="s{names.index(name) % PALETTE}" x="{x0:.1f}" y="{y(top):.1f}" '
                    f'width="{width:.1f}" height="{max(y(bottom) - y(top), 0.5):.1f}"/>'
                )
        elif bars:
            each = width / len(bars)
            for k, name in enumerate(bars):
                value = chart.series[name][i]
                top, bottom = max(value, 0), min(value, 0)
                parts.append(
                    f'<rect class="s{names.index(name) % PALETTE}" x="{x0 + k * each:.1f}" y="{y(top):.1f}" '
                    f'width="{each * 0.9:.1f}" height="{max(y(bottom) - y(top), 0.5 if value else 0):.1f}"/>'
                )
    lines = [chart.line] if chart.line and chart.kind != "bars" else ([] if bars else names)
    for name in lines:
        points = " ".join(f"{LEFT + step * (i + 0.5):.1f},{y(v):.1f}" for i, v in enumerate(chart.series[name]))
        css = f"s{names.index(name) % PALETTE}"
        parts.append(f'<polyline class="line {css}" style="fill:none" points="{points}"/>')
    parts.append("</svg>")
    return "".join(parts)


def _legend(chart: Chart) -> str:
    names = list(chart.series)
    if len(names) < 2:
        return ""
    items = "".join(
        f'<li><span class="s{i % PALETTE}"></span>{escape(name.replace("_", " "))}</li>' for i, name in enumerate(names)
    )
    return f'<ul class="legend">{items}</ul>'


def _chart_data(chart: Chart, fmt: Formats) -> str:
    def show(value: float) -> str:
        if chart.unit == "money":
            return fmt.money(value)
        return fmt.percent(value) if chart.unit == "percent" else fmt.number(value)

    head = "".join(f'<th class="num">{escape(n.replace("_", " "))}</th>' for n in chart.series)
    body = "".join(
        f"<tr><td>{escape(label)}</td>"
        + "".join(f'<td class="num">{escape(show(chart.series[n][i]))}</td>' for n in chart.series)
        + "</tr>"
        for i, label in enumerate(chart.labels)
    )
    return (
        f'<details><summary>Data of "{escape(chart.title)}"</summary><div class="scroll"><table>'
        f"<thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table></div></details>"
    )


def _table(table: Table) -> str:
    if not table.rows:
        return f'<h3>{escape(table.title)}</h3><p class="empty">{escape(table.empty)}</p>'
    numeric = [
        all(isinstance(r.get(c), (int, float)) for r in table.rows if r.get(c) is not None) for c in table.columns
    ]
    head = "".join(f"<th{NUM if num else ''}>{escape(h)}</th>" for h, num in zip(table.headers, numeric, strict=True))
    rows = []
    for index, cells in enumerate(table.cells):
        css = ' class="red"' if index in table.red_rows else ""
        tds = "".join(f"<td{NUM if num else ''}>{escape(c)}</td>" for c, num in zip(cells, numeric, strict=True))
        rows.append(f"<tr{css}>{tds}</tr>")
    return (
        f'<h3>{escape(table.title)}</h3><div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _section(section: Section, fmt: Formats) -> str:
    red = ' class="red"' if section.red else ""
    out = [f'<section id="{escape(section.key)}"{red}><h2>{escape(section.title)}</h2>']
    if section.note:
        out.append(f'<p class="empty">{escape(section.note)}</p>')
    if section.figures:
        out.append('<ul class="figures">' + "".join(_figure(f) for f in section.figures) + "</ul>")
    for chart in section.charts:
        out.append(
            f'<figure class="chart" id="chart-{escape(chart.key)}"><h3>{escape(chart.title)}</h3>{_legend(chart)}'
            f"{svg_chart(chart, fmt)}<figcaption>{escape(chart.alt)}</figcaption>{_chart_data(chart, fmt)}</figure>"
        )
    out.extend(_table(t) for t in section.tables)
    out.append("</section>")
    return "".join(out)


def render_page(sections: list[Section], fmt: Formats, *, title: str, subtitle: str, lang: str) -> str:
    body = "".join(_section(s, fmt) for s in sections)
    return (
        f'<!DOCTYPE html><html lang="{escape(lang)}"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body><main>"
        f"<header><h1>{escape(title)}</h1><p>{escape(subtitle)}</p></header>{body}"
        "<footer>arkops report: self-contained, no script, no outside request.</footer></main></body></html>\n"
    )


def report_sections(rt: Runtime, *, now: datetime, months: int) -> list[Section]:
    return collect(rt, "report", now=now, months=months)


def build_html(rt: Runtime, *, now: datetime, months: int, sections: list[Section] | None = None) -> str:
    fmt = formats(rt)
    shown = report_sections(rt, now=now, months=months) if sections is None else sections
    local = now.astimezone(rt.config.tz).strftime("%Y-%m-%d %H:%M %Z")
    product = rt.config["mail"]["from_name"]
    return render_page(
        shown,
        fmt,
        title=f"{product} report",
        subtitle=f"as of {local} ({iso(now)}), the last {months} months, amounts in {fmt.currency}",
        lang=fmt.locale,
    )


def write_report(rt: Runtime, path: Path, *, now: datetime, months: int) -> int:
    """Render the report to `path` (written atomically); its size in bytes."""
    from arkops.store import atomic_write_bytes

    payload = build_html(rt, now=now, months=months).encode("utf-8")
    atomic_write_bytes(path, payload)  # a folder that is missing or not writable: one line naming the file, exit 3
    return len(payload)
