"""The click exceptions Typer raises, wherever this Typer keeps its click.

Typer 0.26 and newer carry their own copy as `typer._click` (a private
module); this is the only place that imports it, and it says clearly what
to do when an older Typer is installed.
"""

from __future__ import annotations

try:
    from typer._click import exceptions
except ModuleNotFoundError as missing:  # a Typer older than pyproject.toml allows was already installed
    raise ImportError("arkops needs typer 0.26.1 or newer: pip install --upgrade 'typer>=0.26.1'") from missing

UsageError = exceptions.UsageError
ClickException = exceptions.ClickException

__all__ = ["ClickException", "UsageError"]
