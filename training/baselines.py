"""Classical baselines on the same binned pixels and the same split as the CNN.

A KNN is what the user had (94.87% on their crops); an RBF SVM is the strongest classical
classifier on small image sets. Their hyper-parameters are chosen by stratified
cross-validation on the training split only, like the CNN's epochs, so the comparison is fair.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from training.chars import CharSet

KNN_GRID: dict[str, list[Any]] = {
    "n_neighbors": [1, 3, 5, 7, 9],
    "weights": ["uniform", "distance"],
}
SVM_C = [1.0, 10.0, 100.0]
SVM_GAMMA_FACTORS = [0.5, 1.0, 2.0]
"""Multiples of scikit-learn's ``gamma='scale'`` (1 / (features x pixel variance))."""
SEARCH_LIMIT = 3000
"""Training images a grid search uses at most (a stratified sample); a search on tens of
thousands of synthetic characters would take an hour on two cores."""
SVM_FIT_LIMIT = 8000
"""Training images the final SVM is fitted on at most (its cost grows with the square of the
count); the result records how many it used."""


@dataclass(frozen=True)
class BaselineResult:
    """Test accuracy of one baseline, what cross-validation chose and what it cost."""

    name: str
    accuracy: float
    params: dict[str, Any]
    cv_accuracy: float
    fit_seconds: float
    predict_ms_per_char: float
    predictions: tuple[int, ...]
    extra_accuracy: dict[str, float] = field(default_factory=dict)
    """Accuracy of the same fitted model on further test sets, by name."""

    def summary(self) -> dict[str, Any]:
        summary = {
            "accuracy": round(self.accuracy, 5),
            "params": self.params,
            "cv_accuracy": round(self.cv_accuracy, 5),
            "fit_seconds": round(self.fit_seconds, 2),
            "predict_ms_per_char": round(self.predict_ms_per_char, 4),
        }
        if self.extra_accuracy:
            summary["extra_tests"] = {k: round(v, 5) for k, v in self.extra_accuracy.items()}
        return summary


def features(images: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """Binned pixels, 0-1, one row per image: exactly what the CNN sees."""
    return images.reshape(len(images), -1).astype(np.float32) / 255.0


def _sample(labels: npt.NDArray[np.int64], limit: int, seed: int) -> npt.NDArray[np.int64]:
    """All rows, or a class-stratified sample of ``limit`` of them."""
    rows = np.arange(len(labels))
    if len(rows) <= limit:
        return rows
    from sklearn.model_selection import train_test_split

    counts = np.bincount(labels)
    usable = counts[labels] >= 2
    kept, _ = train_test_split(
        rows[usable], train_size=limit, stratify=labels[usable], random_state=seed
    )
    return np.sort(np.asarray(kept, dtype=np.int64))


def _folds(labels: npt.NDArray[np.int64], seed: int) -> Any:
    from sklearn.model_selection import StratifiedKFold

    smallest = int(np.bincount(labels).compress(np.bincount(labels) > 0).min())
    return StratifiedKFold(n_splits=max(2, min(5, smallest)), shuffle=True, random_state=seed)


def _search(
    name: str,
    estimator: Any,
    grid: dict[str, list[Any]],
    train: CharSet,
    test: CharSet,
    seed: int,
    fit_limit: int = 0,
    extra_tests: dict[str, CharSet] | None = None,
) -> BaselineResult:
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV

    if train.charset != test.charset:
        raise ValueError("train and test sets use different charsets")
    x_train, y_train = features(train.images), train.labels
    search_rows = _sample(y_train, SEARCH_LIMIT, seed)
    fit_rows = _sample(y_train, fit_limit, seed) if fit_limit else np.arange(len(y_train))
    started = time.monotonic()
    search = GridSearchCV(estimator, grid, cv=_folds(y_train[search_rows], seed), n_jobs=1)
    search.fit(x_train[search_rows], y_train[search_rows])
    model = clone(estimator).set_params(**search.best_params_)
    model.fit(x_train[fit_rows], y_train[fit_rows])
    fit_seconds = time.monotonic() - started
    x_test = features(test.images)
    started = time.monotonic()
    predicted = np.asarray(model.predict(x_test), dtype=np.int64)
    predict_ms = (time.monotonic() - started) * 1000.0 / max(1, len(x_test))
    extra = {
        name: float(np.mean(model.predict(features(extra_test.images)) == extra_test.labels))
        for name, extra_test in (extra_tests or {}).items()
    }
    return BaselineResult(
        name,
        float(np.mean(predicted == test.labels)),
        {**{k: _plain(v) for k, v in search.best_params_.items()}, "fit_images": len(fit_rows)},
        float(search.best_score_),
        fit_seconds,
        predict_ms,
        tuple(int(p) for p in predicted),
        extra,
    )


def _plain(value: Any) -> Any:
    """A JSON-friendly copy of a scikit-learn parameter value."""
    if isinstance(value, str | bool | int | float):
        return value
    return value.item() if hasattr(value, "item") else str(value)


def knn_baseline(
    train: CharSet, test: CharSet, seed: int = 0, extra_tests: dict[str, CharSet] | None = None
) -> BaselineResult:
    """k-nearest neighbours; k (and distance weighting) by cross-validation on ``train``."""
    from sklearn.neighbors import KNeighborsClassifier

    return _search(
        "knn", KNeighborsClassifier(), KNN_GRID, train, test, seed, extra_tests=extra_tests
    )


def svm_baseline(
    train: CharSet, test: CharSet, seed: int = 0, extra_tests: dict[str, CharSet] | None = None
) -> BaselineResult:
    """RBF support-vector machine; C and gamma by cross-validation on ``train`` (fitted on at
    most ``SVM_FIT_LIMIT`` images)."""
    from sklearn.svm import SVC

    x_train = features(train.images)
    scale = 1.0 / (x_train.shape[1] * float(x_train.var()) or 1.0)
    grid: dict[str, list[Any]] = {"C": SVM_C, "gamma": [f * scale for f in SVM_GAMMA_FACTORS]}
    return _search("svm", SVC(kernel="rbf"), grid, train, test, seed, SVM_FIT_LIMIT, extra_tests)


def run_baselines(
    train: CharSet,
    test: CharSet,
    seed: int = 0,
    names: tuple[str, ...] = ("knn", "svm"),
    extra_tests: dict[str, CharSet] | None = None,
) -> dict[str, BaselineResult]:
    """The named baselines fitted on ``train`` and tested on ``test`` (and ``extra_tests``)."""
    runners = {"knn": knn_baseline, "svm": svm_baseline}
    unknown = [n for n in names if n not in runners]
    if unknown:
        raise ValueError(f"unknown baselines: {', '.join(unknown)} (known: knn, svm)")
    return {name: runners[name](train, test, seed, extra_tests) for name in names}
