"""What a command's parameter accepts, read the same way whichever Typer built it (click types before 0.27,
type descriptors since)."""

from __future__ import annotations

from typing import Any


def choices_of(param: Any) -> list[str] | None:
    """The values of a fixed set (an enum, a Literal), or None."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None:
        found = descriptor.choices if descriptor.is_choice else None
    else:
        found = getattr(getattr(param, "type", None), "choices", None)
    return [str(getattr(choice, "value", choice)) for choice in found] if found else None


def parser_of(param: Any) -> Any:
    """The function that reads the parameter's text (`parser=`), or None."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None:
        return descriptor.parameter_info.parser
    return getattr(getattr(param, "type", None), "func", None)


def bounds_of(param: Any) -> tuple[Any, Any]:
    """A number's (min, max), each None when open."""
    holder = param if getattr(param, "type_descriptor", None) is not None else getattr(param, "type", None)
    return getattr(holder, "min", None), getattr(holder, "max", None)
