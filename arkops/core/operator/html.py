"""The HTML report: one self-contained page from every domain's report sections.

The page is `templates/report.html`; each section goes through the macros
of `templates/_sections.html`, the weekly email's too, with each chart
drawn as inline SVG (`arkops.core.operator.charts`). Inline CSS and inline
SVG only: no script, no font, no image, no link leaves the page (a
`default-src 'none'` Content-Security-Policy says so to the browser too).
Light and dark follow `prefers-color-scheme`; figures and tables reflow to
a phone's width; every chart is an `<svg role="img">` with a title and
description, followed by its data as a table.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from arkops.clock import iso, local_time
from arkops.core.sections import Formats, Section, collect, formats
from arkops.runtime import Runtime


def render_report(
    sections: list[Section], fmt: Formats, *, title: str, subtitle: str, lang: str, templates_dir: str = ""
) -> str:
    """The page for these sections, every chart drawn (`[mail] templates_dir` overrides its templates too)."""
    from arkops.core.operator.charts import draw
    from arkops.mail.render import render_page

    drawings = {chart.key: draw(chart, fmt) for section in sections for chart in section.charts}
    variables = {"sections": sections, "drawings": drawings, "title": title, "subtitle": subtitle, "lang": lang}
    return render_page("report.html", variables, templates_dir=templates_dir)


def report_sections(rt: Runtime, *, now: datetime, months: int) -> list[Section]:
    return collect(rt, "report", now=now, months=months)


def build_html(rt: Runtime, *, now: datetime, months: int, sections: list[Section] | None = None) -> str:
    fmt = formats(rt)
    shown = report_sections(rt, now=now, months=months) if sections is None else sections
    local = local_time(now, rt.config.tz)
    product = rt.config["mail"]["from_name"]
    return render_report(
        shown,
        fmt,
        title=f"{product} report",
        subtitle=f"as of {local} ({iso(now)}), the last {months} months, amounts in {fmt.currency}",
        lang=fmt.locale,
        templates_dir=rt.config["mail"]["templates_dir"],
    )


def write_report(rt: Runtime, path: Path, *, now: datetime, months: int) -> int:
    """Render the report to `path` (written atomically); its size in bytes."""
    rt.store.output_path(path, what="--html")  # refused before the work, not after it
    payload = build_html(rt, now=now, months=months).encode("utf-8")
    rt.store.write_output(path, payload, what="--html")  # a missing or read-only folder: one line, exit 3
    return len(payload)
