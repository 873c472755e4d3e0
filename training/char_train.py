"""Training the per-character model: a compact all-convolutional CNN on binned crops.

Small labelled sets are the user's situation (~1,500 crops), where a big CNN loses to a KNN.
What wins there: few parameters (global pooling, no big dense layer), strong augmentation,
label smoothing, early stopping on a validation split carved from the training split (the test
split is never looked at before the end), optional pre-training on synthetic printed
characters, and a final refit on the whole training split for the epoch count validation chose.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import cv2
import keras
import numpy as np
import numpy.typing as npt

from training.chars import CharSet, stratified_split
from training.models import CharModelConfig, build_char_model, logits_model
from training.train import WarmupCosine

Log = Callable[[str], None]


@dataclass(frozen=True)
class AugmentConfig:
    """Random changes to binned characters, each drawn per image.

    Geometry (shift, rotation, scale, shear) stands for segmentation and camera jitter; blur,
    noise and contrast for focus, sensor and light; dot dropout for inkjet nozzles that miss
    (it removes random small cells of ink, which is what a missing dot is).
    """

    shift: float = 0.08
    """Largest shift, as a fraction of the image size."""
    rotation: float = 8.0
    """Largest rotation in degrees."""
    scale: tuple[float, float] = (0.85, 1.12)
    aspect: float = 0.1
    """Largest relative change of width against height."""
    shear: float = 0.15
    blur: float = 0.25
    """Probability of a Gaussian blur (sigma 0.4-1.1 pixels)."""
    noise: float = 0.35
    """Probability of Gaussian noise (sigma 3-20 grey levels)."""
    contrast: float = 0.4
    """Probability of lowering the contrast (ink level 45-100%, background up to 20%)."""
    dot_dropout: float = 0.2
    """Probability of dropping a random 5-20% of small ink cells."""

    def off(self) -> AugmentConfig:
        return AugmentConfig(0.0, 0.0, (1.0, 1.0), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def augment_batch(
    images: npt.NDArray[np.uint8], rng: np.random.Generator, config: AugmentConfig
) -> npt.NDArray[np.uint8]:
    """Augmented copies of binned characters (N x H x W uint8, text bright on zero)."""
    count, height, width = images.shape
    out = np.empty_like(images)
    centre = (width / 2.0, height / 2.0)
    for index in range(count):
        image = images[index]
        scale = rng.uniform(*config.scale)
        stretch = 1.0 + rng.uniform(-config.aspect, config.aspect)
        matrix = cv2.getRotationMatrix2D(centre, rng.uniform(-config.rotation, config.rotation), 1)
        matrix[:, :2] = matrix[:, :2] @ np.array(
            [[scale * stretch, rng.uniform(-config.shear, config.shear)], [0.0, scale]]
        )
        matrix[:, 2] = np.array(centre) - matrix[:, :2] @ np.array(centre)
        matrix[0, 2] += rng.uniform(-config.shift, config.shift) * width
        matrix[1, 2] += rng.uniform(-config.shift, config.shift) * height
        warped = cv2.warpAffine(
            image.astype(np.float32), matrix, (width, height), flags=cv2.INTER_LINEAR
        )
        if rng.random() < config.dot_dropout:
            cells = (
                rng.random((height // 3 + 1, width // 3 + 1)) >= rng.uniform(0.05, 0.2)
            ).astype(np.float32)
            keep = cv2.resize(cells, (width, height), interpolation=cv2.INTER_NEAREST)
            warped *= cv2.GaussianBlur(keep, (3, 3), 0.7)
        if rng.random() < config.blur:
            warped = cv2.GaussianBlur(warped, (0, 0), rng.uniform(0.4, 1.1))
        if rng.random() < config.contrast:
            ink, paper = rng.uniform(0.45, 1.0), rng.uniform(0.0, 0.2)
            warped = paper * 255.0 + warped * (ink - paper)
        if rng.random() < config.noise:
            warped += rng.normal(0.0, rng.uniform(3.0, 20.0), size=warped.shape)
        out[index] = np.clip(np.rint(warped), 0, 255).astype(np.uint8)
    return out


def to_float(images: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """Model input: 0-1 with a channel axis (the int8 model folds this into its input scale)."""
    return (images.astype(np.float32) / 255.0)[..., np.newaxis]


class CharBatches(keras.utils.PyDataset):
    """Shuffled, freshly augmented batches with one-hot targets; ``steps`` per epoch (a tiny set
    is cycled so every epoch does the same work whatever the set size)."""

    def __init__(
        self,
        data: CharSet,
        batch_size: int,
        steps: int,
        augment: AugmentConfig,
        seed: int,
    ) -> None:
        super().__init__()
        self.data = data
        self.batch_size = batch_size
        self.steps = steps
        self.augment = augment
        self.rng = np.random.default_rng(seed)
        self.classes = data.classes
        self._order = self._permutation()

    def _permutation(self) -> npt.NDArray[np.int64]:
        needed = self.steps * self.batch_size
        repeats = -(-needed // len(self.data))
        return np.concatenate([self.rng.permutation(len(self.data)) for _ in range(repeats)])

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, index: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        images = augment_batch(self.data.images[rows], self.rng, self.augment)
        targets = np.eye(self.classes, dtype=np.float32)[self.data.labels[rows]]
        return to_float(images), targets

    def on_epoch_end(self) -> None:
        self._order = self._permutation()


@dataclass(frozen=True)
class CharTrainConfig:
    """Everything that decides a char training run; stored in the report."""

    height: int = 32
    width: int = 24
    channels: tuple[int, int, int] = (24, 48, 96)
    """~39k parameters with 10 classes, ~42k with 40; chosen over (16, 32, 64) on the digits
    validation split (377/377 against 376/377), never on a test split."""
    dropout: float = 0.1
    pooling: str = "average"
    """See ``CharModelConfig.pooling``."""
    bn_momentum: float = 0.9
    """Batch-norm statistics follow the weights within a few dozen steps (small sets train
    for a few hundred steps in all)."""
    epochs: int = 80
    steps_per_epoch: int = 0
    """0: one pass over the training images, at least ``min_steps_per_epoch``."""
    min_steps_per_epoch: int = 20
    batch_size: int = 64
    learning_rate: float = 3e-3
    warmup_steps: int = 100
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    validation_fraction: float = 0.15
    patience: int = 0
    """Stop after this many epochs without a better validation score; 0 runs every epoch (the
    cosine schedule's last, low-rate epochs are usually the best ones)."""
    refit_below: int = 5000
    """With fewer training images than this, retrain on the whole training split for the epoch
    count validation picked (the validation split is a real loss on small sets, not on large)."""
    seed: int = 0

    def steps_for(self, count: int) -> int:
        if self.steps_per_epoch:
            return self.steps_per_epoch
        return max(self.min_steps_per_epoch, count // self.batch_size)


def build_model(config: CharTrainConfig, classes: int) -> keras.Model:
    model = build_char_model(
        CharModelConfig(
            config.height, config.width, classes, config.channels, config.dropout, config.pooling
        )
    )
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = config.bn_momentum
    return model


@dataclass
class FitResult:
    """A trained Keras model (probabilities out) and its per-epoch history."""

    model: keras.Model
    history: list[dict[str, float]]
    best_epoch: int
    seconds: float


class _Track(keras.callbacks.Callback):
    """Validation accuracy each epoch (float model, inference mode), best weights kept, early
    stop after ``patience`` epochs without a gain."""

    def __init__(
        self,
        full_model: keras.Model,
        validation: CharSet | None,
        patience: int,
        log: Log,
        label: str,
    ) -> None:
        super().__init__()
        self.full_model = full_model
        self.validation = validation
        self.patience = patience
        self.log = log
        self.label = label
        self.history: list[dict[str, float]] = []
        self.best_score: tuple[float, float] | None = None  # (accuracy, epoch)
        self.best_epoch = 0
        self.best_weights: list[Any] | None = None
        self.started = time.monotonic()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:  # noqa: ARG002
        self.started = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        record = {
            "epoch": float(epoch + 1),
            "loss": float((logs or {}).get("loss", float("nan"))),
            "train_accuracy": float((logs or {}).get("accuracy", float("nan"))),
            "seconds": round(time.monotonic() - self.started, 2),
        }
        if self.validation is not None:
            probabilities = predict_probabilities(self.full_model, self.validation.images)
            truth = self.validation.labels
            accuracy = float(np.mean(probabilities.argmax(axis=1) == truth))
            nll = float(-np.mean(np.log(probabilities[np.arange(len(truth)), truth] + 1e-7)))
            record["val_accuracy"] = accuracy
            record["val_nll"] = nll
            # A small validation set saturates, so ties go to the later epoch: the end of the
            # cosine schedule is the best-converged point (the first perfect epoch, or the
            # lowest label-smoothed loss, stops far too early).
            score = (accuracy, float(epoch))
            if self.best_score is None or score > self.best_score:
                self.best_score, self.best_epoch = score, epoch + 1
                self.best_weights = self.full_model.get_weights()
            elif self.patience and epoch + 1 - self.best_epoch >= self.patience:
                self.model.stop_training = True
        self.history.append(record)
        if (epoch + 1) % 10 == 0 or self.model.stop_training:
            shown = f"  val {record['val_accuracy']:.4f}" if "val_accuracy" in record else ""
            self.log(f"{self.label} epoch {epoch + 1}: loss {record['loss']:.4f}{shown}")


def fit(
    config: CharTrainConfig,
    train: CharSet,
    validation: CharSet | None,
    epochs: int,
    log: Log,
    model: keras.Model | None = None,
    learning_rate: float | None = None,
    label: str = "train",
) -> FitResult:
    """Train ``model`` (a new one if None) on augmented ``train`` for up to ``epochs`` epochs.
    With a validation set the best epoch's weights are kept and training stops early."""
    keras.utils.set_random_seed(config.seed)
    model = model if model is not None else build_model(config, train.classes)
    steps = config.steps_for(len(train))
    batches = CharBatches(train, config.batch_size, steps, config.augment, config.seed)
    schedule = WarmupCosine(
        learning_rate or config.learning_rate, config.warmup_steps, steps * epochs
    )
    trainable = logits_model(model)
    trainable.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay),
        loss=keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=config.label_smoothing
        ),
        metrics=["accuracy"],
    )
    track = _Track(model, validation, config.patience, log, label)
    started = time.monotonic()
    trainable.fit(batches, epochs=epochs, callbacks=[track], verbose=0)
    if track.best_weights is not None:
        model.set_weights(track.best_weights)
    best = track.best_epoch if validation is not None else len(track.history)
    return FitResult(model, track.history, best, time.monotonic() - started)


