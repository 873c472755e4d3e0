"""Calibration, fielding and OCV figures of a line model on held-out synthetic lines.

``write_calibration_report(model, line_set, out_dir)`` is what the training report calls: it
reads held-out lines with the int8 model through the device runtime (``LineRecognizer``, the
path users run), measures how well character and line confidences are calibrated (reliability
diagram, ECE), what the configured reject thresholds do, which characters the model confuses
(the candidates for ``RulesConfig.confusable``), and writes ``calibration.json`` and
``reliability.png`` into ``out_dir``.

``measure_constrained`` shows what field templates buy (exact accuracy before and after
constrained decoding on held-out lines drawn to match each template) and ``held_out_draw``
gives ``edge_ocr.rules.evaluate.evaluate_ocv`` the held-out training fonts.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edge_ocr.recognize import LineRecognizer
from edge_ocr.rules.config import RulesConfig
from edge_ocr.rules.confidence import (
    Reliability,
    correct_characters,
    reject_curve,
    reliability,
    threshold_for_accuracy,
)
from edge_ocr.rules.constrained import decode_line
from edge_ocr.rules.evaluate import Draw, Ink
from edge_ocr.rules.ocv import differences
from edge_ocr.rules.template import LineTemplate, parse_template, sample_line
from training.data import LineSet, generate_line_set
from training.fonts import FontKind

REPORT_NAME = "calibration.json"
PLOT_NAME = "reliability.png"
DEFAULT_TEMPLATES = (
    "LOT [A-Z0-9]{7}",
    "EXP {date:YYYY-MM-DD}",
    "{date:DD.MM.YY} {time:HH:MM}",
    "L[0-9]{6}",
)


def load_recognizer(model: str | Path | LineRecognizer) -> LineRecognizer:
    """A bundled model name, a .tflite path (contract beside it) or a ready recognizer."""
    if isinstance(model, LineRecognizer):
        return model
    from edge_ocr.model import load_model

    return LineRecognizer(load_model(str(model), accel="cpu"), reject_threshold=0.0)


def held_out_lines(count: int, seed: int) -> LineSet:
    """Synthetic lines in the held-out fonts (and procedural print styles), binned."""
    from training.synth import synthetic_sources

    return generate_line_set(synthetic_sources("lines", held_out=True).sample, count, seed)


def held_out_draw() -> Draw:
    """A ``Draw`` for ``evaluate_ocv`` with the held-out fonts: TrueType, Hershey, dot-matrix
    and (for texts it can show) 7-segment, chosen as the line synthesizer weights them."""
    from training.synth import render_line, synthetic_sources

    synthesizer = synthetic_sources("lines", held_out=True)

    def draw(text: str, rng: np.random.Generator) -> tuple[Ink, int]:
        font = synthesizer.pick_font(rng)
        while font.kind is FontKind.SEVEN_SEGMENT and any(c.isalpha() or c == "/" for c in text):
            font = synthesizer.pick_font(rng)
        char_height = int(rng.integers(20, 40))
        return render_line(text, font, char_height, rng).ink, char_height

    return draw


def _batches(recognizer: LineRecognizer, images: np.ndarray[Any, Any], size: int = 256) -> Any:
    for start in range(0, len(images), size):
        yield from recognizer.probabilities(images[start : start + size])


def _share(flags: Sequence[bool], empty: float) -> float:
    return round(float(np.mean(flags)), 5) if flags else empty


def measure_calibration(
    recognizer: LineRecognizer,
    line_set: LineSet,
    config: RulesConfig | None = None,
    bins: int = 10,
) -> tuple[dict[str, Any], Reliability, Reliability]:
    """Figures (JSON-ready) and the character and line reliability diagrams."""
    config = config or RulesConfig()
    charset = recognizer.model.contract.charset
    char_conf: list[float] = []
    char_right: list[bool] = []
    char_margin: list[float] = []
    line_conf: list[float] = []
    line_right: list[bool] = []
    confusions: Counter[tuple[str, str]] = Counter()
    for truth, probabilities in zip(
        line_set.texts, _batches(recognizer, line_set.images), strict=True
    ):
        decode = decode_line(probabilities, charset, None, config)
        char_conf += [c.confidence for c in decode.chars]
        char_margin += [c.margin for c in decode.chars]
        char_right += correct_characters(truth, decode.text)
        line_conf.append(decode.confidence)
        line_right.append(decode.text == truth)
        for edit in differences(truth, decode.text):
            if edit.kind == "S":
                confusions[edit.expected, edit.read] += 1
    chars = reliability(char_conf, char_right, bins)
    lines = reliability(line_conf, line_right, bins)
    thresholds = [round(t, 2) for t in np.linspace(0.0, 0.95, 20)]
    rejected_by_rules = [
        c < config.char_reject or m < config.min_margin
        for c, m in zip(char_conf, char_margin, strict=True)
    ]
    kept_right = [r for r, x in zip(char_right, rejected_by_rules, strict=True) if not x]
    kept_lines = [r for r, c in zip(line_right, line_conf, strict=True) if c >= config.line_reject]
    figures: dict[str, Any] = {
        "model": recognizer.model.contract.name,
        "tflite_sha256": recognizer.model.contract.tflite_sha256,
        "lines": len(line_set),
        "characters": chars.to_dict(),
        "line_confidence": lines.to_dict(),
        "config": {
            "char_reject": config.char_reject,
            "min_margin": config.min_margin,
            "line_reject": config.line_reject,
        },
        "with_config": {
            "characters_rejected": _share(rejected_by_rules, 0.0),
            "kept_character_accuracy": _share(kept_right, 1.0),
            "lines_under_line_reject": _share([c < config.line_reject for c in line_conf], 0.0),
            "accuracy_of_lines_kept": _share(kept_lines, 1.0),
        },
        "character_reject_curve": [
            {
                "threshold": p.threshold,
                "rejected": round(p.rejected, 5),
                "kept_accuracy": round(p.kept_accuracy, 5),
                "kept_errors": round(p.kept_errors, 5),
            }
            for p in reject_curve(char_conf, char_right, thresholds)
        ],
        "suggested": {
            "char_reject_for_99_percent": round(
                threshold_for_accuracy(char_conf, char_right, 0.99), 4
            ),
            "char_reject_for_99_5_percent": round(
                threshold_for_accuracy(char_conf, char_right, 0.995), 4
            ),
            "line_reject_for_99_percent": round(
                threshold_for_accuracy(line_conf, line_right, 0.99), 4
            ),
        },
        "top_confusions": [
            {"truth": t, "read": r, "count": n} for (t, r), n in confusions.most_common(20)
        ],
    }
    return figures, chars, lines


def plot_reliability(characters: Reliability, lines: Reliability, out: Path, title: str) -> None:
    """Two reliability diagrams (characters, lines): accuracy per confidence bin against the
    diagonal of perfect calibration, with the share of samples per bin underneath."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    figure, axes = plt.subplots(
        2, 2, figsize=(10, 6), gridspec_kw={"height_ratios": [3, 1]}, sharex="col"
    )
    for column, (name, diagram) in enumerate((("characters", characters), ("lines", lines))):
        top, bottom = axes[0, column], axes[1, column]
        centres = [(b.lower + b.upper) / 2 for b in diagram.bins]
        width = diagram.bins[0].upper - diagram.bins[0].lower
        filled = [b for b in diagram.bins if b.count]
        top.bar(
            [(b.lower + b.upper) / 2 for b in filled],
            [b.accuracy for b in filled],
            width=width * 0.9,
            color="tab:blue",
            alpha=0.8,
            label="observed accuracy",
        )
        top.plot(
            [(b.lower + b.upper) / 2 for b in filled],
            [b.confidence for b in filled],
            "_",
            markersize=18,
            markeredgewidth=3,
            color="tab:orange",
            label="mean confidence in bin",
        )
        top.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
        top.set_ylim(0, 1)
        top.set_xlim(0, 1)
        top.set_ylabel("accuracy")
        top.set_title(f"{name}: ECE {diagram.ece:.3f}, n = {diagram.samples}")
        top.legend(loc="upper left", fontsize=8)
        shares = [b.count / max(1, diagram.samples) for b in diagram.bins]
        bottom.bar(centres, shares, width=width * 0.9, color="tab:grey")
        bottom.set_yscale("log")
        bottom.yaxis.set_minor_formatter(NullFormatter())
        bottom.set_xlabel("confidence")
        bottom.set_ylabel("share")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


