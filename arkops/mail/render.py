"""Jinja rendering: StrictUndefined everywhere, autoescape in HTML parts only.

Templates live in `<locale>/<name>.txt` (first line `Subject: ...`) and
`<locale>/<name>.html` (extends `_base.html`, whose footer says what
`_footer.txt`, appended to every text part, says). Filters put numbers,
money, dates and plural forms in the message's locale through Babel:
`{{ amount | money(currency) }}` ("29,00 €"), `{{ ends_on | day }}` ("15
octobre 2026"), `{{ used | number }}`, `{{ n | plural("lead", "leads") }}`. A folder named by
`[mail] templates_dir` is searched first, so an operator overrides any file
by writing one of the same name. Pages that are not messages (the HTML
report, `report.html`) render through the same folders and escaping, so
the partials they share with messages (`_sections.html`) exist once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arkops.errors import DataError

if TYPE_CHECKING:
    from jinja2 import Environment

BUILTIN_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
if not BUILTIN_TEMPLATES.is_dir():  # running from a source checkout: the repo's top-level templates/
    BUILTIN_TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=8)
def _environments(override: str) -> tuple[Environment, Environment]:
    """The text and HTML environments over the same folders (jinja2 is imported on first use)."""
    from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

    folders = ([override] if override else []) + [str(BUILTIN_TEMPLATES)]
    loader = ChoiceLoader([FileSystemLoader(folder) for folder in folders])

    def environment(*, html: bool) -> Environment:
        made = Environment(
            loader=loader,
            undefined=StrictUndefined,
            keep_trailing_newline=False,
            autoescape=html,
            trim_blocks=not html,
            lstrip_blocks=not html,
        )
        made.filters.update(_filters())
        made.filters["code"] = code_spans if html else str
        return made

    return environment(html=False), environment(html=True)


def _locale(context: Any) -> str:
    return str(context.get("locale") or "en")


def _money(context: Any, minor: Any, currency: Any) -> str:
    from arkops.money import currency_code, format_money

    try:
        amount = int(minor)
    except (TypeError, ValueError):
        raise DataError(f"{minor!r} is not an amount in minor units (2900 for 29.00)") from None
    return format_money(amount, currency_code(currency), _locale(context))


def _day(context: Any, value: Any) -> str:
    """A date (or the date of an ISO 8601 time) as the locale writes it in full: "15 octobre 2026"."""
    from datetime import date

    from babel.dates import format_date

    try:
        day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    except ValueError:
        raise DataError(f"{value!r} is not a date (YYYY-MM-DD)") from None
    return format_date(day, format="long", locale=_locale(context))


def _number(context: Any, value: Any) -> str:
    from babel.numbers import format_decimal

    try:
        return format_decimal(float(value) if "." in str(value) else int(value), locale=_locale(context))
    except (TypeError, ValueError):
        raise DataError(f"{value!r} is not a number") from None


def _plural(context: Any, count: Any, one: str, other: str) -> str:
    """`one` or `other` by the locale's plural rule (French says "0 lead", English "0 leads")."""
    from babel import Locale

    try:
        number = int(count)
    except (TypeError, ValueError):
        raise DataError(f"{count!r} is not a count") from None
    return one if Locale.parse(_locale(context)).plural_form(number) == "one" else other


def _filters() -> dict[str, Any]:
    from jinja2 import pass_context

    chosen: dict[str, Callable[..., str]] = {"money": _money, "day": _day, "number": _number, "plural": _plural}
    return {name: pass_context(function) for name, function in chosen.items()}


def code_spans(text: Any) -> Any:
    """Text with `backticks` (a command in a note: "see `arkops payments failed`") as <code> in HTML, the rest
    escaped; the text parts keep the backticks, which read as they are."""
    import re

    from markupsafe import Markup, escape

    return Markup(re.sub(r"`([^`]+)`", lambda match: f"<code>{match[1]}</code>", str(escape(text))))


@contextmanager
def _template_errors(name: str, locale: str | None) -> Iterator[None]:
    """A missing template or variable, or a template that does not compile, as a DataError naming the file."""
    from jinja2 import TemplateError, TemplateNotFound, UndefinedError

    where = f"{locale}/{name}" if locale else name
    try:
        yield
    except TemplateNotFound as exc:
        raise DataError(
            f"template {name!r}: no file {exc.name}" + (f" for locale {locale!r}" if locale else "")
        ) from None
    except UndefinedError as exc:
        raise DataError(f"template {where}: {exc.message}") from None
    except TemplateError as exc:
        raise DataError(f"template {where}: {exc}") from None


# What the footer shows when the sender does not say (a message rendered on its own, as in a test): a customer
# message's footer without a link, an address or an unsubscribe line. The message's own variables are never
# defaulted: a missing one stays an error.
FOOTER_DEFAULTS = {"category": "", "product_url": "", "postal_address": "", "unsubscribe_url": ""}


def render(name: str, variables: dict[str, Any], *, locale: str, templates_dir: str = "") -> Rendered:
    """Render one message; a missing variable or template is a DataError naming it."""
    text_env, html_env = _environments(templates_dir)
    variables = {**FOOTER_DEFAULTS, **variables}
    with _template_errors(name, locale):
        text_source = text_env.get_template(f"{locale}/{name}.txt").render(variables, locale=locale)
        subject, _, body = text_source.partition("\n")
        if not subject.startswith("Subject:"):
            raise DataError(f"template {locale}/{name}.txt: the first line must be 'Subject: ...'")
        # ASCII whitespace only: the no-break spaces Babel writes ("29,00\u00a0€") stay
        subject = re.sub(r"[ \t\r\n\f\v]+", " ", subject[len("Subject:") :]).strip(" ")
        html = html_env.get_template(f"{locale}/{name}.html").render(variables, locale=locale, subject=subject)
        footer = text_env.get_template("_footer.txt").render(variables, locale=locale).strip("\n")
    return Rendered(subject=subject, text=body.strip("\n") + "\n\n" + footer + "\n", html=html)


def render_page(name: str, variables: dict[str, Any], *, templates_dir: str = "") -> str:
    """Render one HTML page that is not a message (`report.html`): same folders, same escaping, same errors."""
    _, html_env = _environments(templates_dir)
    with _template_errors(name, None):
        return html_env.get_template(name).render(variables)
