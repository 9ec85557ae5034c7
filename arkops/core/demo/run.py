"""`arkops demo`: build the workspace, feed every domain's demo part, run every job in dry-run mode, summarise."""

from __future__ import annotations

import hashlib
import random
import shutil
from pathlib import Path

from arkops.clock import iso
from arkops.core.demo import DEMO_CONFIG, DEMO_ENV, DEMO_NOW, MARKER, SEED, World, make_people
from arkops.errors import DataError
from arkops.runtime import Runtime
from arkops.store import Store, atomic_write_bytes, ensure_dir

CREATED = (MARKER, "arkops.toml", ".env", "data", "logs", "app", "report.html")


def _remove_demo(folder: Path) -> None:
    for name in CREATED:
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def create_workspace(folder: Path, *, force: bool) -> None:
    if folder.exists() and not folder.is_dir():
        raise DataError(f"{folder} is a file; choose a folder for the demo")
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).exists():
            raise DataError(f"{folder} exists and is not an arkops demo; choose another folder")
        if not force:
            raise DataError(f"{folder} already holds a demo; pass --force to rebuild it")
        _remove_demo(folder)
    ensure_dir(folder)
    folder.chmod(0o755)
    stamp = iso(DEMO_NOW)
    for name, content in (
        (MARKER, f"arkops demo, frozen at {stamp}\n"),
        ("arkops.toml", DEMO_CONFIG.format(now=stamp)),
        (".env", DEMO_ENV.format(now=stamp)),
    ):
        atomic_write_bytes(folder / name, content.encode("utf-8"))
    Store(folder / "data").initialise()
    # as `arkops init` makes it: `arkops cron print` in the demo gives a line whose log folder exists
    ensure_dir(folder / "logs").chmod(0o700)
    # A fixed installation key: visitor ids (keyed hashes) come out the same on every run. The demo's
    # people are made up, so a key anyone can recompute protects nothing here; a real one is random.
    demo_key = hashlib.sha256(f"arkops demo {SEED}".encode()).hexdigest()
    atomic_write_bytes(folder / "data" / "privacy.key", (demo_key + "\n").encode())


def run_demo(folder: Path, *, force: bool = False) -> dict:
    """Build the workspace, feed every part, run every job in dry-run mode, and summarise."""
    from arkops.config import load_env_file
    from arkops.core.billing.report import build_report
    from arkops.core.domain import resolve
    from arkops.core.jobs.runner import run_due
    from arkops.core.registry import demo_parts
    from arkops.core.trials.queries import list_trials
    from arkops.mail.outbox import list_messages

    folder = folder.resolve()
    create_workspace(folder, force=force)
    load_env_file(folder / ".env")
    rt = Runtime(data_dir=folder / "data", config_path=folder / "arkops.toml", env_file=folder / ".env", dry_run=True)
    rng = random.Random(SEED)
    world = World(DEMO_NOW, rng, folder, rt, make_people(rng, DEMO_NOW))
    for _, part in demo_parts():
        if not part.after_jobs:
            resolve(part.build)(world)
    jobs = run_due(rt, now=DEMO_NOW, force=True)
    for _, part in demo_parts():
        if part.after_jobs:
            resolve(part.build)(world)
    report = build_report(rt, now=DEMO_NOW, months=1)
    month = report["months"][-1]
    states: dict[str, int] = {}
    for trial in list_trials(rt, state=None, now=DEMO_NOW):
        states[trial["state"]] = states.get(trial["state"], 0) + 1
    messages = list_messages(rt.store)
    return {
        "workspace": str(folder),
        "as_of": report["as_of"],
        "currency": report["currency"],
        "mrr": report["mrr"],
        "month": {
            k: month[k] for k in ("month", "new", "expansion", "contraction", "churn", "reactivation", "revenue")
        },
        "paying_customers": report["paying_customers"],
        "trials": dict(sorted(states.items())),
        "emails_rendered": sum(1 for m in messages if m["channel"] == "email"),
        "jobs": [{"job": r.name, "status": r.status, "detail": r.detail} for r in jobs.results],
        "inputs": world.lines,
        "files": world.files,
        **world.figures,
    }
