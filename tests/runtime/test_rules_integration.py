"""The pieces the pipeline and the service use: lattice reads, best frames per tracked line,
the ``[rules]`` config section and the SET_EXPECTED callback."""

from __future__ import annotations

import tomllib
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_ocr.charset import DEFAULT_CHARSET
from edge_ocr.events import ItemEvent, LineResult
from edge_ocr.model import load_model
from edge_ocr.recognize import LineRecognizer
from edge_ocr.render import render_hershey
from edge_ocr.rules.engine import RulesEngine
from edge_ocr.rules.settings import RulesSettings, SetExpected
from edge_ocr.rules.tracking import TrackedRules, lattice_reads
from edge_ocr.service.tables import Problems, build
from edge_ocr.track import EndedTrack

INDEX = {c: i + 1 for i, c in enumerate(DEFAULT_CHARSET)}


def sure_matrix(text: str, p: float = 0.999) -> np.ndarray:
    classes = len(DEFAULT_CHARSET) + 1
    blank = np.eye(classes, dtype=np.float32)[0]
    frames = [blank]
    for char in text:
        frame = np.zeros(classes, np.float32)
        frame[INDEX[char]], frame[0] = p, 1 - p
        frames += [frame, blank]
    return np.stack(frames)


def crop(text: str) -> np.ndarray:
    ink = render_hershey(text, 26, cv2.FONT_HERSHEY_SIMPLEX, False, np.random.default_rng(0)).ink
    padded = cv2.copyMakeBorder(ink, 6, 6, 10, 10, cv2.BORDER_CONSTANT, value=0.0)
    return np.rint(230 - 200 * padded).astype(np.uint8)


def test_lattice_reads_match_the_recognizer() -> None:
    recognizer = LineRecognizer(load_model("lines", accel="cpu"), reject_threshold=0.3)
    crops = [crop("LOT 4711"), crop("EXP 2027-04-11")]
    binned = np.stack([recognizer.bin(c) for c in crops])
    expected = recognizer.read_binned(binned)
    assert lattice_reads(list(recognizer.probabilities(binned)), DEFAULT_CHARSET, 0.3) == expected


def _event(lines: tuple[str, ...]) -> ItemEvent:
    return ItemEvent(
        item=1,
        timestamp=0.0,
        lines=tuple(LineResult(t, 0.9) for t in lines),
        confidence=0.9,
        first_frame=0,
        last_frame=3,
        frames_read=3,
        bbox=(0, 0, 10, 10),
    )


def test_tracked_rules_judge_each_item_on_its_best_frames() -> None:
    engine = RulesEngine(DEFAULT_CHARSET, expected="LOT 4711 | EXP 2027-04-11")
    tracked = TrackedRules(engine)
    good = {t: sure_matrix(t) for t in ("LOT 4711", "EXP 2027-04-11")}
    blurred = sure_matrix("LOT 4717", 0.6)
    for text, lattice, slot in [
        ("LOT 4717", blurred, 5),  # a poor frame first...
        ("LOT 4711", good["LOT 4711"], 5),  # ...then the sharp one
        ("EXP 2027-04-11", good["EXP 2027-04-11"], 2),
    ]:
        (read,) = lattice_reads([lattice], DEFAULT_CHARSET, 0.0)
        tracked.observe(7, slot, read, lattice, crop(text))
    tracked.observe(7, -1, read, blurred, crop("X"))  # a piece of a matched line: ignored
    tracked.observe(8, 0, read, blurred, crop("X"))  # another track, not reported
    assert len(tracked) == 3
    # Slot 5 is the top line (event line 0), slot 2 the bottom one.
    ended = [
        EndedTrack(7, _event(("LOT 4711", "EXP 2027-04-11")), {5: 0, 2: 1}),
        EndedTrack(8, None, {}),
    ]
    (event,) = tracked.judge(ended)
    assert event.verdict == "pass" and event.grade in tuple("ABCDF")
    assert [line.text for line in event.lines] == ["LOT 4711", "EXP 2027-04-11"]
    assert "contrast" in event.quality and event.to_dict()["verdict"] == "pass"
    assert len(tracked) == 0
    bounded = TrackedRules(engine, max_lines=4)
    for track in range(10):
        bounded.observe(track, 0, read, blurred, crop("X"))
    assert len(bounded) == 4


SECTION = """
[rules]
template = "LOT [0-9]{4} | EXP {date:YYYY-MM-DD}"
expect = "LOT 4711 | EXP 2027-04-11"

[rules.thresholds]
char_reject = 0.6
confusable = ["O0"]
pass_min_grade = "C"
confusable_evidence = inf

[rules.thresholds.grading.contrast]
zero = 0.0
d = 0.1
c = 0.2
b = 0.3
a = 0.4
perfect = 0.6
"""


def test_the_rules_section_builds_with_the_service_config_builder() -> None:
    problems = Problems("config.toml")
    settings = build(RulesSettings, tomllib.loads(SECTION)["rules"], "rules", problems)
    assert not problems.items and settings is not None
    assert settings.thresholds.char_reject == 0.6
    assert settings.thresholds.confusable == ("O0",)
    assert settings.thresholds.confusable_evidence == float("inf")
    assert settings.thresholds.grading.contrast.a == 0.4
    recognizer = LineRecognizer(load_model("lines", accel="cpu"))
    engine = settings.engine(recognizer)
    assert engine.template is not None and engine.lines_per_item == 2
    assert engine.expected is not None and str(engine.expected.current()).startswith("LOT 4711")


@pytest.mark.parametrize(
    ("table", "key", "message"),
    [
        ({"template": "LOT [0-9"}, "rules.template", "unclosed '['"),
        ({"expect": "lot 1"}, "rules.expect", "'l' is not a character"),
        ({"template": "A | B", "expect": "A"}, "rules.expect", "has 1 line(s) but the template"),
        ({"expect_file": "/nonexistent.txt"}, "rules.expect_file", "no such file"),
        ({"thresholds": {"char_reject": 2.0}}, "rules.thresholds", "char_reject must be within"),
        ({"thresholds": {"fail_evidnce": 2.0}}, "rules.thresholds.fail_evidnce", "unknown key"),
    ],
)
def test_bad_rules_sections_name_the_key(table: dict[str, object], key: str, message: str) -> None:
    problems = Problems("config.toml")
    assert build(RulesSettings, table, "rules", problems) is None
    assert any(p.key == key and message in p.message for p in problems.items), problems.items


def test_set_expected_callback_keeps_the_old_code_on_bad_input(tmp_path: Path) -> None:
    engine = RulesSettings().engine(LineRecognizer(load_model("lines", accel="cpu")))
    assert engine.expected is not None and engine.expected.current() is None  # settable
    callback = SetExpected(engine)
    callback("LOT0700")
    callback("lot 0700")  # invalid: logged and counted, not raised
    assert str(engine.expected.current()) == "LOT0700" and callback.rejected == 1
    bare = RulesEngine(DEFAULT_CHARSET, template="LOT[0-9]{4}")
    SetExpected(bare)("LOT0701")
    assert bare.expected is not None and str(bare.expected.current()) == "LOT0701"
