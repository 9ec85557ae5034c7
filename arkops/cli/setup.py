"""`arkops init` and `arkops completion`."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from arkops.cli._output import runtime, say


def init(
    ctx: typer.Context,
    *,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
    product_name: Annotated[
        str | None,
        typer.Option(help="Your product's name, as customers read it in every email (asked when run in a terminal)."),
    ] = None,
    product_url: Annotated[str, typer.Option(help="Your product's web address, linked in emails.")] = "",
    support_email: Annotated[str, typer.Option(help="Where customers' replies go (Reply-To).")] = "",
    postal_address: Annotated[str, typer.Option(help="Your postal address, in customer emails' footer.")] = "",
) -> None:
    """Create arkops.toml, .env.example and the data directory.

    arkops.toml lists every key with its default and meaning; `[product]`
    holds the name customers read in every email. Next: copy .env.example
    to .env, fill it, then run `arkops doctor`.

    Example: arkops init --product-name "Acme Watch" --support-email help@acme.example
    """
    from arkops.core.workspace.init import init_workspace

    rt = runtime(ctx)
    if product_name is None and sys.stdin.isatty() and (force or not rt.config_path.exists()):
        product_name = typer.prompt("Your product's name (customers read it in every email)", default="").strip()
    product = {
        "name": product_name or "",
        "url": product_url,
        "support_email": support_email,
        "postal_address": postal_address,
    }
    result = init_workspace(
        rt.config_path, rt.config_path.parent / ".env.example", rt.data_dir, force=force, product=product
    )
    for path in result.written:
        say(rt, f"wrote {path}")
    for path in result.kept:
        say(rt, f"kept {path} (exists; --force to overwrite)")
    say(rt, f"data directory {rt.data_dir} (mode 0700)")
    if not product["name"] and rt.config_path in result.written:
        say(rt, f"set [product] name in {rt.config_path}: customers read it in every email (doctor checks it)")


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
