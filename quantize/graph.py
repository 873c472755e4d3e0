"""A TFLite flatbuffer read as a plain graph: tensors, operators, constants. No TensorFlow.

The flatbuffer is parsed with the schema module that ships inside ``ai_edge_litert``, so the
report works on any machine that can run the model. Everything here is about the main subgraph
(the one the interpreter invokes); control-flow subgraphs are counted but not walked.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from quantize.errors import QuantizeError

TFLITE_IDENTIFIER = b"TFL3"

BIAS_INPUT = {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 2, "FULLY_CONNECTED": 2, "TRANSPOSE_CONV": 3}
"""Ops whose bias is int32 in a full-int8 graph (accumulator precision), and its input position."""


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of the main subgraph; ``constant`` when its data is stored in the file."""

    index: int
    name: str
    dtype: str
    shape: tuple[int, ...]
    constant: bool
    variable: bool
    scale: tuple[float, ...]
    zero_point: tuple[int, ...]

    @property
    def elements(self) -> int:
        count = 1
        for dim in self.shape:
            count *= max(dim, 1)
        return count

    @property
    def nbytes(self) -> int:
        return self.elements * DTYPE_BYTES.get(self.dtype, 4)


@dataclass(frozen=True)
class OpInfo:
    """One operator in execution order; ``-1`` in ``inputs`` is an omitted optional input."""

    index: int
    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


