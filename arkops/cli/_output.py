"""What every command shares: its Runtime, the grammar of its options, and how it renders.

Options: `Moment` reads every time option (`--since`, `--until`, `--at`, ...), `OneOf` every choice
whose values come from the configuration or the registry (plans, jobs, templates), `checked` every
other validated value; each turns a bad value into a usage error (exit 2, one line, the valid values)
and the first two complete in the shell. `ColumnsOption` is `--columns` on listings. The global
options (`-q`, `-v`, `--data-dir`, `--config`, `--env-file`, `--dry-run`) are accepted after the
command too (`add_global_options`).

Output: data to stdout (table, json, csv), messages to stderr (`say`). Tables (`emit_rows`,
`fitted_table`) fit the terminal, 80 columns when piped: each value is shown whole or not at all
(columns are left out, least useful first, before an email, an amount or a date would be broken),
free text wraps between words; booleans read yes/no and empty values "–". Everything that comes
from data or configuration reaches Rich as `Text` (`text`), never as markup.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from arkops.errors import DataError, UsageError
from arkops.runtime import Runtime

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table as RichTable
    from rich.text import Text

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
    "add_completion": False,  # `arkops completion SHELL` prints the script instead
    "context_settings": {"help_option_names": ["-h", "--help"]},
}

# init and demo write their own config; doctor reports a bad one as a failed check instead of stopping.
CONFIG_OPTIONAL = {"init", "doctor", "demo", "completion"}
# The commands that run before a data directory exists (or without one).
NO_WORKSPACE = {"init", "demo", "completion"}


def group(help: str) -> typer.Typer:
    """A command group with the house settings (plain help, no completion, -h).

    The empty callback keeps a group with one command a group (`arkops stripe
    sync`), where Typer would otherwise collapse it into the command itself.
    """
    app = typer.Typer(help=help, **SETTINGS)
    app.callback()(lambda: None)
    return app


# --- The invocation ---------------------------------------------------------------------------


def runtime(ctx: typer.Context) -> Runtime:
    """The invocation's Runtime, once its configuration and data directory are known to be usable.

    A bad arkops.toml stops every command up front (exit 3), never half-way; so does a data directory
    that is missing, empty or not initialised, for every command but init, demo and completion. Notes
    which command runs, with its arguments, for the audit log.
    """
    root = ctx.find_root()
    rt: Runtime = root.obj
    rt.invocation = ctx
    if "workspace checked" not in rt.memo:
        rt.memo["workspace checked"] = True
        command = root.invoked_subcommand
        if command not in CONFIG_OPTIONAL:
            loaded = rt.config
            if not loaded.exists and not rt.quiet and sys.stderr.isatty():  # a person at a terminal, not cron
                print(
                    f"arkops: note: no {loaded.path} here; using the defaults (`arkops init` writes one)",
                    file=sys.stderr,
                )
        if command not in NO_WORKSPACE:
            rt.store.check_initialised()
    return rt


def _invocation_runtime(ctx: Any) -> Runtime:
    """The Runtime while options are parsed: the root's, or during shell completion (where the root's
    callback does not run) one built from the options given so far."""
    root = ctx.find_root() if ctx is not None else None
    if root is not None and isinstance(root.obj, Runtime):
        return root.obj
    params = root.params if root is not None else {}
    return Runtime(
        data_dir=Path(params.get("data_dir") or os.environ.get("ARKOPS_DATA_DIR") or "data"),
        config_path=Path(params.get("config") or os.environ.get("ARKOPS_CONFIG") or "arkops.toml"),
        env_file=Path(params.get("env_file") or ".env"),
    )


def say(rt: Runtime, message: str) -> None:
    """A message for the person at the terminal (stderr), silenced by --quiet."""
    if not rt.quiet:
        print(message, file=sys.stderr)


# --- Option values: one grammar for every command ---------------------------------------------


def _usage(message: str) -> typer.BadParameter:
    return typer.BadParameter(message)


def checked(validator: str) -> Callable[[str], Any]:
    """An option parser from a shared validator ("module:function", imported on first use, so the
    command list stays fast): its DataError becomes a usage error (exit 2, one line)."""

    def parse(value: str) -> Any:
        import importlib

        module, _, name = validator.partition(":")
        try:
            return getattr(importlib.import_module(module), name)(value)
        except DataError as exc:
            raise _usage(str(exc)) from None

    parse._arkops_parser = True  # type: ignore[attr-defined]  # converted without pydantic (`_click`)
    return parse


@dataclass(frozen=True)
class Moment:
    """The parser of every time option: a span back from now (`90m`, `12h`, `7d`, `6w`, `6mo`, `1y`), a
    date YYYY-MM-DD or a time YYYY-MM-DDTHH:MM in the configured zone (or with Z or an offset), as an
    aware UTC datetime (`arkops.clock.parse_moment`). `end_of_day` makes a date mean the end of that
    day, as an `--until` or a `--valid-until` does."""

    end_of_day: bool = False
    _arkops_parser = True

    def __call__(self, value: Any) -> datetime:
        if isinstance(value, datetime):
            return value
        from arkops.cli._click import current_context
        from arkops.clock import parse_moment

        rt = _invocation_runtime(current_context())
        tz, now = rt.config.tz, rt.now()  # a bad arkops.toml or ARKOPS_NOW is exit 3, not a usage error
        try:
            return parse_moment(str(value), now=now, tz=tz, end_of_day=self.end_of_day)
        except DataError as exc:
            raise _usage(str(exc)) from None


TIME_FORMS = "90m, 12h, 7d, 6w, 6mo, 1y back from now, a date YYYY-MM-DD or a time YYYY-MM-DDTHH:MM (local)"
SinceOption = Annotated[
    datetime | None,
    typer.Option("--since", metavar="TIME", help=f"From this time on: {TIME_FORMS}.", parser=Moment()),
]
UntilOption = Annotated[
    datetime | None,
    typer.Option(
        "--until",
        metavar="TIME",
        help="Up to this time (a date: through its end), in the same forms as --since (default: now).",
        parser=Moment(end_of_day=True),
    ),
]
AtOption = Annotated[
    datetime | None,
    typer.Option("--at", metavar="TIME", help=f"When it happened (default: now): {TIME_FORMS}.", parser=Moment()),
]


def check_window(since: datetime | None, until: datetime | None) -> None:
    """--until before --since is a usage error (exit 2), before any data is read."""
    if since is not None and until is not None and until <= since:
        raise UsageError("--until must be after --since")


@dataclass(frozen=True)
class OneOf:
    """The parser of an option whose values come from the configuration or the registry (plan ids, job
    names, template names): `values` names a function `(rt) -> list[str]`. A value outside them is a
    usage error listing them (exit 2), the closest first; the shell completes them (`complete`).
    With `split`, the value is `KEY<split>REST` (`pro=20`) and its first `parts` parts are each one of
    them (`--map starter=pro`: two); `rest` names a validator `(text) -> Any` of what follows
    (`--discount pro=20`: a percentage), whose DataError is the usage error too."""

    values: str
    split: str | None = None
    parts: int = 1
    rest: str | None = None
    _arkops_parser = True

    def choices(self, ctx: Any = None) -> list[str]:
        from arkops.core.domain import resolve

        return list(resolve(self.values)(_invocation_runtime(ctx)))

    def __call__(self, value: Any) -> str:
        from arkops.cli._click import current_context

        text = str(value)
        keys = [part.strip() for part in text.split(self.split, self.parts)[: self.parts]] if self.split else [text]
        valid = self.choices(current_context())
        for key in keys:
            if key not in valid:
                raise _usage(not_one_of(key, valid))
        if self.rest is not None and self.split:
            key, sep, rest = text.partition(self.split)
            if not sep:
                raise _usage(f"{text!r}: write it as {key.strip() or 'NAME'}{self.split}VALUE")
            checked(self.rest)(rest)
        return text

    def complete(self, ctx: typer.Context, incomplete: str) -> list[str]:
        return [value for value in self.choices(ctx) if value.startswith(incomplete)]


def closest(value: str, valid: Iterable[str]) -> str:
    """ " Did you mean 'x'?" for the names closest to a mistyped one (commands, choices, columns), or ""."""
    import difflib

    matches = difflib.get_close_matches(value, list(valid), n=2, cutoff=0.7)
    return f" Did you mean {' or '.join(repr(m) for m in matches)}?" if matches else ""


def not_one_of(value: str, valid: Sequence[str]) -> str:
    """How every value outside its set is told: the valid values, and the closest ones when there are."""
    listed = ", ".join(repr(v) for v in valid) if valid else "(none configured)"
    return f"{value!r} is not one of {listed}.{closest(value, valid)}"


def one_of(values: str, *, split: str | None = None, parts: int = 1, rest: str | None = None) -> dict[str, Any]:
    """`typer.Option(..., **one_of("module:function"))`: the parser and the completion of a `OneOf`."""
    choice = OneOf(values, split, parts, rest)
    return {"parser": choice, "autocompletion": choice.complete}


def plan_ids(rt: Runtime) -> list[str]:
    return sorted(rt.config["plans"])


def job_names(rt: Runtime) -> list[str]:
    from arkops.core.registry import jobs

    return [job.name for job in jobs()]


def template_names(rt: Runtime) -> list[str]:
    from arkops.core.registry import messages

    return sorted(messages())


PlanOption = Annotated[
    str, typer.Option("--plan", help="A plan id from arkops.toml.", **one_of("arkops.cli._output:plan_ids"))
]


def check_combinations(ctx: typer.Context, rules: Iterable[tuple[bool, str]]) -> None:
    """What Typer cannot declare of options (one or the other, one needs another): the first rule broken is a
    usage error (exit 2, one line), before the command reads any data."""
    from arkops.cli._click import UsageError as ClickUsageError

    for broken, message in rules:
        if broken:
            raise ClickUsageError(message, ctx=ctx)


ColumnsOption = Annotated[
    str | None,
    typer.Option(
        "--columns",
        metavar="A,B,...",
        help="Only these columns, in this order (names as in the table's header or the JSON keys).",
    ),
]


# --- Global options after the command -----------------------------------------------------------


def _later(name: str) -> Callable[..., Any]:
    """The callback of a global option given after the command: it changes the invocation's Runtime."""

    def apply(ctx: typer.Context, param: typer.CallbackParam, value: Any) -> Any:
        from arkops.cli._click import given_on_command_line

        rt = ctx.find_root().obj
        if ctx.resilient_parsing or not isinstance(rt, Runtime) or not given_on_command_line(ctx, param):
            return value
        if name in ("data_dir", "config", "env_file"):
            value = Path(value)  # an older Typer hands the callback the text
        if name == "env_file":
            load_env(value, required=True)
        if name == "config":
            rt._config = None
        setattr(rt, name if name != "config" else "config_path", value)
        return value

    return apply


