"""The arkops command line: a thin Typer layer over arkops.core.

`main()` is the one place where domain errors become exit codes.
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from arkops import __version__
from arkops.cli._output import SETTINGS, add_global_options, load_env
from arkops.errors import ArkopsError, ExitCode, Interrupted, redact, stop_on_signals
from arkops.runtime import Runtime


def _commands() -> dict[str, tuple[str, ...]]:
    """Every top-level command, from the domains' declarations (`arkops.core.registry`)."""
    from arkops.core.registry import commands

    return commands()


def _targets(name: str) -> list[Any]:
    from arkops.core.domain import resolve

    return [resolve(target) for target in _commands()[name]]


class LazyGroup(TyperGroup):
    """Builds a command only when it runs or its own help is asked for.

    Typer turns every signature into a click command when the tree is built;
    building them all for `arkops --help` costs more than the imports. The
    listing reads each command's summary from its Typer app or docstring.
    A group that several domains declare is built from each one's Typer app,
    its commands in the domains' order.
    """

    def list_commands(self, ctx: Any) -> list[str]:
        return list(_commands())

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in _commands():
            first, *others = (_click_command(target) for target in _targets(cmd_name))
            for other in others:
                for name, sub in other.commands.items():
                    first.add_command(sub, name)
            first.name = cmd_name
            self.commands[cmd_name] = add_global_options(first)
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """As click resolves it; a mistyped name gets the closest commands (`arkops trails`: did you mean 'trials'?)."""
        from arkops.cli._click import UsageError

        try:
            return super().resolve_command(ctx, args)
        except UsageError as exc:
            from arkops.cli._output import closest

            hint = closest(args[0], self.list_commands(ctx)) if args else ""
            if hint and "Did you mean" not in exc.message:
                exc.message = f"{exc.message.rstrip('.')}.{hint}"
            raise

    def invoke(self, ctx: Any) -> Any:
        """Run the command; then, for one that changes data (`Domain.audited`), append its audit line."""
        try:
            result = super().invoke(ctx)
        except BaseException as exc:
            _audit(ctx, _exit_code(exc))
            raise
        _audit(ctx, result if isinstance(result, int) else ExitCode.OK)
        return result

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        from arkops.core.domain import resolve

        rows = []
        for name in _commands():
            target = resolve(_commands()[name][0])  # the first declaring domain gives a shared group its help
            text = target.info.help if isinstance(target, typer.Typer) else target.__doc__
            rows.append((name, (text or "").strip().splitlines()[0]))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _click_command(target: Any) -> Any:
    """A Typer app, or a single command function, as the click command Typer builds for it."""
    from typer.main import get_command

    if not isinstance(target, typer.Typer):
        from arkops.cli._output import SETTINGS

        single = typer.Typer(**SETTINGS)
        single.command()(target)
        target = single
    return get_command(target)


def _exit_code(exc: BaseException) -> int:
    from arkops.cli._click import UsageError

    if isinstance(exc, ArkopsError):
        return exc.exit_code
    if isinstance(exc, UsageError):
        return ExitCode.USAGE
    code = getattr(exc, "exit_code", None)  # typer.Exit, click's Abort-free exits
    if isinstance(code, int):
        return code
    return 130 if isinstance(exc, (KeyboardInterrupt, typer.Abort)) else ExitCode.CHECK_FAILED


def _audit(ctx: Any, exit_code: int) -> None:
    rt = ctx.obj
    command = getattr(rt, "invocation", None)
    if command is None:
        return  # the command never started (bad usage, --help): it changed nothing
    from arkops.core.registry import audited

    name = " ".join(command.command_path.split()[1:])
    if name not in audited() or not rt.data_dir.is_dir():
        return
    from arkops.core.privacy.audit import record

    try:
        record(rt, name, dict(command.params), int(exit_code), now=rt.now())
    except ArkopsError as exc:  # the command's own outcome stands; the operator is told the line is missing
        print(f"arkops: warning: audit line not written: {exc}", file=sys.stderr)


COMPLETE_VAR = "_ARKOPS_COMPLETE"

app = typer.Typer(
    cls=LazyGroup,
    name="arkops",
    help="arkops: trials, leads, funnel, promo codes and payments for a small SaaS, from one command line.",
    **SETTINGS,
)


