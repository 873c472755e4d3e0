"""Measured interpreter latency: median of repeated calls after a warm-up, on one thread.

It goes through ``edge_ocr.interpreter`` (the device's own code) so the figures are what the
runtime gets. ``cpu`` is XNNPACK; ``none`` is the interpreter's built-in kernels without the
default XNNPACK delegate (optimized ruy/gemmlowp kernels, not TFLite Micro's reference ones, so
a microcontroller is far slower than either figure).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_ocr.contract import ModelError
from edge_ocr.interpreter import BatchRunner, open_interpreter
from quantize.errors import QuantizeError


@dataclass(frozen=True)
class Latency:
    """One configuration's timing; ``error`` instead of figures when it could not run."""

    accel: str
    batch: int
    threads: int
    repeats: int
    median_ms: float
    per_image_ms: float
    min_ms: float
    error: str = ""


def measure_latency(
    model: Path | bytes,
    accel: str,
    batch: int,
    repeats: int = 30,
    warmup: int = 3,
    threads: int = 1,
    seed: int = 0,
) -> Latency:
    """Median wall time of ``runner.run`` (set input, invoke, get output) on random input."""
    if batch < 1 or repeats < 1 or warmup < 0:
        raise QuantizeError("batch and repeats must be at least 1, warm-up at least 0")
    try:
        runner = BatchRunner(open_interpreter(model, accel=accel, threads=threads))
        shape = (batch, *runner.input_shape[1:])
        rng = np.random.default_rng(seed)
        if np.issubdtype(runner.input_dtype, np.integer):
            info = np.iinfo(runner.input_dtype)
            data = rng.integers(info.min, int(info.max) + 1, size=shape).astype(runner.input_dtype)
        else:
            data = rng.random(shape).astype(runner.input_dtype)
        for _ in range(warmup):
            runner.run(data)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            runner.run(data)
            times.append((time.perf_counter() - started) * 1000.0)
    except (ModelError, RuntimeError, ValueError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        nan = float("nan")
        return Latency(accel, batch, threads, repeats, nan, nan, nan, message)
    median = statistics.median(times)
    return Latency(accel, batch, threads, repeats, median, median / batch, min(times))
