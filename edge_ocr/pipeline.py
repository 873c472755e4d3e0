"""The main job, composed: capture → locate → recognize → track & vote → (rules) → events.

``Pipeline`` turns frames into item events; it owns a ``Locator``, a line reader (the model's
``LineRecognizer``, or anything with the same ``read``) and a ``Tracker``, and times each stage.
All line crops of a frame that need reading go to the model in one batched call. With rules
(``edge_ocr.rules.TrackedRules``: template, expected code, grading), each read also keeps its
probability lattice and crop, and an item's event gets its verdict, grade, detail and quality
from the best frame of each of its lines when its track ends. ``run_stream``
is the loop around it for ``edge-ocr run`` and the service: it pulls frames from a capture
source, hands events to a callback, calls a hook after every iteration (the service feeds its
watchdog there) and stops cleanly when a ``threading.Event`` is set.

Every threshold is a named field of ``PipelineConfig`` (and of the ``LocateConfig`` and
``TrackConfig`` inside it), so a config file can set it and a reader can find it.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from edge_ocr.capture import CaptureError, FrameSource
from edge_ocr.events import ItemEvent
from edge_ocr.locate import Box, LocateConfig, Locator, crop_line
from edge_ocr.model import LoadedModel
from edge_ocr.preprocess import to_gray
from edge_ocr.recognize import LineRead, LineRecognizer
from edge_ocr.track import Assignment, TrackConfig, Tracker
from edge_ocr.types import FloatArray, Frame, LineCrop

if TYPE_CHECKING:
    from edge_ocr.charmode import CharRecognizer
    from edge_ocr.rules.tracking import TrackedRules


@dataclass(frozen=True)
class PipelineConfig:
    """Settings of the whole pipeline; ``from_mapping`` builds one from a config section."""

    roi: Box | None = None
    """Only this part of the frame (x, y, width, height) is searched and tracked."""
    max_batch: int = 32
    """Line crops per interpreter call; a frame with more lines makes several calls."""
    locate: LocateConfig = field(default_factory=LocateConfig)
    track: TrackConfig = field(default_factory=TrackConfig)

    def __post_init__(self) -> None:
        if self.max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if self.roi is not None and (len(self.roi) != 4 or self.roi[2] < 8 or self.roi[3] < 8):
            raise ValueError("roi must be x, y, width, height with width and height of 8 or more")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "pipeline") -> PipelineConfig:
        """Build from a mapping such as a TOML table: ``roi``, ``max_batch``, and sub-tables
        ``locate`` and ``track`` with the fields of those configs. Unknown keys and wrong types
        raise ``ValueError`` naming the key (``pipeline.track.min_reads: ...``)."""
        known = {"roi", "max_batch", "locate", "track"}
        _reject_unknown(data, known, where)
        kwargs: dict[str, Any] = {}
        if "roi" in data:
            roi = data["roi"]
            if roi is not None:
                if (
                    not isinstance(roi, (list, tuple))
                    or len(roi) != 4
                    or not all(isinstance(v, int) and not isinstance(v, bool) for v in roi)
                ):
                    raise ValueError(f"{where}.roi: expected [x, y, width, height] integers")
                roi = tuple(roi)
            kwargs["roi"] = roi
        if "max_batch" in data:
            kwargs["max_batch"] = _typed(data["max_batch"], int, f"{where}.max_batch")
        for name, sub in (("locate", LocateConfig), ("track", TrackConfig)):
            if name in data:
                table = data[name]
                if not isinstance(table, Mapping):
                    raise ValueError(f"{where}.{name}: expected a table")
                kwargs[name] = _from_fields(sub, table, f"{where}.{name}")
        try:
            return cls(**kwargs)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None


def _reject_unknown(data: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")


def _typed(value: Any, kind: type, where: str) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"{where}: expected {kind.__name__}, got {value!r}")
    return value


def _from_fields(cls: Any, table: Mapping[str, Any], where: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    _reject_unknown(table, set(fields), where)
    types = {"int": int, "float": float}
    kwargs = {
        name: _typed(value, types[str(fields[name].type)], f"{where}.{name}")
        for name, value in table.items()
    }
    try:
        return cls(**kwargs)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None


class LineReader(Protocol):
    """What the pipeline needs of a recognizer: all crops in, one read each, in order."""

    def read(self, crops: Sequence[LineCrop]) -> list[LineRead]: ...


@dataclass(frozen=True)
class StageTimes:
    """Seconds spent per stage over ``frames`` frames, and how many lines were read."""

    frames: int = 0
    capture: float = 0.0
    locate: float = 0.0
    recognize: float = 0.0
    track: float = 0.0
    lines_read: int = 0
    batches: int = 0

    def ms_per_frame(self) -> dict[str, float]:
        """Milliseconds per frame for each stage and in total."""
        frames = max(1, self.frames)
        stages = {
            "capture": self.capture,
            "locate": self.locate,
            "recognize": self.recognize,
            "track": self.track,
        }
        result = {name: 1000.0 * seconds / frames for name, seconds in stages.items()}
        result["total"] = sum(result.values())
        return result


@dataclass(frozen=True)
class FrameReport:
    """What the pipeline saw and did in one frame: for annotated video and saved crops."""

    frame_index: int
    timestamp: float
    image: Frame
    """The frame as processed (greyscale), not a copy."""
    assignments: tuple[Assignment, ...]
    reads: tuple[tuple[LineRead | None, ...], ...]
    crops: tuple[tuple[LineCrop | None, ...], ...]
    events: tuple[ItemEvent, ...]


class Pipeline:
    """Frames in, item events out. Not thread-safe: one thread drives it.

    ``model`` is a ``LoadedModel`` (read with ``LineRecognizer``) or any ``LineReader``
    (tests pass scripted readers). ``keep_crops`` keeps the crops of each frame in ``last``.
    ``clock`` times the stages: wall clock by default; ``time.thread_time`` measures CPU
    time, which stays meaningful on a machine busy with other work (the bench uses it).
    ``rules`` applies field templates, the expected code and grading to every item (the
    reader must then be a recognizer, ``LineRecognizer`` or ``CharRecognizer``, whose
    probabilities the rules need); without it, events carry no verdict.
    """

    def __init__(
        self,
        config: PipelineConfig,
        model: LoadedModel | LineReader,
        *,
        keep_crops: bool = False,
        clock: Callable[[], float] = time.perf_counter,
        rules: TrackedRules | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.reader: LineReader = LineRecognizer(model) if isinstance(model, LoadedModel) else model
        self.rules = rules
        self._recognizer: LineRecognizer | CharRecognizer | None = None
        if rules is not None:
            from edge_ocr.charmode import CharRecognizer

            if not isinstance(self.reader, LineRecognizer | CharRecognizer):
                raise TypeError("rules need a recognizer's probabilities, not only its reads")
            self._recognizer = self.reader
        self.locator = Locator(config.locate, config.roi)
        self.keep_crops = keep_crops
        self.tracker: Tracker | None = None
        self.last: FrameReport | None = None
        self._times = StageTimes()
        self._next_index = 0
        self._finished = False

    @property
    def times(self) -> StageTimes:
        return self._times

    def add_capture_time(self, seconds: float) -> None:
        """The loop times the source; the total shows with the pipeline's own stages."""
        self._times = dataclasses.replace(self._times, capture=self._times.capture + seconds)

    def _view(self, frame: Frame) -> Box:
        height, width = frame.shape[:2]
        if self.config.roi is None:
            return (0, 0, width, height)
        x, y, w, h = self.config.roi
        x0, y0 = max(0, min(x, width)), max(0, min(y, height))
        x1, y1 = max(x0, min(x + w, width)), max(y0, min(y + h, height))
        return (x0, y0, x1 - x0, y1 - y0)

    def process(
        self, frame: Frame, frame_index: int | None = None, timestamp: float | None = None
    ) -> list[ItemEvent]:
        """Locate, read and track one frame; returns the events of items that ended in it.

        ``frame_index`` defaults to one more than the previous frame's (a gap means frames
        were dropped: tracks predict across it); ``timestamp`` defaults to the wall clock.
        """
        index = self._next_index if frame_index is None else frame_index
        self._next_index = index + 1
        stamp = time.time() if timestamp is None else timestamp
        self._finished = False
        started = self.clock()
        gray = to_gray(frame)
        view = self._view(gray)
        if self.tracker is None:
            self.tracker = Tracker(view, self.config.track)
        self.tracker.view = view
        items = self.locator.locate(gray)
        located = self.clock()
        assignments = self.tracker.assign(index, items)
        wanted: list[tuple[int, int]] = []
        crops: list[LineCrop] = []
        for k, assignment in enumerate(assignments):
            for j, (line, wanted_read) in enumerate(
                zip(assignment.item.lines, assignment.read, strict=True)
            ):
                if wanted_read:
                    wanted.append((k, j))
                    crops.append(crop_line(gray, line, self.config.locate))
        assigned = self.clock()
        reads: list[LineRead] = []
        lattices: list[FloatArray] = []
        batch = self.config.max_batch
        for start in range(0, len(crops), batch):
            if self.rules is None or self._recognizer is None:
                reads += self.reader.read(crops[start : start + batch])
            else:
                chunk_reads, chunk_lattices = self.rules.read(
                    self._recognizer, crops[start : start + batch]
                )
                reads += chunk_reads
                lattices += chunk_lattices
        recognized = self.clock()
        table: list[list[LineRead | None]] = [[None] * len(a.item.lines) for a in assignments]
        crop_table: list[list[LineCrop | None]] = [[None] * len(a.item.lines) for a in assignments]
        for (k, j), line_read, crop in zip(wanted, reads, crops, strict=True):
            table[k][j] = line_read
            crop_table[k][j] = crop
        events = self.tracker.update(index, stamp, assignments, table)
        if self.rules is not None:
            for (k, j), line_read, lattice, crop in zip(
                wanted, reads, lattices, crops, strict=True
            ):
                assignment = assignments[k]
                self.rules.observe(assignment.track, assignment.slots[j], line_read, lattice, crop)
            events = self.rules.judge(self.tracker.ended)
        finished = self.clock()
        self.last = FrameReport(
            index,
            stamp,
            gray,
            tuple(assignments),
            tuple(tuple(row) for row in table),
            tuple(tuple(row) for row in crop_table) if self.keep_crops else (),
            tuple(events),
        )
        times = self._times
        self._times = dataclasses.replace(
            times,
            frames=times.frames + 1,
            locate=times.locate + (located - started),
            recognize=times.recognize + (recognized - assigned),
            track=times.track + (assigned - located) + (finished - recognized),
            lines_read=times.lines_read + len(crops),
            batches=times.batches + -(-len(crops) // batch),
        )
        return events

    def finish(self) -> list[ItemEvent]:
        """End of stream (or before a reconfiguration): events of every item still in view.
        Calling it again without new frames returns nothing; processing may go on after."""
        if self.tracker is None or self._finished:
            return []
        self._finished = True
        events = self.tracker.finish()
        if self.rules is not None:
            events = self.rules.judge(self.tracker.ended)
        return events


@dataclass(frozen=True)
class Iteration:
    """Passed to the per-iteration hook: where the loop is."""

    frames: int
    items: int
    dropped: int
    elapsed_s: float


@dataclass(frozen=True)
class RunSummary:
    """What a run did: frames processed, wall time, frames the source dropped, items
    reported, the stage times, and the error that ended it early (None at a normal end)."""

    frames: int
    seconds: float
    dropped: int
    items: int
    times: StageTimes
    error: str | None = None

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def run_stream(
    pipeline: Pipeline,
    source: FrameSource,
    on_events: Callable[[list[ItemEvent]], None],
    *,
    on_iteration: Callable[[Iteration], None] | None = None,
    stop: threading.Event | None = None,
    max_frames: int | None = None,
) -> RunSummary:
    """Pull frames from ``source`` through ``pipeline`` until the source ends, ``stop`` is set
    or ``max_frames`` were processed; then finish the pipeline (items in view are reported).

    A source that fails (``CaptureError``) ends the run the same way, with the error in the
    summary: the events made before it are never lost. The source is not closed here.
    """
    started = time.perf_counter()
    frames = items = 0
    error: str | None = None
    while stop is None or not stop.is_set():
        if max_frames is not None and frames >= max_frames:
            break
        before = pipeline.clock()
        try:
            captured = source.read()
        except CaptureError as failure:
            error = str(failure)
            break
        pipeline.add_capture_time(pipeline.clock() - before)
        if captured is None:
            break
        events = pipeline.process(captured.image, captured.index, captured.timestamp)
        frames += 1
        if events:
            items += len(events)
            on_events(events)
        if on_iteration is not None:
            on_iteration(Iteration(frames, items, source.dropped, time.perf_counter() - started))
    events = pipeline.finish()
    if events:
        items += len(events)
        on_events(events)
    return RunSummary(
        frames, time.perf_counter() - started, source.dropped, items, pipeline.times, error
    )