def load_env(path: Path, *, required: bool) -> None:
    """Load the secrets file; one the operator named (`--env-file`, `required`) that is missing is a usage
    error (exit 2), where the default `.env` may be absent (the secrets are then in the environment)."""
    from arkops.config import load_env_file

    if not load_env_file(path) and required:
        raise typer.BadParameter(f"{str(path)!r} does not exist", param_hint="'--env-file'")


def _global_options(
    *,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", hidden=True, is_eager=True)] = None,
    config: Annotated[Path | None, typer.Option("--config", hidden=True, is_eager=True)] = None,
    env_file: Annotated[Path | None, typer.Option("--env-file", hidden=True, is_eager=True)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", hidden=True, is_eager=True)] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", hidden=True, is_eager=True)] = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", hidden=True, is_eager=True)] = False,
) -> None:
    """The root's options, as every command accepts them after its name (`arkops run -q`)."""


def add_global_options(command: Any) -> Any:
    """Give every command below `command` the global options (hidden in its help: `arkops --help` lists
    them); eager, so a `--config` after the command is read before any option that needs it."""
    from typer.main import get_command

    holder = typer.Typer(**SETTINGS)
    holder.command()(_global_options)
    shared = get_command(holder).params
    for param in shared:
        param.expose_value = False
        param.callback = _later(str(param.name))
    _add_params(command, shared)
    return command


