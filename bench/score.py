"""Scoring one reader's reads of one set: accuracy (``training.metrics``), latency, breakdowns."""

from __future__ import annotations

from typing import Any

from bench.measure import latency_summary
from bench.sets import EvalSet
from training.metrics import LineScore, score_lines

NO_DEGRADATION = "none"


def score_set(eval_set: EvalSet, measured: dict[str, Any]) -> dict[str, Any]:
    """Exact accuracy, CER and confusions overall, per print style and per degradation kind
    (a line with several degradations counts in each of them), plus the latency figures."""
    truths = eval_set.texts
    reads: list[str] = measured["reads"]
    styles = [item.style for item in eval_set.items]
    overall = score_lines(truths, reads, styles)
    result: dict[str, Any] = {
        "lines": overall["lines"],
        "exact_accuracy": overall["exact_accuracy"],
        "cer": overall["cer"],
        "top_confusions": overall["top_confusions"],
        **latency_summary(measured["latencies_ms"]),
    }
    for key in ("batch_size", "batch_ms_per_line", "batch_agreement"):
        if key in measured:
            result[key] = measured[key]
    if len(set(styles)) > 1:
        result["by_style"] = {
            name: {k: group[k] for k in ("lines", "exact_accuracy", "cer")}
            for name, group in overall["by_group"].items()  # type: ignore[attr-defined]
        }
    by_degradation: dict[str, LineScore] = {}
    for item, read in zip(eval_set.items, reads, strict=True):
        for kind in item.degradations or (NO_DEGRADATION,):
            by_degradation.setdefault(kind, LineScore()).add(item.text, read)
    if len(by_degradation) > 1:
        result["by_degradation"] = {
            kind: {
                "lines": score.lines,
                "exact_accuracy": round(score.exact_accuracy, 5),
                "cer": round(score.cer, 5),
            }
            for kind, score in sorted(by_degradation.items())
        }
    examples = [
        {"truth": truth, "read": read}
        for truth, read in zip(truths, reads, strict=True)
        if truth != read
    ]
    result["error_examples"] = examples[:10]
    return result
