"""The C99 firmware side: strict build, sanitized tests, and differential fuzzing vs Python."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from bridge_support import C_DIR, decode_kind, messages, require_gcc, seqs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge import (
    Ack,
    FrameParser,
    Message,
    Read,
    encode_message,
)
from firmware_bridge.crc import crc16_ccitt_false
from firmware_bridge.protocol import encode_raw_frame
from firmware_bridge.vectors import VECTORS_PATH

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_make_test_builds_strictly_and_passes_under_sanitizers() -> None:
    """`make -C firmware_bridge/c test`: -std=c99 -Wall -Wextra -Werror -pedantic, ASan+UBSan."""
    require_gcc()
    # -B: rebuild from scratch, so the strict flags really are applied in this run.
    result = subprocess.run(
        ["make", "-B", "-C", str(C_DIR), "test"], capture_output=True, text=True, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    compiles = [line for line in output.splitlines() if line.startswith("gcc ")]
    assert len(compiles) == 3, output
    assert all("-std=c99 -Wall -Wextra -Werror -pedantic" in line for line in compiles)
    assert "-fsanitize=address,undefined" in compiles[0]
    vectors = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))["vectors"]
    assert f"vectors: {len(vectors)} checked" in output  # the C side read every vector
    assert "checks passed" in output


class CHarness:
    """`test_link --fuzz` kept running: one hex line in, the frames it decoded out."""

    def __init__(self, binary: Path) -> None:
        self._process = subprocess.Popen(
            [str(binary), "--fuzz"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={"ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1"},
        )

    def decode(self, data: bytes) -> list[tuple[str, str]]:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(data.hex() + "\n")
        self._process.stdin.flush()
        frames: list[tuple[str, str]] = []
        while True:
            line = self._process.stdout.readline()
            assert line, f"C decoder died (exit {self._process.poll()}) on {data.hex()}"
            fields = line.split()
            if fields == ["E"]:
                return frames
            assert fields[0] == "F", line
            frames.append((fields[1], fields[2]))

    def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        assert self._process.wait(timeout=10) == 0, "C harness exited with an error"


@pytest.fixture(scope="module")
def harness(c_build: Path) -> Iterator[CHarness]:
    running = CHarness(c_build / "test_link")
    yield running
    running.close()


def python_decode(data: bytes) -> list[tuple[str, str]]:
    """What the Python side makes of the same bytes, in the harness's format."""
    return [(frame.raw().hex(), decode_kind(frame)) for frame in FrameParser().feed(data)]


def check_same(harness: CHarness, data: bytes) -> list[tuple[str, str]]:
    from_c = harness.decode(data)
    assert from_c == python_decode(data)
    for raw_hex, _ in from_c:
        raw = bytes.fromhex(raw_hex)
        assert crc16_ccitt_false(raw[:-2]) == int.from_bytes(raw[-2:], "little")
    return from_c


def test_harness_sees_valid_frames(harness: CHarness) -> None:
    """Guard against a vacuous differential test: valid input does produce frames."""
    wire = encode_message(Ack(9), 1) + encode_message(Read(5, 6, "LOT1"), 2)
    assert [status for _, status in check_same(harness, wire)] == ["ok", "ok"]


@SETTINGS
@given(data=st.binary(max_size=2000))
def test_c_decoder_survives_random_bytes_like_python(harness: CHarness, data: bytes) -> None:
    check_same(harness, data)


@SETTINGS
@given(
    batch=st.lists(st.tuples(messages, seqs), min_size=1, max_size=8),
    flips=st.lists(st.integers(0, 10**6), max_size=4),
    cut=st.integers(0, 10**6),
    noise=st.binary(max_size=20),
)
def test_c_and_python_agree_on_damaged_streams(
    harness: CHarness,
    batch: list[tuple[Message, int]],
    flips: list[int],
    cut: int,
    noise: bytes,
) -> None:
    """Valid frames with bit flips, a truncation and inserted noise: same frames out of both,
    and every frame either side accepts has a CRC that checks."""
    stream = bytearray(b"".join(encode_message(message, seq) for message, seq in batch))
    for position in flips:
        stream[(position // 8) % len(stream)] ^= 1 << (position % 8)
    position = cut % (len(stream) + 1)
    damaged = bytes(stream[:position]) + noise + bytes(stream[position:])
    check_same(harness, damaged)
    check_same(harness, bytes(stream[: cut % (len(stream) + 1)]))


@st.composite
def frames_with_damaged_payloads(draw: st.DrawFn) -> bytes:
    """A frame whose CRC checks but whose payload was edited, cut or extended."""
    message = draw(messages)
    payload = bytearray(message.encode_payload())
    for position, value in draw(
        st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=3)
    ):
        if payload:
            payload[position % len(payload)] = value
    damaged = bytes(payload[: draw(st.integers(0, 600))]) + draw(st.binary(max_size=4))
    version = draw(st.sampled_from([1, 1, 1, 2]))
    msg_type = draw(st.sampled_from([message.TYPE] * 4 + list(range(9))))
    return encode_raw_frame(version, msg_type, 7, damaged)


@SETTINGS
@given(wire=frames_with_damaged_payloads())
def test_c_and_python_agree_on_damaged_payloads_with_valid_crc(
    harness: CHarness, wire: bytes
) -> None:
    """Both sides must accept or refuse such a payload identically (ok / version /
    unknown_type / malformed)."""
    assert len(check_same(harness, wire)) == 1
