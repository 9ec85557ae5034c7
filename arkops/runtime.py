"""The context of one arkops invocation: paths, flags, lazily loaded config and store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # kept out of `arkops --help`'s import path
    from arkops.config import Config
    from arkops.store import Store


@dataclass
class Runtime:
    data_dir: Path
    config_path: Path
    env_file: Path
    dry_run: bool = False
    quiet: bool = False
    verbose: bool = False
    read_only: bool = False  # `arkops status`: read data files without locks, migrations or cache writes
    _config: Config | None = field(default=None, repr=False)
    # Messages queued inside `arkops.core.notify.batched`, written to the outbox together when it ends.
    pending_mail: list | None = field(default=None, repr=False)
    # Values derived from data files, kept for this process (`arkops.core.notify`, trials' conversions).
    memo: dict = field(default_factory=dict, repr=False)
    # The command being run (its click context), noted by `arkops.cli._output.runtime` for the audit log.
    invocation: Any = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            from arkops.config import load_config

            self._config = load_config(self.config_path)
        return self._config

    @property
    def store(self) -> Store:
        from arkops.store import Store

        return Store(self.data_dir, read_only=self.read_only)

    def now(self) -> datetime:
        from arkops import clock

        return clock.now()