@dataclass(frozen=True)
class Graph:
    """The main subgraph of a ``.tflite``."""

    tensors: tuple[TensorInfo, ...]
    ops: tuple[OpInfo, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    subgraphs: int

    def tensor(self, index: int) -> TensorInfo:
        return self.tensors[index]


DTYPE_BYTES = {
    "int8": 1,
    "uint8": 1,
    "bool": 1,
    "int16": 2,
    "float16": 2,
    "bfloat16": 2,
    "uint16": 2,
    "int32": 4,
    "uint32": 4,
    "float32": 4,
    "int64": 8,
    "uint64": 8,
    "float64": 8,
}


@cache
def _schema() -> Any:
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError as error:
        raise QuantizeError(
            f"reading .tflite files needs ai-edge-litert (pip install ai-edge-litert): {error}"
        ) from None
    return schema_py_generated


@cache
def _enum_names(enum_class: str) -> dict[int, str]:
    members = vars(getattr(_schema(), enum_class)).items()
    return {
        value: name
        for name, value in members
        if isinstance(value, int) and not name.startswith("_")
    }


def find_tflite(spec: Path) -> Path:
    """``spec`` itself, or the bundled model of that name (``lines``, ``captcha``)."""
    if spec.is_file():
        return spec
    from edge_ocr.model import BUNDLED_DIR, bundled_models

    bundled = BUNDLED_DIR / f"{spec.name}.tflite"
    if spec.parent == Path() and not spec.suffix and bundled.is_file():
        return bundled
    names = ", ".join(bundled_models()) or "none"
    raise QuantizeError(f"model not found: {spec} (bundled models: {names})")


def read_flatbuffer(source: Path | bytes) -> bytes:
    """The bytes of a ``.tflite``, refused with one line when it is missing or not a model."""
    if isinstance(source, Path):
        if not source.is_file():
            raise QuantizeError(f"model not found: {source}")
        data = source.read_bytes()
        where = str(source)
    else:
        data, where = source, "model bytes"
    if len(data) < 8 or data[4:8] != TFLITE_IDENTIFIER:
        raise QuantizeError(f"{where}: not a TFLite model (no TFL3 flatbuffer identifier)")
    return data


def _ints(values: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in values) if values is not None else ()


def _tensor(index: int, raw: Any, buffers: list[Any]) -> TensorInfo:
    buffer = buffers[raw.buffer] if 0 < raw.buffer < len(buffers) else None
    constant = buffer is not None and (
        (buffer.data is not None and len(buffer.data) > 0) or buffer.size > 0
    )
    quant = raw.quantization
    scales = quant.scale if quant is not None and quant.scale is not None else ()
    scale = tuple(float(s) for s in scales)
    zero = _ints(quant.zeroPoint) if quant is not None else ()
    name = raw.name.decode("utf-8", "replace") if isinstance(raw.name, bytes) else str(raw.name)
    dtype = _enum_names("TensorType").get(raw.type, f"type{raw.type}").lower()
    return TensorInfo(
        index=index,
        name=name,
        dtype=dtype,
        shape=_ints(raw.shape),
        constant=constant,
        variable=bool(raw.isVariable),
        scale=scale,
        zero_point=zero,
    )


def _op_name(code: Any) -> str:
    builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
    name = _enum_names("BuiltinOperator").get(builtin, f"BUILTIN_{builtin}")
    if name == "CUSTOM":
        custom = code.customCode
        return f"CUSTOM({custom.decode() if isinstance(custom, bytes) else custom})"
    return name


def _parse(data: bytes) -> Graph:
    model = _schema().ModelT.InitFromPackedBuf(bytearray(data), 0)
    if not model.subgraphs:
        raise ValueError("the model has no subgraph")
    main = model.subgraphs[0]
    buffers = list(model.buffers or [])
    codes = [_op_name(c) for c in (model.operatorCodes or [])]
    tensors = tuple(_tensor(i, t, buffers) for i, t in enumerate(main.tensors or []))
    ops = tuple(
        OpInfo(i, codes[op.opcodeIndex], _ints(op.inputs), _ints(op.outputs))
        for i, op in enumerate(main.operators or [])
    )
    for op in ops:
        if any(i >= len(tensors) for i in op.inputs + op.outputs):
            raise ValueError(f"op {op.index} refers to a tensor that does not exist")
    return Graph(tensors, ops, _ints(main.inputs), _ints(main.outputs), len(model.subgraphs))


def read_graph(source: Path | bytes) -> Graph:
    """Parse the main subgraph of a ``.tflite`` (a path or its bytes)."""
    data = read_flatbuffer(source)
    where = str(source) if isinstance(source, Path) else "model bytes"
    try:
        return _parse(data)
    except Exception as error:  # a damaged flatbuffer raises whatever the generated code hits
        raise QuantizeError(
            f"{where}: not a readable TFLite model ({type(error).__name__}: {error})"
        ) from None


NUMPY_DTYPES = {
    "int8": np.int8,
    "uint8": np.uint8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "float16": np.float16,
    "float32": np.float32,
}


def read_constants(source: Path | bytes) -> dict[int, npt.NDArray[Any]]:
    """The stored data of every constant tensor of the main subgraph, by tensor index, in its
    own dtype and shape (the weights and biases of an int8 model, still quantized)."""
    data = read_flatbuffer(source)
    model = _schema().ModelT.InitFromPackedBuf(bytearray(data), 0)
    buffers = list(model.buffers or [])
    constants: dict[int, npt.NDArray[Any]] = {}
    for index, raw in enumerate(model.subgraphs[0].tensors or []):
        tensor = _tensor(index, raw, buffers)
        dtype = NUMPY_DTYPES.get(tensor.dtype)
        if not tensor.constant or dtype is None:
            continue
        buffer = buffers[raw.buffer]
        raw_bytes = (
            np.asarray(buffer.data, dtype=np.uint8).tobytes()
            if buffer.data is not None and len(buffer.data)
            else data[buffer.offset : buffer.offset + buffer.size]
        )
        constants[tensor.index] = np.frombuffer(raw_bytes, dtype=dtype).reshape(tensor.shape)
    return constants


@dataclass(frozen=True)
class Int8Problem:
    """A tensor that keeps a graph from being full-int8, and the op that touches it."""

    op_index: int
    op_name: str
    role: str
    tensor: TensorInfo

    def __str__(self) -> str:
        return (
            f"op {self.op_index} {self.op_name}: {self.role} tensor '{self.tensor.name}' "
            f"is {self.tensor.dtype}, not int8"
        )


def int8_problems(graph: Graph) -> list[Int8Problem]:
    """Every operand that is not int8, except the two kinds a full-int8 graph legitimately has:

    - the int32 bias of conv, depthwise conv, fully-connected and transpose conv (the
      accumulator is 32-bit, as in every int8 kernel of TFLite and TFLite Micro);
    - constant int32/int64 parameter operands after the first input (the axes of MEAN, the
      shape of RESHAPE, the paddings of PAD): indices, not data.
    """
    problems: list[Int8Problem] = []
    for op in graph.ops:
        bias_at = BIAS_INPUT.get(op.name)
        for position, index in enumerate(op.inputs):
            if index < 0:
                continue
            tensor = graph.tensor(index)
            if tensor.dtype == "int8":
                continue
            if tensor.constant and tensor.dtype == "int32" and position == bias_at:
                continue
            if (
                tensor.constant
                and tensor.dtype in ("int32", "int64")
                and position > 0
                and bias_at is None
            ):
                continue
            problems.append(Int8Problem(op.index, op.name, f"input {position}", tensor))
        for position, index in enumerate(op.outputs):
            tensor = graph.tensor(index)
            if tensor.dtype != "int8":
                problems.append(Int8Problem(op.index, op.name, f"output {position}", tensor))
    return problems


def require_int8(graph: Graph, where: str) -> None:
    """Refuse a graph that an int8-only accelerator or TensorFlow Lite Micro's int8 kernels
    could not run, naming the first offending op and tensor."""
    problems = int8_problems(graph)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise QuantizeError(
            f"{where}: not a full-int8 model: {problems[0]}{more}; "
            "convert it with `python -m quantize int8`"
        )
