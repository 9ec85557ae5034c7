"""Every domain's declaration holds together, and a new domain is one package and one line."""

from __future__ import annotations

import ast
import json
import sys
import textwrap
import typing
from pathlib import Path

import pytest

from arkops.config import LOCALES, config_template
from arkops.core import registry
from arkops.core.domain import JobOutcome, resolve
from arkops.store.schema import SCHEMAS

ROOT = Path(__file__).resolve().parent.parent


def test_every_target_of_every_declaration_imports():
    for domain in registry.domains():
        targets = [*domain.commands.values(), *(c.target for c in domain.checks)]
        targets += [t for job in domain.jobs for t in (job.run, job.skip_reason) if t]
        targets += [domain.demo.build] if domain.demo else []
        for target in targets:
            assert callable(resolve(target)) or hasattr(resolve(target), "registered_commands"), target


def test_names_are_unique_across_domains():
    for name, targets in registry.commands().items():
        # a group several domains add to (`billing`) is a group in each, and no subcommand is declared twice
        if len(targets) > 1:
            apps = [resolve(target) for target in targets]
            assert all(app.registered_commands for app in apps), f"{name}: only groups can be shared"
            subcommands = [command.name for app in apps for command in app.registered_commands]
            assert len(subcommands) == len(set(subcommands)), f"{name}: {sorted(subcommands)}"
    for attribute in ("jobs", "databases", "templates", "config"):
        names = []
        for domain in registry.domains():
            items = getattr(domain, attribute)
            if isinstance(items, str):  # templates and config name a dict in the domain's own module
                items = resolve(items)
            names += list(items) if isinstance(items, dict) else [i.name for i in items or ()]
        assert len(names) == len(set(names)), f"{attribute} declared twice: {sorted(names)}"


def test_every_job_is_typed_to_return_a_job_outcome():
    """A job's function says what it returns, and that type has the summary and counts `arkops run` records."""
    for job in registry.jobs():
        returned = typing.get_type_hints(resolve(job.run)).get("return")
        assert isinstance(returned, type) and issubclass(returned, JobOutcome), f"{job.name}: returns {returned}"
        assert typing.get_type_hints(returned.summary)["return"] is str, job.name
        assert typing.get_type_hints(returned.counts)["return"] == dict[str, int], job.name


def test_every_database_has_its_schema_and_says_what_personal_data_it_holds():
    for name, (domain, database) in registry.databases().items():
        assert database.kind != "tinydb" or SCHEMAS[name].version == database.version, name
        assert isinstance(database.personal, dict), f"{domain.name}: {name} must list its personal data ({{}} for none)"


def test_only_the_registry_declares_schemas():
    for path in (ROOT / "arkops").rglob("*.py"):
        calls = [
            node
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", "")) == "register_schema"
        ]
        if path.name != "registry.py":
            assert not calls, f"{path} registers a schema; declare the database in its domain instead"


def test_every_declared_template_exists_in_every_locale():
    categories = {"operator", "transactional", "lifecycle"}
    for domain in registry.domains():
        for template, message in (resolve(domain.templates) if domain.templates else {}).items():
            assert message.category in categories, f"{domain.name}: {template} has category {message.category!r}"
            assert isinstance(message.sample, dict), f"{domain.name}: {template} declares no sample variables"
            for locale in LOCALES:
                for suffix in ("txt", "html"):
                    assert (ROOT / "templates" / locale / f"{template}.{suffix}").exists(), (locale, template, suffix)


