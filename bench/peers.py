"""The readers the bench compares: edge-ocr int8 and float, Tesseract and RapidOCR.

Each reader is opened inside its own subprocess (``bench.measure``) on one thread. A reader that
cannot be opened raises ``ReaderUnavailableError`` with a one-line reason; the bench reports it as
skipped and goes on.

Fairness (see bench/README.md):
- every reader gets the same raw greyscale crop; edge-ocr bins it inside the timed call;
- peers get the crop as dark text on a light background with edge-ocr's own contrast stretch,
  upscaled when short and framed with a light border (what their documentation asks for);
- Tesseract reads in single-line mode (``--psm 7``, LSTM engine). No character whitelist: with
  the LSTM engine it halved Tesseract's exact reads on held-out lines (12% vs 24% on 100 lines);
- RapidOCR runs its recognizer only (no detection, no angle classifier) on the single-line crop;
- every read is normalised the same way (NFKC, upper case, characters outside the charset
  dropped, runs of spaces collapsed) before scoring.
"""

from __future__ import annotations

import importlib
import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from edge_ocr.charset import DEFAULT_CHARSET
from edge_ocr.preprocess import stretch_contrast

Gray = npt.NDArray[np.uint8]

READER_IDS = ("edge-ocr-int8", "edge-ocr-float", "tesseract", "rapidocr")
READER_LABELS = {
    "edge-ocr-int8": "edge-ocr int8",
    "edge-ocr-float": "edge-ocr float",
    "tesseract": "Tesseract",
    "rapidocr": "RapidOCR",
}
PEER_MIN_HEIGHT = 48
"""Peers get crops upscaled to at least this height: Tesseract reads best with capitals of
20-40 px, and RapidOCR resizes to 48 px itself."""
PEER_BORDER = 10
TESSDATA_DIRS = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
)


class ReaderUnavailableError(Exception):
    """The reader (its package, binary or model) is not installed here: skipped, not failed."""


@dataclass(frozen=True)
class ReaderInfo:
    """What was measured: the library, its version and the model files it read with."""

    library: str
    version: str
    model_files: tuple[str, ...]
    preprocessing: str

    @property
    def model_bytes(self) -> int:
        return sum(Path(f).stat().st_size for f in self.model_files)


class Reader(Protocol):
    """One crop in, one normalised text out. ``read_batch`` is None for readers without it."""

    info: ReaderInfo

    def read(self, crop: Gray) -> str: ...

    def read_batch(self, crops: Sequence[Gray]) -> list[str] | None: ...


def normalise(text: str, charset: str = DEFAULT_CHARSET) -> str:
    """The same clean-up for every reader: NFKC (full-width forms to ASCII), upper case,
    characters outside the charset dropped, whitespace runs collapsed."""
    upper = unicodedata.normalize("NFKC", text).upper()
    kept = "".join(c if c in charset else (" " if c.isspace() else "") for c in upper)
    return " ".join(kept.split())


def peer_image(crop: Gray) -> Gray:
    """Dark text on a light background, stretched, at least ``PEER_MIN_HEIGHT`` tall, with a
    light border: the input both peers' documentation recommends."""
    dark_on_light = 255 - stretch_contrast(crop)
    height, width = dark_on_light.shape
    if height < PEER_MIN_HEIGHT:
        scale = PEER_MIN_HEIGHT / height
        dark_on_light = cv2.resize(
            dark_on_light,
            (max(1, round(width * scale)), PEER_MIN_HEIGHT),
            interpolation=cv2.INTER_CUBIC,
        )
    framed: Gray = cv2.copyMakeBorder(
        dark_on_light,
        PEER_BORDER,
        PEER_BORDER,
        PEER_BORDER,
        PEER_BORDER,
        cv2.BORDER_CONSTANT,
        value=255,
    )
    return framed


PEER_PREPROCESSING = (
    f"contrast stretch, dark on light, upscaled to >= {PEER_MIN_HEIGHT} px tall, "
    f"{PEER_BORDER} px light border"
)


