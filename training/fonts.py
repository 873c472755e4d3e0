"""The fonts the synthetic renderers draw with, and which of them are held out for testing.

Only fonts that ship inside PyPI packages (matplotlib, captcha, reportlab and three font
packages of the ``[train]`` extra), OpenCV's Hershey fonts and the project's own dot-matrix and
7-segment renderers are used by default, so every machine renders the same data. Users add their
own with ``--fonts DIR``.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import cv2


class FontKind(str, Enum):
    """How a font is drawn; reports break accuracy down by it."""

    TRUETYPE = "truetype"
    HERSHEY = "hershey"
    DOT_MATRIX = "dot_matrix"
    SEVEN_SEGMENT = "seven_segment"


@dataclass(frozen=True)
class FontSpec:
    """One font: ``path`` for TrueType files, ``hershey_id`` for OpenCV's vector fonts."""

    name: str
    kind: FontKind
    path: Path | None = None
    hershey_id: int = 0
    italic: bool = False


MATPLOTLIB_FONT_FILES = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSansMono-Oblique.ttf",
    "DejaVuSansMono-BoldOblique.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSerif-BoldItalic.ttf",
    "STIXGeneral.ttf",
    "STIXGeneralBol.ttf",
    "STIXGeneralItalic.ttf",
    "STIXGeneralBolIta.ttf",
    "cmr10.ttf",
    "cmb10.ttf",
    "cmss10.ttf",
    "cmtt10.ttf",
    "cmti10.ttf",
)
CAPTCHA_FONT_FILES = ("DroidSansMono.ttf",)

REPORTLAB_FONT_FILES = {
    "_a______.pfb": "Helvetica",
    "_ab_____.pfb": "Helvetica-Bold",
    "_ai_____.pfb": "Helvetica-Oblique",
    "_abi____.pfb": "Helvetica-BoldOblique",
    "_er_____.pfb": "Times-Roman",
    "_eb_____.pfb": "Times-Bold",
    "_ei_____.pfb": "Times-Italic",
    "_ebi____.pfb": "Times-BoldItalic",
    "com_____.pfb": "Courier",
    "cob_____.pfb": "Courier-Bold",
    "coo_____.pfb": "Courier-Oblique",
    "cobo____.pfb": "Courier-BoldOblique",
}
"""ReportLab's Type 1 clones of the PDF core fonts (named as PDF names them): Helvetica and
Courier are what most date coders and label printers print with."""

_WEIGHTS = ("Regular", "Light", "Semibold", "Bold", "Black")
FONT_PACKAGE_FILES = {
    "font_roboto": tuple(
        f"Roboto-{w}.ttf"
        for w in (
            "Regular",
            "Italic",
            "Light",
            "LightItalic",
            "Medium",
            "MediumItalic",
            "Bold",
            "BoldItalic",
            "Black",
            "BlackItalic",
        )
    ),
    "font_source_sans_pro": tuple(
        f"SourceSansPro-{w}.ttf" for w in (*_WEIGHTS, "It", "LightIt", "SemiboldIt", "BoldIt")
    ),
    "font_source_serif_pro": tuple(
        f"SourceSerifPro-{w}.ttf" for w in (*_WEIGHTS, "It", "LightIt", "SemiboldIt", "BoldIt")
    ),
}
"""Pimoroni's font packages (``files/`` inside each); the hairline weights (Thin, ExtraLight) are
left out: no printer draws strokes that fine."""

HERSHEY_FONTS = {
    "hershey-simplex": cv2.FONT_HERSHEY_SIMPLEX,
    "hershey-plain": cv2.FONT_HERSHEY_PLAIN,
    "hershey-duplex": cv2.FONT_HERSHEY_DUPLEX,
    "hershey-complex": cv2.FONT_HERSHEY_COMPLEX,
    "hershey-triplex": cv2.FONT_HERSHEY_TRIPLEX,
    "hershey-complex-small": cv2.FONT_HERSHEY_COMPLEX_SMALL,
}

