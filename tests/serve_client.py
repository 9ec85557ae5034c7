"""A real `arkops serve` process for the tests, and a small HTTP client for it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conftest import free_port

TOKEN = "serve-token-" + "0123456789abcdefghijklmnopqrstuv"
WEBHOOK_SECRET = "whsec_" + "serving0123456789abcdefghij"


@dataclass
class Answer:
    status: int
    headers: Any  # an HTTPMessage: names compared without case
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)


class Server:
    def __init__(
        self, workspace: Path, *args: str, env: dict[str, str] | None = None, global_args: tuple[str, ...] = ()
    ) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "ARKOPS_SERVE_TOKEN": TOKEN,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            **(env or {}),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "arkops", *global_args, "serve", "--port", str(self.port), *args],
            cwd=workspace,
            env=self.env,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()
        assert line.startswith(f"listening on http://127.0.0.1:{self.port}"), line + self.proc.stderr.read()
        self.url = f"http://127.0.0.1:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = TOKEN,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        timeout: float = 15,
    ) -> Answer:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return Answer(response.status, response.headers, response.read())
        except urllib.error.HTTPError as exc:
            return Answer(exc.code, exc.headers, exc.read())

    def stop(self) -> str:
        """SIGTERM; the rest of its stderr."""
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err
