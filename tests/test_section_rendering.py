"""One way to render a section: the HTML report and the weekly email go through the same Jinja macros
(templates/_sections.html, _sections.txt), escape whatever the data holds, and the report is the same bytes
for the same data."""

from __future__ import annotations

import email
import itertools
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

from arkops.core.operator.html import render_report
from arkops.core.sections import Chart, Figure, Formats, Section, Table, table
from arkops.mail.render import render

HOSTILE = "<script>alert(\"x\")</script> & 'co'"
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#39;co&#39;"
FORMATS = Formats("en", "EUR")


def sample_section(extra: str = "") -> Section:
    """A section with every part a domain can give: red and plain figures with notes, a chart, tables.

    `extra` is added to every text a domain writes (titles, labels, values, notes, cells).
    """
    text = extra and f" {extra}"
    return Section(
        "sample",
        f"Sample{text}",
        figures=[
            Figure("mrr", f"MRR{text}", 123400, f"€1,234.00{text}", currency="EUR", note=f"of the goal{text}"),
            Figure("failed", f"Failed{text}", 2, f"2{text}", red=True, note=f"see payments{text}"),
        ],
        charts=[
            Chart(
                "sample_chart",
                f"Revenue{text}",
                "stacked",
                [f"2026-01{text}", "2026-02"],
                {"mrr": [1000, 1500], f"new{text}": [1000, 600], "churn": [0, -100]},
                "money",
                f"MRR from €10.00 to €15.00{text}",
                currency="EUR",
                line="mrr",
            ),
            Chart(
                "by_plan",
                f"MRR by plan{text}",
                "area",
                ["2026-01", "2026-02"],
                {"Starter": [300, 400], f"Pro{text}": [700, 1100]},
                "money",
                f"Pro grows{text}",
                currency="EUR",
            ),
        ],
        tables=[
            table(
                "customers",
                f"Customers{text}",
                [("email", f"Customer{text}"), ("amount", "Amount")],
                [{"email": f"ana@example.com{text}", "amount": 2900}, {"email": "bo@example.com", "amount": 100}],
                {"amount": FORMATS.money},
                red=[0],
            ),
            Table("nothing", f"Nothing{text}", ["x"], ["X"], [], [], empty=f"none yet{text}"),
            table(
                "cohorts",
                f"Cohorts{text}",
                [("cohort", "Cohort"), ("m0", "M0"), ("m1", "M1")],
                [{"cohort": f"2026-01{text}", "m0": 1.0, "m1": 0.5}, {"cohort": "2026-02", "m0": 1.0, "m1": None}],
                {"m0": FORMATS.percent, "m1": FORMATS.percent},
                heat=["m0", "m1"],
            ),
        ],
        note=f"a note{text}",
    )


def report_of(*sections: Section) -> str:
    return render_report(list(sections), FORMATS, title="Acme report", subtitle="as of now", lang="en")


def weekly_of(*sections: Section, locale: str = "en"):
    variables = {
        "period": "2026-W10",
        "headline": [],
        "mrr": "€1.00",
        "revenue": "€2.00",
        "new_trials": 1,
        "conversions": 0,
        "retention_month": "2026-03",
        "nrr": "98.5 %",
        "quick_ratio": "3.20",
    }
    context = {"recipient": "owner@example.com", "product": "Acme", **variables, "sections": list(sections)}
    return render("weekly_report", context, locale=locale)


def section_markup(page: str, key: str) -> str:
    (found,) = re.findall(rf'<section id="{key}".*?</section>', page, flags=re.DOTALL)
    return found


def without(markup: str, *patterns: str) -> str:
    for pattern in patterns:
        markup = re.sub(pattern, "", markup, flags=re.DOTALL)
    return re.sub(r">\s+<", "><", markup)


def test_report_and_weekly_email_share_one_markup_for_a_section():
    report = section_markup(report_of(sample_section()), "sample")
    mail = section_markup(weekly_of(sample_section()).html, "sample")
    # What only the report has: the chart drawn (legend, SVG, data table); what only the email has: inline styles.
    drawn = without(report, r'<ul class="legend">.*?</ul>', r"<svg .*?</svg>", r"<details>.*?</details>")
    assert drawn == without(mail, r' style="[^"]*"')
    assert "<svg" in report and "<svg" not in mail and ' style="' in mail
    assert (
        '<section id="sample" class="red">' in report and '<div class="red">' in report and '<tr class="red">' in report
    )
    assert '<th class="num">Amount</th>' in report and '<td class="num">€29.00</td>' in report  # numbers right
    # a heat table's cells are shaded by level: a class in the report, the same class and its colour in the email
    assert '<td class="num heat5">100.0 %</td><td class="num heat2">50.0 %</td>' in report  # round(0.5 x 5) = 2
    assert '<td class="num heat5" style="text-align:right;padding:4px 8px;border-bottom:1px solid #eef0f3;' in mail
    assert '<td class="num">-</td></tr>' in report  # a month still to come is not shaded
    # stacked areas: Starter from zero up, Pro above it, each a closed band
    (starter, pro) = re.findall(r'<polygon class="area (s\d)" points="([^"]+)"/>', report)
    assert (starter[0], pro[0]) == ("s0", "s1")
    assert len(starter[1].split()) == len(pro[1].split()) == 4  # two points along the top, two back along the bottom


