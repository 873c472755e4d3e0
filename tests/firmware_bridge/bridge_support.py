"""Shared test support: hypothesis strategies, the C build location, a Python firmware on a
pty and a noisy pty relay (the TCP one is ``firmware_bridge.testing.FakeFirmware``).

The doubles use only the public codec (encode_message, FrameParser), so they exercise it too.
"""

from __future__ import annotations

import os
import random
import select
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import strategies as st

import firmware_bridge
from firmware_bridge import (
    Ack,
    Frame,
    FrameParser,
    Heartbeat,
    Hello,
    Message,
    Nack,
    ProtocolError,
    Read,
    SetExpected,
    Verdict,
    decode_message,
    encode_message,
)

from firmware_bridge.testing import Received

C_DIR = Path(firmware_bridge.__file__).parent / "c"


def decode_kind(frame: Frame) -> str:
    """ "ok", or the ProtocolError kind that decoding the frame's payload raised."""
    try:
        decode_message(frame)
    except ProtocolError as error:
        return error.kind
    return "ok"


def require_gcc() -> None:
    """Skip (with the reason) where the machine cannot build the C side."""
    missing = [tool for tool in ("gcc", "make") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed: the C side cannot be built")


def utf8_text(limit: int) -> st.SearchStrategy[str]:
    """Text whose UTF-8 encoding fits `limit` bytes."""
    return st.text(max_size=limit).filter(lambda text: len(text.encode("utf-8")) <= limit)


confidences = st.integers(0, 10000)
reads = st.builds(
    Read,
    item_id=st.integers(0, 2**32 - 1),
    timestamp_ms=st.integers(0, 2**64 - 1),
    text=utf8_text(255),
    line_confidences=st.lists(confidences, max_size=16).map(tuple),
    confidence=confidences,
    verdict=st.sampled_from(Verdict),
    grade=st.none() | st.sampled_from("ABCDEF"),
)
hellos = st.integers(1, 255).flatmap(
    lambda low: st.builds(
        Hello,
        min_version=st.just(low),
        max_version=st.integers(low, 255),
        software=utf8_text(64),
        device_id=utf8_text(64),
        model_name=utf8_text(64),
    )
)
messages: st.SearchStrategy[Message] = st.one_of(
    reads,
    hellos,
    st.builds(Heartbeat, uptime_ms=st.integers(0, 2**32 - 1), queued=st.integers(0, 65535)),
    st.builds(SetExpected, text=utf8_text(255)),
    st.builds(Ack, seq=st.integers(0, 65535)),
    st.builds(Nack, seq=st.integers(0, 65535), reason=st.integers(0, 255)),
)
seqs = st.integers(0, 65535)


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll `condition` until true; fail with `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.005)


class NoisyRelay:
    """Copies bytes between two pty masters, dropping and bit-flipping a small fraction.

    Both directions are disturbed, so READs, ACKs and SET_EXPECTED all get lost or corrupted
    sometimes: exactly what retransmission, CRC and de-duplication must survive.
    """

    def __init__(self, fd_a: int, fd_b: int, drop: float, flip: float, seed: int) -> None:
        self._fds = (fd_a, fd_b)
        self._drop = drop
        self._flip = flip
        self._random = random.Random(seed)
        self.dropped = 0
        self.flipped = 0
        self.relayed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _disturb(self, data: bytes) -> bytes:
        out = bytearray()
        for byte in data:
            roll = self._random.random()
            if roll < self._drop:
                self.dropped += 1
                continue
            if roll < self._drop + self._flip:
                self.flipped += 1
                out.append(byte ^ (1 << self._random.randrange(8)))
            else:
                out.append(byte)
        return bytes(out)

    def _run(self) -> None:
        fd_a, fd_b = self._fds
        while not self._stop.is_set():
            ready, _, _ = select.select([fd_a, fd_b], [], [], 0.02)
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue
                self.relayed += len(data)
                os.write(fd_b if fd == fd_a else fd_a, self._disturb(data))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


class PtyFirmware:
    """Python firmware on a pty master: ACKs READs, de-duplicates into `received`."""

    def __init__(self, master_fd: int, received: Received) -> None:
        self.received = received
        self._fd = master_fd
        self._parser = FrameParser()
        self._seq = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._fd], [], [], 0.02)
            if not ready:
                continue
            try:
                data = os.read(self._fd, 4096)
            except OSError:  # no slave open right now
                time.sleep(0.01)
                continue
            for frame in self._parser.feed(data):
                message = decode_message(frame)
                if isinstance(message, (Read, Hello)):
                    if isinstance(message, Read):
                        self.received.add(message)
                    self._seq = (self._seq + 1) & 0xFFFF
                    os.write(self._fd, encode_message(Ack(frame.seq), self._seq))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
