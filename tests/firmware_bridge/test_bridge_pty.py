"""End to end over real pseudo-terminals: SerialSink <-> noisy relay <-> C example firmware."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
import tty
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from bridge_support import NoisyRelay, PtyFirmware, wait_for

from firmware_bridge.testing import Received

from firmware_bridge import SerialSink, SinkOptions

READ_LINE = re.compile(
    r"READ item=(?P<item>\d+) verdict=(?P<verdict>\S+) grade=(?P<grade>\S) "
    r"confidence=(?P<confidence>[\d.]+) text=(?P<text>.*)"
)


@dataclass
class Pty:
    """A pty pair; the slave end is kept open (and raw) so the master never sees EIO."""

    master: int
    slave: int
    path: str

    @classmethod
    def open(cls) -> Pty:
        master, slave = os.openpty()
        tty.setraw(slave)
        return cls(master, slave, os.ttyname(slave))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.master)
        with contextlib.suppress(OSError):
            os.close(self.slave)


@dataclass
class Firmware:
    """The compiled example_firmware, its stdout lines collected by a thread."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, binary: Path, *args: str) -> Firmware:
        process = subprocess.Popen(
            [str(binary), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        firmware = cls(process)
        for stream, sink in ((process.stdout, firmware.lines), (process.stderr, firmware.errors)):
            threading.Thread(target=_collect, args=(stream, sink), daemon=True).start()
        return firmware

    def reads(self) -> list[dict[str, str]]:
        matches = [READ_LINE.fullmatch(line) for line in list(self.lines)]
        assert all(matches), [line for line, m in zip(self.lines, matches, strict=True) if not m]
        return [m.groupdict() for m in matches if m]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=5)
        time.sleep(0.05)  # let the collector threads drain the pipes
        return code


def _collect(stream: Any, lines: list[str]) -> None:
    lines.extend(line.rstrip("\n") for line in stream)


@pytest.fixture
def ptys() -> Iterator[tuple[Pty, Pty]]:
    recognizer_side, firmware_side = Pty.open(), Pty.open()
    yield recognizer_side, firmware_side
    recognizer_side.close()
    firmware_side.close()


def event(item: int, verdict: str | None) -> dict[str, Any]:
    text = f"LOT{item:04d}"
    return {
        "item": item,
        "timestamp": 1_700_000_000.0 + item,
        "text": text,
        "lines": [{"text": text, "confidence": 0.9}],
        "confidence": 0.9,
        "verdict": verdict,
        "grade": "A",
    }


class ExpectedCode:
    """What a recognizer keeps from SET_EXPECTED, and the OCV verdict it implies."""

    def __init__(self) -> None:
        self.text: str | None = None
        self.changed = threading.Event()

    def set(self, text: str) -> None:
        self.text = text
        self.changed.set()

    def verdict(self, read_text: str) -> str | None:
        if self.text is None:
            return None
        return "pass" if read_text == self.text else "fail"


def test_thousand_reads_through_a_noisy_line_arrive_once_in_order(
    c_build: Path, ptys: tuple[Pty, Pty], tmp_path: Path
) -> None:
    recognizer_side, firmware_side = ptys
    relay = NoisyRelay(
        recognizer_side.master, firmware_side.master, drop=0.001, flip=0.001, seed=20240607
    )
    firmware = Firmware.start(
        c_build / "example_firmware", "--set-expected-after", "500", "LOT0700", firmware_side.path
    )
    expected = ExpectedCode()
    options = SinkOptions(ack_timeout_s=0.04, max_retries=100, heartbeat_s=0.25)
    started = time.monotonic()
    sink = SerialSink(
        f"serial:{recognizer_side.path}?baud=115200",
        on_expected=expected.set,
        spool_path=tmp_path / "spool.jsonl",
        options=options,
    )
    try:
        for item in range(1, 1001):
            if item == 501:
                # The firmware sends SET_EXPECTED once it has 500 items; wait for it so the
                # verdict change lands at a known item.
                assert expected.changed.wait(20), "no SET_EXPECTED from the firmware"
                assert expected.text == "LOT0700"
            sink.send(event(item, expected.verdict(f"LOT{item:04d}")))
        assert sink.flush(40), "reads still unacknowledged"
    finally:
        sink.close()
        relay.stop()
        firmware.stop()
    elapsed = time.monotonic() - started

    reads = firmware.reads()
    assert [int(read["item"]) for read in reads] == list(range(1, 1001))  # once, in order
    assert all(read["text"] == f"LOT{int(read['item']):04d}" for read in reads)
    assert all(read["grade"] == "A" and read["confidence"] == "0.9000" for read in reads)
    verdicts = [read["verdict"] for read in reads]
    assert verdicts[:500] == ["none"] * 500
    assert verdicts[500:] == ["pass" if item == 700 else "fail" for item in range(501, 1001)]

    # The line really was noisy, and the protocol really had to work for it.
    assert relay.dropped > 0 and relay.flipped > 0
    stats = sink.stats()
    assert stats.retransmits > 0
    assert (stats.acked, stats.spooled, stats.dropped) == (1000, 0, 0)
    summary = next(line for line in firmware.errors if "received=" in line)
    assert "received=1000 " in summary
    rejected = sum(int(n) for n in re.findall(r"(?:cobs|short|too_long|length|crc)=(\d+)", summary))
    assert rejected > 0, summary  # corrupted frames reached the C decoder and were dropped
    assert elapsed < 45, f"took {elapsed:.1f} s"


def test_stdin_line_becomes_set_expected_and_hello_identifies_firmware(
    c_build: Path, ptys: tuple[Pty, Pty]
) -> None:
    recognizer_side, firmware_side = ptys
    relay = NoisyRelay(recognizer_side.master, firmware_side.master, drop=0, flip=0, seed=1)
    firmware = Firmware.start(
        c_build / "example_firmware", "--device-id", "press-7", firmware_side.path
    )
    expected = ExpectedCode()
    sink = SerialSink(
        f"serial:{recognizer_side.path}",
        on_expected=expected.set,
        options=SinkOptions(ack_timeout_s=0.1),
    )
    try:
        wait_for(lambda: sink.firmware_hello is not None, 5, "the firmware's HELLO")
        assert sink.firmware_hello is not None
        assert sink.firmware_hello.device_id == "press-7"
        for item in range(3):
            sink.send(event(item, expected.verdict(f"LOT{item:04d}")))
        assert sink.flush(5)
        assert firmware.process.stdin is not None
        firmware.process.stdin.write("LOT0004\n")
        firmware.process.stdin.flush()
        assert expected.changed.wait(5)
        for item in range(3, 6):
            sink.send(event(item, expected.verdict(f"LOT{item:04d}")))
        assert sink.flush(5)
    finally:
        sink.close()
        relay.stop()
        firmware.stop()
    assert [(read["item"], read["verdict"]) for read in firmware.reads()] == [
        ("0", "none"),
        ("1", "none"),
        ("2", "none"),
        ("3", "fail"),
        ("4", "pass"),
        ("5", "fail"),
    ]
    assert any("SET_EXPECTED seq=" in line and "acknowledged" in line for line in firmware.errors)


def test_example_firmware_reports_a_missing_device_and_bad_arguments(c_build: Path) -> None:
    result = subprocess.run(
        [str(c_build / "example_firmware"), "/dev/does-not-exist"],
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    )
    assert result.returncode == 1
    assert "cannot open /dev/does-not-exist" in result.stderr
    result = subprocess.run(
        [str(c_build / "example_firmware"), "--baud", "12345", "x"],
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    )
    assert result.returncode == 2 and "usage:" in result.stderr


def test_serial_port_unplugged_and_replugged_during_a_run(tmp_path: Path) -> None:
    """A USB adapter goes away and comes back under the same name (a udev symlink here):
    the sink reconnects by itself and every read arrives."""
    link = tmp_path / "ttyEDGE"
    received = Received()
    first = Pty.open()
    link.symlink_to(first.path)
    firmware = PtyFirmware(first.master, received)
    options = SinkOptions(
        ack_timeout_s=0.05,
        max_retries=3,
        backoff_initial_s=0.02,
        backoff_max_s=0.1,
        heartbeat_s=0.05,
    )
    sink = SerialSink(f"serial:{link}", spool_path=tmp_path / "spool.jsonl", options=options)
    second: Pty | None = None
    try:
        for item in range(30):
            sink.send(event(item, None))
        wait_for(lambda: received.count() == 30, 10, "reads before the unplug")

        firmware.stop()
        first.close()  # unplug: the device node disappears
        link.unlink()
        wait_for(lambda: not sink.connected, 5, "the sink to notice the unplug")
        for item in range(30, 60):
            sink.send(event(item, None))  # must neither block nor raise
        time.sleep(0.3)

        second = Pty.open()  # replug
        link.symlink_to(second.path)
        firmware = PtyFirmware(second.master, received)
        wait_for(lambda: received.count() == 60, 15, "reads after the replug")
        assert sink.flush(5)
    finally:
        sink.close()
        firmware.stop()
        if second is not None:
            second.close()
    assert sorted(received.items) == list(range(60))
    assert received.items[:30] == list(range(30))
    stats = sink.stats()
    assert stats.connects >= 2 and stats.disconnects >= 1 and stats.dropped == 0
