"""`arkops init` and `arkops completion`."""

from __future__ import annotations

from enum import StrEnum
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


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def completion(
    shell: Annotated[Shell, typer.Argument(metavar="SHELL", help="bash, zsh or fish.")],
) -> None:
    """Print the shell completion script: commands, options, plan ids, job names and template names.

    bash: add `eval "$(arkops completion bash)"` to ~/.bashrc; zsh: the same
    line with zsh in ~/.zshrc; fish: `arkops completion fish | source` in
    ~/.config/fish/config.fish. It needs no workspace.

    Example: arkops completion bash
    """
    from typer.completion import get_completion_script

    from arkops.cli import COMPLETE_VAR

    print(get_completion_script(prog_name="arkops", complete_var=COMPLETE_VAR, shell=shell.value))
