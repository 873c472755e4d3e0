"""Character datasets: labelled folders, the digits split, synthetic characters, bad inputs."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from training.chars import (
    CHAR_CHARSET,
    DIGITS_TEST_SIZE,
    CharSet,
    CharSynthesizer,
    balance_report,
    charset_of_labels,
    cut_verdict,
    digits_split,
    generate_char_set,
    load_char_folder,
    non_char_boxes,
    resolve_char_data,
    stratified_split,
    synthetic_fonts,
)
from training.data import DatasetError


def _glyph(char: str, width: int = 41, height: int = 63) -> np.ndarray:
    """A dark character on light paper, any size (the user's crops were 81x127)."""
    image = np.full((height, width), 220, np.uint8)
    cv2.putText(image, char, (4, height - 12), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 30, 4)
    return image


def _folder(root: Path, labels: dict[str, int]) -> Path:
    for name, count in labels.items():
        (root / name).mkdir(parents=True)
        for index in range(count):
            label = {"slash": "/", "dot": "."}.get(name, name)
            cv2.imwrite(str(root / name / f"{index}.png"), _glyph(label))
    return root


def test_label_folders_are_binned_to_the_model_input(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "data", {"7": 3, "A": 2, "slash": 2})
    chars = load_char_folder(folder, height=32, width=24)
    assert chars.images.shape == (7, 32, 24)
    assert chars.images.dtype == np.uint8
    assert chars.charset == "7A/"  # the labels found, in the default charset's order
    assert sorted(chars.texts()) == sorted("777AA//")
    # text bright on a zero background, whatever the crop's polarity
    assert chars.images[:, 0, :].max() < 60 and chars.images.max() == 255


def test_labels_csv_is_read_and_keeps_a_space_label(tmp_path: Path) -> None:
    folder = tmp_path / "csv"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), _glyph("4"))
    cv2.imwrite(str(folder / "b.png"), _glyph("-"))
    (folder / "labels.csv").write_text("file,label\na.png,4\nb.png,-\n", encoding="utf-8")
    chars = load_char_folder(folder, charset="0123456789-")
    assert chars.texts() == ["4", "-"]
    assert chars.charset == "0123456789-"


def test_unreadable_and_missing_files_are_skipped_with_path_and_reason(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "data", {"1": 2})
    (folder / "1" / "broken.png").write_bytes(b"not a png at all")
    (folder / "labels.txt").write_text("ignored")
    chars = load_char_folder(folder)
    assert len(chars) == 2
    assert len(chars.problems) == 1
    assert "broken.png" in str(chars.problems[0])
    assert "not a readable image" in str(chars.problems[0])

    csv_folder = tmp_path / "csv"
    csv_folder.mkdir()
    cv2.imwrite(str(csv_folder / "ok.png"), _glyph("1"))
    (csv_folder / "labels.csv").write_text("ok.png,1\ngone.png,1\nonly-a-file\n", encoding="utf-8")
    chars = load_char_folder(csv_folder)
    reasons = [str(p) for p in chars.problems]
    assert any("gone.png" in r and "missing file" in r for r in reasons)
    assert any("labels.csv:3" in r and "file,label" in r for r in reasons)


def test_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"no labels\.csv and no label folders"):
        load_char_folder(tmp_path / "empty")
    (tmp_path / "empty" / "A").mkdir()
    with pytest.raises(DatasetError, match="no labelled images"):
        load_char_folder(tmp_path / "empty")
    with pytest.raises(DatasetError, match="not found"):
        load_char_folder(tmp_path / "nowhere")


def test_only_unreadable_images_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "bad" / "A").mkdir(parents=True)
    (tmp_path / "bad" / "A" / "x.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(DatasetError, match=r"no usable labelled images.*x\.png"):
        load_char_folder(tmp_path / "bad")


def test_label_outside_the_charset_is_a_clear_error(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "data", {"1": 1, "a": 1})
    with pytest.raises(DatasetError, match=r"labels not in the charset.*'a'.*--charset"):
        load_char_folder(folder, charset=CHAR_CHARSET)
    with pytest.raises(DatasetError, match="not one character"):
        load_char_folder(_folder(tmp_path / "words", {"AB": 1}))


def test_balance_report_names_missing_and_rare_classes() -> None:
    labels = np.array([0] * 30 + [1] * 2, dtype=np.int64)
    chars = CharSet(np.zeros((32, 4, 4), np.uint8), labels, "XYZ", ["s"] * 32, ["k"] * 32)
    notes = " ".join(balance_report(chars))
    assert "'Z'" in notes and "'Y': 2" in notes and "imbalanced" in notes
    assert charset_of_labels(["B", "1", "a", "-"]) == "1B-a"


def test_digits_split_is_the_fixed_stratified_1257_540() -> None:
    train, test = digits_split(32, 24)
    assert (len(train), len(test)) == (1257, DIGITS_TEST_SIZE)
    assert train.images.shape[1:] == (32, 24)
    assert set(np.bincount(test.labels)) <= {52, 53, 54, 55}  # stratified: ~54 per class
    again_train, _ = digits_split(32, 24)
    assert np.array_equal(train.labels, again_train.labels)


def test_stratified_split_keeps_single_image_classes_in_training() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2], dtype=np.int64)
    train, test = stratified_split(labels, 0.5, seed=0)
    assert 8 in train and 8 not in test
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(9))
    many = np.repeat(np.arange(40), 4).astype(np.int64)  # 15% of 160 is fewer than 40 classes
    train, test = stratified_split(many, 0.15, seed=0)
    assert set(many[test]) == set(many[train]) == set(range(40))


