"""A whole line-model run: data → training → float and int8 evaluation → export → report.

``python -m training train --kind line`` and the bundled-model recipe both call ``run_line``,
so the shipped models are reproducible with the same code that users train with.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from edge_ocr.preprocess import LineShape
from training.data import LineSet, generate_line_set, load_line_folder, load_line_set, save_line_set
from training.report import plot_learning_curve, worst_errors_sheet, write_json
from training.train import TrainConfig, finished_state, predict_texts, train_line_model

if TYPE_CHECKING:
    from training.synth import SampleSource

Log = Callable[[str], None]


@dataclass(frozen=True)
class LineRunOptions:
    """What to train on and how much: see ``python -m training train --help``."""

    config: TrainConfig
    kind: str = "lines"
    """Synthetic generator: ``lines`` (printed codes) or ``captcha``."""
    data: str = "synthetic"
    """``synthetic`` or a labelled folder."""
    synthetic_samples: int = 240_000
    """Synthetic training lines (added to real data when ``data`` is a folder)."""
    validation_samples: int = 2_000
    test_samples: int = 2_000
    test_data: str | None = None
    calibration_samples: int = 500
    workers: int = 2
    resume: bool = True
    seed_offset: int = 1000
    emphasis: str = ""
    """Captcha kind: characters drawn more often in the synthetic *training* strings (a hard
    pair such as ``"O0O0"``); validation and test draws keep the uniform distribution."""
    moderate_share: float = 0.0
    """Lines kind: share of the synthetic *training* lines drawn at moderate print quality
    instead of harsh. The harsh mix stacks degradations until some lines are illegible, which
    is label noise; a last stage can spend part of its draws on legible lines."""
    font_pool: str = "wide"
    """The training fonts drawn (``training.fonts.FONT_POOLS``); held-out fonts are the same in
    every pool."""


def synthetic_source(
    kind: str,
    held_out: bool,
    emphasis: str = "",
    moderate_share: float = 0.0,
    font_pool: str = "wide",
) -> SampleSource:
    """The generator a run draws from: ``moderate_share`` of it at moderate print quality."""
    from training.synth import MODERATE, Mixture, synthetic_sources

    source: SampleSource = synthetic_sources(kind, held_out, emphasis=emphasis, font_pool=font_pool)
    if moderate_share <= 0:
        return source
    moderate = synthetic_sources(kind, held_out, quality=MODERATE, font_pool=font_pool)
    return Mixture([source, moderate], [1.0 - moderate_share, moderate_share])


def _synthetic(
    kind: str,
    held_out: bool,
    count: int,
    seed: int,
    shape: LineShape,
    workers: int,
    emphasis: str = "",
    moderate_share: float = 0.0,
    font_pool: str = "wide",
) -> LineSet:
    return generate_line_set(
        synthetic_source(kind, held_out, emphasis, moderate_share, font_pool).sample,
        count,
        seed,
        shape,
        workers=workers,
        chunk=5000 if count > 20_000 else 1000,
    )


def _training_source_lines(options: LineRunOptions, count: int, seed: int) -> LineSet:
    """``count`` synthetic lines drawn as the run's training lines are."""
    return _synthetic(
        options.kind,
        False,
        count,
        seed,
        options.config.shape,
        options.workers,
        options.emphasis,
        options.moderate_share,
        options.font_pool,
    )


def build_training_set(options: LineRunOptions, run_dir: Path, log: Log) -> LineSet:
    """Real data (if any) plus synthetic lines; the synthetic part is cached in the run folder."""
    shape = options.config.shape
    parts: list[LineSet] = []
    if options.data != "synthetic":
        real = load_line_folder(Path(options.data), options.config.charset, shape)
        for problem in real.problems:
            log(f"skipped {problem}")
        log(f"{len(real)} labelled lines from {options.data}")
        parts.append(real)
    if options.synthetic_samples > 0:
        cache = run_dir / "train_set.npz"
        if cache.is_file():
            synthetic = load_line_set(cache)
        else:
            started = time.monotonic()
            synthetic = _training_source_lines(
                options, options.synthetic_samples, options.seed_offset
            )
            save_line_set(synthetic, cache)
            log(f"generated {len(synthetic)} synthetic lines in {time.monotonic() - started:.0f} s")
        parts.append(synthetic)
    if not parts:
        raise ValueError("nothing to train on: give --data DIR or synthetic samples")
    return LineSet.concatenate(parts)


