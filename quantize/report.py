"""``report``: what a ``.tflite`` costs and whether every op is int8. Needs no TensorFlow."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edge_ocr.contract import file_sha256
from quantize.analysis import (
    ArenaEstimate,
    arena_estimate,
    constant_bytes,
    op_macs,
    parameter_count,
    total_macs,
)
from quantize.graph import Graph, Int8Problem, TensorInfo, find_tflite, int8_problems, read_graph
from quantize.latency import Latency, measure_latency

LATENCY_ACCELS = ("cpu", "none")


@dataclass(frozen=True)
class TensorRef:
    """How a tensor appears in an op listing."""

    index: int
    name: str
    dtype: str
    shape: tuple[int, ...]
    constant: bool

    @staticmethod
    def of(tensor: TensorInfo) -> TensorRef:
        return TensorRef(tensor.index, tensor.name, tensor.dtype, tensor.shape, tensor.constant)

    def short(self) -> str:
        kind = "const " if self.constant else ""
        return f"{kind}{self.dtype}{list(self.shape)}"


@dataclass(frozen=True)
class OpReport:
    index: int
    name: str
    inputs: tuple[TensorRef, ...]
    outputs: tuple[TensorRef, ...]
    macs: int


@dataclass(frozen=True)
class IoReport:
    """A model input or output: what the device must feed or read."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    scale: float
    zero_point: int


@dataclass(frozen=True)
class ModelReport:
    path: str
    file_bytes: int
    sha256: str
    parameters: int
    constant_bytes: int
    macs: int
    inputs: tuple[IoReport, ...]
    outputs: tuple[IoReport, ...]
    ops: tuple[OpReport, ...]
    op_counts: dict[str, int]
    problems: tuple[str, ...]
    arena: ArenaEstimate
    latency: tuple[Latency, ...]
    subgraphs: int

    @property
    def full_int8(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["full_int8"] = self.full_int8
        for entry in data["latency"]:
            for key in ("median_ms", "per_image_ms", "min_ms"):
                entry[key] = None if math.isnan(entry[key]) else round(entry[key], 4)
        return data


def _io(graph: Graph, index: int) -> IoReport:
    tensor = graph.tensor(index)
    scale = tensor.scale[0] if tensor.scale else 0.0
    zero_point = tensor.zero_point[0] if tensor.zero_point else 0
    return IoReport(tensor.name, tensor.dtype, tensor.shape, scale, zero_point)


def build_report(
    path: Path,
    latency: bool = True,
    batch: int = 16,
    repeats: int = 30,
    warmup: int = 3,
    threads: int = 1,
) -> ModelReport:
    """Size, parameters, ops with their tensor types, int8 problems, arena, MACs and latency of
    a .tflite (or a bundled model, by name)."""
    path = find_tflite(path)
    graph = read_graph(path)
    ops = tuple(
        OpReport(
            op.index,
            op.name,
            tuple(TensorRef.of(graph.tensor(i)) for i in op.inputs if i >= 0),
            tuple(TensorRef.of(graph.tensor(i)) for i in op.outputs),
            op_macs(graph, op),
        )
        for op in graph.ops
    )
    counts: dict[str, int] = {}
    for op in graph.ops:
        counts[op.name] = counts.get(op.name, 0) + 1
    problems: list[Int8Problem] = int8_problems(graph)
    timings: list[Latency] = []
    if latency:
        data = path.read_bytes()
        timings = [
            measure_latency(data, accel, size, repeats, warmup, threads)
            for accel in LATENCY_ACCELS
            for size in dict.fromkeys((1, batch))
        ]
    return ModelReport(
        path=str(path),
        file_bytes=path.stat().st_size,
        sha256=file_sha256(path),
        parameters=parameter_count(graph),
        constant_bytes=constant_bytes(graph),
        macs=total_macs(graph),
        inputs=tuple(_io(graph, i) for i in graph.inputs),
        outputs=tuple(_io(graph, o) for o in graph.outputs),
        ops=ops,
        op_counts=counts,
        problems=tuple(str(p) for p in problems),
        arena=arena_estimate(graph),
        latency=tuple(timings),
        subgraphs=graph.subgraphs,
    )


def _kib(size: int) -> str:
    return f"{size / 1024:.1f} KiB"


def format_report(report: ModelReport) -> list[str]:
    """The human-readable report, one line per string."""
    lines = [
        f"model        {report.path}",
        f"file size    {report.file_bytes} B ({_kib(report.file_bytes)}), "
        f"sha256 {report.sha256[:16]}…",
        f"parameters   {report.parameters} ({_kib(report.constant_bytes)} of constants)",
        f"MACs         {report.macs:,} per inference (batch 1; conv, depthwise, fully-connected)",
    ]
    lines += [
        f"{label:<12} {io.name} {io.dtype}{list(io.shape)} scale {io.scale:.6g} "
        f"zero point {io.zero_point}"
        for label, tensors in (("input", report.inputs), ("output", report.outputs))
        for io in tensors
    ]
    counts = ", ".join(f"{name} x{n}" for name, n in sorted(report.op_counts.items()))
    lines.append(f"ops          {len(report.ops)}: {counts}")
    for op in report.ops:
        inputs = ", ".join(t.short() for t in op.inputs)
        outputs = ", ".join(t.short() for t in op.outputs)
        macs = f"  {op.macs:,} MACs" if op.macs else ""
        lines.append(f"  {op.index:>3} {op.name:<20} {inputs} -> {outputs}{macs}")
    arena = report.arena
    lines += [
        f"arena        {arena.recommended} B ({_kib(arena.recommended)}) recommended for TFLite "
        f"Micro: activations {arena.activations} B (greedy plan; lower bound "
        f"{arena.live_lower_bound} B) + overhead ~{arena.overhead} B + 15% margin",
        f"             largest tensor {arena.largest_tensor}",
    ]
    for timing in report.latency:
        label = "XNNPACK" if timing.accel == "cpu" else "built-in kernels, no XNNPACK"
        if timing.error:
            lines.append(
                f"latency      batch {timing.batch:>3}, {label}: not measured ({timing.error})"
            )
        else:
            lines.append(
                f"latency      batch {timing.batch:>3}, {label}, {timing.threads} thread: "
                f"{timing.median_ms:.3f} ms median ({timing.per_image_ms:.3f} ms/image, "
                f"{timing.repeats} repeats)"
            )
    if report.subgraphs > 1:
        lines.append(f"note         {report.subgraphs} subgraphs: only the main one is listed")
    if report.full_int8:
        lines.append(
            "int8         every op is int8 (int32 conv biases and integer parameters aside)"
        )
    else:
        lines.append(f"int8         {len(report.problems)} problem(s):")
        lines += [f"  {problem}" for problem in report.problems]
    return lines
