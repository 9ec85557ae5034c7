"""The reference parts of the docs, generated from the code itself.

cog writes them into the Markdown files, and `.ci/run` runs `cog --check`
on every file that has cog blocks, so they never drift from the code:

- README.md: the table of top-level commands (`command_table`);
- docs/README.md: the domains and their guides (`domain_index`);
- docs/cli.md: the global options (`global_options`) and every command's `--help` (`cli_reference`);
- docs/config.md: the configuration reference (`config_reference`);
- docs/jobs.md: the jobs `arkops run` runs (`jobs_table`);
- docs/messaging.md: every template and its variables (`messages_table`);
- docs/<domain>.md: what the domain declares (`domain_facts`);
- docs/architecture.md: a real declaration, quoted from its file (`declaration_source`).

Regenerate with `cog -r README.md docs/*.md bench/README.md` (the `COG_FILES` of `.ci/run`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer.main import get_command

if TYPE_CHECKING:
    from arkops.core.domain import DoctorCheck, Job

WIDTH = 100  # help is wrapped at this width in the docs, whatever the terminal


def _root() -> tuple[Any, typer.Context]:
    from arkops.cli import app

    root = get_command(app)
    return root, _context(root, "arkops", None)


def _context(command: Any, name: str, parent: typer.Context | None) -> typer.Context:
    settings = {**(command.context_settings or {}), "terminal_width": WIDTH, "max_content_width": WIDTH}
    return typer.Context(command, info_name=name, parent=parent, **settings)


def walk() -> Iterator[tuple[str, Any, typer.Context]]:
    """Every command and group below the root, depth first in help order: (path, command, its context)."""

    def visit(command: Any, ctx: typer.Context, path: list[str]) -> Iterator[tuple[str, Any, typer.Context]]:
        if hasattr(command, "list_commands"):
            for name in command.list_commands(ctx):
                child = command.get_command(ctx, name)
                if child is None:
                    continue
                child_ctx = _context(child, name, ctx)
                yield " ".join([*path, name]), child, child_ctx
                yield from visit(child, child_ctx, [*path, name])

    root, ctx = _root()
    yield from visit(root, ctx, [])


def leaf_commands() -> list[tuple[str, Any, typer.Context]]:
    return [(path, command, ctx) for path, command, ctx in walk() if not hasattr(command, "list_commands")]


def example(command: Any) -> str:
    """The `Example: arkops ...` line of a command's help."""
    for line in (command.help or "").splitlines():
        if line.strip().startswith("Example: "):
            return line.strip().removeprefix("Example: ")
    return ""


def summary(command: Any) -> str:
    """The first paragraph of a command's help, on one line."""
    paragraph = (command.help or "").strip().split("\n\n")[0]
    return " ".join(paragraph.split())


def anchor(heading: str) -> str:
    """The fragment GitHub gives a Markdown heading: lower case, punctuation dropped, spaces as hyphens.

    (A heading that repeats an earlier one gets `-1`, `-2`, ...; the docs' own headings never repeat.)
    """
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _cell(text: str) -> str:
    return text.replace("|", "/")


def cli_reference() -> str:
    """docs/cli.md: the root's and every command's `--help`, as the terminal shows it."""
    root, ctx = _root()
    parts = [f"## arkops\n\n```\n{root.get_help(ctx)}\n```\n"]
    for path, command, command_ctx in walk():
        parts.append(f"## arkops {path}\n\n```\n{command.get_help(command_ctx)}\n```\n")
    return "\n".join(parts)


def _command_link(path: str, cli_doc: str) -> str:
    return f"[`arkops {path}`]({cli_doc}#{anchor(f'arkops {path}')})"


def _owners() -> dict[str, list[str]]:
    """Top-level command -> the names of the domains that declare it (`billing`: the ledger's and the plans')."""
    from arkops.core.registry import domains

    owners: dict[str, list[str]] = {}
    for domain in domains():
        for command in domain.commands:
            owners.setdefault(command, []).append(domain.name)
    return owners


