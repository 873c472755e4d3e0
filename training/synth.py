"""On-the-fly synthetic line images with exact labels.

A sample is drawn (``render_line``), composed onto paper or carton with a polarity and a light
level (``compose``), cropped with the loose or tight margins a locator produces, and degraded
(``degrade``). The crop is returned un-binned: binning happens in ``edge_ocr.preprocess`` exactly
as on the device.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from edge_ocr.charset import DEFAULT_CHARSET
from edge_ocr.render import (
    SEVEN_SEGMENT_CHARSET,
    RenderedLine,
    _finish,
    render_dot_matrix,
    render_hershey,
    render_seven_segment,
)
from training import texts
from training.fonts import FontKind, FontSpec, all_fonts, split_fonts

Gray = npt.NDArray[np.uint8]
FloatImage = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Sample:
    """One synthetic crop, its exact text and how it was made (for per-style reports)."""

    image: Gray
    text: str
    font: str
    font_kind: str
    degradations: tuple[str, ...] = field(default=())


@functools.lru_cache(maxsize=256)
def _truetype(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def render_truetype(
    text: str, char_height: int, path: Path, rng: np.random.Generator
) -> RenderedLine:
    """Draw with a TrueType font character by character, with random tracking (negative
    tracking makes touching characters, as on a fast inkjet)."""
    size = max(8, round(char_height / 0.72))
    font = _truetype(str(path), size)
    tracking = size * rng.uniform(-0.06, 0.22)
    advances = [font.getlength(c) for c in text]
    margin = size // 2
    width = int(np.ceil(margin * 2 + sum(advances) + max(0.0, tracking) * len(text) + size * 0.3))
    height = int(size * 1.6 + margin)
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    x = float(margin)
    spans: list[tuple[int, int]] = []
    for char, advance in zip(text, advances, strict=True):
        if char != " ":
            draw.text((x, margin / 2), char, font=font, fill=255)
        left, _, right, _ = font.getbbox(char)
        spans.append((int(x + left) - 1, int(np.ceil(x + right)) + 1))
        x += advance + tracking
    ink = np.asarray(canvas, dtype=np.float32) / 255.0
    return _finish(ink, spans)


def render_line(
    text: str, font: FontSpec, char_height: int, rng: np.random.Generator
) -> RenderedLine:
    """Draw ``text`` in ``font`` with capital letters about ``char_height`` pixels tall."""
    if font.kind is FontKind.DOT_MATRIX:
        return render_dot_matrix(text, char_height, rng)
    if font.kind is FontKind.SEVEN_SEGMENT:
        return render_seven_segment(text, char_height, rng)
    if font.kind is FontKind.HERSHEY:
        return render_hershey(text, char_height, font.hershey_id, font.italic, rng)
    if font.path is None:
        raise ValueError(f"TrueType font {font.name} has no file")
    return render_truetype(text, char_height, font.path, rng)


def _ink_bounds(ink: FloatImage) -> tuple[int, int, int, int]:
    mask = ink > 0.2
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return 0, 0, ink.shape[1], ink.shape[0]
    return int(cols[0]), int(rows[0]), int(cols[-1] + 1), int(rows[-1] + 1)


def crop_with_margins(ink: FloatImage, char_height: int, rng: np.random.Generator) -> FloatImage:
    """Cut around the ink with the margins a text locator leaves: usually some background on
    every side, sometimes tight, occasionally a little too tight."""
    x0, y0, x1, y1 = _ink_bounds(ink)
    pad = int(char_height * 1.5) + 4
    padded = cv2.copyMakeBorder(ink, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0.0)
    top = rng.uniform(-0.04, 0.45) * char_height
    bottom = rng.uniform(-0.04, 0.45) * char_height
    left = rng.uniform(-0.02, 1.2) * char_height
    right = rng.uniform(-0.02, 1.2) * char_height
    ya = int(np.clip(y0 + pad - top, 0, padded.shape[0] - 2))
    yb = int(np.clip(y1 + pad + bottom, ya + 2, padded.shape[0]))
    xa = int(np.clip(x0 + pad - left, 0, padded.shape[1] - 2))
    xb = int(np.clip(x1 + pad + right, xa + 2, padded.shape[1]))
    cropped: FloatImage = padded[ya:yb, xa:xb]
    return cropped


def geometric(ink: FloatImage, rng: np.random.Generator, strength: float) -> FloatImage:
    """Small rotation, shear and perspective, as from a camera not quite square to the pack."""
    h, w = ink.shape
    angle = np.deg2rad(rng.normal(0.0, 1.5 * strength))
    shear = rng.normal(0.0, 0.12 * strength)
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    persp = rng.normal(0.0, 0.04 * strength, size=(4, 2)) * np.array([w * 0.2, h])
    dst = src + persp.astype(np.float32)
    dst[:, 0] += (h / 2 - dst[:, 1]) * shear
    centre = np.array([w / 2, h / 2], dtype=np.float32)
    rotation = np.array(
        [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], dtype=np.float32
    )
    dst = (dst - centre) @ rotation.T + centre
    dst -= dst.min(axis=0)
    out_w = int(np.ceil(dst[:, 0].max())) + 1
    out_h = int(np.ceil(dst[:, 1].max())) + 1
    matrix = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    warped: FloatImage = cv2.warpPerspective(ink, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR)
    return warped


def captcha_distort(ink: FloatImage, rng: np.random.Generator) -> FloatImage:
    """Sinusoidal warp, crossing arcs and noise dots, in the manner of web captchas."""
    h, w = ink.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    amp_y = rng.uniform(0.0, 0.12) * h
    amp_x = rng.uniform(0.0, 0.06) * h
    period = rng.uniform(0.6, 2.0) * h
    phase = rng.uniform(0, 2 * np.pi)
    map_x = xs + amp_x * np.sin(ys / (period / 3) + phase)
    map_y = ys + amp_y * np.sin(xs / period + phase)
    warped = cv2.remap(ink, map_x, map_y, cv2.INTER_LINEAR, borderValue=0.0)
    for _ in range(int(rng.integers(0, 3))):
        points = np.stack(
            [
                np.linspace(0, w, 12),
                h * rng.uniform(0.2, 0.8)
                + h
                * rng.uniform(0.1, 0.35)
                * np.sin(np.linspace(0, rng.uniform(1, 4), 12) + rng.uniform(0, 6)),
            ],
            axis=1,
        )
        thickness = max(1, int(h * rng.uniform(0.02, 0.07)))
        cv2.polylines(warped, [points.astype(np.int32)], False, 1.0, thickness, cv2.LINE_AA)
    dots = int(rng.integers(0, 60))
    if dots:
        ys_dot = rng.integers(0, h, size=dots)
        xs_dot = rng.integers(0, w, size=dots)
        warped[ys_dot, xs_dot] = 1.0
    result: FloatImage = warped
    return result


@dataclass(frozen=True)
class PrintQuality:
    """How hard the print and the camera make a line: the probability and the range of every
    degradation. Training draws from ``HARSH``, harder than a fixed industrial camera with its own
    light ever sees, so that real prints fall inside what the model learnt; the bench also reads
    ``MODERATE`` and ``CLEAN`` sets, because a harsh mix alone cannot tell a weak reader from an
    illegible line."""

    name: str
    geometry_p: float
    geometry_strength: float
    low_contrast_p: float
    """Share of prints whose ink differs from the paper by only 12-35% of full scale."""
    uneven_light_p: float
    uneven_light_max: float
    texture_p: float
    blur_p: float
    blur_sigma: tuple[float, float]
    """Gaussian sigma per 24 pixels of character height."""
    motion_p: float
    motion_length: tuple[float, float]
    """Horizontal smear as a fraction of the character height."""
    low_resolution_p: float
    low_resolution_height: tuple[float, float]
    """Character height in pixels the crop is shrunk to."""
    noise_p: float
    noise_sigma: tuple[float, float]
    salt_pepper_p: float
    jpeg_p: float
    jpeg_quality: tuple[int, int]


HARSH = PrintQuality(
    name="harsh",
    geometry_p=0.6,
    geometry_strength=1.0,
    low_contrast_p=0.2,
    uneven_light_p=0.35,
    uneven_light_max=0.3,
    texture_p=0.25,
    blur_p=0.35,
    blur_sigma=(0.3, 1.2),
    motion_p=0.25,
    motion_length=(0.1, 0.45),
    low_resolution_p=0.3,
    low_resolution_height=(10, 20),
    noise_p=0.4,
    noise_sigma=(3, 18),
    salt_pepper_p=0.05,
    jpeg_p=0.25,
    jpeg_quality=(15, 70),
)
"""The training mix, stacked independently: some of its lines no reader can read."""

MODERATE = replace(
    HARSH,
    name="moderate",
    geometry_strength=0.5,
    low_contrast_p=0.0,
    uneven_light_max=0.15,
    blur_sigma=(0.3, 0.7),
    motion_length=(0.05, 0.2),
    low_resolution_height=(14, 20),
    noise_sigma=(2, 8),
    salt_pepper_p=0.0,
    jpeg_quality=(40, 80),
)
"""A fixed camera with its own light, a little out of focus, short exposure, modest sensor
noise and compression: every degradation kind of ``HARSH`` as often, at the strength of a
working installation, without its illegible extremes (faint ink, salt-and-pepper)."""

CLEAN = replace(
    HARSH,
    name="clean",
    geometry_p=0.0,
    low_contrast_p=0.0,
    uneven_light_p=0.0,
    texture_p=0.0,
    blur_p=0.0,
    motion_p=0.0,
    low_resolution_p=0.0,
    noise_p=0.0,
    salt_pepper_p=0.0,
    jpeg_p=0.0,
)
"""The print as rendered, on paper or carton in either polarity: the font and style alone
(every degradation's probability is 0, so its range is never drawn from)."""

PRINT_QUALITIES = {q.name: q for q in (HARSH, MODERATE, CLEAN)}


def compose(
    ink: FloatImage, rng: np.random.Generator, quality: PrintQuality = HARSH
) -> tuple[FloatImage, list[str]]:
    """Put the ink on a background: a contrast, a polarity and uneven light. Returns 0-255."""
    notes: list[str] = []
    if rng.random() < 1.0 - quality.low_contrast_p:
        contrast = rng.uniform(0.35, 0.9)
    else:
        contrast = rng.uniform(0.12, 0.35)
    if contrast < 0.35:
        notes.append("low_contrast")
    paper = rng.uniform(0.45 + contrast * 0.5, 1.0) if rng.random() < 0.8 else rng.uniform(0.2, 0.6)
    ink_level = np.clip(paper - contrast, 0.0, 1.0)
    image = paper + (ink_level - paper) * ink
    if rng.random() < 0.2:
        image = 1.0 - image
        notes.append("light_on_dark")
    h, w = image.shape
    if quality.uneven_light_p and rng.random() < quality.uneven_light_p:
        slope = quality.uneven_light_max
        gx = np.linspace(-1, 1, w, dtype=np.float32)[None, :] * rng.uniform(-slope, slope)
        gy = np.linspace(-1, 1, h, dtype=np.float32)[:, None] * rng.uniform(-slope, slope)
        image = image + gx + gy
        notes.append("uneven_light")
    if quality.texture_p and rng.random() < quality.texture_p:
        texture = cv2.resize(
            rng.normal(0, 1, size=(max(2, h // 8), max(2, w // 8))).astype(np.float32),
            (w, h),
            interpolation=cv2.INTER_CUBIC,
        )
        image = image + texture * rng.uniform(0.02, 0.08)
    return np.clip(image, 0.0, 1.0) * 255.0, notes


def degrade(
    image: FloatImage, char_height: int, rng: np.random.Generator, quality: PrintQuality = HARSH
) -> tuple[Gray, list[str]]:
    """Blur, motion blur, low resolution, noise and JPEG, each with its own probability."""
    notes: list[str] = []
    q = quality
    if q.blur_p and rng.random() < q.blur_p:
        sigma = rng.uniform(*q.blur_sigma) * char_height / 24
        image = cv2.GaussianBlur(image, (0, 0), sigma)
        notes.append("blur")
    if q.motion_p and rng.random() < q.motion_p:
        length = max(2, int(rng.uniform(*q.motion_length) * char_height))
        kernel = np.zeros((1, length), np.float32)
        kernel[0, :] = 1.0 / length
        image = cv2.filter2D(image, -1, kernel)
        notes.append("motion_blur")
    if q.low_resolution_p and rng.random() < q.low_resolution_p:
        target = rng.uniform(*q.low_resolution_height)
        factor = min(1.0, target / char_height)
        h, w = image.shape
        small = cv2.resize(
            image, (max(2, int(w * factor)), max(2, int(h * factor))), interpolation=cv2.INTER_AREA
        )
        image = small
        notes.append("low_resolution")
    if q.noise_p and rng.random() < q.noise_p:
        sigma = rng.uniform(*q.noise_sigma)
        image = image + rng.normal(0, sigma, size=image.shape).astype(np.float32)
        notes.append("noise")
    if q.salt_pepper_p and rng.random() < q.salt_pepper_p:
        mask = rng.random(image.shape) < rng.uniform(0.005, 0.03)
        image = np.where(mask, rng.choice([0.0, 255.0], size=image.shape), image).astype(np.float32)
        notes.append("salt_pepper")
    gray = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    if q.jpeg_p and rng.random() < q.jpeg_p:
        quality_level = int(rng.integers(*q.jpeg_quality))
        ok, encoded = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, quality_level])
        if ok:
            gray = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)
            notes.append("jpeg")
    return gray, notes


def _style_text(font: FontSpec, text: str, rng: np.random.Generator) -> str:
    if font.kind is FontKind.SEVEN_SEGMENT:
        return texts.restrict(text, SEVEN_SEGMENT_CHARSET, rng)
    return text


@dataclass
class LineSynthesizer:
    """Generates labelled line crops for one font pool.

    ``captcha_fraction`` of the samples get captcha distortions and short random strings; the
    ``lines`` kind keeps it small, the ``captcha`` kind makes it all.
    """

    fonts: list[FontSpec]
    charset: str = DEFAULT_CHARSET
    captcha_fraction: float = 0.08
    quality: PrintQuality = HARSH
    kind_weights: dict[FontKind, float] = field(
        default_factory=lambda: {
            FontKind.TRUETYPE: 0.45,
            FontKind.HERSHEY: 0.15,
            FontKind.DOT_MATRIX: 0.27,
            FontKind.SEVEN_SEGMENT: 0.13,
        }
    )

    def __post_init__(self) -> None:
        if not self.fonts:
            raise ValueError("no fonts to render with")
        self._by_kind = {k: [f for f in self.fonts if f.kind is k] for k in FontKind}
        present = [k for k in FontKind if self._by_kind[k] and self.kind_weights.get(k, 0) > 0]
        weights = np.array([self.kind_weights[k] for k in present], dtype=np.float64)
        self._kinds = present
        self._kind_p = weights / weights.sum()

    def pick_font(self, rng: np.random.Generator) -> FontSpec:
        kind = self._kinds[int(rng.choice(len(self._kinds), p=self._kind_p))]
        pool = self._by_kind[kind]
        return pool[int(rng.integers(len(pool)))]

    def sample(self, rng: np.random.Generator) -> Sample:
        font = self.pick_font(rng)
        is_captcha = (
            rng.random() < self.captcha_fraction and font.kind is not FontKind.SEVEN_SEGMENT
        )
        text = texts.captcha_text(rng) if is_captcha else texts.code_line(rng, self.charset)
        text = _style_text(font, text, rng)
        return self.draw(text, font, rng, captcha=is_captcha)

    def draw(
        self, text: str, font: FontSpec, rng: np.random.Generator, captcha: bool = False
    ) -> Sample:
        char_height = int(rng.integers(16, 44))
        rendered = render_line(text, font, char_height, rng)
        ink = rendered.ink
        notes: list[str] = []
        if captcha:
            ink = captcha_distort(ink, rng)
            notes.append("captcha")
        ink = crop_with_margins(ink, char_height, rng)
        quality = self.quality
        if quality.geometry_p and rng.random() < quality.geometry_p:
            strength = quality.geometry_strength
            ink = geometric(ink, rng, strength=2.0 * strength if captcha else strength)
            notes.append("geometry")
        image, composed = compose(ink, rng, quality)
        gray, degraded = degrade(image, char_height, rng, quality)
        return Sample(gray, text, font.name, font.kind.value, tuple(notes + composed + degraded))


class _SeededSecrets:
    """The three ``secrets`` functions ImageCaptcha (captcha >= 0.5) draws its distortions from,
    backed by a seeded generator: with the OS's randomness no captcha set could be drawn twice,
    so neither training data nor benchmark sets were reproducible from their seeds."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def choice(self, sequence: Any) -> Any:
        return self._random.choice(sequence)

    def randbelow(self, n: int) -> int:
        return self._random.randrange(n)

    def randbits(self, k: int) -> int:
        return self._random.getrandbits(k)


def _seed_imagecaptcha(seed: int) -> None:
    import captcha.image

    random.seed(seed)  # older captcha releases draw from the global random module
    captcha.image.secrets = _SeededSecrets(seed)  # type: ignore[attr-defined,assignment]


class CaptchaSynthesizer:
    """Images from the ``captcha`` package's ImageCaptcha, as web sites generate them."""

    def __init__(
        self,
        sizes: tuple[tuple[int, int], ...] = ((160, 60),),
        min_length: int = 4,
        max_length: int = 6,
        emphasis: str = "",
    ) -> None:
        self.sizes = sizes
        self.min_length = min_length
        self.max_length = max_length
        self.emphasis = emphasis
        self._generators: list[Any] = []  # made on first use, so the synthesizer pickles to workers

    def sample(self, rng: np.random.Generator) -> Sample:
        if not self._generators:
            from captcha.image import ImageCaptcha  # only captcha data needs the package

            self._generators = [ImageCaptcha(width=w, height=h) for w, h in self.sizes]
        text = texts.captcha_text(rng, self.min_length, self.max_length, self.emphasis)
        generator = self._generators[int(rng.integers(len(self._generators)))]
        _seed_imagecaptcha(int(rng.integers(2**31)))
        image = generator.generate_image(text)
        gray = cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2GRAY)
        return Sample(gray, text, "captcha-imagecaptcha", "captcha", ("captcha",))


