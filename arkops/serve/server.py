"""Run the application on waitress until SIGTERM or SIGINT, then stop gracefully.

Waitress reads each whole request (headers and body) in its event loop
before a worker thread sees it: a client that drips its headers, or stalls
mid-body, holds a socket, not a worker, so the real requests beside it are
answered at once (`[serve] threads` workers; `channel_timeout` closes an
idle connection). Bodies over twice `[serve] max_body_bytes` are refused by
waitress itself before they are read, and a request it cannot parse gets a
400 from it: both answered by the application's `refused_by_server`, JSON
as every error; the application answers a JSON 413 for anything over the
limit it is handed.

The stop: the first SIGTERM or SIGINT closes the listening socket's door
(no new connection is accepted) and lets the requests in flight finish and
their answers leave, for up to `GRACE` seconds; then the process exits 143
(130 for SIGINT) as every command does. A second signal stops at once.
"""

from __future__ import annotations

import errno
import logging
import signal
import time
from collections.abc import Callable
from typing import Any

from arkops.errors import Interrupted, UsageError
from arkops.runtime import Runtime
from arkops.serve.wsgi import App

GRACE = 10.0  # seconds the requests in flight get to finish after SIGTERM
CHANNEL_TIMEOUT = 30  # seconds of silence before waitress closes a connection
CONNECTION_LIMIT = 1000  # open connections (slow clients included) before waitress stops accepting for a moment


def _in_flight(server: Any) -> int:
    """Connections with a request being read into a task, run, or answered."""
    busy = 0
    for channel in list(server._map.values()):
        if channel is server or not hasattr(channel, "requests"):
            continue  # the listening socket, the trigger
        if channel.requests or channel.total_outbufs_len:
            busy += 1
    return busy


def _proxy_settings(proxy: str) -> dict[str, Any]:
    """Behind the reverse proxy `[serve] trusted_proxy`, the client is the one its X-Forwarded-For names (the
    rate limit and the access log count clients, not the proxy); from anyone else the header is dropped."""
    if not proxy:
        return {}
    return {"trusted_proxy": proxy, "trusted_proxy_headers": {"x-forwarded-for"}, "trusted_proxy_count": 1}


def _json_refusals(app: App) -> type:
    """waitress's connection class, its own refusals (before the app runs) answered by the app as JSON errors."""
    from waitress.channel import HTTPChannel
    from waitress.task import ErrorTask

    class JsonRefusal(ErrorTask):
        def execute(self) -> None:
            parsed, error = self.request, self.request.error
            # a request refused at its first line has no method, path or version yet
            environ = {
                "REQUEST_METHOD": getattr(parsed, "command", None) or "-",
                "PATH_INFO": getattr(parsed, "path", None) or "-",
                "QUERY_STRING": getattr(parsed, "query", None) or "",
                "REMOTE_ADDR": self.channel.addr[0] if self.channel.addr else "-",
                "SERVER_PROTOCOL": f"HTTP/{getattr(parsed, 'version', None) or '1.0'}",
            }
            if "X_REQUEST_ID" in parsed.headers:
                environ["HTTP_X_REQUEST_ID"] = parsed.headers["X_REQUEST_ID"]
            status, headers, body = app.refused_by_server(environ, error.code, error.body)
            self.status = status
            self.response_headers.extend(headers)
            self.set_close_on_finish()
            self.content_length = len(body)
            self.write(body)

    class JsonRefusingChannel(HTTPChannel):
        error_task_class = JsonRefusal

    return JsonRefusingChannel


def serve(
    rt: Runtime,
    *,
    host: str,
    port: int,
    threads: int,
    token: str,
    log: Callable[[str], None],
    ready: Callable[[str], None],
) -> None:
    """Serve until stopped; raises `Interrupted` (exit 143 or 130) once the requests in flight are done."""
    from waitress import create_server
    from waitress.wasyncore import loop

    from arkops.serve.routes import build

    # "Task queue depth is N" on every request past the threads: a busy moment, not news for the log
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    app = App(rt, build, token=token, log=log)
    max_body = rt.config["serve"]["max_body_bytes"]
    try:
        server: Any = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            channel_timeout=CHANNEL_TIMEOUT,
            connection_limit=CONNECTION_LIMIT,
            max_request_body_size=2 * max_body,
            max_request_header_size=64 * 1024,
            expose_tracebacks=False,
            ident="arkops",
            clear_untrusted_proxy_headers=True,
            **_proxy_settings(rt.config["serve"]["trusted_proxy"]),
        )
        server.channel_class = _json_refusals(app)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(f"{host}:{port} is already in use; choose another --port") from None
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    stop: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        if stop:
            raise Interrupted(signum)  # a second signal: at once
        stop.append(signum)
        server.pull_trigger()  # wake the loop to notice

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        ready(f"http://{server.effective_host}:{server.effective_port}")
        while not stop:
            loop(timeout=1.0, map=server._map, use_poll=True, count=1)
        log(f"stopping on {signal.Signals(stop[0]).name}: finishing {_in_flight(server)} request(s) in flight")
        server.accepting = False
        server.del_channel()  # the listening socket leaves the loop: no new connection is taken
        server.socket.close()
        deadline = time.monotonic() + GRACE
        while _in_flight(server) and time.monotonic() < deadline:
            loop(timeout=0.05, map=server._map, use_poll=True, count=1)
        left = _in_flight(server)
        if left:
            log(f"{left} request(s) still running after {GRACE:g} s: stopped")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
        from waitress.wasyncore import close_all

        close_all(server._map)
    raise Interrupted(stop[0])
