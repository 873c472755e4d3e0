"""Field templates: which characters may stand at each position of a printed line.

A template is a small pattern language, one pattern per text line, lines separated by ``|``::

    LOT [A-Z0-9]{7} | EXP {date:YYYY-MM-DD}

Literals stand for themselves, ``[...]`` is a character class (``[A-Z0-9]``, ``[^O]``), a count
``{7}``, ``{2,4}`` or ``?`` repeats the atom before it, and ``{date:...}`` / ``{time:...}`` are
semantic fields whose positions are constrained per digit (a month starts with 0 or 1) and whose
value is checked as a whole (no 2026-02-30, no 25:00). The full reference is in
``edge_ocr/rules/README.md``.

A line compiles to a sequence of *slots* (one allowed character set each, possibly optional):
a linear automaton whose state ``i`` means "``i`` slots consumed or skipped". Constrained decoding
walks that automaton on the CTC lattice; ``LineTemplate.match`` walks it on a string.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from edge_ocr.charset import DEFAULT_CHARSET

LINE_SEPARATOR = "|"
MAX_REPEAT = 64
"""Upper bound of a count: a 256-pixel line model cannot read more characters than that anyway."""
MAX_SLOTS = 128
DIGITS = "0123456789"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
YEAR_RANGE = (1900, 2099)
"""Four-digit years outside this range are not dates a pack carries."""


class TemplateError(ValueError):
    """A template or an expected code that cannot be used; the message names where and why."""


@dataclass(frozen=True)
class Slot:
    """One character position: the characters allowed there; optional slots may be skipped."""

    allowed: frozenset[str]
    optional: bool = False
    field: int | None = None
    """Index of the semantic field this slot belongs to, if any."""


@dataclass(frozen=True)
class Field:
    """A date or time occupying ``length`` consecutive required slots from ``first_slot``."""

    kind: str
    layout: str
    first_slot: int
    length: int
    tokens: tuple[str, ...]
    """The layout split into tokens (``YYYY``, ``-``, ``MM``...), one entry per token."""

    def problem(self, text: str) -> str | None:
        """Why ``text`` (exactly ``length`` characters) is not a valid value, or None."""
        values: dict[str, int] = {}
        position = 0
        for token in self.tokens:
            part = text[position : position + len(token)]
            position += len(token)
            if token == "MON":
                if part not in MONTH_NAMES:
                    return f"{part!r} is not a month name"
                values["month"] = MONTH_NAMES.index(part) + 1
            elif token in _NUMERIC_TOKENS:
                if not part.isdigit():
                    return f"{part!r} is not a number"
                date_name, time_name = _NUMERIC_TOKENS[token]
                values[time_name if self.kind == "time" else date_name] = int(part)
        return _date_problem(values) if self.kind == "date" else _time_problem(values)


# token -> (name in a date, name in a time)
_NUMERIC_TOKENS = {
    "YYYY": ("year4", "year4"),
    "YY": ("year2", "year2"),
    "MM": ("month", "minute"),
    "DD": ("day", "day"),
    "HH": ("hour", "hour"),
    "SS": ("second", "second"),
}


def _date_problem(values: dict[str, int]) -> str | None:
    if "year4" in values:
        year: int | None = values["year4"]
        if not YEAR_RANGE[0] <= values["year4"] <= YEAR_RANGE[1]:
            return f"year {values['year4']} is outside {YEAR_RANGE[0]}-{YEAR_RANGE[1]}"
    elif "year2" in values:
        year = 2000 + values["year2"]
    else:
        year = None
    month = values.get("month")
    if month is not None and not 1 <= month <= 12:
        return f"month {month:02d} does not exist"
    day = values.get("day")
    if day is None:
        return None
    if month is None:
        return None if 1 <= day <= 31 else f"day {day:02d} does not exist"
    # Without a year, 29 February is allowed (it exists in leap years).
    last = calendar.monthrange(2000 if year is None else year, month)[1]
    if not 1 <= day <= last:
        where = calendar.month_name[month] + ("" if year is None else f" {year}")
        return f"day {day:02d} does not exist in {where}"
    return None


def _time_problem(values: dict[str, int]) -> str | None:
    if values.get("hour", 0) > 23:
        return f"hour {values['hour']:02d} does not exist"
    if values.get("minute", 0) > 59:
        return f"minute {values['minute']:02d} does not exist"
    if values.get("second", 0) > 59:
        return f"second {values['second']:02d} does not exist"
    return None


_ANY_DIGIT = frozenset(DIGITS)
_TOKEN_SLOTS: dict[tuple[str, str], tuple[frozenset[str], ...]] = {
    ("date", "YYYY"): (frozenset("12"), frozenset("09"), _ANY_DIGIT, _ANY_DIGIT),
    ("date", "YY"): (_ANY_DIGIT, _ANY_DIGIT),
    ("date", "MM"): (frozenset("01"), _ANY_DIGIT),
    ("date", "DD"): (frozenset("0123"), _ANY_DIGIT),
    ("date", "MON"): tuple(frozenset(name[i] for name in MONTH_NAMES) for i in range(3)),
    ("time", "HH"): (frozenset("012"), _ANY_DIGIT),
    ("time", "MM"): (frozenset("012345"), _ANY_DIGIT),
    ("time", "SS"): (frozenset("012345"), _ANY_DIGIT),
}
"""Per-position classes of the field tokens: as tight as a position-by-position automaton
allows; the rest (30 February, 1000 as a year) is the semantic check's job."""


