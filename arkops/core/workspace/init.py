"""`arkops init`: a commented arkops.toml, a .env.example and the data directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from arkops.config import ENV_EXAMPLE, config_template, parse_config
from arkops.errors import DataError
from arkops.store import Store, atomic_write_bytes, ensure_dir


@dataclass
class InitResult:
    written: list[Path]
    kept: list[Path]


def init_workspace(
    config_path: Path, env_example: Path, data_dir: Path, *, force: bool, product: dict[str, str] | None = None
) -> InitResult:
    """`product` holds the `[product]` keys given (name, url, support_email, postal_address), written into
    arkops.toml and checked like any value of it."""
    template = config_template({"product": {key: value for key, value in (product or {}).items() if value}})
    parse_config(template, config_path)  # the generated file must always be valid
    result = InitResult([], [])
    for path, content in ((config_path, template), (env_example, ENV_EXAMPLE)):
        if path.exists() and not force:
            result.kept.append(path)
            continue
        if path.exists() and not path.is_file():
            raise DataError(f"{path} exists and is not a file")
        ensure_dir(path.parent)
        atomic_write_bytes(path, content.encode("utf-8"))
        result.written.append(path)
    Store(data_dir).initialise()
    # cron appends its output here (`arkops cron print`): a folder the installation's user owns
    ensure_dir(config_path.parent / "logs").chmod(0o700)
    return result
