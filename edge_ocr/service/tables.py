"""TOML tables to frozen dataclasses, collecting every problem with its key, file and line.

``tomllib`` gives values but no positions, so ``key_lines`` scans the text once for table
headers and ``key = value`` lines; a problem is then reported as ``FILE:LINE: KEY: message``.
Every table is checked against the fields of a dataclass (name, type, and the dataclass's own
``problems()`` for ranges), so a typo is an error with a suggestion, never silently ignored.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_PART = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_KEY = re.compile(rf"^\s*({_PART}(?:\s*\.\s*{_PART})*)\s*=")


def _clean_key(key: str) -> str:
    parts = [part.strip().strip("\"'") for part in key.split(".")]
    return ".".join(parts)


def key_lines(text: str) -> dict[str, int]:
    """1-based line of each table and key, by the dotted path ``Problems`` uses.

    ``[source]`` -> ``source``; ``uri = ...`` under it -> ``source.uri``; the second
    ``[[sinks]]`` -> ``sinks[1]`` and its keys ``sinks[1].type``. Multi-line strings are
    skipped. Good enough for error messages; it is not a TOML parser.
    """
    lines: dict[str, int] = {}
    counts: dict[str, int] = {}
    table = ""
    in_string: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        if in_string is not None:
            if raw.count(in_string) % 2 == 1:
                in_string = None
            continue
        header = _HEADER.match(raw)
        if header:
            name = _clean_key(header.group(2))
            if header.group(1) == "[[":
                index = counts.get(name, -1) + 1
                counts[name] = index
                table = f"{name}[{index}]"
            else:
                table = name
            lines.setdefault(table, number)
            continue
        key = _KEY.match(raw)
        if key:
            path = _clean_key(key.group(1))
            lines.setdefault(f"{table}.{path}" if table else path, number)
            value = raw[key.end() :]
            for quote in ('"""', "'''"):
                if value.count(quote) % 2 == 1:
                    in_string = quote
    return lines


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config file."""

    key: str
    message: str
    line: int | None = None

    def format(self, path: Path | str) -> str:
        where = f"{path}:{self.line}" if self.line else str(path)
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(Exception):
    """Every problem found in one config file; ``str()`` is one line per problem."""

    def __init__(self, path: Path | str, problems: list[Problem]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(problem.format(path) for problem in problems))


class Problems:
    """Collects problems; knows the file's key lines so each one can point at its line."""

    def __init__(self, path: Path | str, lines: Mapping[str, int] | None = None) -> None:
        self.path = path
        self.lines = dict(lines or {})
        self.items: list[Problem] = []

    def line_of(self, key: str) -> int | None:
        """The line of ``key``, else of the nearest enclosing key or table that has one."""
        candidate = key
        while candidate:
            if candidate in self.lines:
                return self.lines[candidate]
            cut = max(candidate.rfind("."), candidate.rfind("["))
            candidate = candidate[:cut] if cut > 0 else ""
        return None

    def add(self, key: str, message: str) -> None:
        self.items.append(Problem(key, message, self.line_of(key)))

    def raise_if_any(self) -> None:
        if self.items:
            raise ConfigError(self.path, sorted(self.items, key=_problem_order))

    def __bool__(self) -> bool:
        return bool(self.items)


def _problem_order(problem: Problem) -> tuple[int, str]:
    return (problem.line or 0, problem.key)


