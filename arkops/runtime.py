"""The context of one arkops invocation: paths, flags, lazily loaded config and store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from arkops import clock
from arkops.config import Config, load_config
from arkops.store import Store


@dataclass
class Runtime:
    data_dir: Path
    config_path: Path
    env_file: Path
    dry_run: bool = False
    quiet: bool = False
    verbose: bool = False
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    @property
    def store(self) -> Store:
        return Store(self.data_dir)

    def now(self) -> datetime:
        return clock.now()
