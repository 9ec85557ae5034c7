"""Jinja rendering: StrictUndefined everywhere, autoescape in HTML parts only.

Templates live in `<locale>/<name>.txt` (first line `Subject: ...`) and
`<locale>/<name>.html` (extends `_base.html`). A folder named by
`[mail] templates_dir` is searched first, so an operator overrides any file
by writing one of the same name. Pages that are not messages (the HTML
report, `report.html`) render through the same folders and escaping, so
the partials they share with messages (`_sections.html`) exist once.
"""

from __future__ import annotations

from collections.abc import Iterator
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
        made.filters["code"] = code_spans if html else str
        return made

    return environment(html=False), environment(html=True)


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


def render(name: str, variables: dict[str, Any], *, locale: str, templates_dir: str = "") -> Rendered:
    """Render one message; a missing variable or template is a DataError naming it."""
    text_env, html_env = _environments(templates_dir)
    with _template_errors(name, locale):
        text_source = text_env.get_template(f"{locale}/{name}.txt").render(variables, locale=locale)
        subject, _, body = text_source.partition("\n")
        if not subject.startswith("Subject:"):
            raise DataError(f"template {locale}/{name}.txt: the first line must be 'Subject: ...'")
        subject = " ".join(subject[len("Subject:") :].split())
        html = html_env.get_template(f"{locale}/{name}.html").render(variables, locale=locale, subject=subject)
    return Rendered(subject=subject, text=body.strip("\n") + "\n", html=html)


def render_page(name: str, variables: dict[str, Any], *, templates_dir: str = "") -> str:
    """Render one HTML page that is not a message (`report.html`): same folders, same escaping, same errors."""
    _, html_env = _environments(templates_dir)
    with _template_errors(name, None):
        return html_env.get_template(name).render(variables)