_FIELD_TOKENS = {
    "date": ("YYYY", "MON", "YY", "MM", "DD"),
    "time": ("HH", "MM", "SS"),
}
_FIELD_PARTS = {
    "date": {"YYYY": "year", "YY": "year", "MON": "month", "MM": "month", "DD": "day"},
    "time": {"HH": "hour", "MM": "minute", "SS": "second"},
}


def describe_set(allowed: Iterable[str]) -> str:
    """Short human form of a character set: ``'7'``, ``[0-9]``, ``[A-Z0-9]``, ``[0-3]``."""
    chars = sorted(set(allowed))
    if len(chars) == 1:
        return repr(chars[0])
    runs: list[str] = []
    start = 0
    for index in range(1, len(chars) + 1):
        if index == len(chars) or ord(chars[index]) != ord(chars[index - 1]) + 1:
            run = chars[start:index]
            runs.append(f"{run[0]}-{run[-1]}" if len(run) > 2 else "".join(run))
            start = index
    letters_first = sorted(runs, key=lambda r: (not r[0].isalpha(), not r[0].isdigit(), r))
    return "[" + "".join(letters_first) + "]"


@dataclass(frozen=True)
class Mismatch:
    """Where a string leaves a line template: a 0-based character position and what went wrong."""

    position: int
    reason: str


