"""``edge-ocr run --template/--expect/--expect-file``: verdicts on a synthetic conveyor clip,
one-line errors, and an expected-code file that changes while the stream runs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from edge_ocr.capture import open_source
from edge_ocr.cli import app
from edge_ocr.conveyor import ConveyorConfig, ConveyorStream
from edge_ocr.events import ItemEvent
from edge_ocr.model import load_model
from edge_ocr.pipeline import Pipeline, PipelineConfig, run_stream
from edge_ocr.recognize import LineRecognizer
from edge_ocr.rules.engine import RulesEngine
from edge_ocr.rules.tracking import TrackedRules

runner = CliRunner()
EASY = ConveyorConfig(seed=11, items=2, speed=300.0, char_height=(28, 32), noise=2.0)
"""Large, clean prints passing slowly: a two-line item, then a one-line one."""
FIRST_ITEM = ["--seed", "11", "--items", "1", "--speed", "300", "--char-height", "28,32"]
RUN = ["run", "--source", "synthetic", "--accel", "cpu", "--noise", "2", *FIRST_ITEM]
TRUTH = ConveyorStream(EASY).truth
CODE = TRUTH[0].text  # 'IXTUJZ | L4620098'


def events_of(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_the_right_expected_code_passes() -> None:
    result = runner.invoke(app, [*RUN, "--json", "--expect", CODE])
    assert result.exit_code == 0, result.output
    (event,) = events_of(result.stdout)
    assert event["text"] == CODE
    assert event["verdict"] == "pass" and event["detail"] is None
    assert event["grade"] in tuple("ABCD")
    assert {"margin", "contrast", "completeness", "spacing", "baseline"} <= set(event["quality"])
    assert "verdicts: 1 pass, 0 fail, 0 no-read" in result.stderr


def test_a_wrong_expected_code_fails_and_says_where() -> None:
    wrong = CODE[:-2] + "3" + CODE[-1]  # 'IXTUJZ | L4620038': line 2, position 7
    result = runner.invoke(app, [*RUN, "--expect", wrong])
    assert result.exit_code == 3, result.output
    (line,) = [row for row in result.stdout.splitlines() if row.startswith("item")]
    text, verdict, grade, detail = line.split("\t")
    assert text.endswith(CODE)
    assert verdict == "fail" and grade in tuple("ABCDF")
    assert detail.startswith("line 2, position 7: expected '3', read '9'"), detail


def test_a_template_judges_the_print() -> None:
    result = runner.invoke(app, [*RUN, "--json", "--template", "[A-Z]{6} | L[0-9]{7}"])
    assert result.exit_code == 0, result.output
    (event,) = events_of(result.stdout)
    assert event["verdict"] == "pass" and event["text"] == CODE
    result = runner.invoke(app, [*RUN, "--json", "--template", "[0-9]{6} | L[0-9]{7}"])
    assert result.exit_code == 3
    (event,) = events_of(result.stdout)
    assert event["verdict"] in ("fail", "no-read") and "line 1" in event["detail"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--template", "LOT [0-9"], "edge-ocr: error: template line 1, column 5: unclosed '['"),
        (["--expect", "lot 4711"], "expected code line 1, column 1: 'l' is not a character"),
        (["--expect-file", "/nonexistent/code.txt"], "expected-code file not found"),
        (["--expect", "A", "--expect-file", "x.txt"], "not both"),
        (["--template", "A | B", "--expect", "A"], "the template has 2 line(s) but the expected"),
    ],
)
def test_bad_rules_options_are_one_line_errors(options: list[str], message: str) -> None:
    result = runner.invoke(app, [*RUN, *options])
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output and not result.stdout


def test_a_changed_expected_code_file_holds_for_the_items_after_it(tmp_path: Path) -> None:
    """The line switches to the next product after the first item: the file is rewritten."""
    code = tmp_path / "expected.txt"
    code.write_text(TRUTH[0].text.replace(" | ", "\n") + "\n")
    recognizer = LineRecognizer(load_model("lines", accel="cpu"))
    engine = RulesEngine.for_recognizer(recognizer, expect_file=code)
    pipeline = Pipeline(PipelineConfig(), recognizer, rules=TrackedRules(engine))
    events: list[ItemEvent] = []

    def on_events(new: list[ItemEvent]) -> None:
        if not events:
            code.write_text(TRUTH[1].text + "\n")
            stat = code.stat()  # a new modification time even on a coarse clock
            os.utime(code, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        events.extend(new)

    run_stream(pipeline, open_source("synthetic", conveyor=EASY), on_events)
    assert [e.text for e in events] == [t.text for t in TRUTH]
    assert [e.verdict for e in events] == ["pass", "pass"], [e.detail for e in events]
    assert pipeline.rules is not None and len(pipeline.rules) == 0  # judged lines forgotten


def test_rules_need_a_recognizer() -> None:
    class Scripted:
        def read(self, crops: Any) -> list[Any]:  # noqa: ARG002 (the LineReader protocol)
            return []

    engine = RulesEngine("0123456789", expected="0")
    with pytest.raises(TypeError, match="rules need a recognizer"):
        Pipeline(PipelineConfig(), Scripted(), rules=TrackedRules(engine))
