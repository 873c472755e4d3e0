"""``python -m training synth``: write synthetic images and labels to look at or train from."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer


def synth(
    out: Annotated[Path, typer.Option("--out", help="Folder for PNGs and labels.csv.")],
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            help="lines (printed codes), captcha (mixed captcha styles), imagecaptcha "
            "(the captcha package only) or chars (single characters cut from printed lines "
            "as the device cuts them; labels.csv is file,label, for train --kind char).",
        ),
    ] = "lines",
    count: Annotated[int, typer.Option("--count", min=1)] = 100,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    held_out: Annotated[
        bool, typer.Option("--held-out", help="Render with the held-out test fonts.")
    ] = False,
    fonts: Annotated[
        list[Path] | None, typer.Option("--fonts", help="Extra folder of .ttf/.otf fonts.")
    ] = None,
    quality: Annotated[
        str,
        typer.Option(
            "--quality",
            help="lines: how degraded the prints are: harsh (the training mix), moderate "
            "(a working camera installation) or clean (the print as rendered).",
        ),
    ] = "harsh",
) -> None:
    """Generate ``count`` labelled images: PNGs plus ``labels.csv`` (``file,text``)."""
    import cv2
    import numpy as np
    from rich.progress import track

    from training.synth import PRINT_QUALITIES, synthetic_sources

    if quality not in PRINT_QUALITIES:
        typer.echo(
            f"training: error: --quality must be {', '.join(PRINT_QUALITIES)}, not {quality!r}",
            err=True,
        )
        raise typer.Exit(2)
    if kind not in ("lines", "captcha", "imagecaptcha", "chars"):
        typer.echo(
            f"training: error: --kind must be lines, captcha, imagecaptcha or chars, not {kind!r}",
            err=True,
        )
        raise typer.Exit(2)
    if kind == "chars":
        _synth_chars(out, count, seed, held_out, tuple(fonts or ()))
        return
    try:
        source = synthetic_sources(
            kind, held_out, tuple(fonts or ()), quality=PRINT_QUALITIES[quality]
        )
    except (FileNotFoundError, ValueError) as error:
        typer.echo(f"training: error: {error}", err=True)
        raise typer.Exit(2) from None
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with (out / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "text", "font", "style", "degradations"])
        for index in track(range(count), description=f"rendering {kind}", transient=True):
            sample = source.sample(rng)
            name = f"{index:06d}.png"
            cv2.imwrite(str(out / name), sample.image)
            degradations = " ".join(sample.degradations)
            writer.writerow([name, sample.text, sample.font, sample.font_kind, degradations])
    typer.echo(f"wrote {count} images and labels.csv to {out}")


def _synth_chars(out: Path, count: int, seed: int, held_out: bool, fonts: tuple[Path, ...]) -> None:
    """``count`` character crops and ``labels.csv`` (``file,label,font,style``)."""
    import cv2
    import numpy as np

    from training.chars import CharSynthesizer
    from training.fonts import all_fonts, split_fonts

    train_fonts, test_fonts = split_fonts(all_fonts(fonts))
    synthesizer = CharSynthesizer(test_fonts if held_out else train_fonts)
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    with (out / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label", "font", "style"])
        while written < count:
            for crop, label, font, style in synthesizer.cuts(rng)[: count - written]:
                name = f"{written:06d}.png"
                cv2.imwrite(str(out / name), 255 - crop)  # dark print on light, as scanned
                writer.writerow([name, synthesizer.charset[label], font, style])
                written += 1
    typer.echo(f"wrote {written} character crops and labels.csv to {out}")
