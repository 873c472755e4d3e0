"""Frame sources: cameras, video files, network streams, image folders and the synthetic
conveyor, behind one small interface (``FrameSource.read() -> CapturedFrame | None``).

Live sources (cameras, RTSP/HTTP/GStreamer streams, and files or the synthetic stream replayed
with ``realtime=True``) are paced by the source, not by the reader: a thread grabs frames into a
bounded queue, and when processing falls behind the *oldest* frames are dropped and counted, so
memory stays flat and what is processed is always recent. Files and folders are otherwise read
frame by frame, every frame processed.

Every failure is a ``CaptureError`` with a one-line message: a missing file, a file that is not
a video, a truncated video, a camera that does not open, or one that stops delivering frames
(``stall_timeout_s``: reading never blocks forever).
"""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge_ocr.conveyor import ConveyorConfig, ConveyorStream, ItemTruth
from edge_ocr.types import Frame

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")
DEFAULT_FPS = 30.0


class CaptureError(Exception):
    """The source cannot be opened or failed while reading; the message is one line."""


@dataclass(frozen=True)
class CapturedFrame:
    """A frame with its index in the source (gaps mean dropped frames) and its time in
    seconds (wall clock for live sources, position in the stream for files)."""

    image: Frame
    index: int
    timestamp: float


class FrameSource:
    """An opened source. ``read`` returns the next frame, None at the end of a finite source,
    or raises ``CaptureError``. ``dropped`` counts frames dropped because processing fell
    behind (live sources only). Close it when done (it is a context manager)."""

    description = "source"
    live = False
    fps: float | None = None

    @property
    def dropped(self) -> int:
        return 0

    def read(self) -> CapturedFrame | None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file; reading afterwards returns None."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class NumberedSource(FrameSource):
    """A finite source read frame by frame (a file, a folder): a frame's time is its index / fps."""

    _index = 0

    def grab(self) -> Frame | None:
        raise NotImplementedError

    def read(self) -> CapturedFrame | None:
        image = self.grab()
        if image is None:
            return None
        index = self._index - 1
        return CapturedFrame(image, index, index / (self.fps or DEFAULT_FPS))


# --------------------------------------------------------------------------- bounded queue


