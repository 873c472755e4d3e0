"""``export-c``: a ``.tflite`` and its contract as C/C++ source for TensorFlow Lite Micro.

``NAME_model_data.h`` declares the model bytes and everything the firmware needs to feed the
model and read its output (input geometry and quantization, classes, charset, kind, blank
index, an arena size estimate); ``NAME_model_data.cc`` defines them. The header is C and C++
(``extern "C"``); the source is C++11 or later (``alignas``), as in tflite-micro's examples.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from edge_ocr.contract import ModelContract, ModelError
from quantize.errors import QuantizeError

BYTES_PER_LINE = 12
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
RESERVED = frozenset(
    (
        "alignas",
        "alignof",
        "and",
        "and_eq",
        "asm",
        "auto",
        "bitand",
        "bitor",
        "bool",
        "break",
        "case",
        "catch",
        "char",
        "char8_t",
        "char16_t",
        "char32_t",
        "class",
        "compl",
        "concept",
        "const",
        "consteval",
        "constexpr",
        "constinit",
        "const_cast",
        "continue",
        "co_await",
        "co_return",
        "co_yield",
        "decltype",
        "default",
        "delete",
        "do",
        "double",
        "dynamic_cast",
        "else",
        "enum",
        "explicit",
        "export",
        "extern",
        "false",
        "float",
        "for",
        "friend",
        "goto",
        "if",
        "inline",
        "int",
        "long",
        "mutable",
        "namespace",
        "new",
        "noexcept",
        "not",
        "not_eq",
        "nullptr",
        "operator",
        "or",
        "or_eq",
        "private",
        "protected",
        "public",
        "register",
        "reinterpret_cast",
        "requires",
        "restrict",
        "return",
        "short",
        "signed",
        "sizeof",
        "static",
        "static_assert",
        "static_cast",
        "struct",
        "switch",
        "template",
        "this",
        "thread_local",
        "throw",
        "true",
        "try",
        "typedef",
        "typeid",
        "typename",
        "union",
        "unsigned",
        "using",
        "virtual",
        "void",
        "volatile",
        "wchar_t",
        "while",
        "xor",
        "xor_eq",
    )
)
"""C and C++ keywords; names with a leading ``__`` or ``_`` + capital are refused as well."""


@dataclass(frozen=True)
class CExport:
    header: Path
    source: Path
    model_bytes: int


def validate_name(name: str) -> None:
    """NAME becomes ``g_NAME_model_data`` and ``NAME_MODEL_*``: it must be a plain C identifier."""
    if not IDENTIFIER.match(name):
        raise QuantizeError(
            f"--name {name!r} is not a C identifier (letters, digits and _, "
            "not starting with a digit)"
        )
    if name in RESERVED:
        raise QuantizeError(f"--name {name!r} is a C or C++ keyword")
    if name.startswith("__") or (name.startswith("_") and name[1:2].isupper()):
        raise QuantizeError(
            f"--name {name!r} is reserved for the compiler (leading __, or _ and a capital)"
        )


def c_string(text: str) -> str:
    """A C string literal of ``text`` in UTF-8. Octal escapes (never hex, which would swallow
    following hex digits) for everything outside printable ASCII, and ``\\?`` against trigraphs."""
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if char in '"\\?':
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def _comment(text: str) -> str:
    """``text`` made safe inside a C comment: printable ASCII, no comment terminator."""
    printable = "".join(c if " " <= c <= "~" else "?" for c in text)
    return printable.replace("*/", "*?/")


def _float(value: float) -> str:
    text = repr(float(value))
    return (text if ("." in text or "e" in text) else text + ".0") + "f"


def class_labels(contract: ModelContract) -> list[str]:
    """One label per output class: the CTC blank and the non-character class are the empty
    string."""
    labels = list(contract.charset)
    if contract.kind == "line":
        return ["", *labels]
    return [*labels, ""] if contract.non_char else labels


def render_header(
    name: str,
    contract: ModelContract,
    source_name: str,
    model_bytes: int,
    output_shape: tuple[int, ...],
    arena_bytes: int,
) -> str:
    """The C/C++ header: declarations and the contract as macros."""
    prefix = f"{name.upper()}_MODEL"
    guard = f"{name.upper()}_MODEL_DATA_H_"
    iq, oq = contract.input_quantization, contract.output_quantization
    steps = output_shape[2] if contract.kind == "line" and len(output_shape) == 4 else 1
    blank = contract.blank_index if contract.kind == "line" else -1
    non_char = len(contract.charset) if contract.non_char else -1
    height, width = contract.input_height, contract.input_width
    return f"""/* Generated by `python -m quantize export-c` from {_comment(source_name)}.
 * Do not edit.
 *
 * Model "{_comment(contract.name)}" ({contract.kind} recognizer), {model_bytes} bytes,
 * sha256 {contract.tflite_sha256}.
 * Input:  int8 [1, {height}, {width}, 1], a binned crop, text bright on black:
 *         q = round(pixel / 255 / INPUT_SCALE) + INPUT_ZERO_POINT (pixel - 128 when the scale
 *         is 1/255 and the zero point -128).
 * Output: int8 {list(output_shape)}, class probabilities
 *         p = OUTPUT_SCALE * (q - OUTPUT_ZERO_POINT).
 *         Line models: greedy CTC decoding over the time steps (best class per step, merge
 *         repeats, drop BLANK_INDEX). Char models: the best class is the character; a
 *         best class of NON_CHAR_INDEX means the crop is not one character (reject it).
 *         Class i reads as g_{name}_class_labels[i].
 */
