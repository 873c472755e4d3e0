"""Every threshold of the rules stage, named, in one frozen dataclass.

Thresholds buried in code (``if score < 0.4``) cannot be tuned on a line without a release; these
can, from the service config's ``[rules]`` table or from code. Defaults were chosen on held-out
synthetic lines with the bundled model (``training/calibration.py`` measures them); a site with
its own prints should re-measure.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

GRADES = ("A", "B", "C", "D", "F")


class RulesConfigError(ValueError):
    """A rules setting that cannot be used; the message names the key."""


@dataclass(frozen=True)
class Breakpoints:
    """How one measured quantity maps to a 0-1 score: ``zero`` scores 0, the grade limits ``d``,
    ``c``, ``b``, ``a`` score 0.2, 0.4, 0.6, 0.8, ``perfect`` scores 1, linear in between.

    ``zero`` may be above ``perfect`` for quantities where smaller is better (spacing spread).
    """

    zero: float
    d: float
    c: float
    b: float
    a: float
    perfect: float

    def __post_init__(self) -> None:
        knots = self.knots
        rising = all(x < y for x, y in itertools.pairwise(knots))
        falling = all(x > y for x, y in itertools.pairwise(knots))
        if not (rising or falling):
            raise RulesConfigError(
                f"breakpoints {knots} must run strictly one way from zero to perfect"
            )

    @property
    def knots(self) -> tuple[float, ...]:
        return (self.zero, self.d, self.c, self.b, self.a, self.perfect)

    def score(self, value: float) -> float:
        """0-1 score of ``value``, clipped at both ends."""
        if math.isnan(value):
            return 0.0
        knots = self.knots
        scores = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
        if knots[0] > knots[-1]:
            knots = knots[::-1]
            scores = scores[::-1]
        if value <= knots[0]:
            return scores[0]
        if value >= knots[-1]:
            return scores[-1]
        for (x0, s0), (x1, s1) in itertools.pairwise(zip(knots, scores, strict=True)):
            if value <= x1:
                return s0 + (s1 - s0) * (value - x0) / (x1 - x0)
        return scores[-1]


@dataclass(frozen=True)
class GradingConfig:
    """Breakpoints of the print-quality quantities (see ``edge_ocr/rules/README.md``)."""

    margin: Breakpoints = Breakpoints(0.0, 0.15, 0.3, 0.5, 0.7, 0.95)
    """Smallest per-character recognition margin (best minus second-best allowed class)."""
    contrast: Breakpoints = Breakpoints(0.05, 0.15, 0.25, 0.35, 0.5, 0.7)
    """Ink-to-background contrast of the crop, 0-1 (ISO 15415 symbol contrast uses 20/40/55/70 %
    of reflectance; a camera crop under uneven light reads lower, hence lower limits)."""
    completeness: Breakpoints = Breakpoints(0.2, 0.4, 0.55, 0.7, 0.8, 0.95)
    """Weakest character's ink relative to what its identity predicts."""
    spacing: Breakpoints = Breakpoints(0.6, 0.45, 0.35, 0.25, 0.15, 0.05)
    """Spread of the character pitch (coefficient of variation); smaller is better."""
    baseline: Breakpoints = Breakpoints(0.25, 0.15, 0.1, 0.07, 0.04, 0.01)
    """Spread of the character bottoms around the fitted baseline, in character heights."""