def command_table(docs: str = "docs/") -> str:
    """README.md: one row per top-level command, linked to its help in docs/cli.md and to its domain's guide."""
    owners = _owners()
    paths = [path for path, _, _ in walk()]
    rows = ["| command | what it does | guide |", "| --- | --- | --- |"]
    for path, command, _ in walk():
        if " " in path:
            continue
        what = summary(command)
        subcommands = [sub.removeprefix(f"{path} ") for sub in paths if sub.startswith(f"{path} ")]
        if subcommands:
            what += " Subcommands: " + ", ".join(f"`{name}`" for name in subcommands) + "."
        guides = ", ".join(f"[{name}]({docs}{name}.md)" for name in owners[path])
        rows.append(f"| {_command_link(path, docs + 'cli.md')} | {_cell(what)} | {guides} |")
    return "\n".join(rows) + "\n"


def domain_index() -> str:
    """docs/README.md: every domain, in the registry's order, with its summary and its commands."""
    from arkops.core.registry import DOMAINS, domains

    by_package = {f"arkops.core.{domain.name}": domain for domain in domains()}
    rows = ["| guide | what it covers | commands |", "| --- | --- | --- |"]
    for package in DOMAINS:
        domain = by_package[package]
        commands = ", ".join(_command_link(name, "cli.md") for name in domain.commands)
        rows.append(f"| [{domain.name}]({domain.name}.md) | {_cell(domain.summary)} | {commands} |")
    return "\n".join(rows) + "\n"


def jobs_table() -> str:
    """docs/jobs.md: the jobs `arkops run` runs, from the domains' declarations."""
    from arkops.core.jobs.runner import describe_schedule
    from arkops.core.registry import jobs

    rows = ["| job | default schedule | domain code | what it does |", "| --- | --- | --- | --- |"]
    for job in jobs():
        schedule = describe_schedule(job.every_minutes, job.daily_at, job.weekday)
        if job.skip_reason:
            schedule += " (skipped when what it needs is missing)"
        rows.append(f"| `{job.name}` | {schedule} | `{job.run}` | {job.description} |")
    return "\n".join(rows) + "\n"


def config_reference() -> str:
    """docs/config.md: every key of arkops.toml with its default and meaning, from `arkops.config`."""
    from arkops.config import reference_rows

    rows = ["| key | default | meaning |", "| --- | --- | --- |"]
    for key, default, meaning in reference_rows():
        shown = f"`{default}`" if default and default != "none" else (default or "")
        rows.append(f"| `{key}` | {shown} | {_cell(meaning)} |")
    return "\n".join(rows) + "\n"


def global_options() -> str:
    """docs/cli.md: the options that come before the command."""
    root, ctx = _root()
    rows = ["| option | meaning |", "| --- | --- |"]
    for param in root.get_params(ctx):
        if param.name == "help":
            continue
        names = ", ".join(f"`{opt}`" for opt in [*param.opts, *param.secondary_opts])
        extra = []
        if getattr(param, "envvar", None):
            extra.append(f"env `{param.envvar}`")
        if not getattr(param, "is_flag", False) and param.default is not None:
            extra.append(f"default `{param.default}`")
        rows.append(f"| {names}{' (' + ', '.join(extra) + ')' if extra else ''} | {param.help} |")
    return "\n".join(rows) + "\n"


def _database_line(database: Any) -> str:
    if database.kind == "jsonl":
        where = f"`{database.name}.jsonl` and `{database.name}/**/*.jsonl` (JSON Lines)"
    else:
        where = f"`{database.name}.json` (TinyDB, schema {database.version})"
    if database.archive:
        where += ", finished records archived by month"
    if database.keep_days:
        where += f", day files kept `{database.keep_days}` days"
    fields = [f"{table} ({', '.join(names)})" for table, names in database.personal.items() if names]
    nobody = [table for table, names in database.personal.items() if not names]
    where += "; personal data: " + ("; ".join(fields) if fields else "none")
    if nobody:
        where += f" (tables that hold nobody: {', '.join(nobody)})"
    own = [name for name in ("export", "forget") if getattr(database, name)]
    if own:
        where += f" (its own {' and '.join(own)}: `{getattr(database, own[-1]).partition(':')[0]}`)"
    return where


