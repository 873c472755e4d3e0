"""The bench is a tool run from the repository root (``python -m bench``), not an installed
package; pytest runs with --import-mode=importlib, which puts no folder on sys.path."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