def join(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def _type_name(kind: Any) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    if kind in names:
        return names[kind]
    origin = typing.get_origin(kind)
    if origin is tuple:
        return "a list of " + _type_name(typing.get_args(kind)[0]).removeprefix("a ") + "s"
    if origin is dict:
        return "a table of strings"
    if kind is Path:
        return "a path string"
    return str(kind)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# Scalar field types: (accepts the TOML value, converts it).
_SCALARS: dict[Any, tuple[typing.Callable[[Any], bool], typing.Callable[[Any], Any]]] = {
    bool: (lambda v: isinstance(v, bool), lambda v: v),
    int: (_is_int, lambda v: v),
    float: (_is_number, float),
    str: (lambda v: isinstance(v, str), lambda v: v),
    Path: (lambda v: isinstance(v, str) and bool(v), Path),
}


def _convert(kind: Any, value: Any, key: str, problems: Problems) -> tuple[bool, Any]:
    """(ok, value converted to ``kind``), adding a problem when it cannot be."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        return _convert(options[0], value, key, problems)
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        nested = build(kind, value, key, problems)
        return nested is not None, nested
    ok, converted = False, value
    if kind in _SCALARS:
        accepts, convert = _SCALARS[kind]
        ok = accepts(value)
        converted = convert(value) if ok else value
    elif origin is tuple and isinstance(value, list):
        item_kind = typing.get_args(kind)[0]
        items = []
        for index, item in enumerate(value):
            item_ok, item_value = _convert(item_kind, item, f"{key}[{index}]", problems)
            if not item_ok:
                return False, value
            items.append(item_value)
        ok, converted = True, tuple(items)
    elif origin is dict:
        ok = isinstance(value, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        )
        converted = dict(value) if ok else value
    elif origin is not tuple:  # pragma: no cover - a field type this helper was never taught
        raise TypeError(f"unsupported config field type {kind!r} for {key}")
    if not ok:
        problems.add(key, f"must be {_type_name(kind)}, got {value!r}")
    return ok, converted


def unknown_key(key: str, name: str, known: list[str], problems: Problems) -> None:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(known))})"
    problems.add(join(key, name), f"unknown key{hint}")


def build(
    cls: type[T],
    table: Any,
    key: str,
    problems: Problems,
    *,
    skip: tuple[str, ...] = (),
    extra: Mapping[str, Any] | None = None,
) -> T | None:
    """An instance of the frozen dataclass ``cls`` from a TOML table, or None on any problem.

    Keys must be field names (except those in ``skip``, handled by the caller) and values of
    the field's type; missing fields take their defaults, a field without a default is
    required. ``extra`` supplies fields that do not come from the file. After the types check,
    the instance's ``problems()`` (a list of ``(field, message)``) reports range errors.
    """
    if not isinstance(table, dict):
        problems.add(key, f"must be a table, got {table!r}")
        return None
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    settable = [name for name in fields if name not in (extra or {})]
    values: dict[str, Any] = dict(extra or {})
    failed: set[str] = set()
    before = len(problems.items)
    for name, value in table.items():
        if name in skip:
            continue
        if name not in settable:
            unknown_key(key, name, settable, problems)
            continue
        ok, converted = _convert(hints[name], value, join(key, name), problems)
        values[name] = converted
        if not ok:
            failed.add(name)
            del values[name]
    for name, field in fields.items():
        required = (
            field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        )
        if name in values or not (required or name in failed):
            continue
        if name not in failed:
            problems.add(join(key, name), "is required")
            failed.add(name)
        if required:  # a stand-in, only so the other fields' range checks can still run
            values[name] = _neutral(hints[name])
    try:
        instance = cls(**values)
    except (ValueError, TypeError) as error:  # the dataclass checks itself in __post_init__
        if not failed:
            problems.add(key, str(error))
        return None
    _range_problems(instance, key, failed, problems)
    if len(problems.items) > before:
        return None
    return instance


def _range_problems(instance: Any, key: str, failed: set[str], problems: Problems) -> None:
    """The instance's own ``problems()``, except for fields already reported."""
    check = getattr(instance, "problems", None)
    if check is not None:
        for name, message in check():
            if name not in failed:
                problems.add(join(key, name) if name else key, message)


def _neutral(kind: Any) -> Any:
    """An empty value of a field type (for range checks after a missing required field)."""
    origin = typing.get_origin(kind)
    if origin is tuple:
        return ()
    if origin is dict:
        return {}
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return kind()
    return {bool: False, int: 0, float: 0.0, str: "", Path: Path()}.get(kind)
