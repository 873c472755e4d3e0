"""Constrained CTC decoding on constructed probability matrices (no model involved)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edge_ocr.charset import DEFAULT_CHARSET
from edge_ocr.decode import greedy_decode
from edge_ocr.rules.config import RulesConfig
from edge_ocr.rules.constrained import (
    constrained_search,
    ctc_alignment,
    ctc_from_characters,
    ctc_log_likelihood,
    decode_line,
    greedy_text,
    log_probabilities,
)
from edge_ocr.rules.template import parse_line_template

CHARSET = DEFAULT_CHARSET
INDEX = {c: i + 1 for i, c in enumerate(CHARSET)}


def line_matrix(chars: list[dict[str, float]], blank_frames: int = 1) -> np.ndarray:
    """Frames for a printed line: blanks, then one frame per character holding the given
    distribution (the rest of the mass on the blank), blanks between characters."""
    classes = len(CHARSET) + 1
    frames = []
    blank = np.zeros(classes, np.float32)
    blank[0] = 1.0
    frames += [blank] * blank_frames
    for distribution in chars:
        frame = np.zeros(classes, np.float32)
        for char, p in distribution.items():
            frame[INDEX[char]] = p
        frame[0] = max(0.0, 1.0 - frame.sum())
        frames += [frame] + [blank] * blank_frames
    return np.stack(frames)


def sure(text: str, p: float = 0.97) -> list[dict[str, float]]:
    return [{c: p} for c in text]


def test_ambiguous_letters_resolve_to_the_allowed_class() -> None:
    # The model prefers 'O' and 'B' where the template wants digits.
    chars = [*sure("LOT "), {"O": 0.7, "0": 0.25}, {"B": 0.6, "8": 0.35}, *sure("12")]
    probabilities = line_matrix(chars)
    assert greedy_text(probabilities, CHARSET) == "LOT OB12"
    result = decode_line(probabilities, CHARSET, parse_line_template("LOT [0-9]{4}"))
    assert result.text == "LOT 0812" and result.template_matched
    assert result.unconstrained_text == "LOT OB12"
    assert 0 < result.constraint_cost < 2
    # Renormalised over the digits, the forced '0' is a confident digit.
    assert result.chars[4].confidence > 0.7 and result.chars[4].probability == pytest.approx(0.25)
    # And letters where letters are due.
    letters = decode_line(
        line_matrix([{"0": 0.6, "O": 0.35}, {"8": 0.55, "B": 0.4}]),
        CHARSET,
        parse_line_template("[A-Z]{2}"),
    )
    assert letters.text == "OB"


def test_impossible_dates_are_never_returned() -> None:
    # Most likely "2026-02-30"; the day's tens digit could also be a 1.
    chars = [*sure("2026-02-"), {"3": 0.6, "1": 0.35}, *sure("0")]
    template = parse_line_template("{date:YYYY-MM-DD}")
    result = decode_line(line_matrix(chars), CHARSET, template)
    # The best string the per-position classes allow is the impossible date; the semantic
    # check skips it for the best real date among the candidates.
    assert result.candidates[0][0] == "2026-02-30"
    assert result.template_matched and result.text == "2026-02-10"
    assert template.match(result.text)


def test_no_allowed_string_close_enough_is_reported() -> None:
    probabilities = line_matrix(sure("XYZ 12", 0.99))
    result = decode_line(probabilities, CHARSET, parse_line_template("LOT [0-9]{4}"))
    assert result.template_matched is False
    assert result.text == "XYZ 12"  # what was read, not a forced string
    assert result.problem is not None and "close enough" in result.problem
    # With an unlimited budget the best allowed string is returned.
    lenient = RulesConfig(max_constraint_cost=1e9)
    forced = decode_line(probabilities, CHARSET, parse_line_template("LOT [0-9]{4}"), lenient)
    assert forced.template_matched and forced.text.startswith("LOT ")


def test_too_few_frames_for_the_template_is_a_no_match() -> None:
    probabilities = line_matrix(sure("12"))
    result = decode_line(probabilities, CHARSET, parse_line_template("[0-9]{9}"))
    assert result.template_matched is False and result.problem


def test_without_a_template_it_agrees_with_greedy_decoding() -> None:
    probabilities = line_matrix([*sure("EXP 2027"), {"0": 0.45, "O": 0.4}, *sure("4")])
    result = decode_line(probabilities, CHARSET)
    reference = greedy_decode(probabilities, CHARSET)
    assert result.text == reference.text == "EXP 20270" + "4"
    assert [c.confidence for c in result.chars] == pytest.approx(list(reference.char_confidences))
    assert result.template_matched is None
    assert result.chars[8].margin == pytest.approx(0.05, abs=1e-6)


def _brute_force_likelihood(log_probs: np.ndarray, labels: list[int]) -> float:
    frames, classes = log_probs.shape
    total = -math.inf
    for path in itertools.product(range(classes), repeat=frames):
        collapsed = [c for i, c in enumerate(path) if c != 0 and (i == 0 or path[i - 1] != c)]
        if collapsed == labels:
            total = np.logaddexp(total, sum(log_probs[t, c] for t, c in enumerate(path)))
    return float(total)


@settings(max_examples=25, deadline=None)
@given(
    arrays(np.float64, (5, 4), elements=st.floats(0.01, 1.0)),
    st.lists(st.integers(1, 3), min_size=0, max_size=3),
)
def test_forward_algorithm_sums_every_alignment(raw: np.ndarray, labels: list[int]) -> None:
    log_probs = np.log(raw / raw.sum(axis=1, keepdims=True))
    assert ctc_log_likelihood(log_probs, labels) == pytest.approx(
        _brute_force_likelihood(log_probs, labels), abs=1e-9
    )


def test_alignment_puts_each_character_on_its_frames() -> None:
    probabilities = line_matrix(sure("AB", 0.9))
    path = ctc_alignment(log_probabilities(probabilities, 1e-6), [INDEX["A"], INDEX["B"]])
    assert path == [-1, 0, -1, 1, -1]
    assert ctc_alignment(log_probabilities(probabilities[:1], 1e-6), [1, 2]) == []


SMALL = "AB1"


@settings(max_examples=30, deadline=None)
@given(
    arrays(np.float64, (5, 4), elements=st.floats(0.01, 1.0)),
    st.sampled_from(["[AB]1?", "[AB1]{1,3}", "A[^A]", "1{2}B?"]),
)
def test_beam_search_finds_the_most_likely_allowed_string(raw: np.ndarray, source: str) -> None:
    """On problems small enough to enumerate, the search returns the best allowed string."""
    probabilities = (raw / raw.sum(axis=1, keepdims=True)).astype(np.float32)
    template = parse_line_template(source, charset=SMALL)
    log_probs = log_probabilities(probabilities, 1e-6)
    best_text, best = None, -math.inf
    for length in range(template.min_length, template.max_length + 1):
        for chars in itertools.product(SMALL, repeat=length):
            text = "".join(chars)
            if template.match(text):
                likelihood = ctc_log_likelihood(log_probs, [SMALL.index(c) + 1 for c in text])
                if likelihood > best:
                    best_text, best = text, likelihood
    config = RulesConfig(beam_width=64, beam_prune=0.0, top_k=64, probability_floor=1e-6)
    found = constrained_search(log_probs, probabilities, template, SMALL, config)
    assert found, "the search must find an allowed string when one fits"
    assert found[0][1] == pytest.approx(best, abs=1e-9)
    assert found[0][0] == best_text or found[0][1] == pytest.approx(best, abs=1e-9)


PROPERTY_TEMPLATES = [
    parse_line_template(t)
    for t in (
        "LOT [A-Z0-9]{7}",
        "EXP {date:YYYY-MM-DD}",
        "{date:DD.MM.YY} {time:HH:MM}",
        "L[0-9]{1,3}",
        "{time:HH:MM:SS}",
    )
]


@st.composite
def probability_matrices(draw: st.DrawFn) -> np.ndarray:
    """Random T x C matrices: peaky or flat, with exact zeros as int8 outputs have."""
    frames = draw(st.integers(1, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    concentration = draw(st.sampled_from([0.05, 0.3, 1.0, 5.0]))
    matrix = rng.dirichlet(np.full(len(CHARSET) + 1, concentration), size=frames)
    if draw(st.booleans()):
        matrix = np.floor(matrix * 256) / 256  # int8-like quantisation
    return matrix.astype(np.float32)


@settings(max_examples=120, deadline=None)
@given(probability_matrices(), st.sampled_from(PROPERTY_TEMPLATES))
def test_never_returns_a_string_the_template_forbids(
    probabilities: np.ndarray, template: object
) -> None:
    assert hasattr(template, "match")
    result = decode_line(probabilities, CHARSET, template)  # type: ignore[arg-type]
    if result.template_matched:
        assert template.match(result.text), result.text  # type: ignore[attr-defined]
        assert result.constraint_cost <= RulesConfig().max_constraint_cost
    else:
        assert result.template_matched is False and result.problem


def test_char_mode_outputs_decode_through_the_same_path() -> None:
    # Three segmented characters of a char model without a space class; a word gap before
    # the third. The middle one leans to 'O' where the template wants a digit.
    charset = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    rows = np.zeros((3, len(charset)), np.float32)
    rows[0, charset.index("L")] = 1.0
    rows[1, charset.index("O")], rows[1, charset.index("0")] = 0.7, 0.3
    rows[2, charset.index("7")] = 1.0
    lattice, lattice_charset = ctc_from_characters(rows, charset, spaces=[2])
    assert lattice_charset == charset + " " and lattice.shape == (9, len(charset) + 2)
    assert greedy_text(lattice, lattice_charset) == "LO 7"
    template = parse_line_template("L[0-9] [0-9]", charset=lattice_charset)
    result = decode_line(lattice, lattice_charset, template)
    assert result.text == "L0 7" and result.chars[1].confidence == pytest.approx(1.0)
