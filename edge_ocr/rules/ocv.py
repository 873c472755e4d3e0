"""Optical character verification: is the expected code printed?

The expected code is a string or a pattern in the template language, lines separated by ``|``
(``"LOT A7K2291 | EXP 2027-04-11"``, ``"LOT A7K22[0-9]{2} | EXP {date:YYYY-MM-DD}"``). Each item
gets a verdict:

- ``pass``: every line reads as expected, and every character is sure;
- ``fail``: a line reads differently, and the read is clearly more likely than the best expected
  string (``RulesConfig.fail_evidence``): the detail says which line, which position, what was
  expected and what was read;
- ``no-read``: the reader is unsure (rejected characters, a low line confidence, weak evidence of
  a difference, or not as many lines as expected), so it can neither confirm nor deny.

The difference test compares likelihoods on the model's full output, not only the argmax: a
'0' read at 0.6 where an 'O' is expected at 0.35 is weak evidence (0.5 nats) and gives
``no-read``, while a '7' read at 0.99 where '2' is expected at under 0.001 is a ``fail``.

``ExpectedCode`` holds the current expected code and lets it change at run time: from a watched
file (re-read when its modification time changes) and from ``set(text)``, which the firmware
bridge's SET_EXPECTED callback calls. The latest change wins.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from edge_ocr.charset import DEFAULT_CHARSET
from edge_ocr.rules.config import RulesConfig
from edge_ocr.rules.constrained import (
    LineDecode,
    ctc_log_likelihood,
    decode_line,
    log_probabilities,
)
from edge_ocr.rules.template import ItemTemplate, LineTemplate, TemplateError, parse_template
from edge_ocr.types import FloatArray

log = logging.getLogger(__name__)

PASS = "pass"
FAIL = "fail"
NO_READ = "no-read"
VERDICTS = (PASS, FAIL, NO_READ)


def parse_expected(
    text: str, charset: str = DEFAULT_CHARSET, what: str = "expected code"
) -> ItemTemplate:
    """Compile an expected code; newlines separate lines as ``|`` does, and in a file, blank
    lines and lines starting with ``#`` are ignored."""
    lines = [
        line.strip()
        for line in text.replace("\r", "").split("\n")
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise TemplateError(f"{what} is empty")
    return parse_template(" | ".join(lines), charset, what)


class ExpectedCode:
    """The expected code, changeable while the device runs.

    ``path``: a file holding the code (one line of the code per line, or ``|``-separated); it is
    re-read whenever its modification time changes. A file that becomes unreadable or invalid
    keeps the previous code in force and sets ``error``, so a half-written file on a running line
    never stops verification. ``set(text)`` replaces the code at once and raises
    ``TemplateError`` for an invalid one (the caller reports it, the old code stays).
    Thread-safe: the firmware bridge calls ``set`` from its own thread.
    """

    def __init__(
        self,
        text: str | None = None,
        path: Path | str | None = None,
        charset: str = DEFAULT_CHARSET,
    ) -> None:
        self.charset = charset
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._code: ItemTemplate | None = None
        self._mtime: int | None = None
        self.error: str | None = None
        self.version = 0
        """Incremented at every change, so a caller can log or report it."""
        if text is not None:
            self.set(text)
        if self.path is not None:
            if not self.path.is_file():
                raise TemplateError(f"expected-code file not found: {self.path}")
            self._reload(strict=True)

    def set(self, text: str) -> ItemTemplate:
        """Replace the expected code (the SET_EXPECTED command); invalid text raises."""
        code = parse_expected(text, self.charset)
        with self._lock:
            self._code = code
            self.version += 1
            self.error = None
        log.info("expected code set to %r", str(code))
        return code

    def clear(self) -> None:
        """No expected code until the next ``set`` or change of the watched file (an empty
        SET_EXPECTED): items are ``no-read`` meanwhile."""
        with self._lock:
            self._code = None
            self.version += 1
            self.error = None
        log.info("expected code cleared")

    def current(self) -> ItemTemplate | None:
        """The code in force, after re-reading the watched file if it changed."""
        if self.path is not None:
            self._reload(strict=False)
        with self._lock:
            return self._code

    def _reload(self, strict: bool) -> None:
        assert self.path is not None
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except OSError as error:
            if strict:
                raise TemplateError(f"{self.path}: {error.strerror}") from None
            self._note_error(f"{self.path}: {error.strerror}; keeping the previous expected code")
            return
        if mtime == self._mtime:
            return
        try:
            text = self.path.read_text(encoding="utf-8")
            code = parse_expected(text, self.charset, what=str(self.path))
        except (OSError, UnicodeDecodeError, TemplateError) as error:
            if strict:
                raise TemplateError(str(error)) from None
            self._mtime = mtime  # do not re-parse the same bad file on every item
            self._note_error(f"{error}; keeping the previous expected code")
            return
        with self._lock:
            self._code = code
            self._mtime = mtime
            self.version += 1
            self.error = None
        log.info("expected code from %s: %r", self.path, str(code))

    def _note_error(self, message: str) -> None:
        with self._lock:
            changed = message != self.error
            self.error = message
        if changed:
            log.warning("%s", message)


@dataclass(frozen=True)
class LineCheck:
    """One line's verification: ``ok``, ``fail`` or ``unsure``, and why."""

    line: int
    """1-based line number."""
    status: str
    detail: str | None = None
    evidence: float = 0.0
    """Nats by which the read is more likely than the best expected string (0 when it matches)."""


@dataclass(frozen=True)
class Verification:
    verdict: str
    detail: str | None
    lines: tuple[LineCheck, ...]


def unsure_positions(decode: LineDecode, config: RulesConfig) -> list[int]:
    """0-based positions of the characters the rules reject (low confidence or margin)."""
    return [
        i
        for i, c in enumerate(decode.chars)
        if c.confidence < config.char_reject or c.margin < config.min_margin
    ]


@dataclass(frozen=True)
class Edit:
    """One difference between an expected and a read line."""

    kind: str
    """S (substituted), D (expected character missing) or I (extra character read)."""
    position: int
    """0-based position in the read line."""
    expected: str
    read: str
    expected_position: int = 0
    """0-based position in the expected line."""

    def describe(self) -> str:
        if self.kind == "S":
            return f"expected {self.expected!r}, read {self.read!r}"
        if self.kind == "D":
            return f"expected {self.expected!r}, read nothing"
        return f"read an extra {self.read!r}"


def differences(expected: str, read: str) -> list[Edit]:
    """The edits turning ``expected`` into ``read`` (Levenshtein alignment), left to right."""
    rows, cols = len(expected) + 1, len(read) + 1
    cost = np.zeros((rows, cols), dtype=np.int64)
    cost[:, 0] = np.arange(rows)
    cost[0, :] = np.arange(cols)
    for i in range(1, rows):
        for j in range(1, cols):
            cost[i, j] = min(
                cost[i - 1, j] + 1,
                cost[i, j - 1] + 1,
                cost[i - 1, j - 1] + (expected[i - 1] != read[j - 1]),
            )
    edits: list[Edit] = []
    i, j = len(expected), len(read)
    while i > 0 or j > 0:
        if i > 0 and j > 0 and cost[i, j] == cost[i - 1, j - 1] + (expected[i - 1] != read[j - 1]):
            if expected[i - 1] != read[j - 1]:
                edits.append(Edit("S", j - 1, expected[i - 1], read[j - 1], i - 1))
            i, j = i - 1, j - 1
        elif i > 0 and cost[i, j] == cost[i - 1, j] + 1:
            edits.append(Edit("D", j, expected[i - 1], "", i - 1))
            i -= 1
        else:
            edits.append(Edit("I", j - 1, "", read[j - 1], i))
            j -= 1
    return edits[::-1]


def verify_line(
    number: int,
    expected: LineTemplate,
    decode: LineDecode,
    probabilities: FloatArray,
    charset: str,
    config: RulesConfig,
) -> LineCheck:
    """Compare one read line with its expected template (see the module docstring).

    A difference is a ``fail`` when the read is at least ``fail_evidence`` nats more likely than
    the best expected string *and* it rests on a sure character: a read character that differs
    and is not rejected, or a missing character in a line read with confidence. A difference
    made only of rejected characters (a smudged print read as noise) is ``unsure``, and so is
    one made only of confusable substitutions (``RulesConfig.confusable``) unless the evidence
    reaches ``confusable_evidence``.
    """
    unsure = unsure_positions(decode, config)
    sure_line = decode.confidence >= config.line_reject
    mismatch = expected.mismatch(decode.text)
    if mismatch is None:
        if unsure:
            at = unsure[0]
            conf = decode.chars[at].confidence
            return LineCheck(
                number,
                "unsure",
                f"line {number}, position {at + 1}: {decode.text[at]!r} is uncertain "
                f"(confidence {conf:.2f})",
            )
        if not sure_line:
            return LineCheck(
                number,
                "unsure",
                f"line {number}: confidence {decode.confidence:.2f} under {config.line_reject}",
            )
        return LineCheck(number, "ok")
    log_probs = log_probabilities(probabilities, config.probability_floor)
    if expected.is_literal:
        index = {c: i + 1 for i, c in enumerate(charset)}
        best_expected = expected.literal
        expected_ll = ctc_log_likelihood(log_probs, [index[c] for c in best_expected])
    else:
        relaxed = replace(config, max_constraint_cost=float("inf"))
        best = decode_line(probabilities, charset, expected, relaxed)
        best_expected = best.text if best.template_matched else ""
        expected_ll = best.log_likelihood if best.template_matched else float("-inf")
    evidence = decode.log_likelihood - expected_ll
    edits = differences(best_expected, decode.text)
    sure_edits = [
        e
        for e in edits
        if (e.kind == "D" and sure_line) or (e.kind != "D" and e.position not in unsure)
    ]
    confusable = {frozenset(pair) for pair in config.confusable}
    plain_edits = [
        e for e in sure_edits if e.kind != "S" or frozenset((e.expected, e.read)) not in confusable
    ]
    needed = config.fail_evidence if plain_edits else config.confusable_evidence
    if expected.is_literal and edits:
        first = (plain_edits or sure_edits or edits)[0]
        position, what = first.position, first.describe()
    else:
        position, what = mismatch.position, mismatch.reason
    where = f"line {number}, position {position + 1}: {what}"
    if sure_edits and evidence >= needed:
        return LineCheck(number, "fail", f"{where} ({evidence:.1f} nats)", evidence)
    if not sure_edits:
        why = "every differing character is uncertain"
    elif not plain_edits:
        why = "the difference is a pair the model confuses"
    else:
        why = f"the evidence is weak ({evidence:.1f} nats, fail needs {config.fail_evidence})"
    return LineCheck(
        number, "unsure", f"{where}, but {why}; best expected read {best_expected!r}", evidence
    )


def verify(
    expected: ItemTemplate,
    decodes: Sequence[LineDecode],
    probabilities: Sequence[FloatArray],
    charset: str,
    config: RulesConfig,
) -> Verification:
    """The item's verdict: any line ``fail`` fails it, else any ``unsure`` makes it ``no-read``."""
    if not decodes:
        return Verification(NO_READ, "no text read", ())
    if len(decodes) != len(expected.lines):
        return Verification(
            NO_READ,
            f"expected {len(expected.lines)} line(s), read {len(decodes)}",
            (),
        )
    checks = tuple(
        verify_line(n, line, decode, probs, charset, config)
        for n, (line, decode, probs) in enumerate(
            zip(expected.lines, decodes, probabilities, strict=True), start=1
        )
    )
    failed = [c for c in checks if c.status == "fail"]
    if failed:
        return Verification(FAIL, "; ".join(c.detail or "" for c in failed), checks)
    unsure = [c for c in checks if c.status == "unsure"]
    if unsure:
        return Verification(NO_READ, "; ".join(c.detail or "" for c in unsure), checks)
    return Verification(PASS, None, checks)