def _version(module: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return "unknown"


class EdgeOcrInt8:
    """A bundled int8 model through the device runtime (XNNPACK, one thread)."""

    def __init__(self, model: str) -> None:
        from edge_ocr.contract import ModelError
        from edge_ocr.model import load_model
        from edge_ocr.recognize import LineRecognizer

        try:
            loaded = load_model(model, accel="cpu", threads=1)
        except ModelError as error:
            raise ReaderUnavailableError(str(error)) from None
        # Rejected characters would read as '?': the bench scores plain best reads.
        self.recognizer = LineRecognizer(loaded, reject_threshold=0.0)
        self.info = ReaderInfo(
            f"edge-ocr ({loaded.backend}, {loaded.accelerator})",
            _version("ai-edge-litert"),
            (str(loaded.path),),
            "edge_ocr.preprocess.bin_line (inside the timed call)",
        )

    def read(self, crop: Gray) -> str:
        return normalise(self.recognizer.read([crop])[0].text)

    def read_batch(self, crops: Sequence[Gray]) -> list[str] | None:
        return [normalise(line.text) for line in self.recognizer.read(crops)]


class EdgeOcrFloat:
    """The float Keras model of a training run, TensorFlow limited to one thread."""

    def __init__(self, run_dir: Path) -> None:
        path = run_dir / "model.keras"
        if not path.is_file():
            raise ReaderUnavailableError(f"no float model at {path} (train it with `make model`)")
        try:
            tf = importlib.import_module("tensorflow")
            keras = importlib.import_module("keras")
        except ImportError as error:
            raise ReaderUnavailableError(f"TensorFlow not installed ({error})") from None
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        from edge_ocr.decode import greedy_decode_batch
        from edge_ocr.preprocess import LineShape, bin_line

        model = keras.models.load_model(path, compile=False)
        _, height, width, _ = model.input_shape
        self.shape = LineShape(int(height), int(width))
        self._bin = bin_line
        self._decode = greedy_decode_batch
        self._call = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec([None, height, width, 1], tf.float32)],
        )
        self.info = ReaderInfo(
            "keras float32 (TensorFlow, tf.function)",
            f"tensorflow {tf.__version__}, keras {keras.__version__}",
            (str(path),),
            "edge_ocr.preprocess.bin_line (inside the timed call)",
        )

    def read(self, crop: Gray) -> str:
        return self._texts([crop])[0]

    def read_batch(self, crops: Sequence[Gray]) -> list[str] | None:
        return self._texts(crops)

    def _texts(self, crops: Sequence[Gray]) -> list[str]:
        binned = np.stack([self._bin(c, self.shape) for c in crops])
        batch = binned.astype(np.float32)[..., np.newaxis] / 255.0
        probabilities = np.asarray(self._call(batch))
        probabilities = probabilities.reshape(len(crops), -1, probabilities.shape[-1])
        return [normalise(d.text) for d in self._decode(probabilities, DEFAULT_CHARSET)]


def find_tessdata() -> Path | None:
    """The first folder holding ``eng.traineddata``: $TESSDATA_PREFIX, then Debian's places."""
    candidates = [os.environ.get("TESSDATA_PREFIX", ""), *TESSDATA_DIRS]
    for folder in candidates:
        if folder and (Path(folder) / "eng.traineddata").is_file():
            return Path(folder)
    return None


TESSERACT_CONFIG = "--psm 7 --oem 1"
"""Single text line, LSTM engine. ``tessedit_char_whitelist`` was measured and left out: with the
LSTM engine it made Tesseract drop whole lines (12% exact vs 24% without, 100 held-out lines);
reads are upper-cased and filtered to the charset afterwards instead (``normalise``)."""


class TesseractApi:
    """Tesseract 5 LSTM through tesserocr (the C API in-process: no process per crop)."""

    def __init__(self, tessdata: Path) -> None:
        tesserocr: Any = importlib.import_module("tesserocr")
        self.api = tesserocr.PyTessBaseAPI(
            path=str(tessdata),
            lang="eng",
            psm=tesserocr.PSM.SINGLE_LINE,
            oem=tesserocr.OEM.LSTM_ONLY,
        )
        self.info = ReaderInfo(
            "tesseract (tesserocr)",
            f"{tesserocr.tesseract_version().splitlines()[0]}, tesserocr {_version('tesserocr')}",
            (str(tessdata / "eng.traineddata"),),
            f"{PEER_PREPROCESSING}; {TESSERACT_CONFIG}",
        )

    def read(self, crop: Gray) -> str:
        image = np.ascontiguousarray(peer_image(crop))
        height, width = image.shape
        self.api.SetImageBytes(image.tobytes(), width, height, 1, width)
        return normalise(str(self.api.GetUTF8Text()))

    def read_batch(self, crops: Sequence[Gray]) -> list[str] | None:  # noqa: ARG002
        return None