class SampleSource(Protocol):
    def sample(self, rng: np.random.Generator) -> Sample: ...


@dataclass
class Mixture:
    """Draws each sample from one of several sources, with fixed probabilities."""

    sources: list[SampleSource]
    weights: list[float]

    def sample(self, rng: np.random.Generator) -> Sample:
        p = np.asarray(self.weights, dtype=np.float64)
        return self.sources[int(rng.choice(len(self.sources), p=p / p.sum()))].sample(rng)


def synthetic_sources(
    kind: str,
    held_out: bool,
    font_dirs: tuple[Path, ...] = (),
    emphasis: str = "",
    quality: PrintQuality = HARSH,
    captcha_styled: bool = True,
    font_pool: str = "wide",
) -> Any:
    """The synthetic generator for a model kind; ``held_out`` gives the test fonts instead;
    ``emphasis`` (captcha kind) makes some characters more frequent in ImageCaptcha strings;
    ``quality`` (lines kind) sets how degraded the prints are, and ``captcha_styled=False``
    leaves out the few captcha-styled lines (printed codes only); ``font_pool`` is one of
    ``training.fonts.FONT_POOLS``."""
    train_fonts, test_fonts = split_fonts(all_fonts(font_dirs, font_pool))
    fonts = test_fonts if held_out else train_fonts
    if kind == "imagecaptcha":
        return CaptchaSynthesizer()
    if kind == "captcha":
        line_captchas = LineSynthesizer(fonts, captcha_fraction=1.0)
        return Mixture(
            [
                CaptchaSynthesizer(((160, 60), (200, 70), (120, 50)), emphasis=emphasis),
                line_captchas,
            ],
            [0.8, 0.2],
        )
    if not captcha_styled:
        return LineSynthesizer(fonts, captcha_fraction=0.0, quality=quality)
    return LineSynthesizer(fonts, quality=quality)
