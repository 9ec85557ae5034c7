"""The crm domain's doctor checks: the settings always; the provider itself under `doctor --crm`."""

from __future__ import annotations

from arkops.config import env
from arkops.core.doctor import FAIL, OK, WARN, Check
from arkops.runtime import Runtime
from arkops.sources.crm import PROVIDERS


def settings(rt: Runtime) -> Check:
    """Which provider, and whether its token and library are there (no request made)."""
    from arkops.core.crm.push import missing_setup

    provider = rt.config["crm"]["provider"]
    if not provider:
        return Check("crm", OK, "no CRM configured (crm.provider in arkops.toml)")
    problem = missing_setup(rt)
    if problem:
        return Check("crm", FAIL, problem)
    base_name, default = PROVIDERS[provider][2], PROVIDERS[provider][3]
    base = env(base_name)
    if base and base != default:
        return Check("crm", WARN, f"{provider}: {base_name}={base} (not {default})")
    forget = "deleted there too by privacy forget" if rt.config["crm"]["forget"] else "kept there by privacy forget"
    return Check("crm", OK, f"{provider}; people are {forget} (crm.forget)")


def provider(rt: Runtime) -> list[Check]:
    """`doctor --crm`: the token works and has the scopes pushes need; the custom fields exist."""
    from arkops.core.crm.push import connect

    if not rt.config["crm"]["provider"]:
        return [Check("crm api", WARN, "no crm.provider set in arkops.toml: nothing to reach")]
    return [Check(p.check, OK if p.ok else FAIL, p.detail) for p in connect(rt).probe()]