#ifndef {guard}
#define {guard}

#ifdef __cplusplus
extern "C" {{
#endif

/* The .tflite flatbuffer, 16-byte aligned as TensorFlow Lite Micro requires. */
extern const unsigned char g_{name}_model_data[];
extern const unsigned int g_{name}_model_data_len;

/* The charset, NUL-terminated UTF-8. Line models: class 0 is the CTC blank and class i >= 1
 * is the (i - 1)-th character. Char models: class i is the i-th character. */
extern const char g_{name}_charset[];
/* One NUL-terminated UTF-8 label per output class ("" for the CTC blank). */
extern const char* const g_{name}_class_labels[{contract.num_classes}];

#define {prefix}_NAME {c_string(contract.name)}
#define {prefix}_KIND {c_string(contract.kind)}
#define {prefix}_KIND_IS_LINE {1 if contract.kind == "line" else 0}
#define {prefix}_INPUT_HEIGHT {height}
#define {prefix}_INPUT_WIDTH {width}
#define {prefix}_INPUT_CHANNELS 1
#define {prefix}_INPUT_SCALE {_float(iq.scale)}
#define {prefix}_INPUT_ZERO_POINT ({iq.zero_point})
#define {prefix}_OUTPUT_SCALE {_float(oq.scale)}
#define {prefix}_OUTPUT_ZERO_POINT ({oq.zero_point})
#define {prefix}_NUM_CLASSES {contract.num_classes}
#define {prefix}_TIME_STEPS {steps}
#define {prefix}_BLANK_INDEX ({blank}) /* -1: no blank (char model) */
#define {prefix}_CHARSET_LENGTH {len(contract.charset)} /* characters, not bytes */
#define {prefix}_NON_CHAR_INDEX ({non_char}) /* -1: no "not a character" class */
#define {prefix}_REJECT_THRESHOLD {_float(contract.reject_threshold)}
/* Estimated tensor arena for TFLite Micro (greedy plan + overhead + 15%, see
 * quantize/README.md); confirm on the target with RecordingMicroInterpreter. */
#define {prefix}_TENSOR_ARENA_SIZE {arena_bytes}
#define {prefix}_SHA256 {c_string(contract.tflite_sha256)}

#ifdef __cplusplus
}}  /* extern "C" */
#endif

#endif  /* {guard} */
"""


def byte_rows(data: bytes) -> str:
    rows = (data[start : start + BYTES_PER_LINE] for start in range(0, len(data), BYTES_PER_LINE))
    return "\n".join("  " + ", ".join(f"0x{b:02x}" for b in row) + "," for row in rows)


def render_cc(name: str, contract: ModelContract, data: bytes) -> str:
    """The C++ source: the bytes (``alignas(16)``), their length, charset and class labels."""
    labels = ",\n".join(f"  {c_string(label)}" for label in class_labels(contract))
    return f"""/* Generated by `python -m quantize export-c`; do not edit. See the header. */
#include "{name}_model_data.h"

alignas(16) const unsigned char g_{name}_model_data[] = {{
{byte_rows(data)}
}};
const unsigned int g_{name}_model_data_len = {len(data)};
static_assert(sizeof(g_{name}_model_data) == {len(data)}, "model data length");

const char g_{name}_charset[] = {c_string(contract.charset)};

const char* const g_{name}_class_labels[{contract.num_classes}] = {{
{labels}
}};
"""


def export_c(tflite: Path, name: str, out_dir: Path) -> CExport:
    """Write ``NAME_model_data.h`` and ``.cc`` for a checked full-int8 model and its contract."""
    from edge_ocr.model import load_model
    from quantize.analysis import arena_estimate
    from quantize.graph import find_tflite, read_graph, require_int8

    validate_name(name)
    tflite = find_tflite(tflite)
    graph = read_graph(tflite)
    require_int8(graph, str(tflite))
    try:
        contract = load_model(str(tflite), accel="cpu").contract
    except ModelError as error:
        raise QuantizeError(str(error)) from None
    data = tflite.read_bytes()
    output_shape = graph.tensor(graph.outputs[0]).shape
    arena = arena_estimate(graph).recommended
    out_dir.mkdir(parents=True, exist_ok=True)
    header = out_dir / f"{name}_model_data.h"
    source = out_dir / f"{name}_model_data.cc"
    header.write_text(
        render_header(name, contract, tflite.name, len(data), output_shape, arena), encoding="utf-8"
    )
    source.write_text(render_cc(name, contract, data), encoding="utf-8")
    return CExport(header, source, len(data))
