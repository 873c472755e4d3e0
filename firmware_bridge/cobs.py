"""Consistent Overhead Byte Stuffing (COBS).

COBS removes every zero byte from a frame at a cost of one byte per 254, so a single zero
byte can delimit frames on the wire. A receiver that joins mid-stream or sees garbage
resynchronises at the next zero: no escape state can be lost, unlike SLIP or HDLC stuffing.
"""

from __future__ import annotations


class CobsError(ValueError):
    """The bytes between two delimiters are not a valid COBS encoding."""


def cobs_max_encoded_len(decoded_len: int) -> int:
    """Largest COBS encoding of `decoded_len` bytes (without the zero delimiter)."""
    return decoded_len + decoded_len // 254 + 1


def cobs_encode(data: bytes) -> bytes:
    """Encode `data` so that the result contains no zero byte (delimiter not included)."""
    out = bytearray()
    block = bytearray()
    for byte in data:
        if byte == 0:
            out.append(len(block) + 1)
            out += block
            block.clear()
        else:
            block.append(byte)
            if len(block) == 254:
                out.append(0xFF)
                out += block
                block.clear()
    out.append(len(block) + 1)
    out += block
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Decode one COBS block sequence (without the delimiter); raise CobsError if invalid.

    The rules match the byte-at-a-time decoder in c/edge_ocr_link.c exactly: a zero byte
    inside the data, or a code byte that points past the end, is an error.
    """
    out = bytearray()
    index = 0
    end = len(data)
    while index < end:
        code = data[index]
        if code == 0:
            raise CobsError("zero byte inside a COBS frame")
        stop = index + code
        if stop > end:
            raise CobsError("COBS code byte points past the end of the frame")
        block = data[index + 1 : stop]
        if 0 in block:
            raise CobsError("zero byte inside a COBS frame")
        out += block
        index = stop
        if code != 0xFF and index < end:
            out.append(0)
    return bytes(out)
