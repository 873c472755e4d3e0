"""The bench harness on tiny sets: results files with the expected keys, skipped peers, targets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.peers import normalise, peer_image
from bench.report import check_targets
from bench.sets import fresh_captchas, held_out_lines

PEER_STATUSES = {"ok", "skipped"}


def _run(*arguments: str) -> Any:
    return CliRunner().invoke(app, list(arguments))


def test_tiny_run_writes_json_markdown_and_plot(tmp_path: Path) -> None:
    result = _run(
        "--lines", "6", "--captchas", "2", "--readers", "edge-ocr-int8,tesseract,rapidocr",
        "--sections", "", "--results", str(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for name in ("latest.json", "latest.md", "accuracy_vs_latency.png"):
        assert (tmp_path / name).is_file(), name
    dated = [p for p in tmp_path.glob("*.json") if p.name != "latest.json"]
    assert len(dated) == 1 and dated[0].with_suffix(".md").is_file()

    data = json.loads((tmp_path / "latest.json").read_text())
    assert data["schema"] == "edge-ocr-bench/1" and data["mode"] == "full"
    assert {"cpu", "cores", "python", "versions", "load_average_at_start"} <= set(data["machine"])
    assert {name: s["count"] for name, s in data["sets"].items()} == {
        "lines": 6, "lines_moderate": 6, "lines_clean": 6, "captcha_4": 2, "captcha_5_6": 1,
    }  # fmt: skip
    int8 = data["readers"]["edge-ocr-int8"]
    assert int8["status"] == "ok"
    lines = int8["sets"]["lines"]
    for key in ("exact_accuracy", "cer", "median_ms", "p95_ms", "batch_ms_per_line",
                "model_bytes", "peak_rss_kb", "reader_rss_kb", "by_degradation"):  # fmt: skip
        assert key in lines, key
    assert 0.0 <= lines["exact_accuracy"] <= 1.0 and lines["median_ms"] > 0
    # Batched and one-at-a-time reads of the same crops by the same model must agree.
    assert lines["batch_agreement"] == 1.0
    assert lines["peak_rss_kb"] >= lines["reader_rss_kb"] > 0
    for peer in ("tesseract", "rapidocr"):
        assert data["readers"][peer]["status"] in PEER_STATUSES, data["readers"][peer]
    assert {s["status"] for s in data["sections"].values()} == {"skipped"}

    targets = {t["id"]: t for t in data["targets"]}
    assert {"lines_size", "line_latency", "line_accuracy", "captcha_accuracy"} <= set(targets)
    assert {"line_accuracy_moderate", "line_accuracy_clean"} <= set(targets)
    assert targets["lines_size"]["passed"] is (lines["model_bytes"] <= 300_000)
    markdown = (tmp_path / "latest.md").read_text()
    assert "## Targets" in markdown and "| edge-ocr int8 |" in markdown


def test_missing_float_run_is_skipped_not_failed(tmp_path: Path) -> None:
    result = _run(
        "--lines", "2", "--captchas", "2", "--readers", "edge-ocr-float", "--sections", "",
        "--runs", str(tmp_path / "no-runs"), "--results", str(tmp_path / "results"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "results" / "latest.json").read_text())
    float_reader = data["readers"]["edge-ocr-float"]
    assert float_reader["status"] == "skipped"
    assert "no float model" in float_reader["reason"]
    assert "skipped: no float model" in (tmp_path / "results" / "latest.md").read_text()


def test_unknown_reader_is_a_one_line_error(tmp_path: Path) -> None:
    result = _run("--readers", "edge-ocr-int8,abbyy", "--results", str(tmp_path))
    assert result.exit_code == 2
    assert "unknown reader abbyy" in result.output
    assert not list(tmp_path.iterdir())


def test_sets_are_deterministic_and_quick_is_a_prefix_of_full() -> None:
    small, large = held_out_lines(3), held_out_lines(5)
    assert small.texts == large.texts[:3]
    pairs = zip(small.items, large.items[:3], strict=True)
    assert all(np.array_equal(a.image, b.image) for a, b in pairs)
    with pytest.raises(ValueError, match="training seeds"):
        fresh_captchas("captcha_4", 1, 4, 4, seed=1000)


def test_line_sets_come_in_three_print_qualities_with_their_own_seeds() -> None:
    sets = [held_out_lines(60, quality) for quality in ("harsh", "moderate", "clean")]
    assert [s.name for s in sets] == ["lines", "lines_moderate", "lines_clean"]
    assert len({s.seed for s in sets}) == 3
    clean_notes = {note for item in sets[2].items for note in item.degradations}
    assert clean_notes <= {"light_on_dark"}
    assert any("captcha" in item.degradations for item in sets[0].items)
    assert not any("captcha" in item.degradations for item in sets[1].items)


def test_every_reader_is_normalised_alike() -> None:
    full_width_colon = "\uff1a"
    assert normalise(f"  lot{full_width_colon}ab12\n") == "LOT:AB12"
    assert normalise("EXP  2025/01/02 ") == "EXP 2025/01/02"
    assert normalise("Ä€B") == "B"


def test_peers_get_dark_text_on_light_at_least_48_px_tall() -> None:
    crop = np.zeros((20, 60), np.uint8)
    crop[5:15, 10:50] = 255  # bright print on a dark carton
    image = peer_image(crop)
    assert image.shape[0] >= 48
    assert np.median(image) > 200 and image.min() < 50


def _score(exact: float, by_style: dict[str, float], median_ms: float) -> dict[str, Any]:
    return {
        "exact_accuracy": exact,
        "cer": 0.01,
        "median_ms": median_ms,
        "p95_ms": median_ms,
        "model_bytes": 200_000,
        "by_style": {k: {"exact_accuracy": v} for k, v in by_style.items()},
    }


def _results(int8: float, tesseract: float, styles: dict[str, tuple[float, float]]) -> Any:
    """A results dict as the bench builds it, with edge-ocr int8 (1 ms) and Tesseract (20 ms)."""
    int8_styles = {k: v[0] for k, v in styles.items()}
    tesseract_styles = {k: v[1] for k, v in styles.items()}
    return {
        "sets": {"lines": {"printed_code": True, "model": "lines"}},
        "readers": {
            "edge-ocr-int8": {"sets": {"lines": _score(int8, int8_styles, 1.0)}},
            "tesseract": {"sets": {"lines": _score(tesseract, tesseract_styles, 20.0)}},
        },
        "sections": {},
    }


def test_issue_9_target_fails_where_a_peer_is_ahead_on_one_style() -> None:
    results = _results(0.9, 0.5, {"truetype": (0.8, 0.85), "dot_matrix": (0.95, 0.1)})
    target = {t["id"]: t for t in check_targets(results)}["vs_tesseract_lines"]
    assert target["passed"] is False and "truetype" in target["note"]
    results = _results(0.9, 0.5, {"truetype": (0.9, 0.85), "dot_matrix": (0.95, 0.1)})
    assert {t["id"]: t for t in check_targets(results)}["vs_tesseract_lines"]["passed"] is True


def test_int8_float_drop_is_not_judged_against_an_unrelated_float_run() -> None:
    results = _results(0.9, 0.5, {})
    results["readers"]["edge-ocr-float"] = {"sets": {"lines": {"exact_accuracy": 0.95}}}
    results["float_pairing"] = {"lines": {"paired": False, "detail": "differs"}}
    target = {t["id"]: t for t in check_targets(results)}["int8_drop_lines"]
    assert target["passed"] is None and "not comparable" in target["note"]
    results["float_pairing"] = {"lines": {"paired": True, "detail": ""}}
    target = {t["id"]: t for t in check_targets(results)}["int8_drop_lines"]
    assert target["passed"] is False and target["measured"] == "+5.00 points"


def test_a_crashing_child_is_a_failed_result_not_the_end_of_the_bench(tmp_path: Path) -> None:
    from bench.measure import run_child

    result = run_child(["-m", "bench.no_such_module"], tmp_path / "out.json", 60.0)
    assert result["status"] == "failed"
    assert "No module named" in result["reason"]


def test_peer_stream_fps_is_estimated_from_located_lines_and_latency() -> None:
    from bench.report import stream_fps_estimates

    results = _results(0.9, 0.5, {})
    results["sections"]["streams"] = {
        "status": "ok",
        "stage_ms_per_frame": {"capture": 1.0, "locate": 4.0, "recognize": 0.5, "track": 0.2},
        "located_lines_per_frame": 2.0,
    }
    # capture + locate = 5 ms, plus 2 lines x the median ms per line (1 ms and 20 ms).
    assert stream_fps_estimates(results) == {"tesseract": 22.2, "edge-ocr-int8": 142.9}


def test_segmentation_is_judged_on_what_char_mode_does() -> None:
    """Guided segmentation (char mode's default) is the measured figure; classical is named."""
    from bench.sections import _segmentation_target

    classical = {"all": {"lines": 100, "correct": 92, "accuracy": 0.92}}
    guided = {"all": {"lines": 100, "correct": 99, "accuracy": 0.99}}
    target = _segmentation_target(classical, guided)
    assert target["passed"] is True
    assert target["measured"].startswith("99.00% of 100 lines, guided")
    assert "classical 92.00%" in target["measured"]
    alone = _segmentation_target(classical, None)
    assert alone["passed"] is False
    assert alone["measured"].startswith("92.00% of 100 lines, classical")
