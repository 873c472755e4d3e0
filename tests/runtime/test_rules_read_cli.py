"""``edge-ocr read --template/--expect/--expect-file`` with the bundled line model."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from edge_ocr.cli import app
from edge_ocr.render import render_hershey
from edge_ocr.rules.template import parse_line_template

runner = CliRunner()
CODE = ("LOT 4711", "EXP 2027-04-11")


def _print(text: str, path: Path) -> Path:
    drawn = render_hershey(text, 30, cv2.FONT_HERSHEY_SIMPLEX, False, np.random.default_rng(1))
    ink = cv2.copyMakeBorder(drawn.ink, 6, 6, 10, 10, cv2.BORDER_CONSTANT, value=0.0)
    cv2.imwrite(str(path), np.rint(230 - 200 * ink).astype(np.uint8))
    return path


@pytest.fixture
def item(tmp_path: Path) -> list[Path]:
    return [_print(text, tmp_path / f"{i}.png") for i, text in enumerate(CODE)]


def _objects(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_expect_gives_one_verdict_per_item(item: list[Path]) -> None:
    result = runner.invoke(
        app,
        [
            "read",
            *map(str, item),
            "--json",
            "--template",
            "LOT [0-9]{4} | EXP {date:YYYY-MM-DD}",
            "--expect",
            " | ".join(CODE),
        ],
    )
    objects = _objects(result.stdout)
    assert len(objects) == 1, result.output
    found = objects[0]
    assert found["files"] == [str(p) for p in item]
    assert found["verdict"] in ("pass", "fail", "no-read")
    assert found["grade"] in tuple("ABCDF")
    assert isinstance(found["quality"], dict) and "contrast" in found["quality"]
    lines = found["lines"]
    assert isinstance(lines, list) and len(lines) == 2
    assert result.exit_code == (0 if found["verdict"] == "pass" else 3)
    if found["verdict"] == "fail":
        assert str(found["detail"]).startswith("line ")


def test_template_reads_fit_the_template_or_say_so(item: list[Path]) -> None:
    result = runner.invoke(
        app, ["read", str(item[1]), "--json", "--template", "EXP {date:YYYY-MM-DD}"]
    )
    (found,) = _objects(result.stdout)
    (line,) = found["lines"]  # type: ignore[misc]
    template = parse_line_template("EXP {date:YYYY-MM-DD}")
    assert template.match(line["text"]) or line["template_matched"] is False or "?" in line["text"]


def test_wrong_expected_code_text_output(item: list[Path]) -> None:
    result = runner.invoke(app, ["read", str(item[0]), "--expect", "ZZZZ ZZZZZZZZZZ"])
    fields = result.stdout.strip().split("\t")
    assert fields[0] == str(item[0]) and fields[3] in ("fail", "no-read")
    assert result.exit_code == 3


def test_expected_code_from_a_file(item: list[Path], tmp_path: Path) -> None:
    code = tmp_path / "expected.txt"
    code.write_text("# batch 7\n" + "\n".join(CODE) + "\n")
    result = runner.invoke(app, ["read", *map(str, item), "--json", "--expect-file", str(code)])
    assert len(_objects(result.stdout)) == 1


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
def test_bad_rules_options_are_one_line_errors(
    item: list[Path], options: list[str], message: str
) -> None:
    result = runner.invoke(app, ["read", str(item[0]), *options])
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_images_that_do_not_make_a_whole_item_are_reported(item: list[Path]) -> None:
    result = runner.invoke(
        app, ["read", *map(str, item), str(item[0]), "--expect", " | ".join(CODE)]
    )
    assert result.exit_code == 1
    assert "left over; an item has 2 line crops" in result.stderr
    assert len(result.stdout.strip().splitlines()) == 1