@dataclass(frozen=True)
class RulesConfig:
    """Named thresholds of fielding, OCV, rejects and grading."""

    char_reject: float = 0.5
    """A character whose confidence is below this is a reject ('?'), not a guess."""
    line_reject: float = 0.5
    """A line whose confidence (the product of its characters', calibrated on held-out lines)
    is below this is unsure as a whole: it is more likely wrong than right."""
    min_margin: float = 0.1
    """A character whose margin (best minus second-best allowed class) is below this is a reject."""
    max_constraint_cost: float = 12.0
    """Nats: when the best string the template allows is this much less likely than the
    unconstrained read, no allowed string is close enough and the line is reported as a no-match."""
    fail_evidence: float = 6.0
    """Nats: OCV calls a line ``fail`` only when the read is at least this much more likely than
    the best expected string (e^6 = 400 times); weaker evidence of a difference is ``no-read``.
    Chosen on a synthetic OCV stream (``evaluate_ocv``, ``fail_rate_at``)."""
    confusable: tuple[str, ...] = ("O0", "D0", "Q0", "I1", "L1", "B8", "S5", "Z2", "G6")
    """Character pairs the model confuses on held-out prints (``training/calibration.py``
    lists its top confusions): a difference made only of these substitutions needs
    ``confusable_evidence`` to be a ``fail``."""
    confusable_evidence: float = 9.0
    """Nats needed to fail on confusable substitutions alone. With ``probability_floor`` 1e-4
    the most one character can give is about 9.2 nats, so 9 means: the model read the other
    character and gave the expected one no probability at all. Set ``inf`` to never fail on
    them (a person checks the ``no-read``)."""
    beam_width: int = 16
    """Prefixes kept per frame by the constrained beam search."""
    top_k: int = 8
    """Complete candidates checked for date/time validity, best first."""
    beam_prune: float = 1e-3
    """Characters under this probability at a frame are not tried (the best allowed one always
    is)."""
    probability_floor: float = 1e-4
    """Probabilities are floored here before logs: int8 outputs round small values to 0."""
    pass_min_grade: str | None = None
    """When set (e.g. "C"), a read that matches but grades worse becomes ``fail``."""
    grading: GradingConfig = field(default_factory=GradingConfig)

    def __post_init__(self) -> None:
        for name in ("char_reject", "line_reject", "min_margin", "beam_prune"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise RulesConfigError(f"rules.{name} must be within 0-1, got {value}")
        if not 0.0 < self.probability_floor < 0.01:
            raise RulesConfigError(
                f"rules.probability_floor must be within 0-0.01 (exclusive), got "
                f"{self.probability_floor}"
            )
        for pair in self.confusable:
            if not isinstance(pair, str) or len(pair) != 2 or pair[0] == pair[1]:
                raise RulesConfigError(
                    f"rules.confusable entries must be two different characters, got {pair!r}"
                )
        for name in ("max_constraint_cost", "fail_evidence", "confusable_evidence"):
            if getattr(self, name) <= 0:
                raise RulesConfigError(f"rules.{name} must be positive, got {getattr(self, name)}")
        for name in ("beam_width", "top_k"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise RulesConfigError(f"rules.{name} must be a whole number >= 1, got {value!r}")
        if self.pass_min_grade is not None and self.pass_min_grade not in GRADES:
            raise RulesConfigError(
                f"rules.pass_min_grade must be one of {', '.join(GRADES)}, "
                f"got {self.pass_min_grade!r}"
            )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "rules") -> RulesConfig:
        """Build from a config table (TOML ``[rules]``), naming the unknown or bad key.

        Numbers come as given; ``grading`` may hold tables of breakpoints, each a list of six
        numbers ``[zero, d, c, b, a, perfect]``.
        """
        known = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                raise RulesConfigError(
                    f"{where}: unknown key {key!r} (known: {', '.join(sorted(known))})"
                )
            if key == "grading":
                values[key] = _grading_from_mapping(value, f"{where}.grading")
            elif key == "confusable":
                if isinstance(value, str) or not isinstance(value, (list, tuple)):
                    raise RulesConfigError(
                        f'{where}.confusable must be a list of pairs like ["O0", "I1"]'
                    )
                values[key] = tuple(value)
            elif key == "pass_min_grade":
                values[key] = None if value in ("", None) else str(value)
            elif key in ("beam_width", "top_k"):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise RulesConfigError(f"{where}.{key} must be a whole number, got {value!r}")
                values[key] = value
            else:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise RulesConfigError(f"{where}.{key} must be a number, got {value!r}")
                values[key] = float(value)
        try:
            return cls(**values)
        except RulesConfigError as error:
            raise RulesConfigError(f"{where}: {error}") from None


def _grading_from_mapping(data: Any, where: str) -> GradingConfig:
    if not isinstance(data, Mapping):
        raise RulesConfigError(f"{where} must be a table")
    known = {f.name for f in dataclasses.fields(GradingConfig)}
    values: dict[str, Breakpoints] = {}
    for key, value in data.items():
        if key not in known:
            raise RulesConfigError(
                f"{where}: unknown quantity {key!r} (known: {', '.join(sorted(known))})"
            )
        if (
            not isinstance(value, (list, tuple))
            or len(value) != 6
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        ):
            raise RulesConfigError(
                f"{where}.{key} must be six numbers [zero, d, c, b, a, perfect], got {value!r}"
            )
        try:
            values[key] = Breakpoints(*(float(v) for v in value))
        except RulesConfigError as error:
            raise RulesConfigError(f"{where}.{key}: {error}") from None
    return GradingConfig(**values)
