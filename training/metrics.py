"""Line metrics: exact accuracy, character error rate and character confusions."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


def edit_operations(truth: str, read: str) -> list[tuple[str, str, str]]:
    """Levenshtein alignment as (op, truth char, read char) with op in {'=', 'S', 'D', 'I'}."""
    rows, cols = len(truth) + 1, len(read) + 1
    cost = [[0] * cols for _ in range(rows)]
    for i in range(rows):
        cost[i][0] = i
    for j in range(cols):
        cost[0][j] = j
    for i in range(1, rows):
        for j in range(1, cols):
            same = truth[i - 1] == read[j - 1]
            cost[i][j] = min(
                cost[i - 1][j] + 1, cost[i][j - 1] + 1, cost[i - 1][j - 1] + (0 if same else 1)
            )
    ops: list[tuple[str, str, str]] = []
    i, j = len(truth), len(read)
    while i > 0 or j > 0:
        if (
            i > 0
            and j > 0
            and cost[i][j] == cost[i - 1][j - 1] + (0 if truth[i - 1] == read[j - 1] else 1)
        ):
            ops.append(("=" if truth[i - 1] == read[j - 1] else "S", truth[i - 1], read[j - 1]))
            i, j = i - 1, j - 1
        elif i > 0 and cost[i][j] == cost[i - 1][j] + 1:
            ops.append(("D", truth[i - 1], ""))
            i -= 1
        else:
            ops.append(("I", "", read[j - 1]))
            j -= 1
    return ops[::-1]


def edit_distance(truth: str, read: str) -> int:
    return sum(op != "=" for op, _, _ in edit_operations(truth, read))


@dataclass
class LineScore:
    """Running totals over a set of lines."""

    lines: int = 0
    exact: int = 0
    chars: int = 0
    errors: int = 0
    confusions: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, truth: str, read: str) -> None:
        self.lines += 1
        self.exact += truth == read
        self.chars += len(truth)
        for op, expected, got in edit_operations(truth, read):
            if op != "=":
                self.errors += 1
                self.confusions[(expected or "∅", got or "∅")] += 1

    @property
    def exact_accuracy(self) -> float:
        return self.exact / self.lines if self.lines else 0.0

    @property
    def cer(self) -> float:
        return self.errors / self.chars if self.chars else 0.0

    def summary(self, top_confusions: int = 15) -> dict[str, object]:
        return {
            "lines": self.lines,
            "exact_accuracy": round(self.exact_accuracy, 5),
            "cer": round(self.cer, 5),
            "top_confusions": [
                {"truth": t, "read": r, "count": n}
                for (t, r), n in self.confusions.most_common(top_confusions)
            ],
        }


def score_lines(
    truths: list[str], reads: list[str], groups: list[str] | None = None
) -> dict[str, object]:
    """Overall summary plus one per group (e.g. per print style)."""
    overall = LineScore()
    by_group: dict[str, LineScore] = {}
    for index, (truth, read) in enumerate(zip(truths, reads, strict=True)):
        overall.add(truth, read)
        if groups is not None:
            by_group.setdefault(groups[index], LineScore()).add(truth, read)
    result = overall.summary()
    if groups is not None:
        result["by_group"] = {name: score.summary(5) for name, score in sorted(by_group.items())}
    return result
