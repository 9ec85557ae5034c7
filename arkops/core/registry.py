"""The one list of domains, and what the rest of arkops reads from their declarations.

A new domain is a package under `arkops/core/` whose `__init__.py` declares
`DOMAIN = Domain(...)` (see `arkops.core.domain`), plus its line here.
Reading the declarations imports no domain code: the CLI lists commands,
the store learns the databases, `arkops run` the jobs, `doctor` the checks
and the demo its parts, each importing a target only when it is used.
"""

from __future__ import annotations

import importlib
from functools import cache, partial

from arkops.core.domain import Database, DemoPart, DoctorCheck, Domain, Job, Message, Retention, SectionPart

DOMAINS = [
    "arkops.core.workspace",
    "arkops.core.jobs",
    "arkops.core.messaging",
    "arkops.core.billing",
    "arkops.core.trials",
    "arkops.core.leads",
    "arkops.core.promo",
    "arkops.core.plans",
    "arkops.core.privacy",
    "arkops.core.operator",
    "arkops.core.funnel",
    "arkops.core.crm",
    "arkops.core.analytics",
    "arkops.core.serve",
]


@cache
def domains() -> tuple[Domain, ...]:
    found = []
    for package in DOMAINS:
        domain = getattr(importlib.import_module(package), "DOMAIN", None)
        if not isinstance(domain, Domain):
            raise TypeError(f"{package} declares no DOMAIN = Domain(...)")
        found.append(domain)
    return tuple(sorted(found, key=lambda d: d.order))


def commands() -> dict[str, tuple[str, ...]]:
    """Every top-level command, in help order: name -> its "module:attribute" targets.

    A group several domains add commands to (`billing`: the ledger's and the plans')
    has one target per domain, in the domains' order; the first gives the group its help.
    """
    found: dict[str, tuple[str, ...]] = {}
    for domain in domains():
        for name, target in domain.commands.items():
            found[name] = (*found.get(name, ()), target)
    return found


def audited() -> frozenset[str]:
    """The commands ("trials import", "init") whose every run appends a line to the audit log."""
    return frozenset(command for domain in domains() for command in domain.audited)


def databases() -> dict[str, tuple[Domain, Database]]:
    return {db.name: (domain, db) for domain in domains() for db in domain.databases}


def jobs() -> list[Job]:
    return sorted((job for domain in domains() for job in domain.jobs), key=lambda j: (j.order, j.name))


def checks() -> list[DoctorCheck]:
    return sorted((check for domain in domains() for check in domain.checks), key=lambda c: c.order)


def retention_rules() -> list[tuple[str, Retention]]:
    rules = [(domain.name, rule) for domain in domains() for rule in domain.retention]
    return sorted(rules, key=lambda pair: (pair[1].order, pair[0]))


def demo_parts() -> list[tuple[str, DemoPart]]:
    parts = [(domain.name, domain.demo) for domain in domains() if domain.demo is not None]
    return sorted(parts, key=lambda pair: pair[1].order)


def section_parts(kind: str) -> list[tuple[str, SectionPart]]:
    """The domains' `status` or `report` section functions, in display order."""
    parts = [(domain.name, part) for domain in domains() if (part := getattr(domain, kind)) is not None]
    return sorted(parts, key=lambda pair: (pair[1].order, pair[0]))


def _merged(attribute: str, what: str) -> dict:
    """The dicts the domains' `attribute` targets name, merged in the domains' order; a name declared twice is an error."""
    from arkops.core.domain import resolve

    found: dict = {}
    for domain in domains():
        target = getattr(domain, attribute)
        if target is None:
            continue
        declared = resolve(target)
        if clash := found.keys() & declared.keys():
            raise TypeError(f"{domain.name} declares {what} another domain declares: {sorted(clash)}")
        found.update(declared)
    return found


def config_tables() -> dict:
    """Every domain's keys of arkops.toml, in the domains' order (`arkops.config.schema()` adds the global ones)."""
    return _merged("config", "config keys")


def register_config() -> None:
    """Tell `arkops.config` where the domains' tables are; they are built only when a config is parsed."""
    from arkops.config import register_tables

    register_tables(config_tables)


@cache
def messages() -> dict[str, Message]:
    """Every template any domain sends, by name, with its category and sample variables."""
    return _merged("templates", "templates")


def register_databases() -> None:
    """Tell the store every declared database's schema version and migrations."""
    from arkops.core.domain import resolve
    from arkops.store.schema import register_schema

    for _, database in databases().values():
        if database.kind != "tinydb":
            continue
        loader = partial(resolve, database.migrations) if database.migrations else None
        register_schema(database.name, database.version, loader)