def _add_params(command: Any, params: list[Any]) -> None:
    if hasattr(command, "commands"):
        for sub in command.commands.values():
            _add_params(sub, params)
        return
    taken = {opt for param in command.params for opt in [*param.opts, *param.secondary_opts]}
    command.params.extend(param for param in params if not set(param.opts) & taken)


# --- Rendering ----------------------------------------------------------------------------------

EMPTY = "–"


def terminal_width() -> int:
    """The width tables fit: COLUMNS when set, the terminal's when stdout is one, else 80 (cron, pipes)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        return os.get_terminal_size(sys.stdout.fileno()).columns
    return 80


def console(*, stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, width=terminal_width(), highlight=False)


def text(value: Any, style: str | None = None) -> Text:
    """A value as Rich shows it, never read as markup: `[leads] sources` prints as written."""
    from rich.text import Text

    return Text(value if isinstance(value, str) else shown(value), style=style or "")


def shown(value: Any) -> str:
    """A value as a table cell: yes/no, "–" for nothing, mappings and lists on one line."""
    if value is None or value == "" or value == {} or value == []:
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{key} {shown(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(shown(item) for item in value)
    return str(value)


def emit_line(line: str) -> None:
    """A line of a table's heading (a report's totals, a record's summary): wrapped between words at the
    terminal's width, as the table below it."""
    console().print(text(line))


