"""The composed pipeline with scripted readers: batching, skipping, stopping, dropping."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

from edge_ocr.capture import LiveSource, SyntheticSource
from edge_ocr.conveyor import ConveyorConfig
from edge_ocr.locate import LocateConfig
from edge_ocr.pipeline import Iteration, Pipeline, PipelineConfig, run_stream
from edge_ocr.recognize import CharRead, LineRead
from edge_ocr.track import TrackConfig
from edge_ocr.types import LineCrop


class ConstantReader:
    """Reads every crop as the same confident text and records each batch it was given."""

    def __init__(self, text: str = "LOT 4711", delay_s: float = 0.0) -> None:
        self.text = text
        self.delay_s = delay_s
        self.batches: list[int] = []

    def read(self, crops: Sequence[LineCrop]) -> list[LineRead]:
        self.batches.append(len(crops))
        if self.delay_s:
            time.sleep(self.delay_s)
        chars = tuple(CharRead(c, 0.95) for c in self.text)
        return [LineRead(self.text, 0.95, chars) for _ in crops]


def test_config_from_mapping_and_its_errors() -> None:
    config = PipelineConfig.from_mapping(
        {
            "roi": [0, 40, 640, 400],
            "max_batch": 8,
            "track": {"min_reads": 3},
            "locate": {"min_response": 20},
        }
    )
    assert config.roi == (0, 40, 640, 400) and config.max_batch == 8
    assert config.track == TrackConfig(min_reads=3)
    assert config.locate == LocateConfig(min_response=20.0)
    with pytest.raises(ValueError, match=r"pipeline\.track: unknown key 'min_read'"):
        PipelineConfig.from_mapping({"track": {"min_read": 3}})
    with pytest.raises(ValueError, match=r"pipeline\.locate\.scale: expected float"):
        PipelineConfig.from_mapping({"locate": {"scale": "half"}})
    with pytest.raises(ValueError, match=r"pipeline\.roi"):
        PipelineConfig.from_mapping({"roi": [1, 2, 3]})
    with pytest.raises(ValueError, match="pipeline: unknown key 'speed'"):
        PipelineConfig.from_mapping({"speed": 3})
    with pytest.raises(ValueError, match=r"pipeline\.track: settle_reads"):
        PipelineConfig.from_mapping({"track": {"settle_reads": 0}})


def test_one_batched_call_per_frame_and_settled_items_are_not_read() -> None:
    reader = ConstantReader()
    pipeline = Pipeline(PipelineConfig(), reader)
    source = SyntheticSource(ConveyorConfig(seed=4, items=3, speed=600))
    events = []
    summary = run_stream(pipeline, source, events.extend)
    lines = sum(len(t.lines) for t in source.stream.truth)
    assert summary.frames == source.stream.frame_count
    assert all(size >= 1 for size in reader.batches)
    assert len(reader.batches) <= summary.frames  # never more than one call per frame
    # Each line is read until settled (3 agreeing confident reads), then only followed.
    assert sum(reader.batches) <= lines * TrackConfig().settle_reads + 2
    assert summary.times.lines_read == sum(reader.batches)
    assert len(events) == 3
    assert all(
        e.text == " | ".join(["LOT 4711"] * len(t.lines))
        for e, t in zip(events, source.stream.truth, strict=True)
    )
    ms = summary.times.ms_per_frame()
    assert set(ms) == {"capture", "locate", "recognize", "track", "total"}


def test_max_batch_splits_big_frames() -> None:
    reader = ConstantReader()
    pipeline = Pipeline(PipelineConfig(max_batch=1), reader)
    run_stream(pipeline, SyntheticSource(ConveyorConfig(seed=4, items=3)), lambda _: None)
    assert set(reader.batches) == {1}


def test_stop_event_and_iteration_hook() -> None:
    pipeline = Pipeline(PipelineConfig(), ConstantReader())
    stop = threading.Event()
    seen: list[Iteration] = []

    def hook(iteration: Iteration) -> None:
        seen.append(iteration)
        if iteration.frames == 25:
            stop.set()

    source = SyntheticSource(ConveyorConfig(seed=2, items=4))
    events = []
    summary = run_stream(pipeline, source, events.extend, on_iteration=hook, stop=stop)
    assert summary.frames == 25 and [i.frames for i in seen] == list(range(1, 26))
    assert summary.error is None
    # Items in view when stopped were still reported, once.
    assert pipeline.finish() == []
    assert summary.items == len(events)


def test_process_defaults_and_frame_gaps() -> None:
    pipeline = Pipeline(PipelineConfig(), ConstantReader())
    frame = np.full((120, 160), 128, np.uint8)
    assert pipeline.process(frame) == []
    assert pipeline.process(frame, 10, 1.5) == []
    assert pipeline.last is not None and pipeline.last.frame_index == 10
    assert pipeline.process(frame) == [] and pipeline.last.frame_index == 11


def test_slow_processing_of_a_live_source_drops_and_reports() -> None:
    stream = SyntheticSource(ConveyorConfig(seed=5, items=2, fps=400.0))
    source = LiveSource(stream.grab, "fast synthetic", queue_size=3, pace_fps=400.0)
    pipeline = Pipeline(PipelineConfig(), ConstantReader(delay_s=0.01))
    try:
        summary = run_stream(pipeline, source, lambda _: None, max_frames=60)
    finally:
        source.close()
    assert summary.frames == 60
    assert summary.dropped > 0


def test_bench_reports_speed_stages_and_accuracy() -> None:
    import json

    from typer.testing import CliRunner

    from edge_ocr.cli import app

    result = CliRunner().invoke(
        app,
        [
            "bench",
            "--json",
            "--speeds",
            "900",
            "--seeds",
            "1",
            "--items",
            "2",
            "--threads",
            "1",
            "--batch-sizes",
            "1,4",
            "--no-decode",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [(r["threads"], r["batch_size"]) for r in rows] == [(1, 1), (1, 4)]
    for row in rows:
        assert row["frames"] > 0 and row["items"] == 2
        assert row["wall_fps"] > 0 and row["cpu_fps"] > 0
        assert row["locate_ms"] > 0 and row["capture_ms"] > 0
        assert 0.0 <= row["exact"] <= 1.0 and row["duplicates"] == 0.0
    assert rows[0]["exact"] == rows[1]["exact"]  # batching changes speed, never the reads