class TesseractCli:
    """Tesseract 5 LSTM through pytesseract (one ``tesseract`` process per crop, as most users
    call it; the process start is part of its latency)."""

    def __init__(self, tessdata: Path) -> None:
        self.pytesseract: Any = importlib.import_module("pytesseract")
        try:
            version = str(self.pytesseract.get_tesseract_version())
        except self.pytesseract.TesseractNotFoundError:
            raise ReaderUnavailableError("the tesseract binary is not installed") from None
        self.config = TESSERACT_CONFIG
        self.info = ReaderInfo(
            "tesseract (pytesseract, one process per crop)",
            f"tesseract {version}, pytesseract {_version('pytesseract')}",
            (str(tessdata / "eng.traineddata"),),
            f"{PEER_PREPROCESSING}; {self.config}",
        )

    def read(self, crop: Gray) -> str:
        text = self.pytesseract.image_to_string(peer_image(crop), lang="eng", config=self.config)
        return normalise(str(text))

    def read_batch(self, crops: Sequence[Gray]) -> list[str] | None:  # noqa: ARG002
        return None


def open_tesseract() -> TesseractApi | TesseractCli:
    """tesserocr when installed (fairest: no process per crop), else pytesseract."""
    tessdata = find_tessdata()
    if tessdata is None:
        raise ReaderUnavailableError(
            "no eng.traineddata (apt-get install tesseract-ocr-eng, or set TESSDATA_PREFIX)"
        )
    try:
        return TesseractApi(tessdata)
    except ImportError:
        pass
    try:
        return TesseractCli(tessdata)
    except ImportError:
        raise ReaderUnavailableError("neither tesserocr nor pytesseract is installed") from None


class RapidOcr:
    """RapidOCR (PP-OCRv4 mobile recognizer, ONNX Runtime), recognizer only, one thread."""

    def __init__(self) -> None:
        try:
            rapidocr: Any = importlib.import_module("rapidocr_onnxruntime")
        except ImportError as error:
            raise ReaderUnavailableError(f"rapidocr-onnxruntime not installed ({error})") from None
        self.engine = rapidocr.RapidOCR(
            intra_op_num_threads=1, inter_op_num_threads=1, print_verbose=False
        )
        threads = self.engine.text_rec.session.session.get_session_options().intra_op_num_threads
        if threads != 1:
            raise ReaderUnavailableError(f"RapidOCR ignored intra_op_num_threads=1 (got {threads})")
        model = Path(self.engine.text_rec.session.session._model_path)
        self.info = ReaderInfo(
            "rapidocr-onnxruntime",
            f"rapidocr-onnxruntime {_version('rapidocr-onnxruntime')}, "
            f"onnxruntime {_version('onnxruntime')}",
            (str(model),),
            f"{PEER_PREPROCESSING}; use_det=False, use_cls=False (recognizer only)",
        )

    def read(self, crop: Gray) -> str:
        image = cv2.cvtColor(peer_image(crop), cv2.COLOR_GRAY2BGR)
        result, _ = self.engine(image, use_det=False, use_cls=False, use_rec=True)
        return normalise(str(result[0][0])) if result else ""

    def read_batch(self, crops: Sequence[Gray]) -> list[str] | None:  # noqa: ARG002
        return None


def open_reader(reader_id: str, model: str, runs_dir: Path) -> Reader:
    """Open one reader; ``model`` picks the bundled edge-ocr model (and its recipe's run folder)."""
    if reader_id == "edge-ocr-int8":
        return EdgeOcrInt8(model)
    if reader_id == "edge-ocr-float":
        from training.recipes import bundled_run_dir

        return EdgeOcrFloat(Path(bundled_run_dir(model, str(runs_dir))))
    if reader_id == "tesseract":
        return open_tesseract()
    if reader_id == "rapidocr":
        return RapidOcr()
    raise ValueError(f"unknown reader {reader_id!r} (known: {', '.join(READER_IDS)})")
