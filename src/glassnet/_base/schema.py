"""Strict schemas for the JSON configs inside model and checkpoint files: every value is checked (type,
range, known keys) before anything is built from it.

A field is a small validator: ``field.check(value, where)`` returns the value or raises
:class:`SchemaError`, one line naming where the value is, what was expected and what was given.

Layers and optimisers get their schema from their constructor (:func:`class_schema`): the parameters are
the known keys, those without a default are required, and each type hint gives a field (``int`` ->
``Int()``, ``float`` -> ``Float()``, ``bool``, ``str``, ``X | None`` -> None allowed). A class states
ranges, choices and the hints that say too little (unions, ``Pair``) in a ``config_schema`` dict next to
its ``__init__``; the dicts of its base classes apply too, for the parameters it has::

    class BatchNorm(Layer):
        config_schema = {"momentum": Float(0, 1), "eps": Float(0, low_open=True)}

        def __init__(self, n_features: int | None = None, momentum: float = 0.9, eps: float = 1e-5,
                     name: str | None = None) -> None: ...
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["Bool", "Choice", "Dict", "Field", "Float", "Int", "IntList", "IntPair", "List", "Optional",
           "Record", "SchemaError", "Str", "check_config", "class_schema"]

MAX_INT = 2**31 - 1
"""Sizes larger than this are refused (no glassnet array has a dimension that large)."""


class SchemaError(ValueError):
    """A config value of the wrong type or out of range, an unknown key or a missing one."""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Field:
    """Base: ``check(value, where)`` returns the value, or raises SchemaError."""

    expected = "a value"

    def check(self, value: Any, where: str) -> Any:
        raise NotImplementedError

    def fail(self, value: Any, where: str) -> typing.NoReturn:
        raise SchemaError(f"{where} must be {self.expected}, got {_show(value)}")


def _range_text(kind: str, low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    return f"{kind} {' and '.join(parts)}" if parts else kind


class Float(Field):
    """A finite number (int or float, not bool) in [low, high]; ``low_open`` / ``high_open`` exclude the ends."""

    def __init__(self, low: float | None = None, high: float | None = None, low_open: bool = False,
                 high_open: bool = False) -> None:
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open
        self.expected = _range_text("a finite number", low, high, low_open, high_open)

    def check(self, value: Any, where: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float) or (
                isinstance(value, int) and abs(value) > 2**1000) or not math.isfinite(value):
            self.fail(value, where)
        lo, hi = self.low, self.high
        if (lo is not None and (value < lo or (self.low_open and value == lo))) or (
                hi is not None and (value > hi or (self.high_open and value == hi))):
            self.fail(value, where)
        return value


class Int(Field):
    """An integer (not bool) in [low, high]; high defaults to MAX_INT."""

    def __init__(self, low: int | None = None, high: int | None = MAX_INT) -> None:
        self.low, self.high = low, high
        self.expected = _range_text("an integer", low, None if high == MAX_INT else high, False, False)

    def check(self, value: Any, where: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(value, where)
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            self.fail(value, where)
        return value


class Bool(Field):
    expected = "true or false"

    def check(self, value: Any, where: str) -> Any:
        if not isinstance(value, bool):
            self.fail(value, where)
        return value


class Str(Field):
    expected = "a string"

    def check(self, value: Any, where: str) -> Any:
        if not isinstance(value, str):
            self.fail(value, where)
        return value


class Choice(Field):
    """One of a fixed set of strings (given, or computed on first use by a function)."""

    def __init__(self, choices: Iterable[str] | Callable[[], Iterable[str]], kind: str | None = None) -> None:
        self._choices, self.kind = choices, kind

    @property
    def choices(self) -> list[str]:
        found = self._choices() if callable(self._choices) else self._choices
        return sorted(found)

    def check(self, value: Any, where: str) -> Any:
        choices = self.choices
        if not isinstance(value, str) or value not in choices:
            if self.kind and isinstance(value, str):
                raise SchemaError(f"{where}: unknown {self.kind} {value!r}; known: {', '.join(choices)}")
            raise SchemaError(f"{where} must be one of {', '.join(choices)}; got {_show(value)}")
        return value


class Optional(Field):
    """None, or a value of ``field``."""

    def __init__(self, field: Field) -> None:
        self.field = field
        self.expected = f"{field.expected} or null"

    def check(self, value: Any, where: str) -> Any:
        return None if value is None else self.field.check(value, where)


class List(Field):
    """A JSON list of ``item`` values, of length in [min_len, max_len]."""

    def __init__(self, item: Field, min_len: int = 0, max_len: int | None = None) -> None:
        self.item, self.min_len, self.max_len = item, min_len, max_len
        n = f"{min_len}" if max_len == min_len else f"{min_len} to {max_len}" if max_len else f"at least {min_len}"
        self.expected = f"a list of {n} items, each {item.expected}"

    def check(self, value: Any, where: str) -> Any:
        if not isinstance(value, list) or len(value) < self.min_len or (
                self.max_len is not None and len(value) > self.max_len):
            self.fail(value, where)
        return [self.item.check(v, f"{where}[{i}]") for i, v in enumerate(value)]


class IntList(List):
    """A list of integers >= ``low`` (a shape)."""

    def __init__(self, low: int = 1, min_len: int = 1, max_len: int | None = 8) -> None:
        super().__init__(Int(low), min_len, max_len)


class IntPair(Field):
    """An integer >= ``low``, or a list of two (height, width)."""

    def __init__(self, low: int = 1) -> None:
        self.item = Int(low)
        self.expected = f"{self.item.expected}, or a list of two"

    def check(self, value: Any, where: str) -> Any:
        if isinstance(value, list):
            if len(value) != 2:
                self.fail(value, where)
            return [self.item.check(v, f"{where}[{i}]") for i, v in enumerate(value)]
        try:
            return self.item.check(value, where)
        except SchemaError:
            self.fail(value, where)


class Dict(Field):
    """A JSON object with string keys (its values are not looked at)."""

    expected = "an object"

    def check(self, value: Any, where: str) -> Any:
        if not isinstance(value, dict):
            self.fail(value, where)
        return value


class Record(Field):
    """A JSON object with exactly the known keys: ``fields`` by key; ``required`` keys must be there
    (default: all); any other key is refused."""

    expected = "an object"

    def __init__(self, fields: Mapping[str, Field], required: Iterable[str] | None = None) -> None:
        self.fields = dict(fields)
        self.required = set(self.fields if required is None else required)

    def check(self, value: Any, where: str) -> Any:
        return check_config(self.fields, self.required, value, where)


def check_config(fields: Mapping[str, Field], required: set[str], value: Any, where: str) -> dict[str, Any]:
    """``value`` checked as an object of exactly these fields (the required ones present, no others)."""
    if not isinstance(value, dict):
        raise SchemaError(f"{where} must be an object, got {_show(value)}")
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise SchemaError(f"{where} has unknown key {unknown[0]!r}; known: {', '.join(sorted(fields))}")
    missing = sorted(required - set(value))
    if missing:
        raise SchemaError(f"{where} lacks the key {missing[0]!r}")
    return {k: fields[k].check(v, f"{where}.{k}") for k, v in value.items()}


# ----------------------------------------------------------------------------- schemas from constructors
_SCHEMAS: dict[type, tuple[dict[str, Field], set[str]]] = {}


def _declared(cls: type) -> dict[str, Field]:
    """The ``config_schema`` dicts of ``cls`` and its bases, the class's own winning."""
    out: dict[str, Field] = {}
    for klass in reversed(cls.__mro__):
        out.update(vars(klass).get("config_schema", {}))
    return out


