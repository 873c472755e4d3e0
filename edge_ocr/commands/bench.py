"""``edge-ocr bench``: frames per second, ms per stage and item accuracy of the main job.

It runs the whole pipeline on synthetic conveyor streams (speeds x seeds, never the streams the
model trained on) once per combination of interpreter threads and batch size. By default each
stream is first written to an MJPG video and read back, so the figures are end to end: decode,
locate, recognize, track, event. Accuracy is scored against the printed truth: items read
exactly, duplicate events, events that are not an item.

Two clocks are reported: wall-clock fps (what a camera sees) and CPU fps (frames per second of
the process's CPU time, which stays meaningful on a machine busy with other work); the stage
times are CPU time of the pipeline's thread.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from edge_ocr.commands.common import AccelOption, ModelOption, fail, setup_logging

if TYPE_CHECKING:
    from edge_ocr.capture import FrameSource
    from edge_ocr.conveyor import ConveyorConfig
    from edge_ocr.model import LoadedModel


@dataclass(frozen=True)
class BenchRow:
    """One threads x batch-size configuration over all the streams."""

    threads: int
    batch_size: int
    frames: int
    wall_fps: float
    cpu_fps: float
    capture_ms: float
    locate_ms: float
    recognize_ms: float
    track_ms: float
    lines_per_frame: float
    items: int
    exact: float
    duplicates: float
    spurious: float
    missed: int


def _ints(text: str, option: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        fail(f"{option}: expected positive integers separated by commas, got {text!r}")
    return values


def _write_video(frames: FrameSource, path: Path, fps: float) -> None:
    import cv2

    writer = None
    while (captured := frames.read()) is not None:
        image = captured.image
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        if writer is None:
            size = (image.shape[1], image.shape[0])
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
        writer.write(image)
    if writer is not None:
        writer.release()


def _measure(
    model: LoadedModel,
    streams: list[tuple[ConveyorConfig, Path | None]],
    threads: int,
    batch_size: int,
    skip: bool,
) -> BenchRow:
    import cv2

    from edge_ocr.capture import SyntheticSource, VideoFileSource
    from edge_ocr.conveyor import ItemScore, score_events
    from edge_ocr.events import ItemEvent
    from edge_ocr.pipeline import Pipeline, PipelineConfig, StageTimes, run_stream
    from edge_ocr.track import TrackConfig

    cv2.setNumThreads(threads)
    track = TrackConfig() if skip else TrackConfig(settle_reads=10**6, max_reads_per_line=10**6)
    score = ItemScore(0, 0, 0, 0, 0, 0, 0)
    frames = 0
    wall = cpu = 0.0
    totals = StageTimes()
    for conveyor, video in streams:
        source = SyntheticSource(conveyor)
        truth = source.stream.truth
        frames_source = VideoFileSource(video) if video is not None else source
        pipeline = Pipeline(
            PipelineConfig(max_batch=batch_size, track=track), model, clock=time.thread_time
        )
        events: list[ItemEvent] = []
        cpu_start = time.process_time()
        summary = run_stream(pipeline, frames_source, events.extend)
        cpu += time.process_time() - cpu_start
        frames_source.close()
        if summary.error is not None:
            fail(summary.error)
        wall += summary.seconds
        frames += summary.frames
        t = summary.times
        totals = StageTimes(
            totals.frames + t.frames,
            totals.capture + t.capture,
            totals.locate + t.locate,
            totals.recognize + t.recognize,
            totals.track + t.track,
            totals.lines_read + t.lines_read,
            totals.batches + t.batches,
        )
        score = score + score_events(events, truth)
    ms = totals.ms_per_frame()
    return BenchRow(
        threads=threads,
        batch_size=batch_size,
        frames=frames,
        wall_fps=frames / wall if wall else 0.0,
        cpu_fps=frames / cpu if cpu else 0.0,
        capture_ms=ms["capture"],
        locate_ms=ms["locate"],
        recognize_ms=ms["recognize"],
        track_ms=ms["track"],
        lines_per_frame=totals.lines_read / max(1, frames),
        items=score.items,
        exact=score.exact_rate,
        duplicates=score.duplicate_rate,
        spurious=score.spurious_rate,
        missed=score.missed,
    )


def _table(rows: list[BenchRow], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=title,
        title_justify="left",
        caption="stage times: CPU ms per frame of the pipeline's thread; "
        "fps CPU: frames per second of the process's CPU time",
    )
    columns = (
        "threads", "batch", "fps wall", "fps CPU", "capture", "locate", "recognize", "track",
        "lines/frame", "exact items", "duplicates", "not items",
    )  # fmt: skip
    for column in columns:
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(
            str(r.threads),
            str(r.batch_size),
            f"{r.wall_fps:.0f}",
            f"{r.cpu_fps:.0f}",
            f"{r.capture_ms:.2f}",
            f"{r.locate_ms:.2f}",
            f"{r.recognize_ms:.2f}",
            f"{r.track_ms:.2f}",
            f"{r.lines_per_frame:.2f}",
            f"{100 * r.exact:.1f}% ({r.items})",
            f"{100 * r.duplicates:.1f}%",
            f"{100 * r.spurious:.1f}%",
        )
    console = Console()
    console.width = max(console.width, 132)  # the table is wide; let a pipe keep it whole
    console.print(table)


def bench(
    model: ModelOption = "lines",
    accel: AccelOption = "cpu",
    threads: Annotated[
        str, typer.Option("--threads", help="Thread counts to measure, e.g. 1,2,4.")
    ] = "1,2",
    batch_sizes: Annotated[
        str, typer.Option("--batch-sizes", help="Line crops per interpreter call, e.g. 1,8,32.")
    ] = "1,32",
    speeds: Annotated[
        str, typer.Option("--speeds", help="Belt speeds in pixels per second.")
    ] = "200,600,1200",
    seeds: Annotated[
        int, typer.Option("--seeds", min=1, help="Streams per speed (seeds from --first-seed on).")
    ] = 2,
    first_seed: Annotated[int, typer.Option("--first-seed")] = 1000,
    items: Annotated[int, typer.Option("--items", min=1, help="Cartons per stream.")] = 12,
    decode: Annotated[
        bool,
        typer.Option(
            "--decode/--no-decode",
            help="Read each stream back from an MJPG video, so decoding is measured too.",
        ),
    ] = True,
    skip: Annotated[
        bool,
        typer.Option(
            "--skip/--no-skip",
            help="Skip recognition of items already read confidently (--no-skip reads every "
            "line in every frame, to show what skipping saves).",
        ),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per row.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Measure fps, ms per stage and item accuracy on the synthetic conveyor stream."""
    from edge_ocr.capture import SyntheticSource
    from edge_ocr.contract import ModelError
    from edge_ocr.conveyor import ConveyorConfig
    from edge_ocr.model import load_model

    setup_logging(verbose)
    thread_counts = _ints(threads, "--threads")
    batches = _ints(batch_sizes, "--batch-sizes")
    speed_values = _ints(speeds, "--speeds")
    configs = [  # a different seed for every stream: different items at every speed
        ConveyorConfig(seed=first_seed + n * seeds + k, speed=float(speed), items=items)
        for n, speed in enumerate(speed_values)
        for k in range(seeds)
    ]
    rows = []
    with tempfile.TemporaryDirectory(prefix="edge-ocr-bench-") as folder:
        streams: list[tuple[ConveyorConfig, Path | None]] = []
        for index, config in enumerate(configs):
            video = None
            if decode:
                video = Path(folder) / f"stream{index}.avi"
                _write_video(SyntheticSource(config), video, config.fps)
            streams.append((config, video))
        for count in thread_counts:
            try:
                loaded = load_model(model, accel=accel, threads=count)
            except ModelError as error:
                fail(str(error))
            for batch in batches:
                row = _measure(loaded, streams, count, batch, skip)
                rows.append(row)
                if as_json:
                    typer.echo(json.dumps(asdict(row)))
    if not as_json:
        title = (
            f"edge-ocr bench: model {model}, {len(configs)} streams 640x480 "
            f"(speeds {speeds} px/s, {items} items each), "
            f"{'decoded from MJPG' if decode else 'frames generated in memory'}, "
            f"recognition skip {'on' if skip else 'off'}"
        )
        _table(rows, title)
