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


def install_fast_coercion() -> None:
    """Convert plain option values (str, Path, a StrEnum choice, a flag) without building a pydantic TypeAdapter.

    Typer 0.27+ turns every option's text into its annotated type through
    pydantic, and importing pydantic and building the adapters costs about
    0.15-0.19 s of every command, more than `arkops run` with nothing due
    spends on its own work. Our options are almost all plain text, paths and
    fixed choices, whose conversion is `str`, `Path(text)` or `Enum(text)`:
    those take this path; anything else (numbers with min/max, parsers,
    paths with checks, a value this path does not recognise) goes to Typer's
    own. With a Typer whose internals differ, nothing is changed.
    `tests/test_cli.py` checks that an option-heavy command's values are the
    same either way and that `arkops run` no longer imports pydantic.
    """
    try:
        from typer import _coercion, core
    except ImportError:  # pragma: no cover - an older Typer (before pydantic)
        return
    original = getattr(core, "build_runtime_param", None)
    base = getattr(_coercion, "RuntimeParam", None)
    if original is None or base is None or getattr(original, "_arkops_fast", False):
        return

    import dataclasses
    import types
    from enum import Enum
    from pathlib import Path
    from typing import Any, Union, get_args, get_origin

    def plain(descriptor: Any) -> Any:
        if getattr(descriptor, "file_annotation", None) is not None:
            return None
        info = descriptor.parameter_info
        if getattr(info, "parser", None) is not None or getattr(info, "click_type", None) is not None:
            return None
        annotation = descriptor.annotation
        if get_origin(annotation) in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return None
            annotation = args[0]
        if annotation in (str, bool):
            return annotation
        if annotation is Path:
            flags = ("exists", "writable", "resolve_path", "allow_dash", "path_type")
            if any(getattr(info, flag, False) for flag in flags):
                return None
            if not getattr(info, "file_okay", True) or not getattr(info, "dir_okay", True):
                return None
            if not getattr(info, "readable", True):
                return None
            return Path
        if isinstance(annotation, type) and issubclass(annotation, str) and issubclass(annotation, Enum):
            return annotation if getattr(info, "case_sensitive", True) else None
        return None

    @dataclasses.dataclass(frozen=True)
    class PlainParam(base):  # type: ignore[valid-type, misc]
        kind: Any = str
        slow: Any = None

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if self.kind is bool:
                if isinstance(value, bool):  # a flag: click already made it a bool
                    return value
            elif isinstance(value, str):
                if self.kind is str:
                    return value
                if self.kind is Path:
                    return Path(value)
                if value in self.kind._value2member_map_:
                    return self.kind(value)
            elif isinstance(value, self.kind):
                return value
            return self.slow()._coerce_value(value, param=param, ctx=ctx)  # Typer's own (and its error message)

    def build(descriptor: Any) -> Any:
        kind = plain(descriptor)
        if kind is None:
            return original(descriptor)
        return PlainParam(
            parameter_info=descriptor.parameter_info,
            annotation=descriptor.annotation,
            kind=kind,
            slow=lambda: original(descriptor),
        )

    build._arkops_fast = True  # type: ignore[attr-defined]
    core.build_runtime_param = build