def test_synthetic_characters_are_reproducible_and_cover_every_style() -> None:
    chars = generate_char_set(120, seed=5, height=32, width=24)
    again = generate_char_set(120, seed=5, height=32, width=24)
    assert np.array_equal(chars.images, again.images)
    assert np.array_equal(chars.labels, again.labels)
    assert chars.images.shape == (120, 32, 24)
    assert {"truetype", "dot_matrix", "seven_segment"} <= set(chars.kinds)
    assert chars.charset == CHAR_CHARSET
    # crops keep text bright on a dark background
    assert float(np.median(chars.images[:, 0, :])) < 40


def test_held_out_synthetic_characters_use_no_training_font() -> None:
    train = generate_char_set(60, seed=1)
    held_out = generate_char_set(60, seed=1, held_out=True)
    printed_fonts = {"dot-matrix-5x7", "seven-segment"}
    assert not (set(train.sources) & set(held_out.sources)) - printed_fonts


def test_resolve_rejects_test_data_for_fixed_splits(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="--test-data"):
        resolve_char_data("digits", str(tmp_path))
    folder = _folder(tmp_path / "data", {"1": 4, "2": 4})
    split = resolve_char_data(str(folder))
    assert len(split.train) + len(split.test) == 8
    assert set(split.test.texts()) == {"1", "2"}


def test_synthetic_split_tests_printed_and_degraded_held_out_characters() -> None:
    split = resolve_char_data("synthetic", synthetic_train=40, synthetic_test=30)
    assert len(split.train) == 40
    assert len(split.test) == 30
    assert set(split.extra_tests) == {"held_out_degraded"}
    degraded = split.extra_tests["held_out_degraded"]
    assert len(degraded) == 30
    held_out = {font.name for font in synthetic_fonts(held_out=True)}
    assert set(split.test.sources) | set(degraded.sources) <= held_out
    assert not np.array_equal(split.test.images, degraded.images)


def test_synth_chars_writes_a_folder_the_char_loader_reads(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from training.cli import app

    out = tmp_path / "chars"
    result = CliRunner().invoke(
        app, ["synth", "--kind", "chars", "--count", "30", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    loaded = load_char_folder(out)
    assert len(loaded) == 30
    assert not loaded.problems
    assert set(loaded.charset) <= set(CHAR_CHARSET)
    crop = cv2.imread(str(out / "000000.png"), cv2.IMREAD_GRAYSCALE)
    assert crop is not None
    assert np.median(crop) > 128  # dark print on light paper, as a scan would be


DRAWN = ((0, 0, 10, 20), (12, 0, 10, 20), (24, 0, 4, 20))


@pytest.mark.parametrize(
    ("box", "verdict"),
    [
        ((0, 0, 10, 20), "char"),
        ((9, 0, 14, 20), "char"),  # a column of the neighbour is not a second character
        ((0, 0, 22, 20), "non_char"),  # two merged
        ((12, 0, 14, 20), "non_char"),  # one and half of the next
        ((0, 0, 5, 20), "non_char"),  # half of one
        ((0, 0, 7, 20), "unsure"),  # most of one: may still look like it
    ],
)
def test_cut_verdicts(box: tuple[int, int, int, int], verdict: str) -> None:
    assert cut_verdict(box, DRAWN) == verdict


def test_wrong_cuts_come_from_the_guided_lattice_and_hold_no_whole_character() -> None:
    synthesizer = CharSynthesizer(synthetic_fonts(held_out=False))
    rng = np.random.default_rng(4)
    fragments = merges = 0
    for _ in range(12):
        line = synthesizer.draw(rng)
        if line is None:
            continue
        for box in non_char_boxes(line.segmentation, line.drawn, rng, merge_share=0.5):
            assert cut_verdict(box, line.drawn) == "non_char"
            x0, x1 = box[0], box[0] + box[2]
            covered = [min(x1, x + w) - max(x0, x) >= 0.35 * w for x, _, w, _ in line.drawn]
            merges += sum(covered) >= 2
            fragments += sum(covered) < 2
    assert fragments > 0 and merges > 0, (fragments, merges)


def test_non_character_sets_join_character_sets_as_one_more_class() -> None:
    chars = generate_char_set(40, seed=2, charset="0147")
    wrong = generate_char_set(20, seed=3, charset="0147", non_char=True)
    assert wrong.non_char and set(wrong.labels.tolist()) == {4}
    assert set(wrong.texts()) == {"<not a char>"}
    joined = CharSet.concatenate([chars, wrong])
    assert joined.non_char and joined.classes == 5 and len(joined) == 60
    real = joined.real_chars()
    assert not real.non_char and real.classes == 4
    assert np.array_equal(real.images, chars.images)


def test_synthetic_split_with_non_characters(tmp_path: Path) -> None:
    split = resolve_char_data(
        "synthetic", synthetic_train=40, synthetic_test=20, synthetic_non_chars=24
    )
    assert split.train.non_char and int(np.sum(split.train.labels == len(CHAR_CHARSET))) == 24
    assert not split.test.non_char  # the character test stays characters only
    assert split.non_char_test is not None and len(split.non_char_test) == 6
    held_out = {font.name for font in synthetic_fonts(held_out=True)}
    assert set(split.non_char_test.sources) <= held_out
    with pytest.raises(DatasetError, match="--non-chars"):
        resolve_char_data(str(_folder(tmp_path / "data", {"1": 4})), synthetic_non_chars=5)
