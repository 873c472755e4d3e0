"""Frame sources: files, folders, the bounded live queue, and every way a source can fail."""

from __future__ import annotations

import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge_ocr import capture
from edge_ocr.capture import (
    CaptureError,
    FrameQueue,
    LiveSource,
    SyntheticSource,
    VideoFileSource,
    ground_truth,
    open_source,
)
from edge_ocr.conveyor import ConveyorConfig, ConveyorStream


def write_video(path: Path, frames: int, size: tuple[int, int] = (160, 120)) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, size)
    assert writer.isOpened()
    rng = np.random.default_rng(0)
    for index in range(frames):
        image = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
        cv2.putText(image, str(index), (10, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 3)
        writer.write(image)
    writer.release()


def drain(source: capture.FrameSource) -> list[capture.CapturedFrame]:
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
    return frames


def test_frame_queue_drops_the_oldest_and_counts() -> None:
    queue = FrameQueue(3)
    for value in range(10):
        queue.put(value)
    assert len(queue) == 3 and queue.dropped == 7
    assert [queue.get(0.1) for _ in range(3)] == [7, 8, 9]
    with pytest.raises(TimeoutError):
        queue.get(0.01)


def test_video_file_is_read_frame_by_frame(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    write_video(path, 30)
    with open_source(str(path)) as source:
        frames = drain(source)
        assert source.dropped == 0 and not source.live
    assert [f.index for f in frames] == list(range(30))
    assert frames[10].timestamp == pytest.approx(10 / 25.0)
    assert frames[0].image.shape == (120, 160, 3)


def test_truncated_video_fails_after_its_good_frames(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    write_video(path, 40)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 6 // 10])
    source = VideoFileSource(path)
    good = []
    with pytest.raises(CaptureError, match="truncated") as error:
        while (frame := source.read()) is not None:
            good.append(frame)
    assert "\n" not in str(error.value)
    assert 5 < len(good) < 40
    source.close()


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "cannot be opened|no frame"),
        (b"RIFF\x00\x00garbage" * 300, "cannot be opened|no frame"),
    ],
)
def test_corrupt_video_is_a_one_line_error(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "broken.avi"
    path.write_bytes(content)
    with pytest.raises(CaptureError, match=match):
        drain(open_source(str(path)))


def test_missing_paths_and_cameras_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="no such file"):
        open_source(str(tmp_path / "missing.mp4"))
    with pytest.raises(CaptureError, match="no such camera device"):
        open_source("/dev/video97")
    started = time.monotonic()
    with pytest.raises(CaptureError, match="camera 97: could not be opened"):
        open_source("97")
    assert time.monotonic() - started < 10
    with pytest.raises(CaptureError, match="no images"):
        open_source(str(tmp_path))


def test_image_folder_in_name_order_and_bad_images_fail(tmp_path: Path) -> None:
    for index in (2, 0, 1):
        cv2.imwrite(str(tmp_path / f"{index:03d}.png"), np.full((40, 50), index * 50, np.uint8))
    frames = drain(open_source(str(tmp_path)))
    assert [int(f.image[0, 0]) for f in frames] == [0, 50, 100]
    (tmp_path / "003.png").write_bytes(b"not a png")
    with pytest.raises(CaptureError, match=r"003\.png: not a readable image"):
        drain(open_source(str(tmp_path)))


def test_synthetic_source_exposes_its_truth() -> None:
    config = ConveyorConfig(seed=1, items=2)
    source = open_source("synthetic", conveyor=config)
    assert isinstance(source, SyntheticSource)
    truth = ground_truth(source)
    assert truth is not None and [t.lines for t in truth] == [
        t.lines for t in ConveyorStream(config).truth
    ]
    first = source.read()
    assert first is not None and first.index == 0 and first.image.shape == (480, 640)


def test_fast_live_source_keeps_memory_flat_and_counts_drops() -> None:
    """A camera at ~1000 fps feeding a consumer that needs 20 ms a frame."""
    frame_bytes = 640 * 480
    produced = 0

    def grab() -> np.ndarray | None:
        nonlocal produced
        if produced >= 400:
            return None
        produced += 1
        time.sleep(0.001)
        return np.full((480, 640), produced % 256, np.uint8)

    tracemalloc.start()
    source = LiveSource(grab, "fast camera", queue_size=4)
    indices = []
    try:
        while (frame := source.read()) is not None:
            indices.append(frame.index)
            assert len(source.queue) <= 4
            time.sleep(0.02)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        source.close()
    assert source.dropped > 0
    assert source.dropped + len(indices) == 400
    assert source.queue.high_water <= 4
    assert indices == sorted(indices) and indices[-1] == 399  # the newest frames survive
    assert peak < 12 * frame_bytes  # queue + a frame in flight, never the whole stream


def test_a_stalled_source_raises_instead_of_hanging() -> None:
    release = threading.Event()

    def grab() -> np.ndarray | None:
        release.wait(5.0)
        return None

    source = LiveSource(grab, "camera 0", stall_timeout_s=0.2)
    started = time.monotonic()
    with pytest.raises(CaptureError, match=r"camera 0: no frame for 0\.2 s"):
        source.read()
    assert time.monotonic() - started < 2.0
    release.set()
    source.close()


class FakeCamera:
    """A V4L2 camera that delivers ``frames`` frames and then disappears."""

    def __init__(self, frames: list[np.ndarray]) -> None:
        self.frames = list(frames)
        self.released = False

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's spelling)
        return True

    def get(self, prop: int) -> float:
        return 30.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def read(self) -> tuple[bool, Any]:
        if not self.frames:
            return False, None
        time.sleep(0.002)
        return True, self.frames.pop(0)

    def release(self) -> None:
        self.released = True


def test_camera_that_disappears_mid_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    camera = FakeCamera([np.zeros((48, 64), np.uint8)] * 5)
    monkeypatch.setattr(capture, "open_video_capture", lambda *_: camera)
    source = open_source("0", queue_size=16)
    assert source.live and source.fps == 30.0
    got = []
    with pytest.raises(CaptureError, match="camera 0: stopped delivering frames"):
        while (frame := source.read()) is not None:
            got.append(frame)
    assert len(got) == 5
    source.close()
    assert camera.released


def test_realtime_replay_is_paced_and_live() -> None:
    source = open_source(
        "synthetic", realtime=True, conveyor=ConveyorConfig(items=1, fps=200.0, seed=3)
    )
    assert source.live and ground_truth(source) is not None
    started = time.monotonic()
    frames = [source.read() for _ in range(20)]
    elapsed = time.monotonic() - started
    source.close()
    assert all(f is not None for f in frames)
    assert elapsed >= 19 / 200.0 * 0.8