def int8_reads(tflite: Path, line_set: LineSet) -> tuple[list[str], list[float]]:
    """Reads of the exported model through the device runtime (the path users run)."""
    from edge_ocr.model import load_model
    from edge_ocr.recognize import LineRecognizer

    recognizer = LineRecognizer(load_model(str(tflite), accel="cpu"), reject_threshold=0.0)
    reads: list[str] = []
    confidences: list[float] = []
    for start in range(0, len(line_set), 256):
        for line in recognizer.read_binned(line_set.images[start : start + 256]):
            reads.append(line.text)
            confidences.append(line.confidence)
    return reads, confidences


def calibration_summary(tflite: Path, held_out: LineSet, kind: str) -> dict[str, Any]:
    """The calibration report (``calibration/`` in the run folder: reliability plot, ECE, reject
    curve; for code lines also what field templates buy) and its headline figures."""
    from training.calibration import DEFAULT_TEMPLATES, write_calibration_report

    figures = write_calibration_report(
        tflite,
        held_out,
        tflite.parent / "calibration",
        templates=DEFAULT_TEMPLATES if kind == "lines" else (),
    )
    return {
        "character_ece": figures["characters"]["ece"],
        "line_ece": figures["line_confidence"]["ece"],
        "report": "calibration/calibration.json",
    }


def calibration_lines(
    options: LineRunOptions, train_set: LineSet | None, log: Log
) -> npt.NDArray[np.uint8]:
    """The lines int8 conversion calibrates on: drawn from the training set, or, when a finished
    run was brought here without it (trained on a GPU box that has no TensorFlow), freshly drawn
    from the same synthetic source."""
    count = options.calibration_samples
    if train_set is not None:
        rng = np.random.default_rng(options.config.seed)
        return train_set.images[rng.choice(len(train_set), count, replace=False)]
    log(f"training set not here: calibrating on {count} fresh lines from the training source")
    return _training_source_lines(options, count, options.seed_offset + 5000).images


@dataclass(frozen=True)
class TrainedLines:
    """What the training half of a run hands to the evaluation half."""

    config: TrainConfig
    state: dict[str, Any]
    """``config.data_summary`` says what it was trained on."""
    validation: LineSet
    train_set: LineSet | None
    """None when a finished run was brought here without its training set."""


def train_stage(options: LineRunOptions, log: Log, verbose: bool) -> TrainedLines:
    """Data and training, resuming when a checkpoint exists. A finished synthetic run needs no
    training set (gigabytes, an hour to regenerate on a CPU) unless its cache came along."""
    config = options.config
    run_dir = Path(config.out)
    run_dir.mkdir(parents=True, exist_ok=True)
    finished = finished_state(config) if options.resume else None
    train_set: LineSet | None = None
    if finished is None or options.data != "synthetic" or (run_dir / "train_set.npz").is_file():
        train_set = build_training_set(options, run_dir, log)
        train_lines = len(train_set)
    else:
        train_lines = int(finished["train_lines"])
    validation = _synthetic(
        options.kind,
        False,
        options.validation_samples,
        options.seed_offset + 1000,
        config.shape,
        1,
        font_pool=options.font_pool,
    )
    summary = {
        "kind": options.kind,
        "data": options.data,
        "train_lines": train_lines,
        "synthetic_lines": options.synthetic_samples,
        "fonts": "training fonts (held-out fonts excluded)",
        "font_pool": options.font_pool,
    }
    if options.emphasis:
        summary["emphasis"] = options.emphasis
    if options.moderate_share:
        summary["moderate_share"] = options.moderate_share
    if config.init_from:
        summary["init_from"] = config.init_from
    config = replace(config, data_summary=summary)
    if train_set is not None:
        state = train_line_model(
            config, train_set, validation, resume=options.resume, log=log, verbose=verbose
        )
    else:
        assert finished is not None  # only a finished run goes without its training set
        state = finished
        log(f"{run_dir}: training finished (epoch {state['epoch']}); evaluating and exporting")
    return TrainedLines(config, state, validation, train_set)


