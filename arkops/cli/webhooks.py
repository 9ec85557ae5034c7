"""`arkops webhooks ...`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from arkops.cli._output import group, runtime, say

app = group("Stripe webhooks: verify signed payloads and apply them.")


@app.command("ingest")
def webhooks_ingest(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="[FILE|-]", help="The raw payload, or - for stdin.")] = "-",
    *,
    signature: Annotated[str | None, typer.Option("--signature", help="The Stripe-Signature header.")] = None,
) -> None:
    """Verify one signed webhook payload and apply it (exit 0 applied or already seen, 3 refused).

    Example: arkops webhooks ingest event.json --signature "t=1700000000,v1=..."
    """
    from arkops.core.billing.service import ingest_webhook, read_payload
    from arkops.errors import DataError

    rt = runtime(ctx)
    if source == "-":
        payload = read_payload(sys.stdin.buffer)
    else:
        try:
            with Path(source).open("rb") as handle:
                payload = read_payload(handle)
        except OSError as exc:
            raise DataError(f"{source}: {exc.strerror}") from None
    result = ingest_webhook(rt, payload, signature, now=rt.now())
    for line in result.notes:
        say(rt, line)
    say(rt, "already seen" if result.duplicates else ("ignored (type not tracked)" if result.ignored else "applied"))


@app.command("serve")
def webhooks_serve(
    ctx: typer.Context,
    *,
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: [serve] host).")] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: [serve] port).", min=1, max=65535)
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Requests handled at once (default: [serve] threads).", min=1, max=256)
    ] = None,
) -> None:
    """Now `arkops serve` (POST /webhooks/stripe is one of its routes): says so, then runs it.

    Example: arkops webhooks serve --port 8787
    """
    from arkops.cli.serve import serve

    say(runtime(ctx), "`arkops webhooks serve` is now `arkops serve`: starting it (POST /webhooks/stripe as before)")
    serve(ctx, host=host, port=port, threads=workers)
