"""The CLI reference, generated from the commands themselves.

`docs/cli.md` (every command's `--help`) and the README's command list,
jobs table and configuration reference are written by cog from these
functions; `.ci/run` runs `cog --check` so they never drift from the code.
Regenerate with `cog -r README.md docs/cli.md`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer
from typer.main import get_command

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


def usage(command: Any, ctx: typer.Context) -> str:
    return " ".join([ctx.command_path, *command.collect_usage_pieces(ctx)])


def cli_reference() -> str:
    """docs/cli.md: the root's and every command's `--help`, as the terminal shows it."""
    root, ctx = _root()
    parts = [f"## arkops\n\n```\n{root.get_help(ctx)}\n```\n"]
    for path, command, command_ctx in walk():
        parts.append(f"## arkops {path}\n\n```\n{command.get_help(command_ctx)}\n```\n")
    return "\n".join(parts)


def readme_commands() -> str:
    """The README's command list: usage, summary and example of each command, grouped as `--help` lists them."""
    lines = []
    group = None
    for path, command, ctx in leaf_commands():
        top = path.split()[0]
        if top != group and " " in path:
            lines.append(f"\n**{top}**: {summary(ctx.parent.command) if ctx.parent else ''}\n")
        elif " " not in path and group is not None and " " in group:
            lines.append("")
        group = top if " " in path else path
        lines.append(f"- `{usage(command, ctx)}`: {summary(command)}  \n  Example: `{example(command)}`")
    return "\n".join(lines).strip() + "\n"


def readme_jobs() -> str:
    """The README's table of the jobs `arkops run` runs, from the domains' declarations."""
    from arkops.core.jobs.runner import describe_schedule
    from arkops.core.registry import jobs

    rows = ["| job | default schedule | domain code | what it does |", "| --- | --- | --- | --- |"]
    for job in jobs():
        schedule = describe_schedule(job.every_minutes, job.daily_at, job.weekday)
        if job.skip_reason:
            schedule += " (skipped when what it needs is missing)"
        rows.append(f"| `{job.name}` | {schedule} | `{job.run}` | {job.description} |")
    return "\n".join(rows) + "\n"


def readme_config() -> str:
    """The README's configuration reference, from `arkops.config.SCHEMA`."""
    from arkops.config import reference_rows

    rows = ["| key | default | meaning |", "| --- | --- | --- |"]
    for key, default, meaning in reference_rows():
        shown = f"`{default}`" if default and default != "none" else (default or "")
        rows.append(f"| `{key}` | {shown} | {meaning.replace('|', '/')} |")
    return "\n".join(rows) + "\n"


def readme_global_options() -> str:
    """The README's table of the options that come before the command."""
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
