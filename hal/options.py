"""Declarative validation of option tables (site config, board config, driver options).

A table is checked against a list of ``Option``s. Every problem is collected (never
only the first), as ``Problem(key_path, message)``, so ``borne check-config`` can print
them all as ``FILE: key: problem``. Unknown keys are problems too.

This module sits in ``hal`` because drivers declare their options with it and
``firmware.config`` uses it for the site config; dependencies only point upward.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

_MISSING = object()


@dataclass(frozen=True)
class Problem:
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


@dataclass(frozen=True)
class Option:
    """One key of a table.

    ``kind`` is one of ``str``, ``int``, ``float``, ``bool``, ``list``, ``dict``;
    ``float`` accepts integers too. ``choices`` restricts the value; ``minimum`` /
    ``maximum`` bound numbers (inclusive); ``check`` returns an error message or None.
    ``default`` is ``_MISSING`` for a required key.
    """

    name: str
    kind: type
    default: Any = _MISSING
    doc: str = ""
    choices: Sequence[Any] | None = None
    minimum: float | None = None
    maximum: float | None = None
    item_kind: type | None = None
    check: Callable[[Any], str | None] | None = None

    @property
    def required(self) -> bool:
        return self.default is _MISSING


def required(name: str, kind: type, doc: str = "", **kw: Any) -> Option:
    return Option(name, kind, _MISSING, doc, **kw)


def optional(name: str, kind: type, default: Any, doc: str = "", **kw: Any) -> Option:
    return Option(name, kind, default, doc, **kw)


_KIND_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
               list: "a list", dict: "a table"}


def _type_ok(value: Any, kind: type) -> bool:
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def check_value(option: Option, value: Any, key: str) -> list[Problem]:
    """Problems with one value (type, choices, bounds, item types, custom check)."""
    if not _type_ok(value, option.kind):
        return [Problem(key, f"must be {_KIND_NAMES.get(option.kind, option.kind.__name__)}, "
                             f"got {type(value).__name__} {value!r}")]
    if option.kind is float and isinstance(value, float) and not math.isfinite(value):
        return [Problem(key, f"must be a finite number, got {value!r}")]
    if option.choices is not None and value not in option.choices:
        allowed = ", ".join(repr(c) for c in option.choices)
        return [Problem(key, f"must be one of {allowed}, got {value!r}")]
    if option.minimum is not None and value < option.minimum:
        return [Problem(key, f"must be >= {option.minimum:g}, got {value!r}")]
    if option.maximum is not None and value > option.maximum:
        return [Problem(key, f"must be <= {option.maximum:g}, got {value!r}")]
    if option.kind is list and option.item_kind is not None:
        for i, item in enumerate(value):
            if not _type_ok(item, option.item_kind):
                return [Problem(f"{key}[{i}]", f"must be {_KIND_NAMES.get(option.item_kind)}, "
                                               f"got {item!r}")]
    if option.check is not None:
        message = option.check(value)
        if message:
            return [Problem(key, message)]
    return []


def validate_table(table: Any, options: Iterable[Option], prefix: str,
                   ignore: Iterable[str] = ()) -> tuple[dict[str, Any], list[Problem]]:
    """Validate ``table`` against ``options``; returns (values with defaults, problems).

    ``prefix`` is the dotted path of the table ("connector[1].meter"), used in messages.
    Keys listed in ``ignore`` are accepted without checking (the caller handles them).
    """
    options = list(options)
    dot = f"{prefix}." if prefix else ""
    if not isinstance(table, dict):
        return {}, [Problem(prefix or "(top)", f"must be a table, got {type(table).__name__}")]
    problems: list[Problem] = []
    values: dict[str, Any] = {}
    known = {o.name for o in options} | set(ignore)
    for key in table:
        if key not in known:
            problems.append(Problem(f"{dot}{key}", "unknown key"))
    for option in options:
        key = f"{dot}{option.name}"
        if option.name not in table:
            if option.required:
                problems.append(Problem(key, "missing (required)"))
            else:
                values[option.name] = option.default
            continue
        found = check_value(option, table[option.name], key)
        problems.extend(found)
        if not found:
            values[option.name] = table[option.name]
    return values, problems
