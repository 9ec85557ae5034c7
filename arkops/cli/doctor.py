"""`arkops doctor`."""

from __future__ import annotations

from typing import Annotated

import typer

from arkops.cli._output import FORMAT_HELP, Format, emit_rows, runtime
from arkops.errors import ExitCode


def doctor(
    ctx: typer.Context,
    *,
    smtp: Annotated[
        bool, typer.Option("--smtp", help="Also connect to the SMTP server (EHLO, STARTTLS, login); sends nothing.")
    ] = False,
    stripe: Annotated[
        bool, typer.Option("--stripe", help="Also call the Stripe API (honours STRIPE_API_BASE).")
    ] = False,
    crm: Annotated[
        bool, typer.Option("--crm", help="Also call the CRM: token scopes and custom fields (honours *_API_BASE).")
    ] = False,
    format: Annotated[Format, typer.Option("--format", help=FORMAT_HELP)] = Format.table,
) -> None:
    """Check config, secrets, data files, templates and services; exit 1 if a check fails.

    Each domain adds its checks. Warnings do not fail; `--smtp`, `--stripe`
    and `--crm` also reach the servers (run them once the secrets are in .env).

    Example: arkops doctor --format json
    """
    from arkops.core.doctor import FAIL, run_checks

    online = frozenset(name for name, wanted in (("smtp", smtp), ("stripe", stripe), ("crm", crm)) if wanted)
    checks = run_checks(runtime(ctx), online=online)
    emit_rows([c.as_dict() for c in checks], format, ["check", "status", "detail"])
    raise typer.Exit(ExitCode.CHECK_FAILED if any(c.status == FAIL for c in checks) else ExitCode.OK)
