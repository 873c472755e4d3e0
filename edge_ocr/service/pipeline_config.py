"""``[pipeline]`` of the service config: region of interest, expected code, thresholds.

Kept apart from ``config.py`` because it mirrors the recognition pipeline's own settings;
``engine.py`` turns it into the pipeline's ``PipelineConfig``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from edge_ocr.service.tables import Problems, build


@dataclass(frozen=True)
class RoiConfig:
    """Where in the frame to look, in pixels; width/height 0 reach the frame's edge."""

    x: int = 0
    y: int = 0
    width: int = 0
    height: int = 0

    def problems(self) -> list[tuple[str, str]]:
        return [
            (name, f"must be >= 0, got {value}")
            for name, value in (("x", self.x), ("y", self.y), ("width", self.width),
                                ("height", self.height))
            if value < 0
        ]


@dataclass(frozen=True)
class PipelineSettings:
    """``[pipeline]``: ``expected`` is the code every item must carry (a verdict per item),
    ``pattern`` a regular expression the text must match; ``min_confidence`` below which a
    read counts as a no-read."""

    roi: RoiConfig = field(default_factory=RoiConfig)
    expected: str = ""
    pattern: str = ""
    min_confidence: float = 0.5

    def problems(self) -> list[tuple[str, str]]:
        found = []
        if not 0.0 <= self.min_confidence <= 1.0:
            found.append(("min_confidence", f"must be in 0..1, got {self.min_confidence}"))
        if self.pattern:
            try:
                re.compile(self.pattern)
            except re.error as error:
                found.append(("pattern", f"not a valid regular expression: {error}"))
        return found


def build_pipeline(table: Any, key: str, problems: Problems) -> PipelineSettings | None:
    return build(PipelineSettings, table, key, problems)