HELD_OUT_FONTS = frozenset(
    {
        "DejaVuSansMono-Bold",
        "DejaVuSerif-Italic",
        "STIXGeneralBol",
        "cmss10",
        "hershey-triplex",
        "hershey-triplex-italic",
    }
)
"""Never used in training: the test set renders with these to measure unseen-font accuracy."""


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


FONT_POOLS = ("wide", "core")
"""``wide``: every package font above. ``core``: matplotlib's and captcha's only, the 18 training
fonts the bundled ``captcha`` model and the CPU stages of ``lines`` were trained with (their
recipes name it, so ``make model`` still draws what they saw)."""


def truetype_fonts(extra_dirs: tuple[Path, ...] = (), pool: str = "wide") -> list[FontSpec]:
    """Outline fonts shipped by the packages above (TrueType, and ReportLab's Type 1, which
    FreeType draws the same way), plus every .ttf/.otf in ``extra_dirs``."""
    if pool not in FONT_POOLS:
        raise ValueError(f"unknown font pool {pool!r}: choose from {', '.join(FONT_POOLS)}")
    files: list[Path] = []
    matplotlib_dir = _package_dir("matplotlib")
    if matplotlib_dir is not None:
        files += [matplotlib_dir / "mpl-data" / "fonts" / "ttf" / f for f in MATPLOTLIB_FONT_FILES]
    captcha_dir = _package_dir("captcha")
    if captcha_dir is not None:
        files += [captcha_dir / "data" / f for f in CAPTCHA_FONT_FILES]
    fonts = _outline_fonts(files)
    if pool == "wide":
        fonts += _package_fonts()
    for directory in extra_dirs:
        if not directory.is_dir():
            raise FileNotFoundError(f"font folder not found: {directory}")
        fonts += _outline_fonts(
            sorted(p for p in directory.rglob("*") if p.suffix.lower() in {".ttf", ".otf"})
        )
    return fonts


def _outline_fonts(paths: list[Path]) -> list[FontSpec]:
    """A font per file that exists, named by its file."""
    return [FontSpec(p.stem, FontKind.TRUETYPE, path=p) for p in paths if p.is_file()]


def _package_fonts() -> list[FontSpec]:
    """The wide pool's additions: ReportLab's core-font clones and the font packages."""
    fonts = []
    reportlab_dir = _package_dir("reportlab")
    if reportlab_dir is not None:
        for file, name in REPORTLAB_FONT_FILES.items():
            path = reportlab_dir / "fonts" / file
            if path.is_file():
                fonts.append(FontSpec(name, FontKind.TRUETYPE, path=path))
    for package, package_files in FONT_PACKAGE_FILES.items():
        package_dir = _package_dir(package)
        if package_dir is not None:
            fonts += _outline_fonts([package_dir / "files" / f for f in package_files])
    return fonts


def hershey_fonts() -> list[FontSpec]:
    """OpenCV's Hershey vector fonts, upright and italic."""
    specs = []
    for name, font_id in HERSHEY_FONTS.items():
        specs.append(FontSpec(name, FontKind.HERSHEY, hershey_id=font_id))
        specs.append(FontSpec(f"{name}-italic", FontKind.HERSHEY, hershey_id=font_id, italic=True))
    return specs


def all_fonts(extra_dirs: tuple[Path, ...] = (), pool: str = "wide") -> list[FontSpec]:
    """Every font the renderers can draw with, the procedural print styles included."""
    procedural = [
        FontSpec("dot-matrix-5x7", FontKind.DOT_MATRIX),
        FontSpec("seven-segment", FontKind.SEVEN_SEGMENT),
    ]
    return truetype_fonts(extra_dirs, pool) + hershey_fonts() + procedural


def split_fonts(fonts: list[FontSpec]) -> tuple[list[FontSpec], list[FontSpec]]:
    """(training fonts, held-out fonts). Procedural styles are in both: they are print styles with
    random geometry, not fixed typefaces, and the test must cover them."""
    train = [f for f in fonts if f.name not in HELD_OUT_FONTS]
    held_out = [
        f
        for f in fonts
        if f.name in HELD_OUT_FONTS or f.kind in (FontKind.DOT_MATRIX, FontKind.SEVEN_SEGMENT)
    ]
    return train, held_out
