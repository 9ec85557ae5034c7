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
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8787,
    workers: Annotated[
        int, typer.Option(help="Requests handled at once; more get 503 with Retry-After.", min=1, max=256)
    ] = 16,
) -> None:
    """Receive Stripe webhooks on POST /webhooks/stripe until stopped.

    For `stripe listen --forward-to localhost:8787/webhooks/stripe`, or behind
    the site's reverse proxy: 200 applied or ignored, 400 bad signature or
    malformed request, 503 with Retry-After when the ledger or every worker is
    busy (Stripe retries). A port in use is exit 2.

    Example: arkops webhooks serve --port 8787
    """
    from arkops.core.billing.service import serve_webhooks

    rt = runtime(ctx)
    serve_webhooks(
        rt,
        host=host,
        port=port,
        workers=workers,
        log=lambda line: say(rt, line),
        ready=lambda url: say(rt, f"listening on {url}"),
    )
