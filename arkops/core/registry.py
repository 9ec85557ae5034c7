"""Where domains plug in: importing a domain module registers its databases (and, later, its jobs).

A new domain adds its module path to DOMAINS; nothing else needs to change.
"""

from __future__ import annotations

import importlib

DOMAINS = [
    "arkops.mail.outbox",
    "arkops.core.billing.ledger",
    "arkops.core.trials",
]


def load_domains() -> None:
    for module in DOMAINS:
        importlib.import_module(module)