def _table_name(key: str, spec: Any) -> str:
    """How a top-level config key is written in arkops.toml: `[trials]`, `[[funnel.rules]]`, `[plans.<id>]`."""
    from arkops.config import ListOf, MapOf

    if isinstance(spec, MapOf):
        return f"[{key}.<{spec.key_name}>]"
    return f"[[{key}]]" if isinstance(spec, ListOf) else f"[{key}]"


def messages_table() -> str:
    """docs/messaging.md: every template, who reads it, the domain that sends it and its variables."""
    from arkops.core.domain import resolve
    from arkops.core.registry import domains

    rows = ["| template | who reads it | sent by | variables |", "| --- | --- | --- | --- |"]
    for domain in domains():
        if domain.templates is None:
            continue
        for name, message in resolve(domain.templates).items():
            variables = (
                ", ".join(
                    f"`{name}` (optional, default {message.optional[name]!r})"
                    if name in message.optional
                    else f"`{name}`"
                    for name in message.sample
                )
                or "-"
            )
            rows.append(f"| `{name}` | {message.category} | [{domain.name}]({domain.name}.md) | {variables} |")
    return "\n".join(rows) + "\n"


def domain_facts(name: str) -> str:
    """docs/<name>.md: what the domain's declaration brings, each part with the code that does it."""
    from arkops.core.domain import resolve
    from arkops.core.registry import domains

    (domain,) = [domain for domain in domains() if domain.name == name]
    package = f"arkops/core/{name}"
    config = resolve(domain.config).items() if domain.config else []
    messages = resolve(domain.templates).items() if domain.templates else []
    sections = [(kind, part) for kind in ("status", "report") if (part := getattr(domain, kind))]
    facts = [  # (heading, text): a part the domain does not declare has no text and no line
        ("**Commands:**", ", ".join(_command_link(command, "cli.md") for command in domain.commands)),
        ("**Jobs** ([all jobs](jobs.md#the-jobs)):", ", ".join(_job_text(job) for job in domain.jobs)),
        *[("**Data:**", _database_line(database)) for database in domain.databases],
        (
            "**Configuration** ([reference](config.md#the-keys)):",
            ", ".join(f"`{_table_name(k, v)}`" for k, v in config),
        ),
        ("**Emails** ([templates](messaging.md#templates)):", ", ".join(f"`{n}` ({m.category})" for n, m in messages)),
        ("**Doctor checks:**", ", ".join(_check_text(check) for check in domain.checks)),
        ("**Retention rules:**", ", ".join(f"`{rule.target}`" for rule in domain.retention)),
        ("**Sections:**", ", ".join(f"{kind} `{part.target}`" for kind, part in sections)),
        ("**Demo part:**", f"`{domain.demo.build}`" if domain.demo else ""),
        ("**Audited commands:**", ", ".join(f"`{command}`" for command in domain.audited)),
    ]
    lines = [f"- **Declared in** [`{package}/__init__.py`](../{package}/__init__.py)."]
    lines += [f"- {heading} {text}." for heading, text in facts if text]
    return "\n".join(lines) + "\n"


def _job_text(job: Job) -> str:
    from arkops.core.jobs.runner import describe_schedule

    return f"`{job.name}` ({describe_schedule(job.every_minutes, job.daily_at, job.weekday)})"


def _check_text(check: DoctorCheck) -> str:
    return f"`{check.target}`" + (f" (with `--{check.needs}`)" if check.needs else "")


def declaration_source(name: str) -> str:
    """A domain's `__init__.py` as it is, in a Python code block (docs/architecture.md quotes a real one)."""
    import importlib

    module = importlib.import_module(f"arkops.core.{name}")
    source = Path(str(module.__file__)).read_text(encoding="utf-8")
    return f"```python\n{source}```\n"
