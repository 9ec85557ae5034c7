"""How long work reports its progress: one callback type that core functions take, rendered by the CLI.

`progress(message)` is a milestone line ("listed 120 customers");
`progress(message, done, total)` advances the step named `message` (total
None when unknown); `unit="bytes"` shows sizes (a log file read). The command line shows a Rich bar on stderr when stderr
is a terminal and only the milestone lines otherwise (cron logs stay as
they were); core code never prints (`arkops.cli._output.progress`).
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def __call__(self, message: str, done: int | None = None, total: int | None = None, *, unit: str = "") -> None: ...


def silent(message: str, done: int | None = None, total: int | None = None, *, unit: str = "") -> None:
    """The default: no one is watching."""
