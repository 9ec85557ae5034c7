"""Rendering for every command: data to stdout (table, json, csv), messages to stderr."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import typer

from arkops.errors import DataError
from arkops.runtime import Runtime

if TYPE_CHECKING:
    from arkops.core.progress import Progress


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


FORMAT_HELP = "Output format: table, json (one JSON document) or csv."


SETTINGS: dict[str, Any] = {
    "no_args_is_help": True,
    "rich_markup_mode": None,
    "pretty_exceptions_enable": False,
    "pretty_exceptions_show_locals": False,  # secrets live in locals
    "add_completion": False,
    "context_settings": {"help_option_names": ["-h", "--help"]},
}


def group(help: str) -> typer.Typer:
    """A command group with the house settings (plain help, no completion, -h).

    The empty callback keeps a group with one command a group (`arkops stripe
    sync`), where Typer would otherwise collapse it into the command itself.
    """
    app = typer.Typer(help=help, **SETTINGS)
    app.callback()(lambda: None)
    return app


def checked(validator: str) -> Callable[[str], Any]:
    """An option parser from a shared validator ("module:function", imported on first use, so the
    command list stays fast): its DataError becomes a usage error (exit 2, one line)."""

    def parse(value: str) -> Any:
        import importlib

        module, _, name = validator.partition(":")
        try:
            return getattr(importlib.import_module(module), name)(value)
        except DataError as exc:
            raise typer.BadParameter(str(exc)) from None

    return parse


def check_combinations(ctx: typer.Context, rules: Iterable[tuple[bool, str]]) -> None:
    """What Typer cannot declare of options (one or the other, one needs another): the first rule broken is a
    usage error (exit 2, one line), before the command reads any data."""
    from arkops.cli._click import UsageError

    for broken, message in rules:
        if broken:
            raise UsageError(message, ctx=ctx)


def runtime(ctx: typer.Context) -> Runtime:
    """The invocation's Runtime; notes which command runs, with its arguments, for the audit log."""
    rt = ctx.find_root().obj
    rt.invocation = ctx
    return rt


def say(rt: Runtime, message: str) -> None:
    """A message for the person at the terminal (stderr), silenced by --quiet."""
    if not rt.quiet:
        print(message, file=sys.stderr)


def emit_json(document: Any) -> None:
    print(json.dumps(document, ensure_ascii=False, indent=2))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def emit_rows(
    rows: list[dict],
    fmt: Format,
    columns: Iterable[str] | None = None,
    *,
    title: str | None = None,
    display: dict[str, Callable[[Any], str]] | None = None,
    money: Iterable[str] = (),
) -> None:
    """One helper for every listing: the same rows as a table, a JSON list or CSV.

    `display` formats cells for people (percentages, ...) and `money` names the
    columns of minor units shown with the row's `currency` (`€29.00`), in
    table output only; JSON and CSV keep the raw values (minor units, fractions).
    """
    cols = list(columns) if columns is not None else (list(rows[0]) if rows else [])
    if fmt is Format.json:
        emit_json(rows)
    elif fmt is Format.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(cols)
        for row in rows:
            writer.writerow([_cell(row.get(col)) for col in cols])
    else:
        from rich.console import Console
        from rich.table import Table

        from arkops.money import format_money

        shown = dict(display or {})
        money_columns = set(money)
        table = Table(title=title, show_edge=False, header_style="bold")
        for col in cols:
            table.add_column(col, overflow="fold")
        for row in rows:
            currency = row.get("currency") or ""
            cells = {**row, **{c: format_money(row[c], currency) for c in money_columns if row.get(c) is not None}}
            table.add_row(
                *(
                    shown[col](cells.get(col)) if col in shown and cells.get(col) is not None else _cell(cells.get(col))
                    for col in cols
                )
            )
        # On a terminal, fit its width (long cells fold); piped, never cut a value.
        Console(width=None if sys.stdout.isatty() else 400).print(table)


@contextmanager
def progress(rt: Runtime) -> Iterator[Progress]:
    """The one progress display of long work (imports, ingest, sync, rebuild), handed to core functions as a callback.

    At a terminal (stderr), a Rich bar per step (counts, or sizes for
    `unit="bytes"`), gone when the work ends, with milestone lines printed
    above it. Anywhere else (cron, pipes) or with --quiet: only the
    milestone lines, as `say` prints them.
    """
    if rt.quiet or not sys.stderr.isatty():

        def lines(message: str, done: int | None = None, total: int | None = None, *, unit: str = "") -> None:
            if done is None:
                say(rt, message)

        yield lines
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress import Progress as Bars

    class Amount(ProgressColumn):
        """Done of total: a count, or a size for steps measured in bytes."""

        def __init__(self) -> None:
            super().__init__()
            self.count, self.size = MofNCompleteColumn(), DownloadColumn()

        def render(self, task: Any) -> Any:
            return (self.size if task.fields.get("unit") == "bytes" else self.count).render(task)

    tasks: dict[str, Any] = {}
    with Bars(
        TextColumn("{task.description}"),
        BarColumn(),
        Amount(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bars:

        def update(message: str, done: int | None = None, total: int | None = None, *, unit: str = "") -> None:
            if done is None:
                bars.console.print(message)
                return
            if message not in tasks:
                tasks[message] = bars.add_task(message, total=total, unit=unit)
            bars.update(tasks[message], completed=done, total=total)

        yield update
