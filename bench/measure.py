"""Measuring one reader: a subprocess per reader, one thread, latency per crop, peak memory.

The parent (``spawn``) writes nothing but a job description and the pickled sets; the child
(``python -m bench.measure``) opens the reader, reads every crop one at a time (batch 1, the
latency figure), then the whole set again in batches of 32 where the reader batches (the
throughput figure), and reports its reads, its latencies and its memory:

- ``base_rss_kb``: resident memory after Python, numpy, OpenCV and the sets are loaded, before
  the reader's library is imported (edge-ocr's two models, lines and captcha, are both opened
  in the one process of their reader);
- ``peak_rss_kb``: the process's resident high-water mark (``VmHWM``) at the end;
- ``reader_rss_kb`` = peak - base: what the reader's library, model and inference cost;
- ``children_peak_rss_kb``: the largest child process (pytesseract's ``tesseract`` runs).

Threads are limited before the child starts (``ONE_THREAD_ENV``) and again by each reader's own
setting (XNNPACK ``num_threads=1``, ``intra_op_num_threads=1``, TensorFlow's thread pools).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.sets import EvalSet

ROOT = Path(__file__).resolve().parent.parent
ONE_THREAD_ENV = {
    "OMP_THREAD_LIMIT": "1",  # Tesseract's OpenMP
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "KERAS_BACKEND": "tensorflow",
    "CUDA_VISIBLE_DEVICES": "",
    "PYTHONDONTWRITEBYTECODE": "1",
}


@dataclass(frozen=True)
class Job:
    """One reader over some sets; ``models[i]`` is the edge-ocr model for ``sets[i]`` (peers
    ignore it). The reader is opened once per model, all in the same process."""

    reader: str
    sets: tuple[str, ...]
    models: tuple[str, ...]
    warmup: int = 5
    batch: int = 32
    runs_dir: str = "runs"


def latency_summary(latencies_ms: Sequence[float]) -> dict[str, float]:
    """Median, 95th percentile, mean and minimum of per-crop times, in milliseconds."""
    values = np.asarray(latencies_ms, dtype=np.float64)
    if values.size == 0:
        return {}
    return {
        "median_ms": round(float(np.median(values)), 4),
        "p95_ms": round(float(np.percentile(values, 95)), 4),
        "mean_ms": round(float(values.mean()), 4),
        "min_ms": round(float(values.min()), 4),
    }


def _status_kb(field: str) -> int | None:
    """A ``kB`` field of /proc/self/status (Linux), or None elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _peak_rss_kb() -> int:
    peak = _status_kb("VmHWM")
    if peak is not None:
        return peak
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return usage // 1024 if sys.platform == "darwin" else usage


def _rss_kb() -> int:
    current = _status_kb("VmRSS")
    return current if current is not None else _peak_rss_kb()


