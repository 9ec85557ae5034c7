"""The data directory's modes: files 0600 and folders 0700, as the store creates them."""

from __future__ import annotations

import stat

from arkops.core.doctor import FAIL, OK, Check
from arkops.runtime import Runtime
from arkops.text import counted, first_few


def permissions(rt: Runtime) -> Check:
    """Fails when anything under the data directory can be read or written by its group or by others."""
    root = rt.data_dir
    if not root.is_dir():
        return Check("data permissions", OK, "no data directory yet")
    exposed = []
    checked = 0
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        checked += 1
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            exposed.append(f"{path.relative_to(root) if path != root else root} ({mode:o})")
    if exposed:
        return Check(
            "data permissions",
            FAIL,
            f"{counted(len(exposed), 'path')} readable or writable by others: {first_few(exposed)}; "
            f"run chmod -R go-rwx {root}",
        )
    return Check("data permissions", OK, f"{counted(checked, 'path')}, files 0600 and folders 0700")
