"""The arkops command line: a thin Typer layer over arkops.core.

`main()` is the one place where domain errors become exit codes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from arkops import __version__
from arkops.errors import ArkopsError, ExitCode, redact
from arkops.runtime import Runtime

app = typer.Typer(
    name="arkops",
    help="arkops: trials, leads, funnel, promo codes and payments for a small SaaS, from one command line.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


# init and demo write their own config; doctor reports a bad one as a failed check instead of stopping.
CONFIG_OPTIONAL = {"init", "doctor", "demo"}


def _version(value: bool) -> None:
    if value:
        print(f"arkops {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    *,
    data_dir: Annotated[Path, typer.Option(envvar="ARKOPS_DATA_DIR", help="Data directory (all state lives here).")] = Path("data"),
    config: Annotated[Path, typer.Option(envvar="ARKOPS_CONFIG", help="Configuration file.")] = Path("arkops.toml"),
    env_file: Annotated[Path, typer.Option(help="Secrets file, loaded without overriding the environment.")] = Path(".env"),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Render emails to data/outbox/*.eml; send nothing, write nothing to Stripe.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only data and errors.")] = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="More detail; tracebacks on errors.")] = False,
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = None,
) -> None:
    """arkops: trials, leads, funnel, promo codes and payments for a small SaaS, from one command line."""
    from arkops.config import load_env_file

    load_env_file(env_file)
    ctx.obj = Runtime(data_dir=data_dir, config_path=config, env_file=env_file, dry_run=dry_run, quiet=quiet, verbose=verbose)
    if ctx.invoked_subcommand not in CONFIG_OPTIONAL:
        ctx.obj.config  # a bad arkops.toml stops every command up front (exit 3), never half-way


def _register() -> None:
    from arkops.cli import billing, demo, doctor, jobs, mail, payments, setup, stripe_cmd, trials, webhooks

    setup.register(app)
    doctor.register(app)
    jobs.register(app)
    demo.register(app)
    app.add_typer(mail.app, name="mail")
    app.add_typer(stripe_cmd.app, name="stripe")
    app.add_typer(webhooks.app, name="webhooks")
    app.add_typer(payments.app, name="payments")
    app.add_typer(billing.app, name="billing")
    app.add_typer(trials.app, name="trials")


_register()


def main(argv: list[str] | None = None) -> None:
    """Run the command; turn every outcome into one of the documented exit codes."""
    from typer import Abort
    from typer._click import exceptions as click_exceptions

    args = sys.argv[1:] if argv is None else argv
    verbose = "-v" in args or "--verbose" in args
    try:
        result = app(args=args, prog_name="arkops", standalone_mode=False)
    except click_exceptions.UsageError as exc:
        exc.show()
        sys.exit(ExitCode.USAGE)
    except Abort:
        print("arkops: aborted", file=sys.stderr)
        sys.exit(130)
    except ArkopsError as exc:
        if verbose:
            import traceback

            print(redact(traceback.format_exc()), file=sys.stderr)
        print(f"arkops: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except click_exceptions.ClickException as exc:
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
        print(f"arkops: internal error: {redact(f'{type(exc).__name__}: {exc}')} (run with --verbose for details)", file=sys.stderr)
        sys.exit(ExitCode.CHECK_FAILED)
    sys.exit(result if isinstance(result, int) else ExitCode.OK)