def emit_json(document: Any) -> None:
    """One JSON document, indented by two spaces, UTF-8 as is. orjson writes it (the standard library's indenting
    encoder is pure Python: 1.3 s for `leads list` of 35,000 leads); what it cannot encode (an integer beyond
    64 bits) goes through the standard library, whose output is the same text."""
    import orjson

    try:
        text = orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        text = json.dumps(document, ensure_ascii=False, indent=2)
    print(text)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def pick_columns(chosen: str | None, available: Sequence[str]) -> list[str]:
    """`--columns a,b`: those columns in that order; a name not among them is a usage error listing them."""
    if chosen is None:
        return list(available)
    names = [name.strip() for name in chosen.split(",") if name.strip()]
    for name in names:
        if name not in available:
            raise typer.BadParameter(not_one_of(name, available), param_hint="'--columns'")
    if not names:
        raise typer.BadParameter("name at least one column", param_hint="'--columns'")
    return names


def emit_rows(
    rows: list[dict],
    fmt: Format,
    columns: Iterable[str] | None = None,
    *,
    title: str | None = None,
    display: dict[str, Callable[[Any], str]] | None = None,
    money: Iterable[str] = (),
    drop: Sequence[str] = (),
    chosen: str | None = None,
) -> None:
    """One helper for every listing: the same rows as a table, a JSON list or CSV.

    `display` formats cells for people (percentages, ...) and `money` names the
    columns of minor units shown with the row's `currency` (`€29.00`), in
    table output only; JSON and CSV keep the raw values (minor units, fractions).
    `drop` names the columns a narrow terminal loses first (then the last ones);
    `chosen` is the command's `--columns`.
    """
    available = list(columns) if columns is not None else (list(rows[0]) if rows else [])
    if chosen is not None and rows and columns is None:
        available = list(dict.fromkeys(key for row in rows for key in row))
    cols = pick_columns(chosen, available)
    if fmt is Format.json:
        emit_json(rows if chosen is None else [{col: row.get(col) for col in cols} for row in rows])
    elif fmt is Format.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(cols)
        for row in rows:
            writer.writerow([_csv_cell(row.get(col)) for col in cols])
    else:
        cells = _table_cells(rows, cols, display or {}, set(money))
        numeric = [col in set(money) or _numeric(rows, col) for col in cols]
        out = console()
        if len(cells) > LONG_TABLE:
            long_table(out, cols, cells, numeric=numeric, drop=drop, title=title)
        else:
            out.print(fitted_table(cols, cells, numeric=numeric, width=out.width, drop=drop, title=title))


