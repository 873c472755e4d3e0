"""The rules in the video pipeline: remember each tracked line's best frame, judge at the end.

The pipeline reads every line of an item in several frames and the tracker votes on the texts.
Verification and grading need more than a text: the line's probability lattice and its crop.
``TrackedRules`` keeps, for every (track, line slot), the lattice and crop of the frame in which
that line was read with the highest confidence (bounded: one entry per live slot, forgotten
when the track ends), and when the tracker ends a track with an event, applies the rules to
those best frames, top to bottom in the event's line order, and returns the event with its
``lines`` (fielded reads), ``verdict``, ``grade``, ``detail`` and ``quality`` set.

``lattice_reads`` turns lattices into the same ``LineRead`` objects ``LineRecognizer.read``
returns, so the pipeline makes one interpreter call per batch and feeds both the tracker and
the rules from it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edge_ocr.decode import greedy_decode
from edge_ocr.events import ItemEvent
from edge_ocr.recognize import REJECT_MARK, CharRead, LineRead
from edge_ocr.rules.engine import RulesEngine, item_probabilities
from edge_ocr.track import EndedTrack
from edge_ocr.types import FloatArray, LineCrop

if TYPE_CHECKING:
    from edge_ocr.rules.engine import Recognizer


def lattice_reads(
    lattices: Sequence[FloatArray], charset: str, reject_threshold: float
) -> list[LineRead]:
    """Greedy reads of lattices, exactly as ``LineRecognizer`` makes them from its output."""
    reads = []
    for lattice in lattices:
        decoded = greedy_decode(lattice, charset)
        chars = tuple(
            CharRead(c, conf, conf < reject_threshold)
            for c, conf in zip(decoded.text, decoded.char_confidences, strict=True)
        )
        text = "".join(REJECT_MARK if c.rejected else c.char for c in chars)
        reads.append(LineRead(text, decoded.confidence, chars))
    return reads


@dataclass(frozen=True)
class _Best:
    confidence: float
    lattice: FloatArray
    crop: LineCrop


class TrackedRules:
    """Best frame per tracked line, and the rules applied to an item when its track ends."""

    def __init__(self, engine: RulesEngine, max_lines: int = 1024) -> None:
        self.engine = engine
        self.max_lines = max_lines
        """Bound on remembered lines, should a track ever end unseen: the oldest go first."""
        self._best: dict[tuple[int, int], _Best] = {}

    def read(
        self, recognizer: Recognizer, crops: Sequence[LineCrop]
    ) -> tuple[list[LineRead], list[FloatArray]]:
        """The crops' lattices (one interpreter call) and their greedy reads for the tracker,
        with the recognizer's reject threshold."""
        lattices = item_probabilities(recognizer, crops)
        reads = lattice_reads(lattices, self.engine.charset, recognizer.reject_threshold)
        return reads, lattices

    def observe(
        self, track: int, slot: int, read: LineRead, lattice: FloatArray, crop: LineCrop
    ) -> None:
        """One line of a tracked item read in this frame (``slot`` from ``Assignment.slots``;
        -1, a piece of a line already matched, is ignored)."""
        if slot < 0:
            return
        key = (track, slot)
        best = self._best.get(key)
        if best is None or read.confidence > best.confidence:
            self._best[key] = _Best(read.confidence, lattice, crop)
        while len(self._best) > self.max_lines:
            del self._best[next(iter(self._best))]

    def judge(self, ended: Iterable[EndedTrack]) -> list[ItemEvent]:
        """The events of ``ended`` (``Tracker.ended`` after ``update`` or ``finish``) with the
        rules applied; every ended track is forgotten, reported or not."""
        events = []
        for track in ended:
            if track.event is not None:
                events.append(self._judged(track))
            for key in [k for k in self._best if k[0] == track.track]:
                del self._best[key]
        return events

    def _judged(self, track: EndedTrack) -> ItemEvent:
        assert track.event is not None
        slots = sorted(track.slot_lines, key=lambda slot: track.slot_lines[slot])
        best = [self._best.get((track.track, slot)) for slot in slots]
        if any(b is None for b in best):  # a line never read (cannot happen for a reported line)
            return dataclasses.replace(
                track.event, verdict="no-read", detail="a line has no recorded frame"
            )
        found = [b for b in best if b is not None]
        result = self.engine.apply([b.lattice for b in found], [b.crop for b in found])
        return dataclasses.replace(
            track.event,
            lines=result.lines,
            confidence=min((line.confidence for line in result.lines), default=0.0),
            verdict=result.verdict,
            grade=result.grade,
            detail=result.detail,
            quality=result.quality,
        )

    def __len__(self) -> int:
        """Remembered lines (bounded by the tracker's live slots)."""
        return len(self._best)