@dataclass(frozen=True)
class LineTemplate:
    """One compiled line: its slots (the automaton) and semantic fields."""

    source: str
    slots: tuple[Slot, ...]
    fields: tuple[Field, ...] = ()

    @property
    def is_literal(self) -> bool:
        """True when exactly one string matches (an expected code written out in full)."""
        return all(len(s.allowed) == 1 and not s.optional for s in self.slots)

    @property
    def literal(self) -> str:
        return "".join(next(iter(s.allowed)) for s in self.slots)

    @property
    def end(self) -> int:
        """The accepting state."""
        return len(self.slots)

    @cached_property
    def _closures(self) -> tuple[frozenset[int], ...]:
        closures: list[frozenset[int]] = [frozenset({self.end})]
        for index in range(self.end - 1, -1, -1):
            more = closures[0] if self.slots[index].optional else frozenset()
            closures.insert(0, frozenset({index}) | more)
        return tuple(closures)

    def closure(self, states: Iterable[int]) -> frozenset[int]:
        """States reachable by skipping optional slots."""
        result: frozenset[int] = frozenset()
        for state in states:
            result |= self._closures[state]
        return result

    @cached_property
    def start(self) -> frozenset[int]:
        return self.closure([0])

    def step(self, states: frozenset[int], char: str) -> frozenset[int]:
        """States after reading ``char`` from the (closed) state set ``states``."""
        return self.closure(s + 1 for s in states if s < self.end and char in self.slots[s].allowed)

    def allowed(self, states: frozenset[int]) -> frozenset[str]:
        """Characters that can come next from the (closed) state set ``states``."""
        result: frozenset[str] = frozenset()
        for state in states:
            if state < self.end:
                result |= self.slots[state].allowed
        return result

    def accepts(self, states: frozenset[int]) -> bool:
        return self.end in states

    @cached_property
    def min_remaining(self) -> tuple[int, ...]:
        """Fewest characters still needed from each state to reach the end."""
        remaining = [0] * (self.end + 1)
        for index in range(self.end - 1, -1, -1):
            remaining[index] = remaining[index + 1] + (0 if self.slots[index].optional else 1)
        return tuple(remaining)

    @property
    def min_length(self) -> int:
        return self.min_remaining[0]

    @property
    def max_length(self) -> int:
        return self.end

    def match(self, text: str) -> bool:
        """True when ``text`` fits the slots and every date/time field is a real value."""
        return self.mismatch(text) is None

    def mismatch(self, text: str) -> Mismatch | None:
        """None when ``text`` matches; else the first position where it cannot, and why."""
        states = self.start
        for position, char in enumerate(text):
            following = self.step(states, char)
            if not following:
                expected = self.allowed(states)
                if not expected:
                    return Mismatch(position, f"read {char!r} past the end of the template")
                return Mismatch(position, f"expected {describe_set(expected)}, read {char!r}")
            states = following
        if not self.accepts(states):
            needed = self.min_remaining[min(states)]
            return Mismatch(
                len(text),
                f"line too short: {needed} more character(s) expected, as {self.source!r}",
            )
        return self._field_mismatch(text)

    def _field_mismatch(self, text: str) -> Mismatch | None:
        """Semantic check: some slot path through the automaton has every field valid.

        Field slots are required and contiguous, so a field starting at slot ``s`` and text
        position ``p`` is valid or not regardless of the path that led there; memoising on
        ``(p, s)`` keeps the search linear in ``len(text) * len(slots)``.
        """
        if not self.fields:
            return None
        starts = {f.first_slot: f for f in self.fields}
        failed: set[tuple[int, int]] = set()
        first_problem: list[Mismatch] = []

        def walk(position: int, slot: int) -> bool:
            key = (position, slot)
            if key in failed:
                return False
            ok = False
            if slot == self.end:
                ok = position == len(text)
            elif position <= len(text):
                field = starts.get(slot)
                if field is not None:
                    value = text[position : position + field.length]
                    problem = (
                        field.problem(value)
                        if len(value) == field.length
                        and all(c in self.slots[slot + i].allowed for i, c in enumerate(value))
                        else "skip"
                    )
                    if problem is None:
                        ok = walk(position + field.length, slot + field.length)
                    elif problem != "skip":
                        first_problem.append(
                            Mismatch(position, f"{value!r} is not a valid {field.kind}: {problem}")
                        )
                else:
                    current = self.slots[slot]
                    ok = (
                        position < len(text)
                        and text[position] in current.allowed
                        and walk(position + 1, slot + 1)
                    ) or (current.optional and walk(position, slot + 1))
            if not ok:
                failed.add(key)
            return ok

        if walk(0, 0):
            return None
        if first_problem:
            return first_problem[0]
        return Mismatch(0, f"does not fit {self.source!r}")


@dataclass(frozen=True)
class ItemTemplate:
    """The templates of every line of an item, top to bottom."""

    source: str
    lines: tuple[LineTemplate, ...]

    @property
    def is_literal(self) -> bool:
        return all(line.is_literal for line in self.lines)

    def __str__(self) -> str:
        return " | ".join(line.source for line in self.lines)