NEW_DOMAIN = {
    "greetings/__init__.py": """
        from arkops.core.domain import Database, DoctorCheck, Domain, Job

        DOMAIN = Domain(
            name="greetings",
            summary="A domain added by a third party.",
            commands={"hello": "greetings.cli:hello"},
            databases=(Database("greetings", version=1, personal={"greeted": ("_key",)}),),
            jobs=(Job("greet", "greet whoever is due", "greetings.work:greet", every_minutes=5),),
            checks=(DoctorCheck("greetings.work:check"),),
            config="greetings.settings:CONFIG",
        )
    """,
    "greetings/settings.py": """
        from arkops.config import Field, Table, one_of

        CONFIG = {
            "greetings": Table(
                {"word": Field(str, "hello", one_of("hello", "hi"), doc="how to greet")}, doc="greeting people"
            )
        }
    """,
    "greetings/work.py": """
        from dataclasses import dataclass

        from arkops.core.doctor import OK, Check


        @dataclass
        class Greeted:
            names: list

            def summary(self):
                return f"{len(self.names)} greeted"

            def counts(self):
                return {"greeted": len(self.names)}


        def greet(rt, *, now, names=("ana",)):
            with rt.store.transaction("greetings") as db:
                new = [n for n in names if db.insert_new("greeted", n, {"at": now.isoformat()})]
            return Greeted(new)


        def check(rt):
            return Check("greetings", OK, "ready")
    """,
    "greetings/cli.py": """
        import typer

        from arkops.cli._output import runtime, say


        def hello(ctx: typer.Context, name: str = typer.Argument("ana")) -> None:
            \"\"\"Greet someone once.

            Example: arkops hello ana
            \"\"\"
            from greetings.work import greet

            rt = runtime(ctx)
            say(rt, f"{rt.config['greetings']['word']}: {greet(rt, now=rt.now(), names=(name,)).summary()}")
    """,
}


@pytest.fixture
def new_domain(tmp_path, monkeypatch):
    for relative, text in NEW_DOMAIN.items():
        path = tmp_path / "site" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setattr(registry, "DOMAINS", [*registry.DOMAINS, "greetings"])
    registry.domains.cache_clear()
    registry.register_databases()
    registry.register_config()
    yield
    registry.domains.cache_clear()
    registry.messages.cache_clear()
    registry.register_config()
    for name in [m for m in sys.modules if m.startswith("greetings")]:
        del sys.modules[name]


def test_a_new_domain_is_one_package_and_one_line(new_domain, cli):
    assert "hello" in cli("--help").out
    first, again = cli("hello", "bo"), cli("hello", "bo")
    assert (first.code, first.err.strip()) == (0, "hello: 1 greeted")
    assert again.err.strip() == "hello: 0 greeted"
    jobs = {row["job"]: row for row in json.loads(cli("jobs", "--format", "json").out)}
    assert jobs["greet"]["schedule"] == "every 5 min"
    run = cli("run", "--only", "greet")
    assert run.code == 0 and "greet  ok       1 greeted" in run.out
    checks = {row["check"]: row for row in json.loads(cli("doctor", "--format", "json").out)}
    assert checks["greetings"]["status"] == "ok"
    assert "(greetings)" in checks["data greetings.json"]["detail"]
    assert '[greetings]\nword = "hello"  # how to greet' in config_template()
    (Path.cwd() / "arkops.toml").write_text('[greetings]\nword = "hi"\n')
    assert cli("hello", "cy").err.strip() == "hi: 1 greeted"
    (Path.cwd() / "arkops.toml").write_text('[greetings]\nword = "hey"\n')
    bad = cli("hello", "cy")
    assert bad.code == 3 and "greetings.word" in bad.err and "'hey' is not one of hello, hi" in bad.err


def test_every_audited_command_exists():
    """`Domain.audited` names commands as typed ("promo redeem"): a misspelt one would silently go unaudited."""
    import typer

    from arkops.cli import app
    from arkops.core.registry import audited

    root = typer.main.get_command(app)
    ctx = typer.Context(root, info_name="arkops")
    names = set()
    for name in root.list_commands(ctx):
        command = root.get_command(ctx, name)
        names.add(name)
        if hasattr(command, "list_commands"):
            names.update(f"{name} {sub}" for sub in command.list_commands(typer.Context(command, parent=ctx)))
    assert audited() <= names, sorted(audited() - names)
    assert {"promo redeem", "leads ingest", "usage import", "billing migrate", "funnel check"} <= audited()
