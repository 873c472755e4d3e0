"""Static figures of a TFLite graph: parameters, MACs and a TensorFlow Lite Micro arena plan.

The arena plan follows TFLite Micro's ``GreedyMemoryPlanner``: every non-constant tensor lives
from the op that writes it (or the start, for the model input) to the last op that reads it
(or the end, for the model output); buffers are placed largest first at the lowest 16-byte
aligned offset that does not overlap a buffer alive at the same time. Its peak is the part of
the arena that activations need. The rest of the arena holds TFLite Micro's own bookkeeping,
estimated here (see ``arena_overhead``) and then padded by a margin, because the exact
figure depends on the TFLite Micro version, the kernels (CMSIS-NN asks for scratch buffers)
and the target's pointer size. Confirm on the target with ``RecordingMicroInterpreter``.
"""

from __future__ import annotations

from dataclasses import dataclass

from quantize.graph import Graph, OpInfo

ARENA_ALIGNMENT = 16
"""TFLite Micro aligns every arena buffer to 16 bytes."""
TENSOR_OVERHEAD_BYTES = 64
"""Per tensor: a ``TfLiteEvalTensor`` plus its share of the allocator's records (generous)."""
OP_OVERHEAD_BYTES = 128
"""Per op: ``TfLiteNode``, registration pointer and the kernel's ``OpData`` (generous)."""
PER_CHANNEL_BYTES = 8
"""Per output channel of conv, depthwise and fully-connected ops: int32 multiplier and shift."""
FIXED_OVERHEAD_BYTES = 1024
"""The interpreter, allocator and subgraph records."""
ARENA_MARGIN = 0.15
"""Headroom on top of the estimate for kernel scratch buffers (CMSIS-NN) and version drift."""


def _align(size: int) -> int:
    return (size + ARENA_ALIGNMENT - 1) // ARENA_ALIGNMENT * ARENA_ALIGNMENT


def parameter_count(graph: Graph) -> int:
    """Elements of all constant tensors: weights, biases and the few integer parameters."""
    return sum(t.elements for t in graph.tensors if t.constant)


def constant_bytes(graph: Graph) -> int:
    return sum(t.nbytes for t in graph.tensors if t.constant)


def op_macs(graph: Graph, op: OpInfo) -> int:
    """Multiply-accumulates of one conv, depthwise conv, fully-connected or transpose conv op
    (0 for the others: adds, softmax and pooling are cheap next to these)."""
    if op.name not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"):
        return 0
    if op.name == "TRANSPOSE_CONV":
        # inputs: output shape, weights (OC, KH, KW, IC), input (N, H, W, IC)
        weights, source = graph.tensor(op.inputs[1]), graph.tensor(op.inputs[2])
        oc, kh, kw, _ = weights.shape
        return source.elements * kh * kw * oc
    weights = graph.tensor(op.inputs[1])
    output = graph.tensor(op.outputs[0])
    if op.name == "CONV_2D":
        _, kh, kw, ic = weights.shape  # (OC, KH, KW, IC / groups)
        return output.elements * kh * kw * ic
    if op.name == "DEPTHWISE_CONV_2D":
        _, kh, kw, _ = weights.shape  # (1, KH, KW, OC)
        return output.elements * kh * kw
    units, depth = weights.shape  # FULLY_CONNECTED: (units, input depth)
    return output.elements // max(units, 1) * units * depth


def total_macs(graph: Graph) -> int:
    return sum(op_macs(graph, op) for op in graph.ops)


@dataclass(frozen=True)
class Lifetime:
    """A non-constant tensor's arena buffer: aligned size, first and last op that need it."""

    tensor: int
    size: int
    first: int
    last: int


def lifetimes(graph: Graph) -> list[Lifetime]:
    """Lifetimes of the tensors the arena holds, in execution order (constants stay in flash)."""
    end = max(len(graph.ops) - 1, 0)
    first: dict[int, int] = {i: 0 for i in graph.inputs}
    last: dict[int, int] = {}
    for op in graph.ops:
        for index in op.outputs:
            first.setdefault(index, op.index)
        for index in op.inputs:
            if index >= 0:
                last[index] = op.index
    for index in graph.outputs:
        last[index] = end
    result = []
    for index, start in first.items():
        tensor = graph.tensor(index)
        if tensor.constant or tensor.variable:
            continue
        result.append(Lifetime(index, _align(tensor.nbytes), start, last.get(index, start)))
    return sorted(result, key=lambda lifetime: lifetime.tensor)


def greedy_plan(buffers: list[Lifetime]) -> dict[int, int]:
    """Offsets (tensor index → byte offset) placing the largest buffers first at the lowest
    offset free during their whole lifetime, as TFLite Micro's ``GreedyMemoryPlanner`` does."""
    placed: list[tuple[int, Lifetime]] = []
    offsets: dict[int, int] = {}
    for buffer in sorted(buffers, key=lambda b: (-b.size, b.first, b.tensor)):
        overlapping = sorted(
            (
                (offset, other)
                for offset, other in placed
                if other.first <= buffer.last and buffer.first <= other.last
            ),
            key=lambda item: item[0],
        )
        candidate = 0
        for offset, other in overlapping:
            if candidate + buffer.size <= offset:
                break
            candidate = max(candidate, offset + other.size)
        offsets[buffer.tensor] = candidate
        placed.append((candidate, buffer))
    return offsets


@dataclass(frozen=True)
class ArenaEstimate:
    """Tensor-arena figures for TensorFlow Lite Micro, in bytes."""

    activations: int
    """Peak of the greedy plan of all non-constant tensors."""
    live_lower_bound: int
    """Largest sum of buffers alive at one op: no plan can do better."""
    overhead: int
    """TFLite Micro's own records, estimated (see module docstring)."""
    recommended: int
    """``(activations + overhead) * (1 + ARENA_MARGIN)``, rounded up to 1 KiB."""
    largest_tensor: str


def arena_overhead(graph: Graph) -> int:
    """Persistent allocations besides the activations: per tensor, per op, per output channel."""
    channels = 0
    for op in graph.ops:
        if op.name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"):
            channels += graph.tensor(op.outputs[0]).shape[-1]
    return (
        FIXED_OVERHEAD_BYTES
        + TENSOR_OVERHEAD_BYTES * len(graph.tensors)
        + OP_OVERHEAD_BYTES * len(graph.ops)
        + PER_CHANNEL_BYTES * channels
    )


def arena_estimate(graph: Graph) -> ArenaEstimate:
    buffers = lifetimes(graph)
    offsets = greedy_plan(buffers)
    peak = max((offsets[b.tensor] + b.size for b in buffers), default=0)
    live = max(
        (
            sum(b.size for b in buffers if b.first <= step <= b.last)
            for step in range(len(graph.ops))
        ),
        default=0,
    )
    overhead = arena_overhead(graph)
    recommended = int((peak + overhead) * (1.0 + ARENA_MARGIN) + 1023) // 1024 * 1024
    largest = max(buffers, key=lambda b: b.size, default=None)
    largest_name = ""
    if largest is not None:
        tensor = graph.tensor(largest.tensor)
        short = tensor.name if len(tensor.name) <= 40 else tensor.name[:39] + "…"
        largest_name = f"{tensor.dtype}{list(tensor.shape)} {largest.size} B ({short})"
    return ArenaEstimate(peak, live, overhead, recommended, largest_name)