def measure_constrained(
    recognizer: LineRecognizer,
    templates: Sequence[str] = DEFAULT_TEMPLATES,
    per_template: int = 300,
    seed: int = 0,
    config: RulesConfig | None = None,
    draw: Draw | None = None,
) -> dict[str, Any]:
    """Exact-line accuracy of greedy and template-constrained decoding on held-out lines whose
    texts are drawn to match each template (composed and degraded as the line synthesizer
    does), how often the constrained read broke the template (it must never) or reported a
    no-match, and the character-class confusions (a character the template forbids at its
    position) in the greedy reads and in the constrained reads that matched."""
    from training.synth import compose, crop_with_margins, degrade

    config = config or RulesConfig()
    charset = recognizer.model.contract.charset
    draw = draw or held_out_draw()
    rng = np.random.default_rng(seed)
    results: dict[str, Any] = {}
    for source in templates:
        line = parse_template(source, charset).lines[0]
        texts = [sample_line(line, rng) for _ in range(per_template)]
        crops = []
        for text in texts:
            ink, char_height = draw(text, rng)
            image, _ = compose(crop_with_margins(ink, char_height, rng), rng)
            crops.append(degrade(image, char_height, rng)[0])
        images = np.stack([recognizer.bin(c) for c in crops])
        greedy = constrained = nomatch = broken = 0
        class_errors_before = class_errors_after = 0
        for text, probabilities in zip(texts, _batches(recognizer, images), strict=True):
            decode = decode_line(probabilities, charset, line, config)
            greedy += decode.unconstrained_text == text
            constrained += decode.text == text
            nomatch += decode.template_matched is False
            broken += bool(decode.template_matched) and not line.match(decode.text)
            class_errors_before += _class_errors(line, text, decode.unconstrained_text)
            if decode.template_matched:  # a no-match is reported, not read as a string
                class_errors_after += _class_errors(line, text, decode.text)
        results[source] = {
            "lines": per_template,
            "greedy_exact": round(greedy / per_template, 4),
            "constrained_exact": round(constrained / per_template, 4),
            "no_match": round(nomatch / per_template, 4),
            "template_broken": broken,
            "class_confusions_greedy": class_errors_before,
            "class_confusions_constrained": class_errors_after,
        }
    return results