def _version(value: bool) -> None:
    if value:
        print(f"arkops {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    *,
    data_dir: Annotated[
        Path, typer.Option(envvar="ARKOPS_DATA_DIR", help="Data directory (all state lives here).")
    ] = Path("data"),
    config: Annotated[Path, typer.Option(envvar="ARKOPS_CONFIG", help="Configuration file.")] = Path("arkops.toml"),
    env_file: Annotated[Path, typer.Option(help="Secrets file, loaded without overriding the environment.")] = Path(
        ".env"
    ),
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Render emails to data/outbox/*.eml; send nothing, write nothing to Stripe."),
    ] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only data and errors.")] = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="More detail; tracebacks on errors.")] = False,
    version: Annotated[
        bool | None, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = None,
) -> None:
    """arkops: trials, leads, funnel, promo codes and payments for a small SaaS, from one command line."""
    from arkops.cli._click import given_on_command_line

    load_env(env_file, required=given_on_command_line(ctx, _param(ctx, "env_file")))
    # The configuration and the data directory are checked when the command starts (`_output.runtime`),
    # once the global options given after the command's name are known too.
    ctx.obj = Runtime(
        data_dir=data_dir, config_path=config, env_file=env_file, dry_run=dry_run, quiet=quiet, verbose=verbose
    )


def _param(ctx: typer.Context, name: str) -> Any:
    return next(param for param in ctx.command.params if param.name == name)


def usage_message(exc: Exception) -> str:
    """A usage error on one line, worded the same whichever option or layer noticed it."""
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    message = " ".join(message.replace("Value error, ", "").split())  # Typer's pydantic coercion prefixes this
    message = _with_closest_choice(message)
    ctx = getattr(exc, "ctx", None)
    return f"{message} (see '{ctx.command_path} --help')" if ctx is not None else message


def _with_closest_choice(message: str) -> str:
    """Typer's refusal of a fixed choice (`'actv' is not one of 'signed_up', 'active', ...`) with the closest
    values, as our own refusals (`_output.not_one_of`) give them, whichever Typer worded it."""
    import re

    refused = re.search(r"'([^']*)' is not one of ((?:'[^']*'(?:, )?)+)\.", message)
    if refused is None or "Did you mean" in message:
        return message
    from arkops.cli._output import closest

    hint = closest(refused[1], re.findall(r"'([^']*)'", refused[2]))
    return message[: refused.end()] + hint + message[refused.end() :] if hint else message


PYTHON_GC = gc.get_threshold()  # the interpreter's collection thresholds, before `main` raises them
SHORT_RUN_GC = (200_000, 30, 30)


def main(argv: list[str] | None = None) -> None:
    """Run the command; turn every outcome into one of the documented exit codes."""
    from typer import Abort

    from arkops.cli._click import ClickException, UsageError, install_fast_coercion

    # The cyclic collector's default (a collection every 700 new objects) ran 280 times in one `status` of a
    # three-year installation, 0.08-0.10 s of its 0.6 s, walking the parsed ledger and trials that hold no
    # cycle; a run makes few cycles and is short, so it collects every 200,000, as mypy does (`serve`, which
    # runs for days, puts the default back).
    gc.set_threshold(*SHORT_RUN_GC)
    install_fast_coercion()
    if os.environ.get(COMPLETE_VAR):  # the shell asks for completions (`arkops completion SHELL`)
        from typer.completion import completion_init

        completion_init()
    args = sys.argv[1:] if argv is None else argv
    verbose = "-v" in args or "--verbose" in args
    try:
        with stop_on_signals():
            result = app(args=args, prog_name="arkops", complete_var=COMPLETE_VAR, standalone_mode=False)
    except UsageError as exc:
        print(f"arkops: error: {usage_message(exc)}", file=sys.stderr)
        sys.exit(ExitCode.USAGE)
    except Abort:
        print("arkops: aborted", file=sys.stderr)
        sys.exit(130)
    except Interrupted as exc:
        print(f"arkops: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except ArkopsError as exc:
        if verbose:
            import traceback

            print(redact(traceback.format_exc()), file=sys.stderr)
        print(f"arkops: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(ExitCode.OK)
    except Exception as exc:  # an arkops bug: say so in one line, details under --verbose
        if verbose:
            import traceback

            print(redact(traceback.format_exc()), file=sys.stderr)
        print(
            f"arkops: internal error: {redact(f'{type(exc).__name__}: {exc}')} (run with --verbose for details)",
            file=sys.stderr,
        )
        sys.exit(ExitCode.CHECK_FAILED)
    sys.exit(result if isinstance(result, int) else ExitCode.OK)
