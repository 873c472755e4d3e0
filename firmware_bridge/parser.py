"""Streaming frame parser: bytes in any chunking, checked frames out.

Serial lines deliver bytes in arbitrary pieces and sometimes garbage (a firmware boot
banner, line noise, a half frame after reconnecting). The parser keeps bytes up to the next
zero delimiter, drops anything that does not decode to a frame with a valid CRC, and counts
why, so a noisy link shows up in statistics instead of in wrong reads.
"""

from __future__ import annotations

from collections import Counter

from firmware_bridge.cobs import CobsError, cobs_decode, cobs_max_encoded_len
from firmware_bridge.protocol import MAX_FRAME, Frame, ProtocolError, parse_frame

# Longest run of non-zero bytes that can still hold a MAX_FRAME frame; longer runs are noise.
MAX_ENCODED = cobs_max_encoded_len(MAX_FRAME)


class FrameParser:
    """Feed bytes, get frames; `errors` counts rejected chunks by kind (same names as C)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._overflow = False
        self.errors: Counter[str] = Counter()

    def feed(self, data: bytes) -> list[Frame]:
        """Consume `data` and return every complete, checked frame it finished."""
        frames: list[Frame] = []
        start = 0
        while True:
            end = data.find(0, start)
            if end < 0:
                self._append(data[start:])
                return frames
            self._append(data[start:end])
            frame = self._finish()
            if frame is not None:
                frames.append(frame)
            start = end + 1

    def _append(self, chunk: bytes) -> None:
        if self._overflow:
            return
        self._buffer += chunk
        if len(self._buffer) > MAX_ENCODED:
            # Too long to be a frame: drop it now rather than buffer noise without bound.
            self._overflow = True
            self._buffer.clear()

    def _finish(self) -> Frame | None:
        encoded = bytes(self._buffer)
        overflow = self._overflow
        self._buffer.clear()
        self._overflow = False
        if overflow:
            self.errors["too_long"] += 1
            return None
        if not encoded:
            return None  # back-to-back delimiters are legal padding
        try:
            return parse_frame(cobs_decode(encoded))
        except CobsError:
            self.errors["cobs"] += 1
        except ProtocolError as error:
            self.errors[error.kind] += 1
        return None
