"""The event of one item read by the device: what sinks receive, what ``run`` prints.

An event is a frozen dataclass in the pipeline and a JSON object on the wire (``to_dict``);
every sink (stdout, file, MQTT, HTTP, serial) receives the same dict.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class LineResult:
    """One text line of an item, top to bottom order in ``ItemEvent.lines``."""

    text: str
    confidence: float
    char_confidences: tuple[float, ...] = ()


@dataclass(frozen=True)
class ItemEvent:
    """One passing item, reported exactly once.

    ``verdict`` (pass, fail, no-read) and ``grade`` (A-F) are set when rules/OCV are configured;
    ``quality`` holds the measured quantities behind the grade.
    """

    item: int
    timestamp: float
    lines: tuple[LineResult, ...]
    confidence: float
    first_frame: int
    last_frame: int
    frames_read: int
    bbox: tuple[int, int, int, int]
    verdict: str | None = None
    grade: str | None = None
    detail: str | None = None
    quality: dict[str, float] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return " | ".join(line.text for line in self.lines)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["text"] = self.text
        data["lines"] = [
            {"text": line.text, "confidence": round(line.confidence, 4)} for line in self.lines
        ]
        data["confidence"] = round(self.confidence, 4)
        data["bbox"] = list(self.bbox)
        return data
