"""`arkops demo`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from arkops.cli._output import FORMAT_HELP, Format, emit_json, runtime


def _print_status(workspace: Path, as_of: str) -> None:
    """`arkops status` of the demo workspace, as `cd DIR && arkops status` shows it."""
    from arkops.cli.status import render_sections
    from arkops.clock import local_time, parse_iso
    from arkops.core.operator.status import build_status
    from arkops.runtime import Runtime

    demo = Runtime(data_dir=workspace / "data", config_path=workspace / "arkops.toml", env_file=workspace / ".env")
    now = parse_iso(as_of)
    render_sections(build_status(demo, now=now), as_of=local_time(now, demo.config.tz))


def demo(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="Where to create the demo workspace.")] = Path(
        "arkops-demo"
    ),
    *,
    force: Annotated[bool, typer.Option("--force", help="Rebuild an existing demo workspace.")] = False,
    format: Annotated[Format, typer.Option("--format", help=FORMAT_HELP)] = Format.table,
) -> None:
    """Create a workspace with a synthetic business (no account, no network) and run every job in dry-run mode.

    Example: arkops demo && cd arkops-demo && arkops payments report
    """
    from arkops.core.demo.run import run_demo
    from arkops.money import format_money

    runtime(ctx)
    summary = run_demo(folder, force=force)
    if format is not Format.table:
        emit_json(summary)
        return
    cur = summary["currency"]
    month = summary["month"]

    def money(value: int) -> str:
        return format_money(value, cur)

    print(f"arkops demo: a synthetic SaaS in {summary['workspace']}, frozen at {summary['as_of']}")
    for line in summary["inputs"]:
        print(f"  {line}")
    print(f"MRR {money(summary['mrr'])} from {summary['paying_customers']} paying customers")
    print(
        f"{month['month']}: new {money(month['new'])}, expansion {money(month['expansion'])}, contraction {money(month['contraction'])}, "
        f"churn {money(month['churn'])}, reactivation {money(month['reactivation'])}, revenue {money(month['revenue'])}"
    )
    print("trials: " + ", ".join(f"{count} {state}" for state, count in summary["trials"].items()))
    print(f"emails rendered (dry run): {summary['emails_rendered']} in {summary['workspace']}/data/outbox/")
    for job in summary["jobs"]:
        print(f"  job {job['job']}: {job['status']}, {job['detail']}")
    print()
    _print_status(Path(summary["workspace"]), summary["as_of"])
    print()
    print("where to look next:")
    for name, path in summary["files"].items():
        print(f"  {name}: {Path(summary['workspace']) / path}")
    print("explore:")
    for command in (
        "payments report",
        "payments list --status refunded",
        "payments failed",
        "billing subscriptions",
        "trials list",
        "trials show trial03@example.org",
        "leads list --hot",
        "leads stats",
        "status",
        "report --html report.html --since 6mo",
        "funnel report --by source",
        "mail outbox",
        "mail preview trial_day7 --locale fr",
        "jobs",
        "doctor",
    ):
        print(f"  cd {summary['workspace']} && arkops {command}")