def _from_hint(hint: Any, where: str) -> Field:
    if hint is bool:
        return Bool()
    if hint is int:
        return Int()
    if hint is float:
        return Float()
    if hint is str:
        return Str()
    raise TypeError(f"{where}: cannot tell a config field from the type hint {hint!r}; "
                    "declare it in the class's config_schema")


def class_schema(cls: type, skip: Iterable[str] = ()) -> tuple[dict[str, Field], set[str]]:
    """(fields by parameter name, required names) of ``cls.__init__``: from the type hints, with the
    ``config_schema`` declarations of the class and its bases taking precedence; cached per class."""
    if cls in _SCHEMAS:
        return _SCHEMAS[cls]
    import inspect  # only here: it is slow to import, and only loading files needs it

    params = inspect.signature(cls.__init__).parameters
    hints = typing.get_type_hints(cls.__init__)
    declared = _declared(cls)
    fields, required = {}, set()
    for name, param in params.items():
        if name == "self" or name in skip or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        hint = hints.get(name)
        members = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
        allows_none = type(None) in members or param.default is None
        field = declared.get(name)
        if field is None:
            concrete = [m for m in members if m is not type(None)]
            field = _from_hint(concrete[0] if len(concrete) == 1 else hint, f"{cls.__name__}.{name}")
        if allows_none and not isinstance(field, Optional):
            field = Optional(field)
        fields[name] = field
        if param.default is inspect.Parameter.empty:
            required.add(name)
    _SCHEMAS[cls] = (fields, required)
    return fields, required
