"""The docs follow the code.

Every command has help with an example and is explained in a guide; every config key is in docs/config.md;
the generated parts of README.md and docs/ are what the code generates today (CI also runs `cog --check` on
every file that has cog blocks); every relative link leads to a file and heading that exist; every command
line the docs show names a real command and real options; the README stays a front door.
"""

from __future__ import annotations

import glob
import re
from pathlib import Path

import pytest

from arkops.cli.reference import (
    anchor,
    command_table,
    config_reference,
    declaration_source,
    domain_facts,
    domain_index,
    example,
    global_options,
    jobs_table,
    leaf_commands,
    messages_table,
    walk,
)
from arkops.config import config_template, load_config, parse_config, schema
from arkops.core.registry import domains, jobs
from arkops.errors import ExitCode

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted([ROOT / "README.md", ROOT / "bench" / "README.md", *DOCS.glob("*.md")])
GUIDES = {domain.name: DOCS / f"{domain.name}.md" for domain in domains()}


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def without_code_blocks(text: str) -> str:
    return re.sub(r"^[ \t]*```.*?^[ \t]*```[^\n]*$", "", text, flags=re.S | re.M)


def page_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


README = read(ROOT / "README.md")
CLI_DOC = read(DOCS / "cli.md")


def test_there_are_commands():
    names = {path for path, _, _ in walk()}
    assert {"doctor", "run", "demo", "cron print", "mail flush", "trials nudge", "payments report"} <= names


def test_every_command_has_help_with_one_runnable_example():
    for path, command, _ in leaf_commands():
        assert command.help and command.help.strip(), path
        examples = [line for line in command.help.splitlines() if line.strip().startswith("Example: ")]
        assert len(examples) == 1, f"{path}: {len(examples)} examples"
        assert example(command).startswith(f"arkops {path}"), f"{path}: example runs another command"


def test_the_command_reference_has_every_command_and_its_example():
    for path, command, _ in leaf_commands():
        assert f"## arkops {path}\n" in CLI_DOC, path
        assert f"Example: {example(command)}" in CLI_DOC, path


def test_every_command_is_explained_in_a_guide():
    guides = " ".join(" ".join(read(page).split()) for page in GUIDES.values() if page.exists())
    for path, _, _ in leaf_commands():
        assert re.search(rf"`arkops {re.escape(path)}[ `]", guides), f"no guide in docs/ explains `arkops {path}`"


def test_every_example_in_the_docs_is_a_help_example():
    helps = {example(command) for _, command, _ in leaf_commands()}
    for page in PAGES:
        for found in re.findall(r"Example: `([^`]*)`", read(page)):
            assert found in helps, f"{page_id(page)}: example not in any --help: {found}"


def _options(command, ctx) -> set[str]:
    return {opt for param in command.get_params(ctx) for opt in [*param.opts, *param.secondary_opts]}


def test_every_command_line_in_the_docs_names_a_real_command_and_real_options():
    """A renamed command or option leaves no sentence behind: `arkops payments report --months 6` must parse."""
    root_ctx = next(ctx for _, _, ctx in walk()).parent
    root_options = _options(root_ctx.command, root_ctx) | {"--help", "-h"}
    takes_value = {"--data-dir", "--config", "--env-file"}
    commands = {path: _options(command, ctx) for path, command, ctx in walk()}
    for page in PAGES:
        if page.name == "cli.md" and page.parent == DOCS:
            continue  # generated from the commands themselves
        text = " ".join(without_code_blocks(read(page)).split())
        for span in re.findall(r"`(arkops [^`]*)`", text):
            for line in re.split(r"&&|\|(?![a-z])|;", span):
                words = [word.strip("[]") for word in line.split()]
                if not words or words[0] != "arkops":
                    continue
                index = 1
                while index < len(words) and words[index].startswith("-"):
                    index += 2 if words[index] in takes_value else 1
                rest = words[index:]
                path = next(
                    (" ".join(rest[:n]) for n in range(len(rest), 0, -1) if " ".join(rest[:n]) in commands), None
                )
                if path is None:
                    assert not rest or rest[0].isupper(), f"{page_id(page)}: `{span}` names no command"
                known = root_options | (commands[path] if path else set())
                for option in re.findall(r"(?<![\w-])--?[a-zA-Z][\w-]*", line):
                    assert option in known, f"{page_id(page)}: `{span}`: {option} is not an option of arkops {path}"