def _measure_set(reader: Any, eval_set: EvalSet, job: Job) -> dict[str, Any]:
    images = [item.image for item in eval_set.items]
    for image in images[: job.warmup]:
        reader.read(image)
    reads: list[str] = []
    latencies: list[float] = []
    for image in images:
        started = time.perf_counter_ns()
        reads.append(reader.read(image))
        latencies.append((time.perf_counter_ns() - started) / 1e6)
    result: dict[str, Any] = {"reads": reads, "latencies_ms": [round(t, 4) for t in latencies]}
    if reader.read_batch(images[: job.batch]) is not None:
        batch_reads: list[str] = []
        per_line_ms: list[float] = []
        for start in range(0, len(images), job.batch):
            chunk = images[start : start + job.batch]
            started = time.perf_counter_ns()
            batch_reads += reader.read_batch(chunk)
            per_line_ms.append((time.perf_counter_ns() - started) / 1e6 / len(chunk))
        full = per_line_ms[: len(images) // job.batch] or per_line_ms
        result["batch_size"] = job.batch
        # Median over the batches: one slow batch on a busy machine does not move it.
        result["batch_ms_per_line"] = round(float(np.median(full)), 4)
        # Batched and single reads must agree: the same model on the same input.
        result["batch_agreement"] = round(
            float(np.mean([a == b for a, b in zip(reads, batch_reads, strict=True)])), 5
        )
    return result


def run_job(job: Job, sets: dict[str, EvalSet]) -> dict[str, Any]:
    """In the child: open the reader (once per model), measure every set, report memory.
    Never raises for a reader or model that is not installed: those sets are ``skipped``."""
    import cv2

    from bench.peers import Reader, ReaderUnavailableError, open_reader

    cv2.setNumThreads(1)  # binning and the peers' resizing: OpenCV's own pool, not OpenMP
    base_rss = _rss_kb()
    opened: dict[str, Reader | str] = {}
    load_seconds: dict[str, float] = {}
    per_set: dict[str, Any] = {}
    for name, model in zip(job.sets, job.models, strict=True):
        if model not in opened:
            started = time.monotonic()
            try:
                opened[model] = open_reader(job.reader, model, ROOT / job.runs_dir)
            except ReaderUnavailableError as error:
                opened[model] = str(error)
            load_seconds[model] = time.monotonic() - started
        reader = opened[model]
        if isinstance(reader, str):
            per_set[name] = {"status": "skipped", "reason": reader, "model": model}
            continue
        info = reader.info
        per_set[name] = {
            "status": "ok",
            "model": model,
            "library": info.library,
            "version": info.version,
            "model_files": list(info.model_files),
            "model_bytes": info.model_bytes,
            "preprocessing": info.preprocessing,
            "load_seconds": round(load_seconds[model], 3),
            **_measure_set(reader, sets[name], job),
        }
    statuses = [entry["status"] for entry in per_set.values()]
    return {
        "status": "ok" if "ok" in statuses else "skipped",
        "reason": "; ".join(sorted({e["reason"] for e in per_set.values() if "reason" in e})),
        "job": asdict(job),
        "memory": {
            "base_rss_kb": base_rss,
            "peak_rss_kb": _peak_rss_kb(),
            "reader_rss_kb": _peak_rss_kb() - base_rss,
            "children_peak_rss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        },
        "sets": per_set,
    }


def run_child(arguments: Sequence[str], out_file: Path, timeout_s: float) -> dict[str, Any]:
    """Run ``python ARGUMENTS`` from the repository root with one thread everywhere and return
    the JSON it wrote to ``out_file``; a crash or a timeout is a ``failed`` result with its last
    error line, never the end of the bench."""
    env = {**os.environ, **ONE_THREAD_ENV}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    try:
        process = subprocess.run(
            [sys.executable, *arguments],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"status": "failed", "reason": f"timed out after {timeout_s:.0f} s"}
    if process.returncode != 0 or not out_file.is_file():
        lines = [line for line in process.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {process.returncode}"
        return {"status": "failed", "reason": reason}
    result: dict[str, Any] = json.loads(out_file.read_text())
    return result


def spawn(job: Job, set_files: dict[str, Path], work_dir: Path, timeout_s: float) -> dict[str, Any]:
    """Measure ``job`` in a fresh one-thread Python (``python -m bench.measure``)."""
    job_file = work_dir / f"job-{job.reader}.json"
    out_file = work_dir / f"result-{job.reader}.json"
    job_file.write_text(
        json.dumps({"job": asdict(job), "sets": {k: str(v) for k, v in set_files.items()}})
    )
    result = run_child(["-m", "bench.measure", str(job_file), str(out_file)], out_file, timeout_s)
    result.setdefault("job", asdict(job))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Child entry point: ``python -m bench.measure JOB.json OUT.json``."""
    parser = argparse.ArgumentParser(prog="python -m bench.measure")
    parser.add_argument("job", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    spec = json.loads(args.job.read_text())
    job = Job(
        **{
            **spec["job"],
            "sets": tuple(spec["job"]["sets"]),
            "models": tuple(spec["job"]["models"]),
        }
    )
    sets: dict[str, EvalSet] = {}
    for name in job.sets:
        with open(spec["sets"][name], "rb") as handle:
            sets[name] = pickle.load(handle)  # our own file, written by the parent just now
    result = run_job(job, sets)
    args.out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
