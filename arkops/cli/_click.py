"""The click exceptions Typer raises, wherever this Typer keeps its click.

Typer 0.26 and newer carry their own copy as `typer._click`; older ones use
the `click` package. This module is the only place that knows.
"""

from __future__ import annotations

try:
    from typer._click import exceptions
except ModuleNotFoundError:  # Typer before 0.26
    from click import exceptions  # type: ignore[no-redef]

UsageError = exceptions.UsageError
ClickException = exceptions.ClickException

__all__ = ["ClickException", "UsageError"]
