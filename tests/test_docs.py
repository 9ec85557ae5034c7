"""The docs follow the code: every command has help with an example, and the generated parts of
the README and docs/cli.md are what the code generates today (CI also runs `cog --check`)."""

from __future__ import annotations

import re
from pathlib import Path

from arkops.cli.reference import (
    example,
    leaf_commands,
    readme_config,
    readme_global_options,
    readme_jobs,
    walk,
)
from arkops.config import config_template, load_config, parse_config, schema

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CLI_DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")


def test_there_are_commands():
    names = {path for path, _, _ in walk()}
    assert {"doctor", "run", "demo", "cron print", "mail flush", "trials nudge", "payments report"} <= names


def test_every_command_has_help_with_one_runnable_example():
    for path, command, _ in leaf_commands():
        assert command.help and command.help.strip(), path
        examples = [line for line in command.help.splitlines() if line.strip().startswith("Example: ")]
        assert len(examples) == 1, f"{path}: {len(examples)} examples"
        assert example(command).startswith(f"arkops {path}"), f"{path}: example runs another command"


def test_every_command_and_its_example_is_in_the_readme():
    for path, command, _ in leaf_commands():
        assert f"`arkops {path}" in README, path
        assert f"Example: `{example(command)}`" in README, path


def test_every_example_in_the_readme_is_a_help_example():
    helps = {example(command) for _, command, _ in leaf_commands()}
    for found in re.findall(r"Example: `([^`]*)`", README):
        assert found in helps, f"README example not in any --help: {found}"


def test_generated_sections_are_current():
    # The command list and docs/cli.md quote Typer's own help layout, which differs between Typer
    # versions: `cog --check` in .ci/run checks them on the latest versions; these parts are ours alone.
    for generated in (readme_global_options(), readme_jobs(), readme_config()):
        assert generated in README


def test_the_command_reference_has_every_command():
    for path, command, _ in leaf_commands():
        assert f"## arkops {path}\n" in CLI_DOC, path
        assert f"Example: {example(command)}" in CLI_DOC, path


def test_every_config_key_is_in_the_readme_and_the_init_file():
    template = config_template()
    for key in schema():
        assert f"`{key}`" in README or f"`[{key}" in README, key
        assert re.search(rf"^(# )?\[?{key}\b", template, re.M), key


def test_the_init_file_parses_to_exactly_the_defaults():
    from_template = parse_config(config_template(), Path("arkops.toml")).data
    assert from_template == load_config(Path("/nonexistent/arkops.toml")).data
