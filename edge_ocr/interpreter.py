"""The one place that opens a TFLite interpreter.

Tried in order: ``ai_edge_litert`` (current LiteRT), ``tflite_runtime`` (old devices, numpy<2),
``tensorflow.lite`` (a desktop with TensorFlow, as a last resort; imported only then).
Acceleration: ``auto`` tries a GPU delegate and falls back to XNNPACK on the CPU with one
warning; ``gpu`` does the same; ``cpu`` is XNNPACK; ``none`` turns the default XNNPACK
delegate off and runs TFLite's built-in kernels (for comparisons); a path loads that delegate.
"""

from __future__ import annotations

import ctypes
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge_ocr.contract import ModelError

log = logging.getLogger("edge_ocr")

GPU_DELEGATE_LIBRARIES = ("libtensorflowlite_gpu_delegate.so", "libLiteRtGpuAccelerator.so")
INTERPRETER_MODULES = (
    "ai_edge_litert.interpreter",
    "tflite_runtime.interpreter",
    "tensorflow.lite",
)


class AccelerationWarning(UserWarning):
    """The requested accelerator could not be opened and the CPU is used instead."""


@dataclass(frozen=True)
class Backend:
    """The interpreter module in use and what it offers."""

    module_name: str
    interpreter_class: Any
    load_delegate: Callable[..., Any]
    op_resolver_type: Any | None


def find_backend() -> Backend:
    """The first interpreter module that imports, in the documented order."""
    errors = []
    for name in INTERPRETER_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError as error:
            errors.append(f"{name}: {error}")
            continue
        if name == "tensorflow.lite":
            return Backend(
                name,
                module.Interpreter,
                module.experimental.load_delegate,
                getattr(module.experimental, "OpResolverType", None),
            )
        return Backend(
            name, module.Interpreter, module.load_delegate, getattr(module, "OpResolverType", None)
        )
    raise ModelError(
        "no TFLite interpreter installed: pip install ai-edge-litert "
        f"(or tflite-runtime on old devices); tried {'; '.join(errors)}"
    )


@dataclass
class OpenedInterpreter:
    """An interpreter and what acceleration it really got (reports show it)."""

    interpreter: Any
    accelerator: str
    backend: str


def _try_delegates(backend: Backend, libraries: tuple[str, ...]) -> tuple[Any | None, str]:
    reasons = []
    for library in libraries:
        try:
            # Probe with ctypes first: a failed load_delegate leaves a half-built Delegate whose
            # destructor prints a traceback.
            ctypes.CDLL(library)
        except OSError as error:
            reasons.append(f"{library}: {error}")
            continue
        try:
            return backend.load_delegate(library), library
        except (ValueError, RuntimeError, OSError) as error:
            reasons.append(
                f"{library}: {str(error).splitlines()[0] if str(error) else type(error).__name__}"
            )
    return None, "; ".join(reasons)


def open_interpreter(
    model: Path | bytes, accel: str = "auto", threads: int = 1
) -> OpenedInterpreter:
    """Open ``model`` (a path or the flatbuffer bytes) with the requested acceleration."""
    backend = find_backend()
    kwargs: dict[str, Any] = {"num_threads": max(1, threads)}
    if isinstance(model, Path):
        kwargs["model_path"] = str(model)
    else:
        kwargs["model_content"] = model
    accelerator = "cpu-xnnpack"
    if accel == "none":
        if backend.op_resolver_type is None:
            raise ModelError(f"{backend.module_name} cannot disable XNNPACK")
        kwargs["experimental_op_resolver_type"] = (
            backend.op_resolver_type.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        )
        accelerator = "cpu-builtin"
    elif accel in ("auto", "gpu"):
        delegate, detail = _try_delegates(backend, GPU_DELEGATE_LIBRARIES)
        if delegate is not None:
            kwargs["experimental_delegates"] = [delegate]
            accelerator = f"gpu ({detail})"
        else:
            log.warning("no GPU delegate could be opened, using the CPU (XNNPACK) instead")
    elif accel != "cpu":
        path = Path(accel)
        if not path.is_file():
            raise ModelError(
                f"--accel: not 'auto', 'cpu', 'gpu', 'none' or an existing delegate file: {accel}"
            )
        delegate, detail = _try_delegates(backend, (str(path),))
        if delegate is None:
            log.warning(
                "delegate %s could not be opened (%s), using the CPU (XNNPACK) instead",
                path,
                detail,
            )
        else:
            kwargs["experimental_delegates"] = [delegate]
            accelerator = f"delegate ({path.name})"
    try:
        interpreter = backend.interpreter_class(**kwargs)
    except (ValueError, RuntimeError) as error:
        where = kwargs.get("model_path", "model bytes")
        raise ModelError(f"{where}: not a TFLite model ({str(error).splitlines()[0]})") from None
    return OpenedInterpreter(interpreter, accelerator, backend.module_name)


class BatchRunner:
    """Runs an interpreter on batches of any size, resizing the input tensor once per size.

    One interpreter call per frame (all crops batched) is where the frame rate comes from.
    """

    def __init__(self, opened: OpenedInterpreter) -> None:
        self.opened = opened
        self.interpreter = opened.interpreter
        self._batch = -1
        details = self.interpreter.get_input_details()
        if len(details) != 1:
            raise ModelError(f"expected a model with one input, got {len(details)}")
        self.input_index = int(details[0]["index"])
        self.input_shape = tuple(int(d) for d in details[0]["shape"])
        self.input_dtype = np.dtype(details[0]["dtype"])
        outputs = self.interpreter.get_output_details()
        if len(outputs) != 1:
            raise ModelError(f"expected a model with one output, got {len(outputs)}")
        self.output_index = int(outputs[0]["index"])
        self.output_dtype = np.dtype(outputs[0]["dtype"])
        self.output_quantization = tuple(outputs[0]["quantization"])
        self.input_quantization = tuple(details[0]["quantization"])

    def run(self, batch: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """``batch`` already in the input dtype and shape (N, ...); returns the raw output."""
        if batch.shape[0] != self._batch:
            self.interpreter.resize_tensor_input(self.input_index, list(batch.shape), strict=False)
            self.interpreter.allocate_tensors()
            self._batch = batch.shape[0]
        self.interpreter.set_tensor(self.input_index, batch)
        self.interpreter.invoke()
        return np.array(self.interpreter.get_tensor(self.output_index))
