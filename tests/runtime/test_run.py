"""``edge-ocr run`` end to end: a synthetic clip with exact expected events, debug outputs,
and every kind of bad input (a clear one-line message, the events so far, non-zero exit)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from edge_ocr import capture
from edge_ocr.cli import app
from edge_ocr.conveyor import ConveyorConfig, ConveyorStream

runner = CliRunner()
EASY = ConveyorConfig(seed=11, items=4, speed=300.0, char_height=(28, 32), noise=2.0)
"""Large, clean prints passing slowly: every item must be read exactly."""
EASY_ARGS = [
    "--seed",
    "11",
    "--items",
    "4",
    "--speed",
    "300",
    "--char-height",
    "28,32",
    "--noise",
    "2",
]


def events_of(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def one_line_error(stderr: str, fragment: str) -> None:
    errors = [line for line in stderr.splitlines() if line.startswith("edge-ocr: error:")]
    assert len(errors) == 1 and fragment in errors[0], stderr
    assert "Traceback" not in stderr


def test_easy_synthetic_clip_gives_exactly_the_printed_items() -> None:
    result = runner.invoke(
        app, ["run", "--source", "synthetic", "--json", "--accel", "cpu", *EASY_ARGS]
    )
    assert result.exit_code == 0, result.output
    events = events_of(result.stdout)
    truth = ConveyorStream(EASY).truth
    assert [e["text"] for e in events] == [t.text for t in truth]
    assert [e["item"] for e in events] == [1, 2, 3, 4]
    for event, item in zip(events, truth, strict=True):
        assert [line["text"] for line in event["lines"]] == list(item.lines)
        assert item.frames.start <= event["first_frame"] < event["last_frame"] < item.frames.stop
        assert event["frames_read"] >= 2
        assert 0.0 < event["confidence"] <= 1.0
        assert len(event["bbox"]) == 4
        assert {"timestamp", "verdict", "grade", "detail", "quality"} <= set(event)
        assert event["verdict"] is None and event["grade"] is None  # no rules options
    summary = [line for line in result.stderr.splitlines() if "fps processed" in line]
    assert summary and "4 items" in summary[0] and "0 dropped" in summary[0]
    assert "4/4 items exact" in result.stderr
    assert "verdicts" not in result.stderr


def test_save_video_and_crops(tmp_path: Path) -> None:
    video, crops = tmp_path / "run.avi", tmp_path / "crops"
    result = runner.invoke(
        app,
        [
            "run",
            "--source",
            "synthetic",
            "--accel",
            "cpu",
            "--items",
            "2",
            "--seed",
            "3",
            "--save-video",
            str(video),
            "--save-crops",
            str(crops),
        ],
    )
    assert result.exit_code == 0, result.output
    reader = cv2.VideoCapture(str(video))
    frames = int(reader.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, image = reader.read()
    reader.release()
    assert ok and image.shape == (480, 640, 3)
    assert frames == len(ConveyorStream(ConveyorConfig(seed=3, items=2)))
    with (crops / "labels.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and list(rows[0])[:2] == ["file", "text"]
    reported = {line for e in result.stdout.splitlines() for line in e.split("  ")[-1].split(" | ")}
    for row in rows:
        assert (crops / row["file"]).is_file()
        assert row["text"] in reported


def test_missing_file_and_bad_options() -> None:
    result = runner.invoke(app, ["run", "--source", "no/such/clip.mp4", "--accel", "cpu"])
    assert result.exit_code == 2
    one_line_error(result.stderr, "no/such/clip.mp4: no such file")
    result = runner.invoke(app, ["run", "--source", "synthetic", "--roi", "1,2,3"])
    assert result.exit_code == 2
    one_line_error(result.stderr, "--roi")


def test_corrupt_video(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    result = runner.invoke(app, ["run", "--source", str(path), "--accel", "cpu"])
    assert result.exit_code != 0
    one_line_error(result.stderr, str(path))


def test_truncated_video_prints_the_events_before_the_damage(tmp_path: Path) -> None:
    stream = ConveyorStream(ConveyorConfig(seed=21, items=4, speed=800.0, char_height=(28, 32)))
    path = tmp_path / "line.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (640, 480))
    for frame in stream:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 7 // 10])
    result = runner.invoke(app, ["run", "--source", str(path), "--json", "--accel", "cpu"])
    assert result.exit_code == 1
    one_line_error(result.stderr, "truncated")
    assert len(events_of(result.stdout)) >= 1


class VanishingCamera:
    """A camera that shows the conveyor for ``frames`` frames, then is unplugged."""

    def __init__(self, frames: int) -> None:
        self.stream = ConveyorStream(ConveyorConfig(seed=11, items=2, speed=600.0))
        self.left = frames
        self.index = 0

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's spelling)
        return True

    def get(self, prop: int) -> float:
        return 30.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def read(self) -> tuple[bool, Any]:
        if self.index >= self.left:
            return False, None
        self.index += 1
        return True, self.stream.frame(self.index - 1)

    def release(self) -> None:
        pass


def test_camera_that_disappears_mid_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    camera = VanishingCamera(frames=60)
    monkeypatch.setattr(capture, "open_video_capture", lambda *_: camera)
    result = runner.invoke(
        app, ["run", "--source", "0", "--json", "--accel", "cpu", "--queue-size", "200"]
    )
    assert result.exit_code == 1
    one_line_error(result.stderr, "camera 0: stopped delivering frames")
    assert len(events_of(result.stdout)) >= 1
    assert "60 frames" in result.stderr


def test_camera_that_does_not_open() -> None:
    result = runner.invoke(app, ["run", "--source", "/dev/video97", "--accel", "cpu"])
    assert result.exit_code == 2
    one_line_error(result.stderr, "/dev/video97: no such camera device")
    result = runner.invoke(app, ["run", "--source", "97", "--accel", "cpu"])
    assert result.exit_code == 2
    one_line_error(result.stderr, "camera 97: could not be opened")
