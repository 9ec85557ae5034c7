"""`arkops serve`."""

from __future__ import annotations

import gc
import sys
from typing import Annotated

import typer

from arkops.cli._output import runtime, say


def serve(
    ctx: typer.Context,
    *,
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: [serve] host).")] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: [serve] port).", min=1, max=65535)
    ] = None,
    threads: Annotated[
        int | None, typer.Option(help="Requests handled at once (default: [serve] threads).", min=1, max=256)
    ] = None,
) -> None:
    """Serve the HTTP API: Stripe webhooks, the web app's events, promo codes, billing links, /healthz.

    Runs until SIGTERM or Ctrl-C, then lets the requests in flight finish (up
    to 10 s). Routes that change data need `Authorization: Bearer
    $ARKOPS_SERVE_TOKEN`; docs/api.md lists every route. One access log line
    per request on stderr. A port in use is exit 2.

    Example: arkops serve --port 8787
    """
    from arkops.cli import PYTHON_GC
    from arkops.config import env
    from arkops.serve.server import serve as run

    gc.set_threshold(*PYTHON_GC)  # a server runs for days: its requests' cycles are collected as Python does
    rt = runtime(ctx)
    rt.store.ensure()  # no data directory: exit 3 now, not a 503 on every request
    settings = rt.config["serve"]
    token = env("ARKOPS_SERVE_TOKEN")
    if not token:
        say(rt, "warning: ARKOPS_SERVE_TOKEN is not set: every route that needs the token answers 401")
    run(
        rt,
        host=host or settings["host"],
        port=port or settings["port"],
        threads=threads or settings["threads"],
        token=token,
        log=lambda line: print(line, file=sys.stderr, flush=True),  # the access log is the server's output: -q keeps it
        ready=lambda url: say(rt, f"listening on {url}"),
    )
