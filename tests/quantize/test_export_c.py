"""``quantize export-c``: the generated source compiles warning-free as C++ (and the header as
C) and holds the .tflite byte for byte, with the contract's constants."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge_ocr.contract import ModelContract, TensorQuantization, load_contract
from quantize.cli import app
from quantize.errors import QuantizeError
from quantize.export_c import render_cc, render_header, validate_name

runner = CliRunner()
WARNINGS = ["-Wall", "-Wextra", "-Werror"]

CXX_MAIN = r"""
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>
#include "tiny_model_data.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  std::FILE* file = std::fopen(argv[1], "rb");
  if (file == nullptr) return 2;
  std::vector<unsigned char> expected;
  int byte;
  while ((byte = std::fgetc(file)) != EOF) expected.push_back(static_cast<unsigned char>(byte));
  std::fclose(file);
  if (expected.size() != g_tiny_model_data_len) {
    std::printf("length %u != %zu\n", g_tiny_model_data_len, expected.size());
    return 1;
  }
  if (std::memcmp(expected.data(), g_tiny_model_data, expected.size()) != 0) {
    std::printf("bytes differ\n");
    return 1;
  }
  if (reinterpret_cast<std::uintptr_t>(g_tiny_model_data) % 16 != 0) {
    std::printf("not 16-byte aligned\n");
    return 1;
  }
  std::printf("identical %u bytes\n", g_tiny_model_data_len);
  return 0;
}
"""

C_MAIN = r"""
#include <stdio.h>
#include <string.h>
#include "tiny_model_data.h"

static signed char arena_check[TINY_MODEL_TENSOR_ARENA_SIZE > 0 ? 1 : -1];

int main(void) {
  int classes;
  (void)arena_check;
  printf("%s %s %d %d %d %d %d %.9g %d %s\n", TINY_MODEL_NAME, TINY_MODEL_KIND,
         TINY_MODEL_KIND_IS_LINE, TINY_MODEL_INPUT_HEIGHT, TINY_MODEL_INPUT_WIDTH,
         TINY_MODEL_NUM_CLASSES, TINY_MODEL_BLANK_INDEX, (double)TINY_MODEL_INPUT_SCALE,
         TINY_MODEL_INPUT_ZERO_POINT, g_tiny_charset);
  for (classes = 0; classes < TINY_MODEL_NUM_CLASSES; ++classes) {
    printf("[%s]", g_tiny_class_labels[classes]);
  }
  printf("\n%u %d\n", g_tiny_model_data_len, (int)strlen(TINY_MODEL_SHA256));
  return 0;
}
"""


def _compilers() -> tuple[str, str]:
    gcc, gxx = shutil.which("gcc"), shutil.which("g++")
    if gcc is None or gxx is None:
        pytest.skip("gcc and g++ are needed to compile the exported source")
    return gcc, gxx


def _run(command: list[str], cwd: Path) -> str:
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    assert completed.returncode == 0, f"{' '.join(command)}\n{completed.stdout}{completed.stderr}"
    return completed.stdout


def test_export_c_compiles_and_round_trips(good_int8: Path, tmp_path: Path) -> None:
    gcc, gxx = _compilers()
    out = tmp_path / "c"
    result = runner.invoke(app, ["export-c", str(good_int8), "--name", "tiny", "--out", str(out)])
    assert result.exit_code == 0, result.output
    (out / "main.cc").write_text(CXX_MAIN)
    (out / "main_c.c").write_text(C_MAIN)
    _run([gxx, "-std=c++17", *WARNINGS, "-c", "tiny_model_data.cc", "-o", "data.o"], out)
    _run([gxx, "-std=c++17", *WARNINGS, "main.cc", "data.o", "-o", "check_cxx"], out)
    assert _run([str(out / "check_cxx"), str(good_int8)], out).strip() == (
        f"identical {good_int8.stat().st_size} bytes"
    )
    # The header is C too: a C program reads the constants and links against the C++ object.
    _run([gcc, "-std=c11", "-pedantic", *WARNINGS, "-c", "main_c.c", "-o", "main_c.o"], out)
    _run([gcc, "main_c.o", "data.o", "-o", "check_c"], out)
    lines = _run([str(out / "check_c")], out).splitlines()
    contract = load_contract(good_int8.with_suffix(".json"))
    assert lines[0] == (
        f"tiny line 1 32 96 11 0 {contract.input_quantization.scale:.9g} -128 0123456789"
    )
    assert lines[1] == "[]" + "".join(f"[{d}]" for d in "0123456789")
    assert lines[2] == f"{good_int8.stat().st_size} 64"


@pytest.mark.parametrize("non_char", [False, True])
def test_charset_escapes_survive_the_c_compiler(tmp_path: Path, non_char: bool) -> None:
    """Quotes, backslashes, question marks (trigraphs) and UTF-8 come out as the same bytes;
    a non-character class is one more, empty, label after the charset's."""
    gcc, gxx = _compilers()
    charset = 'A"\\?é0/'
    quant = TensorQuantization("int8", 0.5, -3)
    contract = ModelContract(
        "we*/ird", "char", charset, 32, 24, quant, quant, "0" * 64, non_char=non_char
    )
    data = bytes(range(256)) * 3
    (tmp_path / "tiny_model_data.h").write_text(
        render_header("tiny", contract, "x.tflite", len(data), (1, contract.num_classes), 4096)
    )
    (tmp_path / "tiny_model_data.cc").write_text(render_cc("tiny", contract, data))
    (tmp_path / "main_c.c").write_text(r"""
#include <stdio.h>
#include "tiny_model_data.h"
int main(void) {
  const unsigned char* p = (const unsigned char*)g_tiny_charset;
  int i;
  for (; *p; ++p) printf("%02x", *p);
  printf(" %d %d %d", TINY_MODEL_BLANK_INDEX, TINY_MODEL_KIND_IS_LINE, TINY_MODEL_NON_CHAR_INDEX);
  for (i = 0; i < TINY_MODEL_NUM_CLASSES; ++i) printf(" [%s]", g_tiny_class_labels[i]);
  for (i = 0; i < 4; ++i) printf(" %d", g_tiny_model_data[255 + i]);
  printf("\n");
  return 0;
}
""")
    _run([gxx, "-std=c++17", *WARNINGS, "-c", "tiny_model_data.cc", "-o", "data.o"], tmp_path)
    _run([gcc, "-std=c99", *WARNINGS, "main_c.c", "data.o", "-o", "check"], tmp_path)
    output = _run([str(tmp_path / "check")], tmp_path).strip()
    labels = " ".join(f"[{c}]" for c in charset) + (" []" if non_char else "")
    index = len(charset) if non_char else -1
    assert output == f"{charset.encode().hex()} -1 0 {index} {labels} 255 0 1 2"


@pytest.mark.parametrize("name", ["3d", "my-model", "int", "__x", "_Model", "", "é"])
def test_names_must_be_plain_c_identifiers(name: str) -> None:
    with pytest.raises(QuantizeError, match="--name"):
        validate_name(name)


def test_a_valid_name_is_accepted() -> None:
    validate_name("lines_v2")
    validate_name("_lines")