def report_sets(options: LineRunOptions, validation: LineSet) -> dict[str, LineSet]:
    """The sets a run reports on: held-out fonts first, then validation and any extra yardstick."""
    shape = options.config.shape
    test_sets = {
        "held_out_fonts": _synthetic(
            options.kind, True, options.test_samples, options.seed_offset + 2000, shape, 1
        ),
        "validation": validation,
    }
    if options.kind == "captcha":
        from training.synth import CaptchaSynthesizer

        # The yardstick: fresh ImageCaptcha images at the default 160x60 size.
        for name, (low, high) in {"imagecaptcha_4": (4, 4), "imagecaptcha_5_6": (5, 6)}.items():
            test_sets[name] = generate_line_set(
                CaptchaSynthesizer(min_length=low, max_length=high).sample,
                1000,
                options.seed_offset + 3000 + low,
                shape,
            )
    if options.test_data:
        test_sets["real_test"] = load_line_folder(
            Path(options.test_data), options.config.charset, shape
        )
    return test_sets


def run_line(
    options: LineRunOptions, log: Log = print, verbose: bool = True, train_only: bool = False
) -> dict[str, Any]:
    """Train (resuming when a checkpoint exists), evaluate float and int8, export, report.

    ``train_only`` stops after training (and returns an empty dict), for a GPU box without
    TensorFlow: the same call on a box with TensorFlow then finds the finished run and only
    evaluates, exports and reports."""
    trained = train_stage(options, log, verbose)
    if train_only:
        return {}
    import keras

    from quantize.int8 import export_int8
    from training.metrics import score_lines

    config, state = trained.config, trained.state
    run_dir = Path(config.out)
    model = keras.models.load_model(run_dir / "model.keras", compile=False)
    test_sets = report_sets(options, trained.validation)
    tflite = run_dir / "model.tflite"
    export_int8(
        model,
        calibration_lines(options, trained.train_set, log),
        tflite,
        config.name,
        "line",
        config.charset,
        training={
            **config.data_summary,
            "best_epoch": state["best_epoch"],
            "best_val_exact": state["best_val_exact"],
        },
    )
    report: dict[str, Any] = {
        "name": config.name,
        "config": {k: v for k, v in vars(config).items()},
        "history": state["history"],
        "tflite_bytes": tflite.stat().st_size,
        "sets": {},
    }
    for name, line_set in test_sets.items():
        float_reads = predict_texts(model, line_set.images, config.charset)
        reads, confidences = int8_reads(tflite, line_set)
        float_score = score_lines(line_set.texts, float_reads, line_set.kinds)
        int8_score = score_lines(line_set.texts, reads, line_set.kinds)
        agree = float(np.mean([a == b for a, b in zip(float_reads, reads, strict=True)]))
        report["sets"][name] = {
            "float": float_score,
            "int8": int8_score,
            "float_int8_agreement": round(agree, 5),
        }
        log(
            f"{name}: float exact {float_score['exact_accuracy']:.4f}  "
            f"int8 exact {int8_score['exact_accuracy']:.4f}"
            f"  int8 CER {int8_score['cer']:.4f}  agreement {agree:.4f}"
        )
        if name == "held_out_fonts":
            worst_errors_sheet(
                line_set.images, line_set.texts, reads, confidences, run_dir / "worst_errors.png"
            )
    report["calibration"] = calibration_summary(tflite, test_sets["held_out_fonts"], options.kind)
    plot_learning_curve(state["history"], run_dir / "learning_curve.png")
    write_json(report, run_dir / "report.json")
    return report
