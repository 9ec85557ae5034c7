"""Where domains plug in: importing a domain module registers its databases and its cron jobs.

A new domain adds its module path to DOMAINS; nothing else needs to change.
"""

from __future__ import annotations

import importlib

DOMAINS = [
    "arkops.core.jobs",
    "arkops.core.mail",
    "arkops.core.billing.service",
    "arkops.core.trials",
]


def load_domains() -> None:
    for module in DOMAINS:
        importlib.import_module(module)