class _Parser:
    """Recursive-descent parser of one line; columns in errors are 1-based in the whole string."""

    def __init__(self, text: str, offset: int, line_number: int, charset: str, what: str) -> None:
        self.text = text
        self.offset = offset
        self.line_number = line_number
        self.charset = charset
        self.what = what
        self.pos = 0
        self.slots: list[Slot] = []
        self.fields: list[Field] = []

    def error(self, message: str, position: int | None = None) -> TemplateError:
        column = self.offset + (self.pos if position is None else position) + 1
        return TemplateError(f"{self.what} line {self.line_number}, column {column}: {message}")

    def check_char(self, char: str, position: int) -> None:
        if char in self.charset:
            return
        hint = ""
        if char.upper() != char and char.upper() in self.charset:
            hint = f" (the model reads capitals only: write {char.upper()!r})"
        raise self.error(f"{char!r} is not a character the model can read{hint}", position)

    def parse(self) -> LineTemplate:
        if not self.text:
            raise self.error("empty line")
        while self.pos < len(self.text):
            if self._at_field():
                self.parse_field()
                continue
            atom_start = self.pos
            allowed = self.parse_atom()
            low, high = self.parse_count(atom_start)
            for index in range(high):
                self.slots.append(Slot(allowed, optional=index >= low))
            if len(self.slots) > MAX_SLOTS:
                raise self.error(f"longer than {MAX_SLOTS} characters", atom_start)
        if not any(not s.optional for s in self.slots):
            raise self.error("every character is optional: the line could be empty", 0)
        return LineTemplate(self.text, tuple(self.slots), tuple(self.fields))

    def _at_field(self) -> bool:
        """``{`` followed by a letter opens a field; followed by a digit, a count."""
        return (
            self.text[self.pos : self.pos + 1] == "{"
            and self.text[self.pos + 1 : self.pos + 2].isalpha()
        )

    def parse_atom(self) -> frozenset[str]:
        char = self.text[self.pos]
        if char == "[":
            return self.parse_class()
        if char == "\\":
            if self.pos + 1 >= len(self.text):
                raise self.error("'\\' at the end of the line escapes nothing")
            self.pos += 2
            self.check_char(self.text[self.pos - 1], self.pos - 1)
            return frozenset(self.text[self.pos - 1])
        if char in "]}":
            raise self.error(f"unmatched {char!r} (write \\{char} for the character itself)")
        if char in "{?":
            raise self.error(f"{char!r} must follow a character or a class it repeats")
        self.check_char(char, self.pos)
        self.pos += 1
        return frozenset(char)

    def parse_class(self) -> frozenset[str]:
        start = self.pos
        self.pos += 1
        negate = self.text[self.pos : self.pos + 1] == "^"
        if negate:
            self.pos += 1
        chars: set[str] = set()
        while True:
            if self.pos >= len(self.text):
                raise self.error("unclosed '[': add ']'", start)
            char = self.text[self.pos]
            if char == "]":
                self.pos += 1
                break
            first = self.class_char()
            dash = self.text[self.pos : self.pos + 1] == "-"
            if dash and self.text[self.pos + 1 : self.pos + 2] not in ("]", ""):
                range_start = self.pos - 1
                self.pos += 1
                last = self.class_char()
                if ord(last) < ord(first):
                    raise self.error(f"range {first}-{last} is reversed", range_start)
                span = {chr(c) for c in range(ord(first), ord(last) + 1)}
                chars |= span & set(self.charset)
            else:
                chars.add(first)
        allowed = set(self.charset) - chars if negate else chars
        if not allowed:
            raise self.error("the class allows no character", start)
        return frozenset(allowed)

    def class_char(self) -> str:
        char = self.text[self.pos]
        if char == "\\":
            if self.pos + 1 >= len(self.text):
                raise self.error("'\\' at the end of the line escapes nothing")
            self.pos += 1
            char = self.text[self.pos]
        self.check_char(char, self.pos)
        self.pos += 1
        return char

    def parse_count(self, atom_start: int) -> tuple[int, int]:
        if self.text[self.pos : self.pos + 1] == "?":
            self.pos += 1
            return 0, 1
        if self.text[self.pos : self.pos + 1] != "{" or self._at_field():
            return 1, 1
        close = self.text.find("}", self.pos)
        if close < 0:
            raise self.error("unclosed '{': add '}'")
        body = self.text[self.pos + 1 : close]
        parts = body.split(",")
        if len(parts) > 2 or not all(p.strip().isdigit() for p in parts):
            raise self.error(f"count {{{body}}} must be {{n}} or {{n,m}} with whole numbers")
        low, high = int(parts[0]), int(parts[-1])
        if high < low:
            raise self.error(f"count {{{body}}}: {high} is less than {low}")
        if high == 0:
            raise self.error(f"count {{{body}}} repeats nothing", atom_start)
        if high > MAX_REPEAT:
            raise self.error(f"count {{{body}}} is over the maximum {MAX_REPEAT}")
        self.pos = close + 1
        return low, high

    def parse_field(self) -> None:
        start = self.pos
        close = self.text.find("}", start)
        if close < 0:
            raise self.error("unclosed '{': add '}'")
        body = self.text[start + 1 : close]
        kind, colon, layout = body.partition(":")
        if kind not in _FIELD_TOKENS:
            raise self.error(f"unknown field {{{body}}}: use {{date:...}} or {{time:...}}")
        if not colon or not layout:
            raise self.error(f"{{{kind}:...}} needs a layout, e.g. {_EXAMPLES[kind]}")
        tokens = self.layout_tokens(kind, layout, start + len(kind) + 2)
        first_slot = len(self.slots)
        index = len(self.fields)
        for token in tokens:
            if token in _FIELD_PARTS[kind]:
                classes = _TOKEN_SLOTS[kind, token]
            else:
                classes = (frozenset(token),)
            for allowed in classes:
                self.slots.append(Slot(allowed, field=index))
        self.fields.append(
            Field(kind, layout, first_slot, len(self.slots) - first_slot, tuple(tokens))
        )
        self.pos = close + 1
        following = self.text[self.pos : self.pos + 2]
        if following[:1] == "?" or (following[:1] == "{" and not following[1:].isalpha()):
            raise self.error("a count cannot follow a date or time field")

    def layout_tokens(self, kind: str, layout: str, column: int) -> list[str]:
        tokens: list[str] = []
        seen: dict[str, str] = {}
        position = 0
        while position < len(layout):
            for token in _FIELD_TOKENS[kind]:
                if layout.startswith(token, position):
                    part = _FIELD_PARTS[kind][token]
                    if part in seen:
                        raise self.error(
                            f"{kind} layout {layout!r} has the {part} twice", column + position
                        )
                    seen[part] = token
                    tokens.append(token)
                    position += len(token)
                    break
            else:
                char = layout[position]
                if char.isalnum():
                    raise self.error(
                        f"{kind} layout {layout!r}: unknown token at {layout[position:]!r} "
                        f"(use {', '.join(_FIELD_TOKENS[kind])} and separators)",
                        column + position,
                    )
                self.check_char(char, column + position)
                tokens.append(char)
                position += 1
        needed = ("month",) if kind == "date" else ("hour", "minute")
        missing = [p for p in needed if p not in seen]
        if kind == "date" and len(seen) < 2:
            missing = missing or ["a year or a day"]
        if missing:
            raise self.error(f"{kind} layout {layout!r} has no {', '.join(missing)}", column)
        return tokens


