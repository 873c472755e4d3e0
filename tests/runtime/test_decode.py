from __future__ import annotations

import numpy as np
import pytest

from edge_ocr.charset import CharsetError, decode_indices, encode, validate_charset
from edge_ocr.decode import greedy_decode

CHARSET = "AB1"


def _probs(path: list[int], confidence: float = 0.9) -> np.ndarray:
    classes = len(CHARSET) + 1
    rest = (1 - confidence) / (classes - 1)
    matrix = np.full((len(path), classes), rest, np.float32)
    matrix[np.arange(len(path)), path] = confidence
    return matrix


def test_repeats_collapse_and_blanks_separate() -> None:
    decoded = greedy_decode(_probs([0, 1, 1, 0, 1, 2, 2, 0, 3]), CHARSET)
    assert decoded.text == "AAB1"
    assert len(decoded.char_confidences) == 4


def test_confidence_tracks_the_weakest_character() -> None:
    sure = greedy_decode(_probs([1, 0, 2]), CHARSET)
    probabilities = _probs([1, 0, 2])
    probabilities[2] = [0.3, 0.05, 0.35, 0.3]
    unsure = greedy_decode(probabilities, CHARSET)
    assert unsure.text == "AB"
    assert unsure.char_confidences[1] == pytest.approx(0.35)
    assert unsure.confidence < sure.confidence
    assert 0.0 <= unsure.confidence <= 1.0


def test_only_blanks_reads_empty() -> None:
    decoded = greedy_decode(_probs([0, 0, 0]), CHARSET)
    assert decoded.text == "" and decoded.char_confidences == ()


def test_encode_round_trip_and_errors() -> None:
    assert decode_indices(encode("B1A", CHARSET), CHARSET) == "B1A"
    with pytest.raises(CharsetError, match="'z'"):
        encode("Az", CHARSET)
    with pytest.raises(CharsetError, match="repeats"):
        validate_charset("AA")