def test_generated_parts_are_current():
    # docs/cli.md quotes Typer's own help layout, which differs between Typer versions: `cog --check` in
    # .ci/run checks it on the latest versions; these parts are ours alone, so every CI pass checks them.
    expected = {
        ROOT / "README.md": [command_table()],
        DOCS / "README.md": [domain_index()],
        DOCS / "cli.md": [global_options()],
        DOCS / "config.md": [config_reference()],
        DOCS / "jobs.md": [jobs_table()],
        DOCS / "messaging.md": [messages_table()],
        DOCS / "architecture.md": [declaration_source("funnel")],
        **{page: [domain_facts(name)] for name, page in GUIDES.items()},
    }
    regenerate = _cog_command(read(ROOT / ".ci" / "run")).replace("--check", "-r")
    for page, parts in expected.items():
        for part in parts:
            assert part in read(page), f"{page_id(page)} is out of date: regenerate with `{regenerate}`"


def test_every_domain_has_a_guide_that_the_readme_links():
    for name, page in GUIDES.items():
        assert page.exists(), f"{name} has no guide: write docs/{name}.md (see docs/architecture.md)"
        assert f"](docs/{name}.md)" in README, f"the README does not link docs/{name}.md"


def test_every_config_key_is_in_the_reference_and_the_init_file():
    reference, template = read(DOCS / "config.md"), config_template()
    for key in schema():
        assert f"`{key}`" in reference or f"`[{key}" in reference, key
        assert re.search(rf"^(# )?\[?{key}\b", template, re.M), key


def test_the_init_file_parses_to_exactly_the_defaults():
    from_template = parse_config(config_template(), Path("arkops.toml")).data
    assert from_template == load_config(Path("/nonexistent/arkops.toml")).data


def test_the_readme_is_a_front_door():
    assert len(README.splitlines()) < 300


def test_the_readme_gives_every_exit_code():
    table = {int(row.split("|")[1]) for row in README.splitlines() if re.match(r"\| \d+ \|", row)}
    assert {int(code) for code in ExitCode} | {130} == table


def _headings(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for line in without_code_blocks(read(path)).splitlines():
        if match := re.match(r"#{1,6} (.+)", line):
            slug = anchor(match.group(1))
            anchors.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
            seen[slug] = seen.get(slug, 0) + 1
    return anchors


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_relative_link_leads_to_a_file_and_heading(page):
    for target in re.findall(r"\]\(([^)\s]+)\)", without_code_blocks(read(page))):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        file, _, fragment = target.partition("#")
        resolved = (page.parent / file).resolve() if file else page
        assert resolved.exists(), f"{page_id(page)}: {target} does not exist"
        if fragment:
            assert fragment in _headings(resolved), f"{page_id(page)}: {target}: no such heading"


MISSING = re.compile(
    r"arrives? (as|later|with)|(a|the) later domain|(future|later|new|coming) domains?\b|coming soon"
    r"|not (yet )?(implemented|built|available)|when it declares one|will (arrive|come|be added)|\bTODO\b",
    re.I,
)


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_no_page_describes_a_domain_as_missing(page):
    text = " ".join(read(page).split())
    assert not MISSING.search(text), f"{page_id(page)}: {MISSING.search(text)}"


def _cog_command(text: str) -> str:
    (line,) = re.findall(r"^\s*(cog --check [^#\n]*?)\s*(?:#.*)?$", text, re.M)
    return line


def test_ci_checks_every_file_with_cog_blocks_and_the_docs_say_the_same():
    command = _cog_command(read(ROOT / ".ci" / "run"))
    assert _cog_command(read(DOCS / "architecture.md")) == command
    checked = {Path(found).resolve() for pattern in command.split()[2:] for found in glob.glob(str(ROOT / pattern))}
    with_blocks = {page for page in PAGES if "[[[cog" in read(page)}
    assert with_blocks <= checked, sorted(page_id(page) for page in with_blocks - checked)


def test_every_benchmark_is_in_the_bench_readme():
    bench = read(ROOT / "bench" / "README.md")
    for script in (ROOT / "bench").glob("*.py"):
        assert f"]({script.name})" in bench and f"python bench/{script.name}" in bench, script.name


def test_the_crontab_example_names_every_job():
    example_lines = read(ROOT / "crontab.example")
    for job in jobs():
        assert f"run --only {job.name} " in example_lines, job.name


def test_ci_runs_the_readmes_test_command():
    section = README.split("## Run the tests", 1)[1]
    (command,) = re.findall(r"```sh\n(.*?)\n```", section, re.S)[:1]
    install, test = (part.strip() for part in command.split("&&"))
    ci = read(ROOT / ".ci" / "run").splitlines()
    assert install.startswith("pip install -e '.[test") and test in ci, command
