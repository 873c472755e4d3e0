"""Random label strings: industrial codes as printers put them on packs, and captcha strings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np

DIGITS = "0123456789"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ALNUM = DIGITS + LETTERS
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def _pick(rng: np.random.Generator, options: tuple[str, ...] | list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _chars(rng: np.random.Generator, alphabet: str, count: int) -> str:
    return "".join(alphabet[i] for i in rng.integers(0, len(alphabet), size=count))


def random_date(rng: np.random.Generator) -> dt.date:
    start = dt.date(2018, 1, 1)
    return start + dt.timedelta(days=int(rng.integers(0, 365 * 15)))


def format_date(date: dt.date, rng: np.random.Generator) -> str:
    """One of the date layouts seen on packs (ISO, European, US, short year, month names)."""
    layouts = (
        "%Y-%m-%d",
        "%d/%m/%Y",
        "%m/%d/%Y",
        "%d.%m.%Y",
        "%d.%m.%y",
        "%d/%m/%y",
        "%Y/%m/%d",
        "%d-%m-%Y",
        "%m/%Y",
        "%m/%y",
        "%Y%m%d",
        "%d%m%y",
    )
    if rng.random() < 0.15:
        separator = _pick(rng, (" ", "-", ""))
        return f"{date.day:02d}{separator}{MONTHS[date.month - 1]}{separator}{date.year}"
    return date.strftime(_pick(rng, layouts))


def format_time(rng: np.random.Generator) -> str:
    hour, minute, second = int(rng.integers(24)), int(rng.integers(60)), int(rng.integers(60))
    if rng.random() < 0.5:
        return f"{hour:02d}:{minute:02d}"
    return f"{hour:02d}:{minute:02d}:{second:02d}"


def lot_code(rng: np.random.Generator) -> str:
    prefix = _pick(rng, ("LOT ", "LOT:", "LOT: ", "L", "L ", "BATCH ", "B/N ", "LOT NO. ", ""))
    body = _chars(rng, ALNUM if rng.random() < 0.6 else DIGITS, int(rng.integers(4, 10)))
    return prefix + body


def expiry_code(rng: np.random.Generator) -> str:
    prefix = _pick(
        rng,
        (
            "EXP ",
            "EXP:",
            "EXP: ",
            "BEST BEFORE ",
            "BB ",
            "USE BY ",
            "MFG ",
            "PROD ",
            "BBE ",
            "E ",
            "",
        ),
    )
    text = prefix + format_date(random_date(rng), rng)
    if rng.random() < 0.25:
        text += " " + format_time(rng)
    return text


def serial_code(rng: np.random.Generator) -> str:
    prefix = _pick(rng, ("SN ", "S/N ", "SN:", "P/N ", "REF ", "ID ", ""))
    groups = int(rng.integers(1, 4))
    sep = _pick(rng, ("-", "/", " ", "."))
    return prefix + sep.join(
        _chars(rng, ALNUM if rng.random() < 0.5 else DIGITS, int(rng.integers(2, 6)))
        for _ in range(groups)
    )


def time_code(rng: np.random.Generator) -> str:
    text = format_time(rng)
    if rng.random() < 0.5:
        text += (
            " " + _pick(rng, ("L", "LINE ", "S", "")) + _chars(rng, DIGITS, int(rng.integers(1, 3)))
        )
    return text


def date_lot_code(rng: np.random.Generator) -> str:
    return format_date(random_date(rng), rng) + " " + _chars(rng, ALNUM, int(rng.integers(3, 7)))


def random_line(rng: np.random.Generator, charset: str) -> str:
    """Uniform random characters with spaces: every class seen equally often, no language prior."""
    length = int(rng.integers(3, 16))
    text = _chars(rng, charset, length)
    return " ".join(text.split()) or _chars(rng, ALNUM, 3)


def captcha_text(
    rng: np.random.Generator, min_length: int = 4, max_length: int = 6, emphasis: str = ""
) -> str:
    """Uniform random 0-9A-Z; each character of ``emphasis`` is one more draw ticket for it
    (``"O0O0"`` makes 'O' and '0' three times as frequent), to give a hard pair more examples."""
    return _chars(rng, ALNUM + emphasis, int(rng.integers(min_length, max_length + 1)))


CODE_GENERATORS: tuple[Callable[[np.random.Generator], str], ...] = (
    lot_code,
    expiry_code,
    serial_code,
    time_code,
    date_lot_code,
)


def code_line(rng: np.random.Generator, charset: str) -> str:
    """An industrial code line, or (one time in four) uniform random characters."""
    if rng.random() < 0.25:
        return random_line(rng, charset)
    generator = CODE_GENERATORS[int(rng.integers(len(CODE_GENERATORS)))]
    return generator(rng)


def restrict(text: str, alphabet: str, rng: np.random.Generator) -> str:
    """Replace characters a print style cannot draw (7-segment letters) by drawable ones."""
    drawable = [c for c in alphabet if c not in " "]
    out = "".join(c if c in alphabet else _pick(rng, drawable[:10]) for c in text)
    return " ".join(out.split()) or "0"
