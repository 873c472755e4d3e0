"""Training of the CTC line model: schedule, evaluation, checkpoints, resume and reports.

Backend-agnostic Keras 3: the same code trains with TensorFlow on a CPU box and with
``KERAS_BACKEND=jax`` on a GPU box that has no TensorFlow.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import numpy.typing as npt

from edge_ocr.charset import DEFAULT_CHARSET, num_classes
from edge_ocr.decode import greedy_decode_batch
from edge_ocr.preprocess import LineShape
from training.ctc import CTCLoss
from training.data import LineSet, encode_labels
from training.metrics import score_lines
from training.models import LineModelConfig, build_line_model, logits_model

MAX_LABEL_LENGTH = 32


@dataclass(frozen=True)
class TrainConfig:
    """What a training run needs; written to ``config.json`` so a run can be resumed or redone."""

    out: str
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 1.5e-3
    warmup_steps: int = 300
    weight_decay: float = 1e-4
    patience: int = 6
    seed: int = 0
    height: int = 32
    width: int = 256
    charset: str = DEFAULT_CHARSET
    channels: tuple[int, int, int] = (64, 96, 128)
    stem_channels: int = 24
    temporal_blocks: int = 3
    bn_momentum: float = 0.99
    max_steps_per_epoch: int = 0
    """0: one pass over the training set per epoch."""
    name: str = "lines"
    init_from: str = ""
    """A ``.keras`` line model whose weights start this run: a warm restart (a second cosine
    cycle on fresh data), which is how a run that was still improving gets more training."""
    data_summary: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> LineShape:
        return LineShape(self.height, self.width)

    def model_config(self) -> LineModelConfig:
        return LineModelConfig(
            self.height,
            self.width,
            num_classes(self.charset),
            self.stem_channels,
            self.channels,
            self.temporal_blocks,
            bn_momentum=self.bn_momentum,
        )


@keras.saving.register_keras_serializable(package="edge_ocr")
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up (a short one escapes CTC's "only blanks" plateau), then cosine decay."""

    def __init__(
        self, peak: float, warmup_steps: int, total_steps: int, floor: float = 0.02
    ) -> None:
        self.peak = peak
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps
        self.floor = floor

    def __call__(self, step: Any) -> Any:
        step = keras.ops.cast(step, "float32")
        warm = self.peak * (step + 1.0) / float(max(1, self.warmup_steps))
        progress = keras.ops.clip(
            (step - self.warmup_steps) / float(max(1, self.total_steps - self.warmup_steps)),
            0.0,
            1.0,
        )
        cosine = self.peak * (
            self.floor + (1 - self.floor) * 0.5 * (1 + keras.ops.cos(math.pi * progress))
        )
        return keras.ops.where(step < self.warmup_steps, warm, cosine)

    def get_config(self) -> dict[str, Any]:
        return {
            "peak": self.peak,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
            "floor": self.floor,
        }


class LineBatches(keras.utils.PyDataset):
    """Shuffled batches of binned uint8 lines, converted to float 0-1 one batch at a time
    (a whole float copy of a large set would not fit in memory)."""

    def __init__(
        self,
        images: npt.NDArray[np.uint8],
        labels: npt.NDArray[np.int32],
        batch_size: int,
        seed: int,
        max_batches: int = 0,
    ) -> None:
        super().__init__()
        self.images = images
        self.labels = labels
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(images))
        full = len(images) // batch_size
        self.batches = min(full, max_batches) if max_batches else full

    def __len__(self) -> int:
        return self.batches

    def __getitem__(self, index: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int32]]:
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        return (self.images[rows].astype(np.float32)[..., None] / 255.0), self.labels[rows]

    def on_epoch_end(self) -> None:
        self.order = self.rng.permutation(len(self.images))


def predict_texts(
    model: keras.Model, images: npt.NDArray[np.uint8], charset: str, batch_size: int = 256
) -> list[str]:
    """Greedy reads of a float Keras line model, decoded by the device's decoder."""
    reads: list[str] = []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size].astype(np.float32)[..., None] / 255.0
        probabilities = np.asarray(model.predict_on_batch(batch))[:, 0]  # compiled, not eager
        reads += [d.text for d in greedy_decode_batch(probabilities, charset)]
    return reads


