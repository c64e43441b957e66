"""Registries: tables from a name to a class or function, looked up case-insensitively with one-line errors.

A file names what it holds (a layer, an activation, a loss, an optimiser) by its registered name, so that
loading never imports a module by a name read from a file and the file format never imports upward.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")


def lookup(table: Mapping[str, T], name: str, kind: str) -> T:
    """Return ``table[name]`` (case-insensitive) or raise naming the known keys."""
    if not isinstance(name, str):
        raise ValueError(f"{kind} must be a name (str) or an instance, got {type(name).__name__}")
    key = name.lower().replace("-", "_")
    if key not in table:
        raise ValueError(f"unknown {kind} {name!r}; known: {', '.join(sorted(table))}")
    return table[key]


def registrar(table: dict[str, Any], key: Callable[[Any], str] = lambda obj: obj.__name__
              ) -> Callable[[T], T]:
    """A class decorator that enters the class into ``table`` under ``key(cls)`` (its name by default)."""

    def register(obj: T) -> T:
        name = key(obj)
        if name in table and table[name] is not obj:
            raise ValueError(f"{name!r} is registered twice")
        table[name] = obj
        return obj

    return register
