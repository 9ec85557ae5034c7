"""Every command has help text with an example and is documented in the README."""

from __future__ import annotations

from pathlib import Path

from typer.main import get_command

from arkops.cli import app

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def all_commands():
    def walk(command, path):
        if hasattr(command, "list_commands"):
            for name in command.list_commands(None):
                yield from walk(command.get_command(None, name), [*path, name])
        else:
            yield " ".join(path), command

    yield from walk(get_command(app), [])


def test_there_are_commands():
    names = [name for name, _ in all_commands()]
    assert {"doctor", "run", "demo", "cron print", "mail flush", "trials nudge", "payments report"} <= set(names)


def test_every_command_has_help_with_an_example():
    for name, command in all_commands():
        assert command.help and command.help.strip(), name
        assert "Example: arkops" in command.help, name


def test_every_command_is_in_the_readme():
    for name, _ in all_commands():
        assert f"arkops {name}" in README, name


def test_every_config_table_is_in_the_readme():
    from arkops.config import SCHEMA

    for key in SCHEMA:
        assert f"`{key}`" in README or f"[{key}" in README, key
