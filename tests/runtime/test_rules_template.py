"""Field templates: the pattern language, semantic date/time checks, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_ocr.rules.ocv import ExpectedCode, parse_expected
from edge_ocr.rules.template import (
    TemplateError,
    describe_set,
    parse_line_template,
    parse_template,
    sample_line,
)

TEMPLATES = (
    "LOT [A-Z0-9]{7}",
    "EXP {date:YYYY-MM-DD}",
    "{date:DD/MM/YYYY}",
    "{date:DD.MM.YY} {time:HH:MM}",
    "{time:HH:MM:SS} L[0-9]{1,2}",
    "BB {date:DD MON YYYY}",
    "SN [0-9]{2,4}-[^O0]{3}",
    "L[0-9]?[A-Z]{2}",
)


def test_lines_literals_classes_and_counts() -> None:
    item = parse_template("LOT [A-Z0-9]{7} | EXP {date:YYYY-MM-DD}")
    lot, expiry = item.lines
    assert [len(s.allowed) for s in lot.slots[:4]] == [1, 1, 1, 1]
    assert all(len(s.allowed) == 36 for s in lot.slots[4:]) and len(lot.slots) == 11
    assert lot.match("LOT A7K2291") and lot.match("LOT 0000000")
    assert not lot.match("LOT A7K229") and not lot.match("LOT A7K22911")
    assert expiry.fields[0].kind == "date" and expiry.fields[0].first_slot == 4
    assert str(item) == "LOT [A-Z0-9]{7} | EXP {date:YYYY-MM-DD}"
    assert parse_template("LOT A7K2291").is_literal
    assert not item.is_literal


def test_variable_counts_and_optional_atoms() -> None:
    line = parse_line_template("L[0-9]{1,3}X?")
    assert [line.match(t) for t in ("L1", "L12", "L123", "L123X", "L1X")] == [True] * 5
    assert not line.match("L") and not line.match("L1234") and not line.match("LX")
    assert line.min_length == 2 and line.max_length == 5


def test_negated_classes_and_ranges() -> None:
    line = parse_line_template("[^O0][0-3]")
    assert line.match("A3") and not line.match("O3") and not line.match("04")
    assert not line.match("A4")


@pytest.mark.parametrize(
    ("template", "good", "bad", "reason"),
    [
        ("EXP {date:YYYY-MM-DD}", "EXP 2024-02-29", "EXP 2026-02-29", "day 29 does not exist"),
        ("EXP {date:YYYY-MM-DD}", "EXP 2026-02-28", "EXP 2026-02-30", "February 2026"),
        ("{date:DD/MM/YYYY}", "31/12/2027", "31/04/2027", "day 31 does not exist in April"),
        ("{date:DD.MM.YY}", "11.04.27", "11.13.27", "month 13 does not exist"),
        ("{date:DD.MM.YY}", "29.02.24", "29.02.27", "day 29"),
        ("{time:HH:MM}", "23:59", "25:00", "hour 25 does not exist"),
        ("{time:HH:MM:SS}", "00:00:59", "12:00:61", "expected [0-5]"),
        ("{date:YYYY-MM-DD}", "1999-01-01", "1099-01-01", "year 1099 is outside"),
        ("{date:DD MON YYYY}", "11 APR 2027", "31 APR 2027", "day 31 does not exist in April"),
    ],
)
def test_dates_and_times_are_checked_as_values(
    template: str, good: str, bad: str, reason: str
) -> None:
    line = parse_line_template(template)
    assert line.match(good)
    mismatch = line.mismatch(bad)
    assert mismatch is not None and reason in mismatch.reason


def test_mismatch_says_where_and_what() -> None:
    line = parse_line_template("LOT [0-9]{4}")
    mismatch = line.mismatch("LOT 12O4")
    assert mismatch is not None and mismatch.position == 6
    assert mismatch.reason == "expected [0-9], read 'O'"
    short = line.mismatch("LOT 12")
    assert short is not None and "2 more character(s)" in short.reason
    extra = line.mismatch("LOT 12345")
    assert extra is not None and extra.position == 8 and "past the end" in extra.reason


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("LOT [A-Z", "column 5: unclosed '['"),
        ("LOT [a-z]", "column 6: 'a' is not a character the model can read"),
        ("LOT [A-Z]{3,2}", "column 10: count {3,2}: 2 is less than 3"),
        ("X{99}", "over the maximum 64"),
        ("X{0}", "repeats nothing"),
        ("X{2", "unclosed '{'"),
        ("X{a,b}", "unknown field {a,b}"),
        ("{3}X", "column 1: '{' must follow"),
        ("{dat:YYYY}", "unknown field {dat:YYYY}"),
        ("{date:}", "needs a layout"),
        ("EXP {date:YYYY-MM-DX}", "column 19: date layout 'YYYY-MM-DX': unknown token at 'DX'"),
        ("{date:YYYY}", "has no month"),
        ("{date:MM-MM}", "has the month twice"),
        ("{time:HH}", "has no minute"),
        ("{date:DD/MM/YYYY}{2}", "a count cannot follow a date or time field"),
        ("[Z-A]", "range Z-A is reversed"),
        ("[^0-9A-Z -/:.]", "the class allows no character"),
        ("A]", "unmatched ']'"),
        ("LOT #1", "column 5: '#' is not a character"),
        ("X?", "every character is optional"),
        ("LOT 1 | | EXP", "line 2, column 8: empty line"),
        ("", "template is empty"),
    ],
)
def test_invalid_templates_name_the_problem_and_the_column(template: str, message: str) -> None:
    with pytest.raises(TemplateError, match="template") as error:
        parse_template(template)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_second_line_columns_count_from_the_whole_string() -> None:
    with pytest.raises(TemplateError) as error:
        parse_template("LOT [A-Z0-9]{7} | EXP {date:YYYY-13-DD}")
    assert "line 2, column 34" in str(error.value)  # the "1" of "13"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("LOT a7k2291", "expected code line 1, column 5: 'a' is not a character"),
        ("LOT A7K2291 | EXP 2027_04_11", "line 2, column 23: '_'"),
        ("   \n# only a comment\n", "expected code is empty"),
    ],
)
def test_invalid_expected_codes_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as error:
        parse_expected(text)
    assert message in str(error.value)
    holder = ExpectedCode(text="LOT 1")
    with pytest.raises(TemplateError):
        holder.set(text)
    assert str(holder.current()) == "LOT 1"  # the old code stays in force


def test_custom_charset_is_respected() -> None:
    with pytest.raises(TemplateError, match="'A' is not a character"):
        parse_template("[0-9]A", charset="0123456789")
    assert parse_line_template("[0-9]{2}", charset="0123456789").match("42")


def test_describe_set() -> None:
    assert describe_set("7") == "'7'"
    assert describe_set("0123456789") == "[0-9]"
    assert describe_set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == "[A-Z0-9]"
    assert describe_set("0123") == "[0-3]"


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(TEMPLATES), st.integers(0, 2**32 - 1))
def test_sampled_lines_always_match(template: str, seed: int) -> None:
    line = parse_line_template(template)
    text = sample_line(line, np.random.default_rng(seed))
    assert line.match(text), text
