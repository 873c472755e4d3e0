"""The character set shared by training and the device, and label encoding for CTC.

Class 0 is the CTC blank; character ``i`` of the charset is class ``i + 1``. Keeping the blank
first matches ``keras.ops.ctc_loss``'s default ``mask_index=0``.
"""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ -/:."
BLANK_INDEX = 0


class CharsetError(ValueError):
    """A label holds a character the model cannot produce."""


def validate_charset(charset: str) -> None:
    """Refuse charsets that would make decoding ambiguous."""
    if not charset:
        raise CharsetError("charset is empty")
    if len(set(charset)) != len(charset):
        duplicates = sorted({c for c in charset if charset.count(c) > 1})
        raise CharsetError(f"charset repeats characters: {''.join(duplicates)!r}")


def num_classes(charset: str) -> int:
    """Charset plus the CTC blank."""
    return len(charset) + 1


def unknown_characters(text: str, charset: str) -> str:
    """The characters of ``text`` outside ``charset``, sorted and unique (empty when all fit)."""
    allowed = set(charset)
    return "".join(sorted({c for c in text if c not in allowed}))


def encode(text: str, charset: str) -> list[int]:
    """Class indices of ``text`` (blank excluded)."""
    missing = unknown_characters(text, charset)
    if missing:
        raise CharsetError(f"characters outside the charset: {missing!r} in {text!r}")
    index = {c: i + 1 for i, c in enumerate(charset)}
    return [index[c] for c in text]


def decode_indices(indices: Sequence[int], charset: str) -> str:
    """Text of class indices, skipping blanks."""
    return "".join(charset[i - 1] for i in indices if i != BLANK_INDEX)
