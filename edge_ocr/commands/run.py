"""``edge-ocr run``: read the codes of items passing a camera, one event per item."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from edge_ocr.commands.common import (
    AccelOption,
    ExpectFileOption,
    ExpectOption,
    ModelOption,
    TemplateOption,
    ThreadsOption,
    fail,
    setup_logging,
)

if TYPE_CHECKING:
    from edge_ocr.capture import FrameSource
    from edge_ocr.conveyor import ConveyorConfig, ItemScore
    from edge_ocr.events import ItemEvent
    from edge_ocr.pipeline import Pipeline, RunSummary

SourceOption = Annotated[
    str,
    typer.Option(
        "--source",
        "-s",
        help="synthetic (built-in conveyor stream), a camera index or /dev/videoN, a video "
        "file, an rtsp:// or http:// URL, a GStreamer pipeline ending in appsink, or a folder "
        "of images.",
    ),
]
SpeedOption = Annotated[
    float, typer.Option("--speed", min=1.0, help="Synthetic stream: belt speed in pixels/s.")
]
SeedOption = Annotated[int, typer.Option("--seed", help="Synthetic stream: random seed.")]
ItemsOption = Annotated[
    int, typer.Option("--items", min=0, help="Synthetic stream: cartons that pass.")
]
CharHeightOption = Annotated[
    str,
    typer.Option(
        "--char-height", help="Synthetic stream: printed character height range MIN,MAX (px)."
    ),
]
NoiseOption = Annotated[
    float, typer.Option("--noise", min=0.0, help="Synthetic stream: sensor noise (grey levels).")
]


def parse_range(text: str, option: str) -> tuple[int, int]:
    """``MIN,MAX`` integers (or one integer for both)."""
    try:
        values = [int(p) for p in text.split(",")]
    except ValueError:
        values = []
    if len(values) == 1:
        values *= 2
    if len(values) != 2 or values[0] > values[1]:
        raise ValueError(f"{option}: expected MIN,MAX integers, got {text!r}")
    return (values[0], values[1])


def parse_roi(text: str | None) -> tuple[int, int, int, int] | None:
    """``x,y,w,h`` in pixels, or None."""
    if text is None:
        return None
    parts = text.split(",")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4 or values[0] < 0 or values[1] < 0 or values[2] < 8 or values[3] < 8:
        raise ValueError(f"--roi: expected x,y,w,h in pixels with w,h >= 8, got {text!r}")
    return (values[0], values[1], values[2], values[3])


def format_event(event: ItemEvent, as_json: bool) -> str:
    """One event as a JSON object, or as one line for people (with rules: the verdict, the
    grade and the detail of a failure after the text, tab-separated as ``read`` prints them)."""
    if as_json:
        return json.dumps(event.to_dict())
    line = (
        f"item {event.item:>4}  frames {event.first_frame}-{event.last_frame} "
        f"(read in {event.frames_read})  conf {event.confidence:.2f}  {event.text}"
    )
    if event.verdict is None and event.grade is None:
        return line
    return f"{line}\t{event.verdict or ''}\t{event.grade or ''}\t{event.detail or ''}"


def format_verdicts(events: list[ItemEvent]) -> str:
    counts = {verdict: 0 for verdict in ("pass", "fail", "no-read")}
    for event in events:
        if event.verdict is not None:
            counts[event.verdict] = counts.get(event.verdict, 0) + 1
    return "edge-ocr: verdicts: " + ", ".join(f"{n} {verdict}" for verdict, n in counts.items())


def format_summary(summary: RunSummary) -> str:
    stages = summary.times.ms_per_frame()
    per_stage = ", ".join(f"{name} {ms:.2f}" for name, ms in stages.items() if name != "total")
    return (
        f"edge-ocr: {summary.frames} frames, {summary.fps:.1f} fps processed, "
        f"{summary.dropped} dropped, {summary.items} items "
        f"(ms/frame: {per_stage}; {summary.times.lines_read} lines read)"
    )


def format_score(score: ItemScore) -> str:
    return (
        f"edge-ocr: against the synthetic ground truth: {score.exact}/{score.items} items exact "
        f"({100 * score.exact_rate:.1f}%), {score.wrong} wrong, {score.missed} missed, "
        f"{score.duplicates} duplicate and {score.spurious} spurious events"
    )


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C or SIGTERM ends the run cleanly (items in view are still reported)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run(
    source: SourceOption,
    model: ModelOption = "lines",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per item.")] = False,
    roi: Annotated[
        str | None,
        typer.Option("--roi", help="Only look at x,y,w,h (pixels) of each frame."),
    ] = None,
    accel: AccelOption = "auto",
    threads: ThreadsOption = 1,
    realtime: Annotated[
        bool,
        typer.Option(
            "--realtime",
            help="Play files, folders and the synthetic stream at their frame rate, dropping "
            "frames when processing falls behind (as with a camera).",
        ),
    ] = False,
    queue_size: Annotated[
        int, typer.Option("--queue-size", min=1, help="Frames buffered from a live source.")
    ] = 4,
    max_batch: Annotated[
        int, typer.Option("--batch-size", min=1, help="Line crops per interpreter call.")
    ] = 32,
    save_video: Annotated[
        Path | None,
        typer.Option("--save-video", help="Write an annotated video (.avi or .mp4) here."),
    ] = None,
    save_crops: Annotated[
        Path | None,
        typer.Option(
            "--save-crops", help="Save the line crops of reported items and labels.csv here."
        ),
    ] = None,
    max_frames: Annotated[
        int | None, typer.Option("--max-frames", min=1, help="Stop after this many frames.")
    ] = None,
    speed: SpeedOption = 400.0,
    seed: SeedOption = 0,
    items: ItemsOption = 12,
    char_height: CharHeightOption = "18,32",
    noise: NoiseOption = 5.0,
    score: Annotated[
        bool,
        typer.Option(
            "--score/--no-score",
            help="Synthetic stream: score the events against the printed truth (on stderr).",
        ),
    ] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    template: TemplateOption = None,
    expect: ExpectOption = None,
    expect_file: ExpectFileOption = None,
) -> None:
    """Read the codes printed on items passing the camera and print one result per item.

    Each item is reported once, when it leaves the view (or at the end of the stream). A
    summary (frames, processed fps, dropped frames, items, ms per stage) goes to stderr.

    With --template, --expect or --expect-file, each item is also judged on the best frame of
    each of its lines: its verdict (pass, fail or no-read), print-quality grade (A-F), the
    detail of a failure and the measured quality quantities are in the event (JSON), or after
    its text (tab-separated), and a count of verdicts goes to stderr.

    Exit status: 0 after a complete run, 1 when the source failed mid-stream (the items
    already read are printed first), 2 when the source, the model or a rules option cannot
    be used, 3 after a complete run with rules in which an item was not a pass.
    """
    setup_logging(verbose)
    pipeline, frames = _open(
        source,
        model=model,
        accel=accel,
        threads=threads,
        roi=roi,
        max_batch=max_batch,
        realtime=realtime,
        queue_size=queue_size,
        conveyor=_conveyor(
            speed=speed, seed=seed, items=items, char_height=char_height, noise=noise
        ),
        keep_crops=save_crops is not None,
        rules=(template, expect, expect_file),
    )
    events, summary = _drive(pipeline, frames, as_json, save_video, save_crops, max_frames)
    typer.echo(format_summary(summary), err=True)
    if pipeline.rules is not None:
        typer.echo(format_verdicts(events), err=True)
    from edge_ocr.capture import ground_truth
    from edge_ocr.conveyor import score_events

    truth = ground_truth(frames)
    if truth is not None and score and max_frames is None and summary.error is None:
        typer.echo(format_score(score_events(events, truth)), err=True)
    if summary.error is not None:
        fail(summary.error, 1)
    if pipeline.rules is not None and any(event.verdict != "pass" for event in events):
        raise typer.Exit(3)


def _open(
    source: str,
    *,
    model: str,
    accel: str,
    threads: int,
    roi: str | None,
    max_batch: int,
    realtime: bool,
    queue_size: int,
    conveyor: ConveyorConfig,
    keep_crops: bool,
    rules: tuple[str | None, str | None, Path | None] = (None, None, None),
) -> tuple[Pipeline, FrameSource]:
    """The pipeline and the opened source, or a one-line error and exit status 2.

    ``rules`` is ``(template, expect, expect_file)`` as given on the command line."""
    import cv2

    from edge_ocr.capture import CaptureError, open_source
    from edge_ocr.contract import ModelError
    from edge_ocr.model import load_model
    from edge_ocr.pipeline import Pipeline, PipelineConfig
    from edge_ocr.recognize import LineRecognizer

    cv2.setNumThreads(threads)  # --threads bounds OpenCV too: "one thread" means one
    try:
        config = PipelineConfig(roi=parse_roi(roi), max_batch=max_batch)
    except ValueError as error:
        fail(str(error))
    try:
        recognizer = LineRecognizer(load_model(model, accel=accel, threads=threads))
    except ModelError as error:
        fail(str(error))
    tracked = None
    if any(option is not None for option in rules):
        from edge_ocr.rules.cli import rules_engine
        from edge_ocr.rules.tracking import TrackedRules

        engine = rules_engine(recognizer, *rules)
        tracked = TrackedRules(engine) if engine is not None else None
    pipeline = Pipeline(config, recognizer, keep_crops=keep_crops, rules=tracked)
    try:
        frames = open_source(source, realtime=realtime, queue_size=queue_size, conveyor=conveyor)
    except CaptureError as error:
        fail(str(error))
    return pipeline, frames


def _conveyor(
    *, speed: float, seed: int, items: int, char_height: str, noise: float
) -> ConveyorConfig:
    from edge_ocr.conveyor import ConveyorConfig

    try:
        return ConveyorConfig(
            speed=speed,
            seed=seed,
            items=items,
            char_height=parse_range(char_height, "--char-height"),
            noise=noise,
        )
    except ValueError as error:
        fail(str(error))


def _drive(
    pipeline: Pipeline,
    frames: FrameSource,
    as_json: bool,
    save_video: Path | None,
    save_crops: Path | None,
    max_frames: int | None,
    show: bool = True,
) -> tuple[list[ItemEvent], RunSummary]:
    """Run the stream, printing each event as it comes; the source is closed at the end."""
    from edge_ocr.annotate import AnnotateError, CropSaver, VideoAnnotator
    from edge_ocr.pipeline import Iteration, run_stream

    events: list[ItemEvent] = []

    def emit(new: list[ItemEvent]) -> None:
        for event in new:
            events.append(event)
            if show:
                typer.echo(format_event(event, as_json))

    annotator: VideoAnnotator | None = None
    crops: CropSaver | None = None

    def observe(_: Iteration) -> None:
        report, tracker = pipeline.last, pipeline.tracker
        if report is None or tracker is None:
            return
        if annotator is not None:
            annotator.write(report, tracker)
        if crops is not None:
            crops.add(report, tracker.ended)

    stop = threading.Event()
    try:
        if save_video is not None:
            annotator = VideoAnnotator(save_video, frames.fps or 30.0)
        if save_crops is not None:
            crops = CropSaver(save_crops)
        hook = observe if annotator is not None or crops is not None else None
        with _stop_on_signals(stop):
            summary = run_stream(
                pipeline, frames, emit, on_iteration=hook, stop=stop, max_frames=max_frames
            )
        if crops is not None and pipeline.tracker is not None:
            crops.flush(pipeline.tracker.ended)
    except AnnotateError as error:
        frames.close()
        fail(str(error))
    finally:
        frames.close()
        if annotator is not None:
            annotator.close()
        if crops is not None:
            crops.close()
    return events, summary


def demo_stream(accel: str = "cpu") -> None:
    """The built-in conveyor stream through the bundled model, for ``edge-ocr demo``: each
    item's read beside what was printed, then the score and the frame rate."""
    from edge_ocr.capture import ground_truth
    from edge_ocr.conveyor import match_event, score_events

    typer.echo("\nThe built-in synthetic conveyor stream (edge-ocr run --source synthetic):")
    pipeline, frames = _open(
        "synthetic",
        model="lines",
        accel=accel,
        threads=1,
        roi=None,
        max_batch=32,
        realtime=False,
        queue_size=4,
        conveyor=_conveyor(speed=500.0, seed=2024, items=10, char_height="18,32", noise=5.0),
        keep_crops=False,
    )
    truth = ground_truth(frames) or ()
    events, summary = _drive(pipeline, frames, False, None, None, None, show=False)
    for event in events:
        item = match_event(event, truth)
        printed = item.text if item is not None else "(no item)"
        mark = "ok" if item is not None and item.text == event.text else "WRONG"
        typer.echo(f"  item {event.item}: read {event.text!r}, printed {printed!r}  {mark}")
    typer.echo(format_score(score_events(events, truth)).replace("edge-ocr: ", ""))
    typer.echo(format_summary(summary).replace("edge-ocr: ", ""))