def test_report_and_email_show_every_figure_chart_and_table_of_a_section():
    section = sample_section()
    report, mail = report_of(section), weekly_of(section)
    shown = [section.title, section.note]
    shown += [part for f in section.figures for part in (f.label, f.text, f.note)]
    shown += [part for c in section.charts for part in (c.title, c.alt)]
    shown += [t.title for t in section.tables] + [t.empty for t in section.tables if not t.rows]
    shown += [part for t in section.tables if t.rows for part in (*t.headers, *(c for row in t.cells for c in row))]
    for part in shown:
        assert part in report and part in mail.html and part in mail.text, part
    assert "- Failed: 2 (!) (see payments)" in mail.text and "  ana@example.com | €29.00 (!)" in mail.text
    assert "Nothing: none yet" in mail.text and "== Sample (needs attention)" in mail.text
    french = weekly_of(section, locale="fr").text
    assert "== Sample (à regarder)" in french and "- Failed : 2 (!) (see payments)" in french


class Text(HTMLParser):
    """The page as a browser reads it: its tags and its text, entities decoded."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_script_ampersand_and_quotes_in_a_section_are_escaped_in_report_and_weekly_email():
    section = sample_section(HOSTILE)
    pages = {"report": report_of(section)}
    for locale in ("en", "fr"):
        rendered = weekly_of(section, locale=locale)
        pages[f"email {locale}"] = rendered.html
        assert rendered.text.count(HOSTILE) >= 10  # the text part keeps the data as it is
    for name, page in pages.items():
        assert "<script" not in page and HOSTILE not in page, name
        assert page.count(ESCAPED) >= 10, name
        parsed = Text()
        parsed.feed(page)
        assert "script" not in parsed.tags, name
        assert any(HOSTILE in text for text in parsed.text), name  # and a browser shows it as it is
    assert f"<td>ana@example.com {ESCAPED}</td>" in pages["report"]
    assert f'<p class="note">a note {ESCAPED}</p>' in pages["report"]


def visit(at: str, query: str) -> str:
    agent = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0"
    return f'203.0.113.7 - - [{at} +0000] "GET /pricing?{query} HTTP/1.1" 200 2048 "-" "{agent}"\n'


def parts(eml: Path) -> dict[str, str]:
    message = email.message_from_bytes(eml.read_bytes())
    return {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in message.walk()
        if not part.is_multipart()
    }


def test_a_lead_source_from_an_access_log_is_escaped_in_the_report_and_the_weekly_email(cli, workspace, monkeypatch):
    source = "%3Cscript%3Ealert(%22x%22)%3C/script%3E%20%26%20%27co%27"  # what anyone can put in a URL
    (workspace / "access.log").write_text(visit("01/Mar/2026:10:00:00", f"utm_source={source}"))
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T08:30:00Z")
    assert cli("leads", "ingest", "access.log").code == 0
    assert json.loads(cli("leads", "list", "--format", "json").out)[0]["source"] == HOSTILE
    assert cli("trials", "signup", "ana@example.com", "--plan", "pro").code == 0

    assert cli("report", "--html", "report.html").code == 0
    report = (workspace / "report.html").read_text()
    assert cli("--dry-run", "run", "--only", "weekly-email").code == 0
    (eml,) = (workspace / "data" / "outbox").glob("*weekly_report.eml")
    mail = parts(eml)
    for page in (report, mail["text/html"]):
        assert "<script" not in page and f">{ESCAPED}</td>" in page
    assert f"  {HOSTILE} | 1 | 1" in mail["text/plain"]  # the text part: the source as it came (/pricing: hot)
    # the same sections, in the same order, in both
    sections = re.findall(r'<section id="([^"]+)"', report)
    assert sections == re.findall(r'<section id="([^"]+)"', mail["text/html"]) and "leads" in sections


def test_the_report_is_the_same_bytes_for_the_same_data_and_stays_self_contained(cli, workspace, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T08:30:00Z")
    assert cli("trials", "signup", "ana@example.com", "--plan", "pro").code == 0
    assert cli("report", "--html", "first.html").code == 0
    assert cli("report", "--html", "second.html").code == 0
    first = (workspace / "first.html").read_bytes()
    assert first == (workspace / "second.html").read_bytes()
    page = first.decode()
    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    assert f'<meta http-equiv="Content-Security-Policy" content="{csp}">' in page
    assert "<script" not in page and "<link" not in page and "<style>" in page and "<svg " in page


def imported_after(workspace: Path, *args: str) -> list[str]:
    """Which of jinja2, stripe and smtplib one arkops command imported (in a fresh interpreter)."""
    code = (
        "import sys\nfrom arkops.cli import main\n"
        f"try:\n    main({list(args)!r})\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('jinja2', 'stripe', 'smtplib') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=workspace, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1].replace("'", '"'))


def test_status_renders_without_jinja_and_the_report_imports_it_when_it_renders(cli, workspace, monkeypatch):
    # nor SMTP: the sections read the outbox and evaluate the funnel's rules without the modules that send
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T08:30:00Z")
    assert cli("trials", "signup", "ana@example.com", "--plan", "pro").code == 0
    assert imported_after(workspace, "status") == []
    assert imported_after(workspace, "status", "--format", "json") == []
    assert imported_after(workspace, "report", "--html", "report.html") == ["jinja2"]  # the check can see it


def drawn(labels: list[str]):
    from arkops.core.operator.charts import draw

    chart = Chart("c", "C", "bars", labels, {"a": [1.0] * len(labels), "b": [2.0] * len(labels)}, "count", "alt")
    return draw(chart, FORMATS).plot


def test_x_labels_never_overlap_side_by_side_or_turned():
    from arkops.core.operator.charts import CHAR_WIDTH, TICK_GAP, TURNED_PITCH

    months = drawn([f"2026-{m:02d}" for m in range(1, 13)])
    assert months.tick_angle == 0  # short labels stand side by side, each clear of the next
    xs = [float(t.x) for t in months.ticks]
    widest = max(len(t.label) for t in months.ticks) * CHAR_WIDTH
    assert all(b - a >= widest + TICK_GAP for a, b in itertools.pairwise(xs))
    assert months.ticks[-1].label == "2026-12"  # the last is always named
    angles = []
    for count in (3, 8, 12, 40):
        sources = drawn([f"news{n}.ycombinator.example" for n in range(count)])
        xs = [float(t.x) for t in sources.ticks]
        widest = max(len(t.label) for t in sources.ticks) * CHAR_WIDTH
        angles.append(sources.tick_angle)
        if sources.tick_angle:  # turned: a line apart, and inside the drawing
            assert all(b - a >= TURNED_PITCH for a, b in itertools.pairwise(xs))
            assert sources.tick_y + widest * 0.7072 <= sources.height
        else:
            assert all(b - a >= widest + TICK_GAP for a, b in itertools.pairwise(xs))
        assert all(len(t.label) <= 12 for t in sources.ticks) and sources.ticks[0].label.endswith("…")
    assert angles == [0, -45, -45, -45]


def test_backticks_become_code_in_html_and_stay_in_the_text():
    section = Section(
        "leads", "Leads", [Figure("hot", "Hot", 3, "3", note="see `arkops leads list --hot` & <more>")], note="`x`"
    )
    page = report_of(section)
    assert "see <code>arkops leads list --hot</code> &amp; &lt;more&gt;" in page and "<code>x</code>" in page
    mail = weekly_of(section)
    assert "see <code>arkops leads list --hot</code>" in mail.html
    assert "(see `arkops leads list --hot` & <more>)" in mail.text


def test_the_report_has_arr_ltv_and_churn_cards_and_local_times(cli, workspace, monkeypatch):
    monkeypatch.setenv("ARKOPS_NOW", "2026-03-02T08:30:00Z")
    (workspace / "arkops.toml").write_text('timezone = "Europe/Paris"\n')
    assert cli("run", "--only", "trials-track", "--force").code == 0
    assert cli("report", "--html", "report.html").code == 0
    page = (workspace / "report.html").read_text()
    for label in ("ARR", "LTV", "Revenue churn 2026-03", "Logo churn 2026-03"):
        assert f">{label}</dt>" in page, label
    assert "2026-03-02 09:30 CET" in page  # the jobs' last run, in the configured zone with its name
    assert "2026-03-02T08:30:00Z</td>" not in page
