"""Fixtures for the firmware_bridge tests: the C build, shared by every test that needs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# The repo runs pytest with --import-mode=importlib, which puts no test directory on
# sys.path; the shared helpers in bridge_support.py need this one.
sys.path.insert(0, str(Path(__file__).parent))

from bridge_support import C_DIR, require_gcc


@pytest.fixture(scope="session")
def c_build() -> Path:
    """Build the C library, test harness and example firmware once; return build/."""
    require_gcc()
    result = subprocess.run(
        ["make", "-C", str(C_DIR), "all"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"make -C {C_DIR} all failed:\n{result.stdout}\n{result.stderr}")
    return C_DIR / "build"