_EXAMPLES = {"date": "{date:YYYY-MM-DD}", "time": "{time:HH:MM}"}


def parse_line_template(
    text: str, charset: str = DEFAULT_CHARSET, what: str = "template"
) -> LineTemplate:
    """Compile one line's pattern (a template of exactly one line)."""
    item = parse_template(text, charset, what)
    if len(item.lines) != 1:
        raise TemplateError(f"{what}: one line expected, got {len(item.lines)} separated by '|'")
    return item.lines[0]


def parse_template(
    text: str, charset: str = DEFAULT_CHARSET, what: str = "template"
) -> ItemTemplate:
    """Compile ``"LINE | LINE ..."``; spaces around ``|`` are ignored, spaces inside a line are
    literal. ``what`` names the source in errors ("template", "expected code", a file name)."""
    if not text.strip():
        raise TemplateError(f"{what} is empty")
    lines: list[LineTemplate] = []
    offset = 0
    for number, raw in enumerate(_split_lines(text), start=1):
        stripped = raw.strip(" ")
        lead = len(raw) - len(raw.lstrip(" "))
        if not stripped:
            raise TemplateError(f"{what} line {number}, column {offset + 1}: empty line")
        parser = _Parser(stripped, offset + lead, number, charset, what)
        lines.append(parser.parse())
        offset += len(raw) + 1
    return ItemTemplate(text, tuple(lines))


def _split_lines(text: str) -> list[str]:
    """Split on unescaped ``|``."""
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char == LINE_SEPARATOR:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def sample_line(template: LineTemplate, rng: np.random.Generator) -> str:
    """A random string the line template accepts, dates and times valid: test texts, synthetic
    streams. Each optional slot is kept with probability one half."""
    chars: list[str] = []
    slot = 0
    while slot < template.end:
        field = next((f for f in template.fields if f.first_slot == slot), None)
        if field is not None:
            chars.append(_sample_field(field, rng))
            slot += field.length
            continue
        current = template.slots[slot]
        if not current.optional or rng.random() < 0.5:
            options = sorted(current.allowed)
            chars.append(options[int(rng.integers(len(options)))])
        slot += 1
    return "".join(chars)


def _sample_field(field: Field, rng: np.random.Generator) -> str:
    if field.kind == "date":
        day = dt.date(2000, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365 * 99)))
        values = {
            "YYYY": f"{day.year:04d}",
            "YY": f"{day.year % 100:02d}",
            "MM": f"{day.month:02d}",
            "DD": f"{day.day:02d}",
            "MON": MONTH_NAMES[day.month - 1],
        }
    else:
        values = {
            "HH": f"{int(rng.integers(24)):02d}",
            "MM": f"{int(rng.integers(60)):02d}",
            "SS": f"{int(rng.integers(60)):02d}",
        }
    return "".join(values.get(token, token) for token in field.tokens)
