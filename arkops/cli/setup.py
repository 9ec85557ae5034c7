"""`arkops init`."""

from __future__ import annotations

from typing import Annotated

import typer

from arkops.cli._output import runtime, say


def init(
    ctx: typer.Context, *, force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False
) -> None:
    """Create arkops.toml, .env.example and the data directory.

    arkops.toml lists every key with its default and meaning. Next: copy
    .env.example to .env, fill it, then run `arkops doctor`.

    Example: arkops init
    """
    from arkops.core.workspace.init import init_workspace

    rt = runtime(ctx)
    result = init_workspace(rt.config_path, rt.config_path.parent / ".env.example", rt.data_dir, force=force)
    for path in result.written:
        say(rt, f"wrote {path}")
    for path in result.kept:
        say(rt, f"kept {path} (exists; --force to overwrite)")
    say(rt, f"data directory {rt.data_dir} (mode 0700)")
