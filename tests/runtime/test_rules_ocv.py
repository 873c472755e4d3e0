"""OCV verdicts and the run-time expected code, on constructed probability matrices."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from edge_ocr.charset import DEFAULT_CHARSET
from edge_ocr.rules.config import RulesConfig
from edge_ocr.rules.engine import RulesEngine
from edge_ocr.rules.ocv import ExpectedCode, differences, parse_expected
from edge_ocr.rules.template import TemplateError

CHARSET = DEFAULT_CHARSET
INDEX = {c: i + 1 for i, c in enumerate(CHARSET)}
EXPECTED = "LOT A7K2291 | EXP 2027-04-11"


def line_matrix(chars: list[dict[str, float]]) -> np.ndarray:
    classes = len(CHARSET) + 1
    blank = np.zeros(classes, np.float32)
    blank[0] = 1.0
    frames = [blank]
    for distribution in chars:
        frame = np.zeros(classes, np.float32)
        for char, p in distribution.items():
            frame[INDEX[char]] = p
        frame[0] = max(0.0, 1.0 - frame.sum())
        frames += [frame, blank]
    return np.stack(frames)


def sure(text: str) -> list[dict[str, float]]:
    """A clear read: an int8 model gives a well-printed character 0.99-1.0."""
    return [{c: 0.999} for c in text]


def verdict(
    engine: RulesEngine, lines: list[list[dict[str, float]]]
) -> tuple[str | None, str | None]:
    result = engine.apply([line_matrix(chars) for chars in lines])
    return result.verdict, result.detail


def engine_for(expected: str = EXPECTED, **config: object) -> RulesEngine:
    return RulesEngine(CHARSET, RulesConfig(**config), expected=expected, grading=False)  # type: ignore[arg-type]


def test_the_expected_code_passes() -> None:
    assert verdict(engine_for(), [sure("LOT A7K2291"), sure("EXP 2027-04-11")]) == ("pass", None)


def test_a_changed_character_fails_and_says_where() -> None:
    result, detail = verdict(engine_for(), [sure("LOT A7K2291"), sure("EXP 2027-04-17")])
    assert result == "fail"
    assert detail is not None
    assert detail.startswith("line 2, position 14: expected '1', read '7'")


def test_missing_and_extra_characters_fail_with_their_position() -> None:
    missing = verdict(engine_for(), [sure("LOT A7K291"), sure("EXP 2027-04-11")])
    assert missing[0] == "fail" and "line 1, position 8: expected '2', read nothing" in str(
        missing[1]
    )
    extra = verdict(engine_for(), [sure("LOT A7K22911"), sure("EXP 2027-04-11")])
    assert extra[0] == "fail" and "read an extra '1'" in str(extra[1])


def test_an_uncertain_difference_is_a_no_read() -> None:
    # '7' where '1' is expected, but the model is torn between them.
    torn = [*sure("EXP 2027-04-1"), {"7": 0.5, "1": 0.45}]
    result, detail = verdict(engine_for(), [sure("LOT A7K2291"), torn])
    assert result == "no-read"
    assert detail is not None and "line 2, position 14" in detail


def test_a_rejected_character_is_a_no_read_even_when_it_matches() -> None:
    weak = [*sure("LOT A7K22"), {"9": 0.45, "8": 0.2}, *sure("1")]
    result, detail = verdict(engine_for(), [weak, sure("EXP 2027-04-11")])
    assert result == "no-read"
    assert detail == "line 1, position 10: '9' is uncertain (confidence 0.45)"
    lines = engine_for().apply([line_matrix(weak), line_matrix(sure("EXP 2027-04-11"))]).lines
    assert lines[0].text == "LOT A7K22?1"


def test_confusable_pairs_need_more_evidence() -> None:
    # 'O' read where '0' is expected, the '0' kept a little probability: strong evidence
    # (6.9 nats) for a plain pair, not enough for a confusable one.
    almost = [*sure("EXP 2"), {"O": 0.998, "0": 0.001}, *sure("27-04-11")]
    lines = [sure("LOT A7K2291"), almost]
    result, detail = verdict(engine_for(), lines)
    assert result == "no-read" and "pair the model confuses" in str(detail)
    assert verdict(engine_for(confusable=()), lines)[0] == "fail"
    # No probability at all for the expected '0': a fail even for a confusable pair...
    certain = [sure("LOT A7K2291"), sure("EXP 2O27-04-11")]
    assert verdict(engine_for(), certain)[0] == "fail"
    # ...unless confusable differences are never to fail.
    never = engine_for(confusable_evidence=float("inf"))
    assert verdict(never, certain)[0] == "no-read"


def test_line_count_mismatch_and_nothing_read() -> None:
    assert verdict(engine_for(), [sure("LOT A7K2291")]) == (
        "no-read",
        "expected 2 line(s), read 1",
    )
    assert verdict(engine_for(), []) == ("no-read", "no text read")


def test_expected_patterns_and_semantic_failures() -> None:
    engine = engine_for("LOT A7K[0-9]{4} | EXP {date:YYYY-MM-DD}")
    assert verdict(engine, [sure("LOT A7K5555"), sure("EXP 2030-01-31")])[0] == "pass"
    result, detail = verdict(engine, [sure("LOT A7K5555"), sure("EXP 2030-02-31")])
    assert result == "fail"
    assert "line 2, position 5: '2030-02-31' is not a valid date" in str(detail)


def test_template_and_expected_together() -> None:
    engine = RulesEngine(
        CHARSET,
        template="LOT [0-9]{4}",
        expected="LOT 1080",
        grading=False,
    )
    # The model leans to 'O' and 'B'; the template makes them digits, and the code passes.
    chars = [*sure("LOT 1"), {"O": 0.6, "0": 0.38}, {"B": 0.55, "8": 0.43}, *sure("0")]
    result = engine.apply([line_matrix(chars)])
    assert result.verdict == "pass" and result.lines[0].text == "LOT 1080"
    with pytest.raises(TemplateError, match="template has 1 line"):
        RulesEngine(CHARSET, template="LOT [0-9]{4}", expected="LOT 1 | X")


def test_template_only_verdicts() -> None:
    engine = RulesEngine(CHARSET, template="LOT [0-9]{4}", grading=False)
    assert engine.apply([line_matrix(sure("LOT 1234"))]).verdict == "pass"
    bad = engine.apply([line_matrix(sure("LOT 12X4Y"))])
    assert bad.verdict == "fail" and "does not fit 'LOT [0-9]{4}'" in str(bad.detail)
    plain = RulesEngine(CHARSET, grading=False).apply([line_matrix(sure("ABC"))])
    assert plain.verdict is None and plain.lines[0].text == "ABC"


def test_differences_align_both_ways() -> None:
    kinds = [(e.kind, e.position, e.expected, e.read) for e in differences("A7K2291", "A7X22911")]
    assert kinds[0] == ("S", 2, "K", "X") and kinds[1][0] == "I" and len(kinds) == 2


def test_expected_code_file_is_watched(tmp_path: Path) -> None:
    path = tmp_path / "expected.txt"
    path.write_text("# today's batch\nLOT A7K2291\nEXP 2027-04-11\n")
    holder = ExpectedCode(path=path)
    assert str(holder.current()) == "LOT A7K2291 | EXP 2027-04-11"
    first = holder.version
    path.write_text("LOT B0000001 | EXP 2028-01-01\n")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    assert str(holder.current()) == "LOT B0000001 | EXP 2028-01-01"
    assert holder.version == first + 1
    # A half-written, invalid file keeps the previous code and says why.
    path.write_text("LOT b\n")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 2_000_000))
    assert str(holder.current()) == "LOT B0000001 | EXP 2028-01-01"
    assert holder.error is not None and "'b' is not a character" in holder.error
    # set() (the firmware bridge's SET_EXPECTED) takes over at once.
    holder.set("LOT C1")
    assert str(holder.current()) == "LOT C1" and holder.error is None
    path.unlink()
    assert str(holder.current()) == "LOT C1"
    assert holder.error is not None and "keeping the previous expected code" in holder.error


def test_expected_code_file_must_exist_and_be_valid(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="expected-code file not found"):
        ExpectedCode(path=tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("LOT [A-Z\n")
    with pytest.raises(TemplateError, match="unclosed"):
        ExpectedCode(path=bad)


def test_set_is_thread_safe() -> None:
    holder = ExpectedCode(text="LOT 1")
    codes = [f"LOT {i}" for i in range(50)]
    threads = [threading.Thread(target=holder.set, args=(c,)) for c in codes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert str(holder.current()) in codes and holder.version == 51


def test_engine_without_expected_code_set_is_no_read() -> None:
    engine = RulesEngine(CHARSET, expected=ExpectedCode(), grading=False)
    assert verdict(engine, [sure("LOT 1")]) == ("no-read", "no expected code set")


def test_parse_expected_accepts_newlines_and_bars() -> None:
    assert str(parse_expected("LOT 1\r\n\nEXP 2")) == str(parse_expected("LOT 1 | EXP 2"))
    assert RulesEngine.from_options(CHARSET, expect="LOT 1").expected is not None
    with pytest.raises(TemplateError, match="not both"):
        RulesEngine.from_options(CHARSET, expect="LOT 1", expect_file="x")