class FrameQueue:
    """A bounded FIFO that drops its oldest item when full and counts the drops."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("the frame queue needs room for at least one frame")
        self.maxsize = maxsize
        self._items: collections.deque[Any] = collections.deque()
        self._lock = threading.Condition()
        self.dropped = 0
        self.high_water = 0

    def put(self, item: Any) -> None:
        with self._lock:
            if len(self._items) >= self.maxsize:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self.high_water = max(self.high_water, len(self._items))
            self._lock.notify()

    def get(self, timeout: float) -> Any:
        """The oldest item; raises ``TimeoutError`` when none arrives within ``timeout``."""
        with self._lock:
            if not self._lock.wait_for(lambda: bool(self._items), timeout=timeout):
                raise TimeoutError
            return self._items.popleft()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


_END = object()


class _Failure:
    def __init__(self, message: str) -> None:
        self.message = message


Grab = Callable[[], "Frame | None"]
"""Returns the next frame, None at the end of the source, raises CaptureError on failure."""


class LiveSource(FrameSource):
    """Frames grabbed by a background thread into a ``FrameQueue``; see the module docstring.

    ``pace_fps`` sleeps between grabs to replay a file (or the synthetic stream) at its own
    rate; cameras and network streams pace themselves. ``stall_timeout_s`` bounds how long
    ``read`` waits for the next frame before it reports the source as stalled.
    """

    live = True

    def __init__(
        self,
        grab: Grab,
        description: str,
        *,
        queue_size: int = 4,
        pace_fps: float | None = None,
        stall_timeout_s: float = 5.0,
        release: Callable[[], None] | None = None,
        fps: float | None = None,
        origin: FrameSource | None = None,
    ) -> None:
        self.description = description
        self.origin = origin
        """The finite source replayed in real time, if that is what this is."""
        self.fps = fps or pace_fps
        self._grab = grab
        self._queue = FrameQueue(queue_size)
        self._pace = pace_fps
        self._stall = stall_timeout_s
        self._release = release
        self._stop = threading.Event()
        self._ended = False
        self._thread = threading.Thread(target=self._run, name="edge-ocr-capture", daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        return self._queue.dropped

    @property
    def queue(self) -> FrameQueue:
        return self._queue

    def _run(self) -> None:
        index = 0
        start = time.monotonic()
        try:
            while not self._stop.is_set():
                if self._pace:
                    delay = start + index / self._pace - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        break
                image = self._grab()
                if image is None:
                    self._queue.put(_END)
                    return
                self._queue.put(CapturedFrame(image, index, time.time()))
                index += 1
        except CaptureError as error:
            self._queue.put(_Failure(str(error)))
        except Exception as error:  # an unexpected failure in a driver still ends cleanly
            self._queue.put(_Failure(f"{self.description}: {type(error).__name__}: {error}"))

    def read(self) -> CapturedFrame | None:
        if self._ended:
            return None
        try:
            item = self._queue.get(self._stall)
        except TimeoutError:
            self._ended = True
            raise CaptureError(
                f"{self.description}: no frame for {self._stall:g} s (disconnected or stalled)"
            ) from None
        if item is _END:
            self._ended = True
            return None
        if isinstance(item, _Failure):
            self._ended = True
            raise CaptureError(item.message)
        captured: CapturedFrame = item
        return captured

    def close(self) -> None:
        self._stop.set()
        self._ended = True
        self._thread.join(timeout=1.0)
        if self._release is not None and not self._thread.is_alive():
            self._release()


# --------------------------------------------------------------------------- OpenCV sources


def open_video_capture(target: str | int, api: int, params: list[int]) -> Any:
    """``cv2.VideoCapture`` (a seam: tests replace it to fake cameras that fail)."""
    return cv2.VideoCapture(target, api, params)


class VideoFileSource(NumberedSource):
    """A video file read frame by frame, with timestamps from its frame rate.

    A file that ends before the frame count its header promises is reported as truncated.
    """

    def __init__(self, path: Path) -> None:
        self.description = str(path)
        self._capture = open_video_capture(str(path), cv2.CAP_ANY, [])
        if not self._capture.isOpened():
            self._capture.release()
            raise CaptureError(f"{path}: cannot be opened as a video (corrupt or unsupported)")
        fps = float(self._capture.get(cv2.CAP_PROP_FPS))
        self.fps = fps if 0 < fps < 1000 else DEFAULT_FPS
        count = self._capture.get(cv2.CAP_PROP_FRAME_COUNT)
        self.declared_frames = int(count) if count and count > 0 else 0
        self._index = 0
        self._done = False

    def grab(self) -> Frame | None:
        if self._done:
            return None
        try:
            ok, image = self._capture.read()
        except cv2.error as error:
            self._done = True
            raise CaptureError(f"{self.description}: decoding failed: {error}") from None
        if not ok or image is None:
            self._done = True
            if self._index == 0:
                raise CaptureError(f"{self.description}: no frame could be decoded (corrupt video)")
            if self.declared_frames and self._index < self.declared_frames:
                raise CaptureError(
                    f"{self.description}: video ends at frame {self._index} of "
                    f"{self.declared_frames} (truncated or corrupt)"
                )
            return None
        self._index += 1
        frame: Frame = image
        return frame

    def close(self) -> None:
        self._done = True
        self._capture.release()


class ImageFolderSource(NumberedSource):
    """The images of a folder in name order, one frame each."""

    def __init__(self, folder: Path, fps: float = DEFAULT_FPS) -> None:
        self.description = str(folder)
        self.fps = fps
        self._files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._files:
            raise CaptureError(f"{folder}: no images in this folder")
        self._index = 0

    def grab(self) -> Frame | None:
        if self._index >= len(self._files):
            return None
        path = self._files[self._index]
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None or image.ndim not in (2, 3) or min(image.shape[:2]) < 8:
            raise CaptureError(f"{path}: not a readable image")
        if image.dtype != np.uint8:
            image = cv2.convertScaleAbs(image, alpha=255.0 / max(1, int(image.max())))
        if image.ndim == 3 and image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        self._index += 1
        frame: Frame = image
        return frame


class SyntheticSource(FrameSource):
    """The built-in conveyor stream (``edge_ocr.conveyor``); ``stream.truth`` scores a run."""

    def __init__(self, config: ConveyorConfig) -> None:
        self.stream = ConveyorStream(config)
        self.description = f"synthetic conveyor (seed {config.seed}, {config.speed:g} px/s)"
        self.fps = config.fps
        self._index = 0

    def grab(self) -> Frame | None:
        if self._index >= self.stream.frame_count:
            return None
        image = self.stream.frame(self._index)
        self._index += 1
        return image

    def read(self) -> CapturedFrame | None:
        image = self.grab()
        if image is None:
            return None
        index = self._index - 1
        return CapturedFrame(image, index, index / self.stream.config.fps)


def ground_truth(source: FrameSource) -> tuple[ItemTruth, ...] | None:
    """The printed truth behind a synthetic source (replayed in real time or not)."""
    origin = source.origin if isinstance(source, LiveSource) else source
    return origin.stream.truth if isinstance(origin, SyntheticSource) else None


def _camera_grabber(capture: Any, description: str) -> Grab:
    def grab() -> Frame | None:
        ok, image = capture.read()
        if not ok or image is None:
            raise CaptureError(f"{description}: stopped delivering frames (disconnected?)")
        frame: Frame = image
        return frame

    return grab


def _gstreamer_available() -> bool:
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GStreamer:"):
            return "YES" in line
    return False


def _open_live(
    target: str | int,
    api: int,
    description: str,
    queue_size: int,
    stall_timeout_s: float,
    params: list[int],
) -> LiveSource:
    capture = open_video_capture(target, api, params)
    if not capture.isOpened():
        capture.release()
        raise CaptureError(f"{description}: could not be opened")
    fps = float(capture.get(cv2.CAP_PROP_FPS))
    return LiveSource(
        _camera_grabber(capture, description),
        description,
        queue_size=queue_size,
        stall_timeout_s=stall_timeout_s,
        release=capture.release,
        fps=fps if 0 < fps < 1000 else None,
    )


def _paced(
    source: VideoFileSource | ImageFolderSource | SyntheticSource,
    queue_size: int,
    stall_timeout_s: float,
) -> LiveSource:
    release = source.close
    return LiveSource(
        source.grab,
        source.description,
        queue_size=queue_size,
        pace_fps=source.fps or DEFAULT_FPS,
        stall_timeout_s=stall_timeout_s,
        release=release,
        origin=source,
    )


def open_source(
    spec: str,
    *,
    realtime: bool = False,
    queue_size: int = 4,
    stall_timeout_s: float = 5.0,
    conveyor: ConveyorConfig | None = None,
) -> FrameSource:
    """Open a source from its command-line spelling.

    ``synthetic`` (the conveyor stream, configured by ``conveyor``); a camera index (``0``) or
    device (``/dev/video0``, V4L2); an ``rtsp://``/``http://`` URL; a GStreamer pipeline
    (contains ``!``, ending in ``appsink``); a folder of images; or a video file. ``realtime``
    replays files, folders and the synthetic stream at their frame rate as a live source.
    """
    timeouts = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        int(stall_timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        int(stall_timeout_s * 1000),
    ]
    if spec == "synthetic":
        synthetic = SyntheticSource(conveyor or ConveyorConfig())
        return _paced(synthetic, queue_size, stall_timeout_s) if realtime else synthetic
    if spec.isdigit():
        return _open_live(
            int(spec), cv2.CAP_V4L2, f"camera {spec}", queue_size, stall_timeout_s, []
        )
    if spec.startswith("/dev/"):
        if not os.path.exists(spec):
            raise CaptureError(f"{spec}: no such camera device")
        return _open_live(spec, cv2.CAP_V4L2, f"camera {spec}", queue_size, stall_timeout_s, [])
    if spec.startswith(STREAM_SCHEMES):
        return _open_live(spec, cv2.CAP_FFMPEG, spec, queue_size, stall_timeout_s, timeouts)
    if "!" in spec:
        if not _gstreamer_available():
            raise CaptureError("GStreamer pipelines need an OpenCV built with GStreamer")
        return _open_live(
            spec, cv2.CAP_GSTREAMER, "GStreamer pipeline", queue_size, stall_timeout_s, []
        )
    path = Path(spec)
    if not path.exists():
        raise CaptureError(f"{spec}: no such file, folder or camera")
    finite: VideoFileSource | ImageFolderSource
    if path.is_dir():
        finite = ImageFolderSource(path)
    elif path.suffix.lower() in IMAGE_SUFFIXES:
        raise CaptureError(f"{spec}: a single image is not a stream; use edge-ocr read")
    else:
        finite = VideoFileSource(path)
    return _paced(finite, queue_size, stall_timeout_s) if realtime else finite