class EvaluateAndCheckpoint(keras.callbacks.Callback):
    """Each epoch: exact accuracy on the validation set, keep the best model, save a resumable
    checkpoint, stop early when validation stops improving."""

    def __init__(
        self,
        full_model: keras.Model,
        validation: LineSet,
        config: TrainConfig,
        run_dir: Path,
        state: dict[str, Any],
        log: Any,
    ) -> None:
        super().__init__()
        self.full_model = full_model
        self.validation = validation
        self.config = config
        self.run_dir = run_dir
        self.state = state
        self.log = log
        self.epoch_started = time.monotonic()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:  # noqa: ARG002
        self.epoch_started = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        reads = predict_texts(self.full_model, self.validation.images, self.config.charset)
        score = score_lines(self.validation.texts, reads)
        accuracy = float(score["exact_accuracy"])  # type: ignore[arg-type]
        cer = float(score["cer"])  # type: ignore[arg-type]
        record = {
            "epoch": epoch + 1,
            "loss": float((logs or {}).get("loss", float("nan"))),
            "val_exact": accuracy,
            "val_cer": cer,
            "seconds": round(time.monotonic() - self.epoch_started, 1),
        }
        self.state["history"].append(record)
        improved = accuracy > self.state["best_val_exact"]
        if improved:
            self.state["best_val_exact"] = accuracy
            self.state["best_epoch"] = epoch + 1
            self.full_model.save(self.run_dir / "model.keras")
        self.state["epoch"] = epoch + 1
        self.full_model.save(self.run_dir / "checkpoint.keras")
        (self.run_dir / "state.json").write_text(json.dumps(self.state, indent=1))
        self.log(
            f"epoch {epoch + 1}: loss {record['loss']:.3f}  val exact {accuracy:.4f}  "
            f"CER {cer:.4f}  ({record['seconds']} s){'  *best*' if improved else ''}"
        )
        if epoch + 1 - self.state["best_epoch"] >= self.config.patience:
            self.log(f"no improvement for {self.config.patience} epochs: stopping")
            self.model.stop_training = True


class RichProgress(keras.callbacks.Callback):
    """A rich progress bar over the steps of each epoch, with the running loss."""

    def __init__(self, steps: int) -> None:
        super().__init__()
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.steps = steps
        self.progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.3f}"),
            TimeRemainingColumn(),
            transient=True,
        )
        self.task = self.progress.add_task("train", total=steps, epoch=0, loss=float("nan"))

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:  # noqa: ARG002
        self.progress.start()
        self.progress.reset(self.task, total=self.steps, epoch=epoch + 1, loss=float("nan"))

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:  # noqa: ARG002
        self.progress.update(
            self.task, advance=1, loss=float((logs or {}).get("loss", float("nan")))
        )

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:  # noqa: ARG002
        self.progress.stop()


def ctc_alignable(texts: list[str], time_steps: int) -> npt.NDArray[np.bool_]:
    """Which labels CTC can align to ``time_steps`` outputs (a repeated character needs a blank
    between its copies). The rest have no valid path: their loss is infinite, which turns the
    logged epoch loss into ``inf`` and teaches nothing, so training leaves them out."""
    needed = [len(t) + sum(a == b for a, b in itertools.pairwise(t)) for t in texts]
    return np.array([n <= min(time_steps, MAX_LABEL_LENGTH) for n in needed], dtype=bool)


WARM_START_IMAGES = 512
"""Training lines whose statistics unfold the batch norms of a model rebuilt from int8."""