def _class_errors(line: LineTemplate, truth: str, read: str) -> int:
    """Substitutions in ``read`` by a character the template forbids at that position: the
    character-class confusions (O for 0 at a digit position) that fielding removes."""
    count = 0
    for edit in differences(truth, read):
        if edit.kind != "S":
            continue
        states = line.start
        for char in truth[: edit.expected_position]:
            states = line.step(states, char)
        count += edit.read not in line.allowed(states)
    return count


def write_calibration_report(
    model: str | Path | LineRecognizer,
    line_set: LineSet | None,
    out_dir: Path | str,
    config: RulesConfig | None = None,
    count: int = 2000,
    seed: int = 4242,
    bins: int = 10,
    templates: Sequence[str] = (),
    per_template: int = 300,
) -> dict[str, Any]:
    """Measure calibration on ``line_set`` (default: ``count`` fresh held-out lines) and write
    ``out_dir/calibration.json`` and ``out_dir/reliability.png``; with ``templates``, add the
    before/after accuracy of constrained decoding. Returns the JSON content."""
    recognizer = load_recognizer(model)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lines = line_set if line_set is not None else held_out_lines(count, seed)
    figures, chars, line_diagram = measure_calibration(recognizer, lines, config, bins)
    plot_reliability(
        chars,
        line_diagram,
        out / PLOT_NAME,
        f"edge-ocr '{recognizer.model.contract.name}' confidence calibration "
        f"({len(lines)} held-out lines)",
    )
    figures["plot"] = PLOT_NAME
    if templates:
        figures["constrained_decoding"] = measure_constrained(
            recognizer, templates, per_template, seed + 1, config
        )
    (out / REPORT_NAME).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return figures
