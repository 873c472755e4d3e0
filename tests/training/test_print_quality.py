"""Print-quality profiles of the line synthesizer: what each one may and may not do to a print."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from training.cli import app
from training.synth import CLEAN, HARSH, MODERATE, LineSynthesizer, synthetic_sources


def _notes(source: LineSynthesizer, count: int = 300) -> Counter[str]:
    rng = np.random.default_rng(5)
    return Counter(note for _ in range(count) for note in source.sample(rng).degradations)


def test_training_draws_from_the_harsh_mix_by_default() -> None:
    assert synthetic_sources("lines", held_out=False).quality is HARSH


def test_clean_prints_keep_only_style_and_polarity() -> None:
    notes = _notes(synthetic_sources("lines", held_out=True, quality=CLEAN))
    assert set(notes) <= {"light_on_dark", "captcha"}
    assert notes["light_on_dark"] > 0


def test_moderate_has_every_camera_degradation_but_no_illegible_extremes() -> None:
    moderate = _notes(synthetic_sources("lines", held_out=True, quality=MODERATE))
    harsh = _notes(synthetic_sources("lines", held_out=True))
    kept = {"blur", "motion_blur", "low_resolution", "noise", "jpeg", "geometry", "uneven_light"}
    assert kept <= set(moderate)
    assert {"low_contrast", "salt_pepper"} <= set(harsh)
    assert not {"low_contrast", "salt_pepper"} & set(moderate)


def test_synth_writes_the_chosen_quality_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    out = tmp_path / "clean"
    result = CliRunner().invoke(
        app, ["synth", "--kind", "lines", "--count", "12", "--quality", "clean", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    with (out / "labels.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12
    assert all(set(row["degradations"].split()) <= {"light_on_dark", "captcha"} for row in rows)

    refused = CliRunner().invoke(
        app, ["synth", "--count", "2", "--quality", "blurry", "--out", str(tmp_path / "x")]
    )
    assert refused.exit_code == 2
    assert "--quality must be harsh, moderate, clean" in refused.output


def test_moderate_share_replaces_that_share_of_harsh_training_draws() -> None:
    from training.line_run import synthetic_source

    def extremes(share: float) -> int:
        source = synthetic_source("lines", held_out=False, moderate_share=share)
        rng = np.random.default_rng(3)
        notes = [source.sample(rng).degradations for _ in range(400)]
        return sum(bool({"low_contrast", "salt_pepper"} & set(n)) for n in notes)

    harsh, half, moderate = extremes(0.0), extremes(0.5), extremes(1.0)
    assert moderate == 0
    assert 0.25 * harsh < half < 0.8 * harsh