def _table_cells(
    rows: list[dict], cols: list[str], display: dict[str, Callable[[Any], str]], money: set[str]
) -> list[list[str]]:
    from arkops.money import format_money

    def cell(row: dict, col: str) -> str:
        value = row.get(col)
        if value is None:
            return EMPTY
        if col in money:
            return format_money(value, row.get("currency") or "")
        return display[col](value) if col in display else shown(value)

    return [[cell(row, col) for col in cols] for row in rows]


def _numeric(rows: list[dict], col: str) -> bool:
    values = [row.get(col) for row in rows if row.get(col) is not None]
    return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


# A cell that is one value, never to be wrapped: a date or time, an amount, a number, a percentage.
_ATOM = re.compile(
    r"\d{4}-\d{2}(-\d{2})?([ T]\d{2}:\d{2}(:\d{2})?)?( ?[A-Z]{1,5}|Z)?"
    r"|[-+]?[^\s\d]{0,3}\s?\d[\d.,\s\u00a0\u202f]*\s?[^\s\d]{0,3}"
)
GAP = 2  # between two columns: no border, one space of padding each side
TEXT_MIN = 12  # a column of free text keeps at least this width before columns are left out
TEXT_COMFORT = 30  # ... and the columns a command names as least useful go before it is narrower than this


@dataclass
class _Column:
    header: str
    cells: list[str]
    numeric: bool
    atomic: bool  # every cell one value: shown whole (never wrapped) or the column left out
    natural: int  # the width that shows every cell on one line
    least: int  # the narrowest width that breaks no word
    comfortable: int  # free text at a width that reads well; a value's natural width

    @classmethod
    def of(cls, header: str, cells: list[str], numeric: bool) -> _Column:
        from rich.cells import cell_len

        natural = max([cell_len(header), *(cell_len(c) for c in cells)])
        atomic = not any(" " in cell and not _ATOM.fullmatch(cell) for cell in cells)
        longest_word = max([0, *(cell_len(w) for c in cells for w in c.split())])
        least = natural if atomic else max(cell_len(header), min(natural, TEXT_MIN), min(longest_word, 30))
        return cls(header, cells, numeric, atomic, natural, least, max(least, min(natural, TEXT_COMFORT)))


