"""The serve domain's `doctor` check: the bearer token, and the port (free, or our own server answering)."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

from arkops.config import env
from arkops.core.doctor import FAIL, OK, WARN, Check
from arkops.core.serve.health import SERVICE
from arkops.runtime import Runtime

MIN_TOKEN = 32  # characters: a guessable token opens every write route


def serve(rt: Runtime) -> list[Check]:
    settings = rt.config["serve"]
    token = env("ARKOPS_SERVE_TOKEN")
    if not token:
        token_check = Check("serve token", WARN, "ARKOPS_SERVE_TOKEN not set: `arkops serve` refuses every token route")
    elif len(token) < MIN_TOKEN:
        token_check = Check(
            "serve token",
            FAIL,
            f"ARKOPS_SERVE_TOKEN has {len(token)} characters; use at least {MIN_TOKEN} "
            "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))')",
        )
    else:
        token_check = Check("serve token", OK, f"set ({len(token)} characters)")
    return [token_check, _port(settings["host"], settings["port"])]


def _port(host: str, port: int) -> Check:
    where = f"{host}:{port}"
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            pass
        else:
            return Check("serve port", OK, f"{where} is free for `arkops serve`")
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=3) as answer:
            body = answer.read(65536)
    except urllib.error.HTTPError as exc:  # 503: ours, unhealthy, with its reasons
        body = exc.read(65536)
    except (OSError, ValueError) as exc:
        return Check("serve port", FAIL, f"{where} is taken by another program ({exc})")
    try:
        health = json.loads(body)
    except ValueError:
        health = None
    if not isinstance(health, dict) or health.get("service") != SERVICE:
        return Check("serve port", FAIL, f"{where} is taken by another program (its /healthz is not arkops')")
    if health.get("status") != "ok":
        reasons = "; ".join(str(r) for r in health.get("reasons") or [])
        return Check("serve port", WARN, f"`arkops serve` answers on {where}, unhealthy: {reasons}")
    return Check("serve port", OK, f"`arkops serve` answers on {where}")
