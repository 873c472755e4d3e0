"""Per-character recognition of line crops: segment, bin each character, one batched call.

The result has the same types as line mode (``LineRead`` of ``CharRead``), so ``edge-ocr read``
prints the same JSON whichever kind of model is loaded. By default the classifier also guides
the segmentation (``edge_ocr.segment_guided``): the classical segmenter's boxes, split and
joined in candidate ways, are all classified in the same one call, and the best-scoring
reading is kept; ``guided=None`` reads the classical boxes as they are. A character whose
top probability is under the contract's ``reject_threshold`` reads as '?' and is flagged,
not guessed. Word spaces come from the gaps the segmenter measured; they carry confidence 1.0
because no classifier decided them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from edge_ocr.contract import ModelError
from edge_ocr.model import LoadedModel
from edge_ocr.preprocess import bin_char
from edge_ocr.recognize import REJECT_MARK, CharRead, LineRead, dequantize_output, input_lookup
from edge_ocr.segment import SegmentConfig, Segmentation, char_crops, segment_line
from edge_ocr.segment_guided import DEFAULT_GUIDANCE, GuidedConfig, GuidedSegmenter
from edge_ocr.types import BinnedLine, FloatArray, LineCrop

BATCH_STEP = 16
"""Batches are padded to a multiple of this, so the interpreter is not re-allocated for every
new character count."""


class CharRecognizer:
    """Reads line crops (or single-character crops) with a per-character classifier."""

    def __init__(
        self,
        model: LoadedModel,
        reject_threshold: float | None = None,
        segment: SegmentConfig | None = None,
        guided: GuidedConfig | None = DEFAULT_GUIDANCE,
    ) -> None:
        """``guided`` configures classifier-guided segmentation; None turns it off (the
        classical ``segment_line`` boxes are read as they are)."""
        if model.contract.kind != "char":
            raise ModelError(
                f"{model.path}: a {model.contract.kind} model cannot classify single characters"
            )
        self.model = model
        self.height = model.contract.input_height
        self.width = model.contract.input_width
        self.charset = model.contract.charset
        self.segment_config = segment or SegmentConfig()
        self.reject_threshold = (
            model.contract.reject_threshold if reject_threshold is None else reject_threshold
        )
        self._lookup = input_lookup(model)
        self.guide = (
            None
            if guided is None
            else GuidedSegmenter(self.crop_probabilities, guided, self.segment_config)
        )

    def bin(self, char_crop: LineCrop) -> BinnedLine:
        return bin_char(char_crop, self.height, self.width)

    def probabilities(self, binned: npt.NDArray[np.uint8]) -> FloatArray:
        """``N x C`` probabilities of the charset's classes for a stack of binned characters,
        in one call. A model with a non-character class (``contract.non_char``) gives rows
        that sum to less than one: the rest is its belief that the crop is not a character."""
        if binned.ndim != 3 or binned.shape[1:] != (self.height, self.width):
            raise ValueError(f"expected N x {self.height} x {self.width} binned characters")
        count = binned.shape[0]
        if count == 0:
            return np.zeros((0, len(self.charset)), np.float32)
        padded = math.ceil(count / BATCH_STEP) * BATCH_STEP
        batch = np.zeros((padded, self.height, self.width), dtype=np.uint8)
        batch[:count] = binned
        raw = self.model.runner.run(self._lookup[batch][..., np.newaxis])
        probabilities = dequantize_output(self.model, raw).reshape(padded, -1)
        return probabilities[:count, : len(self.charset)]

    def crop_probabilities(self, char_crops_: Sequence[LineCrop]) -> FloatArray:
        """``N x C`` class probabilities of character crops, binned and classified in one call."""
        if not char_crops_:
            return np.zeros((0, len(self.charset)), np.float32)
        return self.probabilities(np.stack([self.bin(c) for c in char_crops_]))

    def classify_binned(self, binned: npt.NDArray[np.uint8]) -> list[CharRead]:
        return self.reads(self.probabilities(binned))

    def reads(self, probabilities: FloatArray) -> list[CharRead]:
        """The best class of each row of probabilities, rejected under the threshold."""
        best = probabilities.argmax(axis=1)
        reads = []
        for index, row in zip(best, probabilities, strict=True):
            confidence = float(row[index])
            reads.append(
                CharRead(self.charset[int(index)], confidence, confidence < self.reject_threshold)
            )
        return reads

    def classify(self, char_crops_: Sequence[LineCrop]) -> list[CharRead]:
        """One read per single-character crop, all in one interpreter call. Crops should be cut
        the way the model's training crops were: ``edge_ocr.segment.cut_char`` for the bundled
        model, the user's own cropping for a model trained on the user's crops."""
        return self.reads(self.crop_probabilities(char_crops_))

    def segment(self, crop: LineCrop) -> Segmentation:
        """The characters of one line: guided by the classifier unless that is turned off."""
        if self.guide is None:
            return segment_line(crop, self.segment_config)
        return self.guide.segment([crop])[0].segmentation

    def read(self, crops: Sequence[LineCrop]) -> list[LineRead]:
        """Segment every line crop and classify its characters, all lines in one interpreter
        call (with guidance, the call classifies every candidate and the chosen ones' reads
        are kept)."""
        if self.guide is None:
            return self.read_segmented([segment_line(c, self.segment_config) for c in crops])
        return [
            self._line(g.segmentation, self.reads(g.probabilities))
            for g in self.guide.segment(crops)
        ]

    def read_segmented(self, segmentations: Sequence[Segmentation]) -> list[LineRead]:
        cuts = [char_crops(s, self.segment_config) for s in segmentations]
        flat = [c for line in cuts for c in line]
        reads = self.classify(flat)
        lines: list[LineRead] = []
        start = 0
        for segmentation, line in zip(segmentations, cuts, strict=True):
            lines.append(self._line(segmentation, reads[start : start + len(line)]))
            start += len(line)
        return lines

    def _line(self, segmentation: Segmentation, reads: list[CharRead]) -> LineRead:
        """Text with spaces where the segmenter found word gaps; the line's confidence is the
        product of its characters' (0 when nothing was found to read)."""
        spaces = set(segmentation.spaces) if " " not in self.charset else set()
        chars: list[CharRead] = []
        for index, read in enumerate(reads):
            if index in spaces:
                chars.append(CharRead(" ", 1.0, False))
            chars.append(read)
        text = "".join(REJECT_MARK if c.rejected else c.char for c in chars)
        confidence = float(np.prod([c.confidence for c in reads])) if reads else 0.0
        return LineRead(text, confidence, tuple(chars))