def fit(columns: list[_Column], width: int, drop: Sequence[str] = ()) -> tuple[list[int], list[int]]:
    """Which columns a table of `width` shows (indexes) and their widths.

    The columns named in `drop` (the least useful first) are left out while the table does not fit with
    its free text at a comfortable width; then, while even the narrowest widths do not fit, the others
    from the last; the first column stays. The widths start from each column's natural width, and free
    text gives way (wrapping between words) until the table fits.
    """
    kept = list(range(len(columns)))
    named = [i for name in drop for i, c in enumerate(columns) if c.header == name and i != 0]
    for order, attr in ((named, "comfortable"), (list(reversed(kept[1:])), "least")):
        for index in order:
            if _needed(columns, kept, attr) <= width or len(kept) == 1:
                break
            if index in kept:
                kept.remove(index)
    widths = {i: columns[i].natural for i in kept}
    excess = _needed(columns, kept, "natural") - width
    while excess > 0:
        roomy = [i for i in kept if widths[i] > columns[i].least]
        if not roomy:  # one value wider than the terminal: it is cut with an ellipsis, never folded
            roomy = [max(kept, key=lambda i: widths[i])]
        widest = max(roomy, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1
    return kept, [widths[i] for i in kept]


def _needed(columns: list[_Column], indexes: list[int], attr: str) -> int:
    return sum(getattr(columns[i], attr) for i in indexes) + GAP * max(len(indexes) - 1, 0)


def fitted_table(
    headers: Sequence[str],
    cells: list[list[str]],
    *,
    numeric: Sequence[bool],
    width: int,
    drop: Sequence[str] = (),
    title: str | None = None,
    red_rows: Iterable[int] = (),
    header_style: str = "bold",
) -> RichTable:
    """The one table of the terminal (listings, doctor, status): fitted to `width` (`fit`), data as Text."""
    from rich.table import Table as RichTable

    columns = [_Column.of(h, [row[i] for row in cells], numeric[i]) for i, h in enumerate(headers)]
    kept, widths = fit(columns, width, drop)
    left_out = [columns[i].header for i in range(len(columns)) if i not in kept]
    shown_table = RichTable(
        title=text(title) if title else None,
        caption=text(f"not shown at this width: {', '.join(left_out)} (--columns, or --format csv)")
        if left_out
        else None,
        box=None,
        show_edge=False,
        pad_edge=False,
        padding=0,  # the gaps are columns of their own: Rich versions differ in where they add padding
        header_style=header_style,
        title_justify="left",
        caption_justify="left",
    )
    for place, (index, column_width) in enumerate(zip(kept, widths, strict=True)):
        column = columns[index]
        if place:
            shown_table.add_column("", width=GAP, no_wrap=True)
        shown_table.add_column(
            text(column.header),
            width=column_width,
            no_wrap=column.atomic,
            overflow="ellipsis",
            justify="right" if column.numeric else "left",
        )
    red = set(red_rows)
    for number, row in enumerate(cells):
        shown = [cell for i in kept for cell in ("", row[i])][1:]  # each value after its gap
        shown_table.add_row(*(text(cell) for cell in shown), style="red" if number in red else None)
    return shown_table


LONG_TABLE = 500  # rows beyond which a listing is printed a line per row (Rich lays out 35,000 rows in 20 s)


def long_table(
    out: Console,
    headers: Sequence[str],
    cells: list[list[str]],
    *,
    numeric: Sequence[bool],
    drop: Sequence[str] = (),
    title: str | None = None,
) -> None:
    """A long listing as `fitted_table` lays it out (the same columns, widths and gaps), one line per row: a value
    wider than its column is cut with "…" rather than wrapped, and the lines are written as they are made."""
    from rich.cells import cell_len, set_cell_size

    columns = [_Column.of(h, [row[i] for row in cells], numeric[i]) for i, h in enumerate(headers)]
    kept, widths = fit(columns, out.width, drop)
    gap = " " * GAP

    def line(values: Sequence[str]) -> str:
        shown = []
        for index, width in zip(kept, widths, strict=True):
            value = values[index]
            if cell_len(value) > width:
                value = set_cell_size(value, width - 1) + "…"
            pad = " " * (width - cell_len(value))
            shown.append(pad + value if columns[index].numeric else value + pad)
        return gap.join(shown).rstrip()

    if title:
        out.print(text(title))
    out.print(text(line(headers), "bold"))
    out.file.write("".join(line(row) + "\n" for row in cells))
    out.file.flush()
    left_out = [columns[i].header for i in range(len(columns)) if i not in kept]
    if left_out:
        out.print(text(f"not shown at this width: {', '.join(left_out)} (--columns, or --format csv)"))


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
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        Amount(),
        TimeElapsedColumn(),
        console=console(stderr=True),
        transient=True,
    ) as bars:

        def update(message: str, done: int | None = None, total: int | None = None, *, unit: str = "") -> None:
            if done is None:
                bars.console.print(text(message))
                return
            if message not in tasks:
                tasks[message] = bars.add_task(message, total=total, unit=unit)
            bars.update(tasks[message], completed=done, total=total)

        yield update