def initial_model(config: TrainConfig, images: npt.NDArray[np.uint8]) -> keras.Model:
    """The model ``config.init_from`` names, to continue training from: a ``.keras`` line model,
    or an int8 line model (bundled name, ``.tflite`` or run folder) rebuilt as float."""
    source = config.init_from
    if source.endswith(".keras"):
        model = keras.models.load_model(source, compile=False)
        charset = config.charset
    else:
        from training.warm_start import float_line_model

        model, contract = float_line_model(source, images[:WARM_START_IMAGES], config.bn_momentum)
        charset = contract.charset
    wanted = (config.height, config.width, num_classes(config.charset))
    found = (*model.input_shape[1:3], model.output_shape[-1])
    if found != wanted or charset != config.charset:
        raise ValueError(
            f"{source}: takes {found[0]}x{found[1]} lines with {found[2]} classes "
            f"(charset {charset!r}); this run is {wanted[0]}x{wanted[1]} with {wanted[2]} "
            f"(charset {config.charset!r}): match --width to the model"
        )
    return model


def train_line_model(
    config: TrainConfig,
    train_set: LineSet,
    validation: LineSet,
    resume: bool = False,
    log: Any = print,
    verbose: bool = True,
) -> dict[str, Any]:
    """Train (or resume) a line model in ``config.out``; returns the run state with history."""
    run_dir = Path(config.out)
    run_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    images, texts = train_set.images, train_set.texts
    alignable = ctc_alignable(texts, config.model_config().time_steps)
    if not alignable.all():  # a masked copy of a large set costs gigabytes: only when needed
        log(f"left out {int((~alignable).sum())} lines too long for the model's time steps")
        images = images[alignable]
        texts = [t for t, keep in zip(texts, alignable, strict=True) if keep]
    labels = encode_labels(texts, config.charset, MAX_LABEL_LENGTH)
    batches = LineBatches(
        images,
        labels,
        config.batch_size,
        config.seed,
        config.max_steps_per_epoch,
    )
    total_steps = len(batches) * config.epochs
    state: dict[str, Any] = {"epoch": 0, "best_val_exact": -1.0, "best_epoch": 0, "history": []}
    checkpoint = run_dir / "checkpoint.keras"
    if resume and checkpoint.is_file():
        full_model = keras.models.load_model(checkpoint, compile=False)
        state = json.loads((run_dir / "state.json").read_text())
        log(f"resuming {run_dir} after epoch {state['epoch']}")
    elif config.init_from:
        full_model = initial_model(config, images)
        log(f"starting from the weights of {config.init_from}")
    else:
        full_model = build_line_model(config.model_config())
    (run_dir / "config.json").write_text(json.dumps(asdict(config), indent=1))
    trainable = logits_model(full_model)
    schedule = WarmupCosine(config.learning_rate, config.warmup_steps, total_steps)
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay, clipnorm=5.0)
    trainable.compile(optimizer=optimizer, loss=CTCLoss())
    if resume and checkpoint.is_file() and state["epoch"] > 0:
        # Rebuild the optimizer's step counter so the schedule continues where it stopped.
        trainable.optimizer.build(trainable.trainable_variables)
        trainable.optimizer.iterations.assign(state["epoch"] * len(batches))
    callbacks: list[keras.callbacks.Callback] = [
        EvaluateAndCheckpoint(full_model, validation, config, run_dir, state, log)
    ]
    if verbose:
        callbacks.append(RichProgress(len(batches)))
    trainable.fit(
        batches, epochs=config.epochs, initial_epoch=state["epoch"], callbacks=callbacks, verbose=0
    )
    if not (run_dir / "model.keras").is_file():
        full_model.save(run_dir / "model.keras")
    state["finished"] = True
    state["train_lines"] = len(images)
    (run_dir / "state.json").write_text(json.dumps(state, indent=1))
    return state


def finished_state(config: TrainConfig) -> dict[str, Any] | None:
    """The state of the run in ``config.out`` when its training is over for ``config`` (all
    epochs done, or stopped early) and its ``model.keras`` is final; else None."""
    run_dir = Path(config.out)
    state_file = run_dir / "state.json"
    if not state_file.is_file() or not (run_dir / "model.keras").is_file():
        return None
    state: dict[str, Any] = json.loads(state_file.read_text())
    stopped = state["epoch"] - state["best_epoch"] >= config.patience
    over = state["epoch"] >= config.epochs or stopped
    return state if state.get("finished") and over else None