def predict_probabilities(
    model: keras.Model, images: npt.NDArray[np.uint8], batch_size: int = 512
) -> npt.NDArray[np.float32]:
    parts = [
        np.asarray(model(to_float(images[i : i + batch_size]), training=False))
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(parts).astype(np.float32)


def predict(
    model: keras.Model, images: npt.NDArray[np.uint8], characters: int | None = None
) -> npt.NDArray[np.int64]:
    """The best class of each image among the first ``characters`` classes (all when None):
    the charset's, without a non-character class, as the device reads a character."""
    probabilities = predict_probabilities(model, images)[:, :characters]
    labels: npt.NDArray[np.int64] = probabilities.argmax(axis=1)
    return labels


@dataclass
class TrainedChar:
    """The final model and how it was reached."""

    model: keras.Model
    best_epoch: int
    history: list[dict[str, float]]
    refit_history: list[dict[str, float]]
    pretrain_history: list[dict[str, float]]
    validation_accuracy: float
    seconds: float


def train_char_model(
    config: CharTrainConfig,
    train: CharSet,
    log: Log = print,
    pretrain: CharSet | None = None,
    pretrain_epochs: int = 8,
    finetune_learning_rate: float | None = None,
) -> TrainedChar:
    """The whole recipe on a training split; the test split is not an argument on purpose.

    1. Optional pre-training on ``pretrain`` (synthetic characters, same charset).
    2. Training on ``train`` minus a stratified validation split, keeping the best epoch.
    3. With fewer than ``config.refit_below`` images: the same recipe again on all of
       ``train`` for that many epochs (from the pre-trained weights when there were some).
    """
    started = time.monotonic()
    pretrain_history: list[dict[str, float]] = []
    pretrained: list[Any] | None = None
    if pretrain is not None:
        if pretrain.charset != train.charset:
            raise ValueError("pre-training data must use the training charset")
        log(f"pre-training on {len(pretrain)} synthetic characters")
        result = fit(config, pretrain, None, pretrain_epochs, log, label="pretrain")
        pretrain_history = result.history
        pretrained = result.model.get_weights()
    fine_lr = finetune_learning_rate or (config.learning_rate / 3 if pretrained else None)

    def fresh() -> keras.Model | None:
        if pretrained is None:
            return None
        model = build_model(config, train.classes)
        model.set_weights(pretrained)
        return model

    fit_part, validation_part = stratified_split(
        train.labels, config.validation_fraction, config.seed
    )
    first = fit(
        config,
        train.subset(fit_part),
        train.subset(validation_part),
        config.epochs,
        log,
        model=fresh(),
        learning_rate=fine_lr,
    )
    validation_accuracy = first.history[first.best_epoch - 1].get("val_accuracy", 0.0)
    log(f"validation accuracy {validation_accuracy:.4f} at epoch {first.best_epoch}")
    if len(train) >= config.refit_below:
        return TrainedChar(
            first.model,
            first.best_epoch,
            first.history,
            [],
            pretrain_history,
            validation_accuracy,
            time.monotonic() - started,
        )
    refit_epochs = max(1, first.best_epoch)
    log(f"refit on all {len(train)} training images for {refit_epochs} epochs")
    final = fit(
        replace(config, seed=config.seed + 1),
        train,
        None,
        refit_epochs,
        log,
        model=fresh(),
        learning_rate=fine_lr,
        label="refit",
    )
    return TrainedChar(
        final.model,
        first.best_epoch,
        first.history,
        final.history,
        pretrain_history,
        validation_accuracy,
        time.monotonic() - started,
    )


def config_summary(config: CharTrainConfig) -> dict[str, Any]:
    return asdict(config)


# --- figures -----------------------------------------------------------------------------------


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_training(history: list[dict[str, float]], refit: list[dict[str, float]], out: Any) -> None:
    """Training loss and validation accuracy per epoch (and the refit's loss)."""
    plt = _pyplot()
    figure, loss_axis = plt.subplots(figsize=(7, 4))
    loss_axis.plot(
        [h["epoch"] for h in history],
        [h["loss"] for h in history],
        "-",
        color="tab:red",
        label="training loss",
    )
    if refit:
        loss_axis.plot(
            [h["epoch"] for h in refit],
            [h["loss"] for h in refit],
            "--",
            color="tab:orange",
            label="refit loss (all training images)",
        )
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel("loss (label smoothing 0.1 keeps it above ~0.5)")
    loss_axis.legend(loc="upper center")
    with_validation = [h for h in history if "val_accuracy" in h]
    if with_validation:
        accuracy_axis = loss_axis.twinx()
        accuracy_axis.plot(
            [h["epoch"] for h in with_validation],
            [h["val_accuracy"] for h in with_validation],
            "-",
            color="tab:blue",
        )
        accuracy_axis.set_ylabel("validation accuracy", color="tab:blue")
    figure.suptitle("edge-ocr char model: training")
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


def plot_confusion(
    truth: npt.NDArray[np.int64], predicted: npt.NDArray[np.int64], charset: str, out: Any
) -> None:
    """Confusion matrix of the int8 model on the test split (log colour scale)."""
    plt = _pyplot()
    size = len(charset)
    matrix = np.zeros((size, size), dtype=np.int64)
    np.add.at(matrix, (truth, predicted), 1)
    figure, axis = plt.subplots(figsize=(0.22 * size + 2.5, 0.22 * size + 2.0))
    axis.imshow(np.log1p(matrix), cmap="viridis")
    labels = [repr(c)[1:-1] for c in charset]
    axis.set_xticks(range(size), labels, fontsize=7)
    axis.set_yticks(range(size), labels, fontsize=7)
    axis.set_xlabel("read")
    axis.set_ylabel("truth")
    for t, p in zip(*np.nonzero(matrix), strict=True):
        if t != p:
            axis.text(p, t, str(matrix[t, p]), ha="center", va="center", color="white", fontsize=6)
    figure.suptitle("int8 model on the test split: confusions")
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


def plot_errors(
    test: CharSet,
    predicted: npt.NDArray[np.int64],
    confidence: npt.NDArray[np.float32],
    out: Any,
    count: int = 40,
) -> None:
    """The misread test crops the model was surest about: the errors worth fixing first."""
    plt = _pyplot()
    wrong = np.flatnonzero(predicted != test.labels)
    wrong = wrong[np.argsort(-confidence[wrong])][:count]
    columns = 10
    rows = max(1, -(-len(wrong) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 0.9, rows * 1.25), squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    for axis, index in zip(axes.ravel(), wrong, strict=False):
        axis.imshow(test.images[index], cmap="gray", vmin=0, vmax=255)
        axis.set_title(
            f"{test.charset[test.labels[index]]}->{test.charset[predicted[index]]} "
            f"{confidence[index]:.2f}",
            fontsize=6,
        )
    if len(wrong) == 0:
        axes[0, 0].text(0.5, 0.5, "no errors", ha="center", va="center")
    figure.suptitle("test errors (truth->read confidence), surest first", fontsize=8)
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


# --- a whole run: data, baselines, training, int8 export, report ------------------------------


@dataclass(frozen=True)
class CharRunOptions:
    """A ``train-char`` run."""

    data: str
    out: str
    test_data: str | None = None
    pretrain: str | None = None
    charset: str = ""
    """Empty: the labels found in a folder, the ten digits, or the default char charset."""
    config: CharTrainConfig = field(default_factory=CharTrainConfig)
    pretrain_count: int = 20_000
    pretrain_epochs: int = 8
    synthetic_train: int = 24_000
    synthetic_test: int = 6_000
    synthetic_non_chars: int = 0
    """Wrong cuts added to synthetic training data as a non-character class."""
    baselines: tuple[str, ...] = ("knn", "svm")
    reject_threshold: float = 0.5
    workers: int = 1
    name: str = ""
    recipe: str = ""
    """The command line that makes this run, kept in the model contract (bundled models)."""


def accuracy_by_kind(
    truth: npt.NDArray[np.int64], predicted: npt.NDArray[np.int64], kinds: list[str]
) -> dict[str, dict[str, float]]:
    table: dict[str, dict[str, float]] = {}
    for kind in sorted(set(kinds)):
        rows = np.array([k == kind for k in kinds])
        table[kind] = {
            "count": int(rows.sum()),
            "accuracy": round(float(np.mean(truth[rows] == predicted[rows])), 5),
        }
    return table


def top_confusions(
    truth: npt.NDArray[np.int64], predicted: npt.NDArray[np.int64], charset: str, count: int = 12
) -> list[dict[str, object]]:
    pairs: dict[tuple[int, int], int] = {}
    for t, p in zip(truth, predicted, strict=True):
        if t != p:
            pairs[(int(t), int(p))] = pairs.get((int(t), int(p)), 0) + 1
    ranked = sorted(pairs.items(), key=lambda item: -item[1])[:count]
    return [{"truth": charset[t], "read": charset[p], "count": n} for (t, p), n in ranked]


def measure_latency(tflite: Any, height: int, width: int, batch: int = 32, runs: int = 60) -> float:
    """Median milliseconds per character of the int8 model, batches of ``batch``, one thread."""
    from edge_ocr.charmode import CharRecognizer
    from edge_ocr.model import load_model

    recognizer = CharRecognizer(load_model(str(tflite), accel="cpu", threads=1))
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(batch, height, width), dtype=np.uint8)
    recognizer.probabilities(images)  # allocate for this batch size
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        recognizer.probabilities(images)
        timings.append(time.perf_counter() - started)
    return float(np.median(timings)) * 1000.0 / batch


def int8_probabilities(tflite: Any, images: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """What the device computes: the int8 model through ``edge_ocr``'s runtime."""
    from edge_ocr.charmode import CharRecognizer
    from edge_ocr.model import load_model

    recognizer = CharRecognizer(load_model(str(tflite), accel="cpu", threads=1))
    parts = [recognizer.probabilities(images[i : i + 256]) for i in range(0, len(images), 256)]
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


def _load_data(options: CharRunOptions, log: Log) -> tuple[Any, list[str]]:
    """The run's train/test data, with skipped files and class-balance warnings logged."""
    from training.chars import balance_report, resolve_char_data

    config = options.config
    if options.pretrain not in (None, "synthetic"):
        raise ValueError(f"--pretrain must be 'synthetic', not {options.pretrain!r}")
    log(f"loading {options.data}")
    data = resolve_char_data(
        options.data,
        options.test_data,
        options.charset,
        config.height,
        config.width,
        config.seed,
        options.synthetic_train,
        options.synthetic_test,
        workers=options.workers,
        synthetic_non_chars=options.synthetic_non_chars,
    )
    for problem in data.train.problems[:20]:
        log(f"skipped {problem}")
    if len(data.train.problems) > 20:
        log(f"... and {len(data.train.problems) - 20} more skipped files (see report.json)")
    warnings = balance_report(data.train)
    for warning in warnings:
        log(f"warning: {warning}")
    log(
        f"{len(data.train)} training and {len(data.test)} test images, "
        f"{data.train.classes} classes"
        + (
            f" ({data.train.wrong_cuts} training images of wrong cuts)"
            if data.train.non_char
            else ""
        )
    )
    return data, warnings


def summarise_int8(
    tflite: Any,
    probabilities: npt.NDArray[np.float32],
    test: CharSet,
    float_predicted: npt.NDArray[np.int64],
    reject_threshold: float,
    config: CharTrainConfig,
) -> dict[str, Any]:
    """Size, speed, agreement with the float model and what the reject threshold does."""
    predicted = probabilities.argmax(axis=1)
    accepted = probabilities.max(axis=1) >= reject_threshold
    correct = predicted == test.labels
    return {
        "tflite_bytes": tflite.stat().st_size,
        "latency_ms_per_char_batch32_1thread": round(
            measure_latency(tflite, config.height, config.width), 4
        ),
        "float_int8_agreement": round(float(np.mean(float_predicted == predicted)), 5),
        "reject_threshold": reject_threshold,
        "rejected_fraction": round(float(1.0 - accepted.mean()), 5),
        "accepted_accuracy": round(float(correct[accepted].mean()) if accepted.any() else 0.0, 5),
    }


def summarise_non_chars(
    model: keras.Model,
    tflite: Any,
    train: CharSet,
    test: CharSet,
    reject_threshold: float,
    log: Log,
) -> dict[str, Any]:
    """How the non-character class does on wrong cuts in the held-out fonts: how often it is
    the float model's best class, and how often the device rejects the crop (no character
    reaches ``reject_threshold``), which is what guided segmentation and the reader use."""
    characters = len(train.charset)
    float_probabilities = predict_probabilities(model, test.images)
    device = int8_probabilities(tflite, test.images)
    summary = {
        "train_images": train.wrong_cuts,
        "test_images": len(test),
        "float_non_char_best": round(
            float(np.mean(float_probabilities.argmax(axis=1) == characters)), 5
        ),
        "float_rejected": round(
            float(np.mean(float_probabilities[:, :characters].max(axis=1) < reject_threshold)), 5
        ),
        "int8_rejected": round(float(np.mean(device.max(axis=1) < reject_threshold)), 5),
    }
    log(
        f"wrong cuts in held-out fonts: int8 rejects {summary['int8_rejected']:.4f} "
        f"(non-character class best in float: {summary['float_non_char_best']:.4f})"
    )
    return summary


def run_char(options: CharRunOptions, log: Log = print) -> dict[str, Any]:
    """Train, compare with the baselines, export int8 and write the report into ``out``."""
    import json
    from pathlib import Path

    from quantize.int8 import export_int8
    from training.baselines import run_baselines
    from training.chars import generate_char_set

    started = time.monotonic()
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    config = options.config
    data, warnings = _load_data(options, log)
    train, test = data.train, data.test
    baselines = run_baselines(
        train.real_chars(), test, config.seed, options.baselines, data.extra_tests
    )
    for baseline, result in baselines.items():
        log(f"{baseline}: test accuracy {result.accuracy:.4f} ({result.params})")

    pretrain_set = None
    if options.pretrain is not None:
        pretrain_set = generate_char_set(
            options.pretrain_count,
            config.seed + 20_000,
            False,
            train.charset,
            config.height,
            config.width,
            workers=options.workers,
        )
    trained = train_char_model(
        config, train, log, pretrain_set, pretrain_epochs=options.pretrain_epochs
    )
    model = trained.model
    model.save(out / "model.keras")
    characters = len(train.charset)
    float_predicted = predict(model, test.images, characters)
    float_accuracy = float(np.mean(float_predicted == test.labels))
    log(f"CNN float test accuracy {float_accuracy:.4f}")

    rng = np.random.default_rng(config.seed)
    name = options.name or out.name
    tflite = out / "model.tflite"
    export_int8(
        model,
        train.images[rng.permutation(len(train))[:500]],
        tflite,
        name,
        "char",
        train.charset,
        training={
            "data": options.data,
            "train_images": len(train),
            "pretrain": options.pretrain,
            "params": int(model.count_params()),
            **({"recipe": options.recipe} if options.recipe else {}),
        },
        reject_threshold=options.reject_threshold,
        non_char=train.non_char,
    )
    int8 = int8_probabilities(tflite, test.images)
    int8_predicted = int8.argmax(axis=1)
    int8_summary = summarise_int8(
        tflite, int8, test, float_predicted, options.reject_threshold, config
    )
    int8_accuracy = float(np.mean(int8_predicted == test.labels))
    log(
        f"CNN int8 test accuracy {int8_accuracy:.4f}; {int8_summary['tflite_bytes']} bytes; "
        f"{int8_summary['latency_ms_per_char_batch32_1thread']:.3f} ms/char at batch 32 "
        "on one thread"
    )

    extra_tests: dict[str, Any] = {}
    for extra_name, extra_test in data.extra_tests.items():
        extra_predicted = int8_probabilities(tflite, extra_test.images).argmax(axis=1)
        extra_tests[extra_name] = {
            "test_images": len(extra_test),
            "cnn_float": round(
                float(np.mean(predict(model, extra_test.images, characters) == extra_test.labels)),
                5,
            ),
            "cnn_int8": round(float(np.mean(extra_predicted == extra_test.labels)), 5),
            **{k: v.extra_accuracy[extra_name] for k, v in baselines.items()},
            "per_kind": accuracy_by_kind(extra_test.labels, extra_predicted, extra_test.kinds),
        }
        log(f"{extra_name}: CNN int8 {extra_tests[extra_name]['cnn_int8']:.4f}")

    non_chars = (
        None
        if data.non_char_test is None
        else summarise_non_chars(
            model, tflite, train, data.non_char_test, options.reject_threshold, log
        )
    )
    per_kind = accuracy_by_kind(test.labels, int8_predicted, test.kinds)
    for kind, row in per_kind.items():
        knn = baselines.get("knn")
        if knn is not None:
            rows = np.array([k == kind for k in test.kinds])
            row["knn_accuracy"] = round(
                float(np.mean(np.array(knn.predictions)[rows] == test.labels[rows])), 5
            )
    report: dict[str, Any] = {
        "name": name,
        "kind": "char",
        "data": {
            **data.description,
            "train_images": len(train),
            "test_images": len(test),
            "charset": train.charset,
            "class_counts": train.counts(),
            "balance_warnings": warnings,
            "problems": [str(p) for p in train.problems],
        },
        "config": asdict(config),
        "params": int(model.count_params()),
        "pretrain": (
            {
                "source": options.pretrain,
                "images": options.pretrain_count,
                "epochs": options.pretrain_epochs,
                "history": trained.pretrain_history,
            }
            if options.pretrain
            else None
        ),
        "validation_accuracy": round(trained.validation_accuracy, 5),
        "best_epoch": trained.best_epoch,
        "history": trained.history,
        "refit_history": trained.refit_history,
        "results": {
            "cnn_float": round(float_accuracy, 5),
            "cnn_int8": round(int8_accuracy, 5),
            **{k: v.summary() for k, v in baselines.items()},
        },
        "per_kind": per_kind,
        "extra_tests": extra_tests,
        "int8": int8_summary,
        "non_chars": non_chars,
        "confusions": top_confusions(test.labels, int8_predicted, train.charset),
        "seconds": round(time.monotonic() - started, 1),
    }
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    plot_training(trained.history, trained.refit_history, out / "training.png")
    plot_confusion(test.labels, int8_predicted, train.charset, out / "confusion.png")
    plot_errors(test, int8_predicted, int8.max(axis=1), out / "errors.png")
    return report


def _echo(message: str) -> None:
    import typer

    typer.echo(f"{time.strftime('%H:%M:%S')} {message}")


def parse_channels(text: str) -> tuple[int, int, int]:
    """``"24,48,96"`` → ``(24, 48, 96)``; anything else is a ValueError that names the option."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 3 or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise ValueError(
            f"--channels must be three positive integers such as 24,48,96, not {text!r}"
        )
    return int(parts[0]), int(parts[1]), int(parts[2])


def train_char_command(
    data: str,
    out: Any,
    pretrain: str | None = None,
    epochs: int = 80,
    seed: int = 0,
    test_data: str | None = None,
    charset: str = "",
    baselines: bool = True,
    synthetic_train: int = 24_000,
    synthetic_test: int = 6_000,
    pretrain_count: int = 20_000,
    reject_threshold: float = 0.5,
    workers: int = 1,
    config: CharTrainConfig | None = None,
    synthetic_non_chars: int = 0,
    channels: str = "",
    pooling: str = "",
) -> dict[str, Any]:
    """The char training run behind ``train-char`` and ``train --kind char``: errors become
    one line on stderr and exit status 2; the result is a table on stdout and ``out``'s files.
    ``channels`` ("24,48,96") and ``pooling``, when given, override ``config``'s."""
    import typer

    from training.data import DatasetError
    from training.models import CHAR_POOLINGS

    base = config or CharTrainConfig()
    try:
        if channels:
            base = replace(base, channels=parse_channels(channels))
    except ValueError as error:
        typer.echo(f"training: error: {error}", err=True)
        raise typer.Exit(2) from None
    if pooling:
        if pooling not in CHAR_POOLINGS:
            typer.echo(
                f"training: error: --pooling must be one of {', '.join(CHAR_POOLINGS)}, "
                f"not {pooling!r}",
                err=True,
            )
            raise typer.Exit(2)
        base = replace(base, pooling=pooling)
    options = CharRunOptions(
        data=data,
        out=str(out),
        test_data=test_data,
        pretrain=pretrain,
        charset=charset,
        config=replace(base, epochs=epochs, seed=seed),
        pretrain_count=pretrain_count,
        synthetic_train=synthetic_train,
        synthetic_test=synthetic_test,
        synthetic_non_chars=synthetic_non_chars,
        baselines=("knn", "svm") if baselines else (),
        reject_threshold=reject_threshold,
        workers=workers,
    )
    if epochs < 1:
        typer.echo("training: error: --epochs must be at least 1", err=True)
        raise typer.Exit(2)
    if not 0.0 <= reject_threshold <= 1.0:
        typer.echo("training: error: --reject-threshold must be between 0 and 1", err=True)
        raise typer.Exit(2)
    try:
        report = run_char(options, log=_echo)
    except (DatasetError, ValueError, FileNotFoundError) as error:
        typer.echo(f"training: error: {error}", err=True)
        raise typer.Exit(2) from None
    results = report["results"]
    typer.echo(f"\ntest accuracy on {report['data']['test_images']} images ({out}):")
    typer.echo(f"  CNN float  {results['cnn_float']:.4f}")
    typer.echo(f"  CNN int8   {results['cnn_int8']:.4f}")
    for name in ("knn", "svm"):
        if name in results:
            typer.echo(f"  {name.upper():<10} {results[name]['accuracy']:.4f}")
    for extra_name, extra in report["extra_tests"].items():
        labels = {"cnn_float": "CNN float", "cnn_int8": "CNN int8", "knn": "KNN", "svm": "SVM"}
        shown = ", ".join(
            f"{label} {extra[key]:.4f}" for key, label in labels.items() if key in extra
        )
        typer.echo(f"  {extra_name} ({extra['test_images']} images): {shown}")
    return report
