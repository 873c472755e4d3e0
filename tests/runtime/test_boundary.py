"""The device runtime never needs TensorFlow, Keras, Pillow or matplotlib."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import edge_ocr

DESKTOP_ONLY = ("tensorflow", "keras", "PIL", "matplotlib", "sklearn", "captcha")


def test_cli_import_does_not_pull_tensorflow() -> None:
    code = "import edge_ocr.cli, sys; assert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_no_runtime_module_imports_desktop_packages() -> None:
    modules = [m.name for m in pkgutil.walk_packages(edge_ocr.__path__, "edge_ocr.")]
    assert "edge_ocr.recognize" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {DESKTOP_ONLY!r})\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
