"""The ``[rules]`` section of a config file, and the engine it describes.

```toml
[rules]
template = "LOT [A-Z0-9]{7} | EXP {date:YYYY-MM-DD}"   # field template (optional)
expect = "LOT A7K2291 | EXP 2027-04-11"                # expected code (optional) ...
expect_file = "/var/lib/edge-ocr/expected.txt"         # ... or a watched file
settable = true                                        # firmware SET_EXPECTED may change it

[rules.thresholds]                                     # RulesConfig: every named threshold
char_reject = 0.5
fail_evidence = 6.0
pass_min_grade = "C"

[rules.thresholds.grading.contrast]                    # Breakpoints of one quantity
zero = 0.05
d = 0.15
c = 0.25
b = 0.35
a = 0.5
perfect = 0.7
```

``RulesSettings`` is a frozen dataclass of plain fields, so a generic TOML-to-dataclass builder
(the service's ``tables.build``) fills it, and ``problems()`` reports a bad template, code or
file as ``(key, message)`` pairs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from edge_ocr.charset import DEFAULT_CHARSET
from edge_ocr.rules.config import RulesConfig
from edge_ocr.rules.engine import RulesEngine, lattice_charset
from edge_ocr.rules.ocv import ExpectedCode, parse_expected
from edge_ocr.rules.template import TemplateError, parse_template

if TYPE_CHECKING:
    from edge_ocr.rules.engine import Recognizer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RulesSettings:
    """Field template, expected code and thresholds of a deployment."""

    template: str | None = None
    expect: str | None = None
    expect_file: Path | None = None
    settable: bool = True
    """Keep an expected code that can be set at run time (firmware SET_EXPECTED), even when
    none is configured: items are ``no-read`` until one is set."""
    grading: bool = True
    thresholds: RulesConfig = field(default_factory=RulesConfig)

    def problems(self, charset: str = DEFAULT_CHARSET) -> list[tuple[str, str]]:
        """(key, message) for each unusable setting; the model's charset is not known when a
        config is validated, so the default charset is checked."""
        found: list[tuple[str, str]] = []
        if self.expect is not None and self.expect_file is not None:
            found.append(("expect_file", "give expect or expect_file, not both"))
        try:
            template = None if self.template is None else parse_template(self.template, charset)
        except TemplateError as error:
            found.append(("template", str(error)))
            template = None
        try:
            expected = None if self.expect is None else parse_expected(self.expect, charset)
        except TemplateError as error:
            found.append(("expect", str(error)))
            expected = None
        if (
            template is not None
            and expected is not None
            and len(template.lines) != len(expected.lines)
        ):
            found.append(
                (
                    "expect",
                    f"has {len(expected.lines)} line(s) but the template has {len(template.lines)}",
                )
            )
        if self.expect_file is not None and not self.expect_file.is_file():
            found.append(("expect_file", f"no such file: {self.expect_file}"))
        return found

    def engine(self, recognizer: Recognizer) -> RulesEngine:
        """The engine for a loaded recognizer; raises ``TemplateError`` (one line) when the
        template or code does not fit the model's charset."""
        charset = lattice_charset(recognizer)
        expected: ExpectedCode | None = None
        if self.expect is not None or self.expect_file is not None or self.settable:
            expected = ExpectedCode(self.expect, self.expect_file, charset)
        return RulesEngine(charset, self.thresholds, self.template, expected, self.grading)


class SetExpected:
    """The firmware bridge's ``on_expected`` callback: ``(text) -> None`` setting an engine's
    expected code from the bridge's thread. An empty text clears the code (the protocol's
    meaning: items are ``no-read`` until the next one). An invalid code is logged and counted,
    never raised: the bridge thread must not die on bad input, and the previous code stays."""

    def __init__(self, engine: RulesEngine) -> None:
        self.engine = engine
        self.rejected = 0

    def __call__(self, text: str) -> None:
        if self.engine.expected is None:
            self.engine.expected = ExpectedCode(charset=self.engine.charset)
        if not text.strip():
            self.engine.expected.clear()
            return
        try:
            self.engine.expected.set(text)
        except TemplateError as error:
            self.rejected += 1
            log.warning("SET_EXPECTED ignored: %s", error)
