"""`arkops doctor`: every check an operator or CI needs before trusting a run.

Each domain declares its checks (`DoctorCheck` in its `DOMAIN`); this module
runs them in order and turns a check that raises into a failed check, so
one broken part never hides the others.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from arkops.errors import ArkopsError
from arkops.runtime import Runtime

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass
class Check:
    check: str
    status: str
    detail: str

    def as_dict(self) -> dict:
        return asdict(self)


def _config(rt: Runtime) -> Check:
    config = rt.config
    if not config.exists:
        return Check("config", WARN, f"{config.path} not found; using defaults (run `arkops init`)")
    return Check(
        "config",
        OK,
        f"{config.path}: {len(config['plans'])} plans, timezone {config['timezone']}, currency {config.currency}",
    )


def run_checks(rt: Runtime, *, online: frozenset[str] = frozenset()) -> list[Check]:
    """Every declared check; those that reach a service (`needs`) only when named in `online`."""
    from arkops.core.domain import resolve
    from arkops.core.registry import checks as declared

    try:
        first = _config(rt)
    except ArkopsError as exc:  # without a readable config the other checks would only repeat this
        return [Check("config", FAIL, str(exc))]
    results = [first]
    for spec in declared():
        if spec.needs and spec.needs not in online:
            continue
        try:
            found = resolve(spec.target)(rt)
        except ArkopsError as exc:
            found = Check(spec.target.rpartition(":")[2].replace("_", " "), FAIL, str(exc))
        results.extend(found if isinstance(found, list) else [found])
    return results
