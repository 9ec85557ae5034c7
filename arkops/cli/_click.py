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
    """Convert plain values (str, Path, a StrEnum choice, a flag, a list of one of those) without pydantic.

    Typer 0.27+ turns every option's text into its annotated type through
    pydantic, and importing pydantic and building the adapters costs about
    0.15-0.19 s of every command, more than `arkops run` with nothing due
    spends on its own work. Our options are almost all plain text, paths and
    fixed choices, whose conversion is `str`, `Path(text)` or `Enum(text)`,
    and arguments like `FILE...` that are lists of those:
    those take this path, as does an int default within its min/max (the
    reports' `--months`); anything else (a number typed on the command line,
    paths with checks, a value this path does not recognise) goes to Typer's
    own. An option with a parser left out is None before any conversion, so
    Typer's converter (and pydantic) is built only when a value is given.
    With a Typer whose internals differ, nothing is changed.
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

    PARSED = object()  # an option with its own parser or click type: no value of it is plain

    def plain(descriptor: Any) -> Any:
        if getattr(descriptor, "file_annotation", None) is not None:
            return None
        info = descriptor.parameter_info
        annotation = descriptor.annotation
        if getattr(info, "parser", None) is not None or getattr(info, "click_type", None) is not None:
            # Left out, such an option is None, which Typer's coerce returns before any conversion; a value given
            # goes to Typer's own: so the adapter (and pydantic) is built only when a value is.
            return PARSED
        if get_origin(annotation) in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return None
            annotation = args[0]
        if get_origin(annotation) is list:  # `FILE...`: a list of one plain kind
            (item,) = get_args(annotation) or (None,)
            kind = single(item, info) if item is not bool else None
            return None if kind is None else ("list", kind)
        return single(annotation, info)

    def single(annotation: Any, info: Any) -> Any:
        if annotation in (str, bool):
            return annotation
        if annotation is int:  # a count such as --months: an int default within its range, text goes to Typer
            return None if getattr(info, "clamp", False) else int
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

    _SLOW = object()  # this value is not plain: Typer's own conversion decides

    @dataclasses.dataclass(frozen=True)
    class PlainParam(base):  # type: ignore[valid-type, misc]
        kind: Any = str
        slow: Any = None

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if isinstance(self.kind, tuple):  # a list of one kind: each item, or Typer's own for the whole
                if isinstance(value, (list, tuple)):
                    items = [self._one(self.kind[1], item) for item in value]
                    if all(item is not _SLOW for item in items):
                        return items
            else:
                one = self._one(self.kind, value)
                if one is not _SLOW:
                    return one
            return self.slow()._coerce_value(value, param=param, ctx=ctx)  # Typer's own (and its error message)

        def _one(self, kind: Any, value: Any) -> Any:
            if kind is PARSED:
                return _SLOW
            if kind is bool:
                if isinstance(value, bool):  # a flag: click already made it a bool
                    return value
            elif kind is int:
                return value if type(value) is int and self._within(value) else _SLOW
            elif isinstance(value, str):
                if kind is str:
                    return value
                if kind is Path:
                    return Path(value)
                if value in kind._value2member_map_:
                    return kind(value)
            elif isinstance(value, kind):
                return value
            return _SLOW

        def _within(self, value: int) -> bool:
            low, high = getattr(self.parameter_info, "min", None), getattr(self.parameter_info, "max", None)
            return (low is None or value >= low) and (high is None or value <= high)

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
