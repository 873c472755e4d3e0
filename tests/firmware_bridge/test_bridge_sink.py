"""SerialSink over TCP against a Python firmware: delivery, spool, reconnection, errors."""

from __future__ import annotations

import itertools
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from bridge_support import wait_for

from firmware_bridge.testing import FakeFirmware, Received

from firmware_bridge import (
    LinkError,
    Read,
    SerialSink,
    SerialSpec,
    SinkOptions,
    TcpSpec,
    Verdict,
    parse_sink_url,
)
from firmware_bridge.link import Link
from firmware_bridge.sink import read_from_event

FAST = SinkOptions(
    ack_timeout_s=0.05,
    max_retries=2,
    heartbeat_s=0.1,
    backoff_initial_s=0.02,
    backoff_max_s=0.2,
    close_timeout_s=1.0,
)


def event(item: int, text: str | None = None, **extra: Any) -> dict[str, Any]:
    """A recognizer event as the runtime produces it."""
    text = text if text is not None else f"LOT{item:04d}"
    return {
        "item": item,
        "timestamp": 1_700_000_000.0 + item / 10,
        "text": text,
        "lines": [{"text": text, "confidence": 0.97}],
        "confidence": 0.97,
        **extra,
    }


def spooled_items(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [json.loads(line)["item_id"] for line in path.read_text().splitlines() if line]


# ---------------------------------------------------------------------- URLs and events
@pytest.mark.parametrize(
    ("url", "spec"),
    [
        ("serial:/dev/ttyUSB0?baud=115200", SerialSpec("/dev/ttyUSB0", 115200)),
        ("serial:/dev/ttyACM1", SerialSpec("/dev/ttyACM1", 115200)),
        ("serial:COM3?baud=9600", SerialSpec("COM3", 9600)),
        ("tcp:192.168.1.20:5020", TcpSpec("192.168.1.20", 5020)),
        ("tcp://plc.local:4000", TcpSpec("plc.local", 4000)),
        ("tcp:[::1]:5000", TcpSpec("::1", 5000)),
    ],
)
def test_parse_sink_url(url: str, spec: SerialSpec | TcpSpec) -> None:
    assert parse_sink_url(url) == spec
    assert parse_sink_url(str(spec)) == spec


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("/dev/ttyUSB0", "expected serial:PATH"),
        ("serial:", "expected serial:PATH"),
        ("serial:?baud=9600", "path is empty"),
        ("serial:/dev/ttyUSB0?baud=fast", "baud must be a positive integer"),
        ("serial:/dev/ttyUSB0?parity=E", "unknown option 'parity'"),
        ("tcp:plc.local", "expected tcp:HOST:PORT"),
        ("tcp:plc.local:99999", "port must be an integer"),
        ("mqtt:broker:1883", "unknown scheme 'mqtt'"),
    ],
)
def test_parse_sink_url_errors_name_the_problem(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint) as error:
        parse_sink_url(url)
    assert url in str(error.value)


def test_event_to_read() -> None:
    read = read_from_event(
        {
            "item": 12,
            "timestamp": 1_700_000_000.1234,
            "text": "LOT 1 | EXP 2",
            "lines": [{"text": "LOT 1", "confidence": 0.5}, {"text": "EXP 2", "confidence": 2}],
            "confidence": 0.5,
            "verdict": "no-read",
            "grade": "B",
        }
    )
    assert read == Read(
        12, 1_700_000_000_123, "LOT 1 | EXP 2", (5000, 10000), 5000, Verdict.NO_READ, "B"
    )
    long = read_from_event(event(1, text="é" * 200, lines=[{"confidence": 1.0}] * 20))
    assert len(long.text.encode()) == 254 and len(long.line_confidences) == 16
    assert read_from_event(event(2, verdict=None, confidence=float("nan"))).confidence == 0


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"item": -1}, "item"),
        ({"item": "7"}, "item"),
        ({"timestamp": -5.0}, "timestamp"),
        ({"verdict": "ok"}, "verdict"),
        ({"grade": "Z"}, "grade"),
        ({"lines": [{"text": "x"}]}, "confidence"),
    ],
)
def test_malformed_events_are_refused_clearly(change: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        read_from_event({**event(1), **change})
    with pytest.raises(ValueError, match="timestamp"):
        read_from_event({"item": 1, "text": "x"})


# ---------------------------------------------------------------------- start-up errors
def test_missing_serial_port_is_a_clear_one_line_error(tmp_path: Path) -> None:
    missing = tmp_path / "ttyUSB9"
    with pytest.raises(LinkError) as error:
        SerialSink(f"serial:{missing}?baud=115200")
    message = str(error.value)
    assert message == (
        f"cannot open serial port {missing} at 115200 baud: No such file or directory"
    )


def test_unreachable_tcp_peer_is_a_clear_one_line_error() -> None:
    firmware = FakeFirmware()
    port = firmware.port
    firmware.stop()  # nothing listens there any more
    with pytest.raises(LinkError, match=f"cannot open tcp link 127.0.0.1:{port}: ") as error:
        SerialSink(f"tcp:127.0.0.1:{port}")
    assert "\n" not in str(error.value)


def test_bad_option_names_the_key() -> None:
    with pytest.raises(ValueError, match="ack_timeout_s must be > 0"):
        SinkOptions(ack_timeout_s=0)


def test_options_from_a_config_table() -> None:
    options = SinkOptions.from_mapping(
        {"ack_timeout_s": 1, "max_retries": 3, "device_id": "line-4"}
    )
    assert (options.ack_timeout_s, options.max_retries, options.device_id) == (1, 3, "line-4")
    where = "/etc/edge-ocr/config.toml [sink]"
    with pytest.raises(ValueError, match=r"config.toml \[sink\]: unknown key 'ack_timeout'"):
        SinkOptions.from_mapping({"ack_timeout": 1}, where)
    with pytest.raises(ValueError, match=r"max_retries must be an integer, got 2\.5"):
        SinkOptions.from_mapping({"max_retries": 2.5}, where)
    with pytest.raises(ValueError, match="queue_size must be an integer, got True"):
        SinkOptions.from_mapping({"queue_size": True}, where)
    with pytest.raises(ValueError, match=r"\[sink\]: sink option poll_s must be > 0"):
        SinkOptions.from_mapping({"poll_s": 0}, where)


# ---------------------------------------------------------------------- delivery
def test_reads_are_delivered_in_order_and_expected_codes_arrive() -> None:
    firmware = FakeFirmware()
    expected: list[str] = []
    sink = SerialSink(f"tcp:127.0.0.1:{firmware.port}", on_expected=expected.append, options=FAST)
    try:
        for item in range(200):
            sink.send(event(item))
        assert sink.flush(10)
        assert firmware.received.items == list(range(200))
        assert firmware.received.reads[7].text == "LOT0007"
        assert firmware.received.hellos == 1
        # A retransmitted SET_EXPECTED (same seq) reaches the callback once, ACKed each time.
        seq = firmware.send_set_expected("LOT0300", copies=3)
        wait_for(lambda: firmware.acked_expected.count(seq) == 3, 5, "3 ACKs")
        assert expected == ["LOT0300"]
        firmware.send_set_expected("LOT0301")
        wait_for(lambda: expected == ["LOT0300", "LOT0301"], 5, "second expected code")
        stats = sink.stats()
        assert (stats.sent, stats.acked, stats.dropped, stats.spooled) == (200, 200, 0, 0)
    finally:
        sink.close()
        firmware.stop()


def test_send_returns_immediately_even_when_firmware_is_silent(tmp_path: Path) -> None:
    firmware = FakeFirmware(ack=False)
    sink = SerialSink(f"tcp:127.0.0.1:{firmware.port}", spool_path=tmp_path / "spool", options=FAST)
    try:
        started = time.monotonic()
        for item in range(500):
            sink.send(event(item))
        assert time.monotonic() - started < 0.5
    finally:
        sink.close()
        firmware.stop()


def test_unacknowledged_reads_are_spooled_and_resent_after_reconnection(
    tmp_path: Path,
) -> None:
    spool = tmp_path / "spool.jsonl"
    received = Received()
    silent = FakeFirmware(received, ack=False)
    sink = SerialSink(f"tcp:127.0.0.1:{silent.port}", spool_path=spool, options=FAST)
    for item in range(5):
        sink.send(event(item))
    # Each read: 1 + max_retries tries of 50 ms, then the spool.
    wait_for(lambda: len(spooled_items(spool)) == 5, 5, "all reads spooled")
    sink.close()
    silent.stop()
    assert spooled_items(spool) == [0, 1, 2, 3, 4]
    assert received.count() == 0

    # A new run (or a reconnection) re-sends the spool before new reads.
    firmware = FakeFirmware(received)
    sink = SerialSink(f"tcp:127.0.0.1:{firmware.port}", spool_path=spool, options=FAST)
    try:
        sink.send(event(5))
        wait_for(lambda: received.count() == 6, 5, "spooled and new reads")
        assert received.items == [0, 1, 2, 3, 4, 5]
        wait_for(lambda: spooled_items(spool) == [], 5, "spool emptied")
    finally:
        sink.close()
        firmware.stop()
    assert spooled_items(spool) == []


def test_refused_read_goes_to_the_rejected_file(tmp_path: Path) -> None:
    spool = tmp_path / "spool.jsonl"
    firmware = FakeFirmware(nack_items=frozenset({3}))
    sink = SerialSink(f"tcp:127.0.0.1:{firmware.port}", spool_path=spool, options=FAST)
    try:
        for item in range(6):
            sink.send(event(item))
        assert sink.flush(5)
    finally:
        sink.close()
        firmware.stop()
    assert firmware.received.items == [0, 1, 2, 4, 5]
    assert spooled_items(tmp_path / "spool.jsonl.rejected") == [3]
    assert spooled_items(spool) == []
    assert sink.stats().rejected == 1


def test_firmware_restart_during_a_run_loses_no_read(tmp_path: Path) -> None:
    """Stop the TCP peer mid-run, keep sending, restart it on the same port: every read
    arrives exactly once after de-duplication, and nothing stays in the spool."""
    received = Received()
    firmware = FakeFirmware(received)
    port = firmware.port
    spool = tmp_path / "spool.jsonl"
    options = SinkOptions(
        ack_timeout_s=0.05,
        max_retries=2,
        heartbeat_s=0.05,
        backoff_initial_s=0.02,
        backoff_max_s=0.1,
        queue_size=64,
    )
    sink = SerialSink(f"tcp:127.0.0.1:{port}", spool_path=spool, options=options)
    try:
        for item in range(50):
            sink.send(event(item))
        wait_for(lambda: received.count() == 50, 10, "first 50 reads")
        firmware.stop()
        wait_for(lambda: not sink.connected, 5, "the sink to notice the disconnection")
        for item in range(50, 200):  # more than queue_size: the overflow goes to the spool
            sink.send(event(item))
        time.sleep(0.3)  # several reconnection attempts fail meanwhile
        assert sink.stats().disconnects >= 1
        firmware = FakeFirmware(received, port=port)
        for item in range(200, 250):
            sink.send(event(item))
        wait_for(lambda: received.count() == 250, 15, "all 250 reads after the restart")
        assert sorted(received.items) == list(range(250))
        assert received.items[:50] == list(range(50))
        wait_for(lambda: spooled_items(spool) == [], 5, "spool emptied")
        stats = sink.stats()
        assert stats.connects >= 2 and stats.spooled > 0 and stats.dropped == 0
    finally:
        sink.close()
        firmware.stop()


def test_send_and_close_on_a_dead_link_do_not_raise(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = tmp_path / "spool.jsonl"
    firmware = FakeFirmware()
    sink = SerialSink(f"tcp:127.0.0.1:{firmware.port}", spool_path=spool, options=FAST)
    firmware.stop()
    with caplog.at_level(logging.WARNING, logger="firmware_bridge"):
        for item in range(3):
            sink.send(event(item))
        sink.close()
        sink.send(event(3))  # after close: spooled, not raised
    assert sorted(spooled_items(spool)) == [0, 1, 2, 3]
    assert not any(record.exc_info for record in caplog.records)


def test_without_a_spool_overflow_is_counted_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    firmware = FakeFirmware(ack=False)
    options = SinkOptions(ack_timeout_s=5, queue_size=4, close_timeout_s=0)
    sink = SerialSink(f"tcp:127.0.0.1:{firmware.port}", options=options)
    try:
        with caplog.at_level(logging.ERROR, logger="firmware_bridge"):
            for item in range(10):
                sink.send(event(item))
        assert sink.stats().dropped >= 5
        assert "read lost" in caplog.text
    finally:
        sink.close()
        firmware.stop()


class FlakyOpener:
    """Link opener that fails `failures` times before opening a real TCP link."""

    def __init__(self, port: int, failures: int) -> None:
        self.port = port
        self.failures = failures
        self.attempts: list[float] = []

    def open(self, poll_s: float) -> Link:
        self.attempts.append(time.monotonic())
        if len(self.attempts) == 1 or len(self.attempts) > self.failures + 1:
            return TcpSpec("127.0.0.1", self.port).open(poll_s)
        raise LinkError("cannot open flaky link: not yet")


def test_reconnection_backoff_is_exponential_and_capped() -> None:
    firmware = FakeFirmware()
    opener = FlakyOpener(firmware.port, failures=7)
    options = SinkOptions(backoff_initial_s=0.01, backoff_max_s=0.08, ack_timeout_s=0.05)
    sink = SerialSink(opener, options=options)
    try:
        firmware.stop()
        firmware = FakeFirmware(port=opener.port)
        wait_for(lambda: len(opener.attempts) >= 9, 10, "reconnection attempts")
        wait_for(lambda: sink.connected, 5, "reconnection")
        sink.send(event(1))
        assert sink.flush(5)
        assert firmware.received.items == [1]
    finally:
        sink.close()
        firmware.stop()
    # attempts[0] is the start; [1] follows the disconnection; gaps then double up to the cap.
    # Expected gaps: 0.01, 0.02, 0.04, 0.08, 0.08, 0.08, 0.08. Uncapped, the last would be
    # 0.64 s; the bounds leave room for a loaded machine's scheduling delays.
    gaps = [later - earlier for earlier, later in itertools.pairwise(opener.attempts[1:])]
    assert len(gaps) >= 7
    assert gaps[0] < 0.05
    assert gaps[2] >= 0.04 * 0.9 and gaps[3] >= 0.08 * 0.9
    assert all(gap < 0.3 for gap in gaps)


def test_damaged_spool_lines_are_skipped_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A spool cut short by a power failure still delivers every complete line."""
    spool = tmp_path / "spool.jsonl"
    good = {
        "item_id": 1,
        "timestamp_ms": 5,
        "text": "LOT1",
        "line_confidences": [9000],
        "confidence": 9000,
        "verdict": 1,
        "grade": "A",
    }
    spool.write_text(
        json.dumps(good)
        + "\n"
        + '{"item_id": 2, "timest\n'
        + json.dumps({**good, "item_id": 3, "verdict": 9})
        + "\n"
        + json.dumps({**good, "item_id": 4})
        + "\n"
    )
    firmware = FakeFirmware()
    with caplog.at_level(logging.ERROR, logger="firmware_bridge"):
        sink = SerialSink(f"tcp:127.0.0.1:{firmware.port}", spool_path=spool, options=FAST)
        try:
            wait_for(lambda: firmware.received.count() == 2, 5, "the two valid spooled reads")
        finally:
            sink.close()
            firmware.stop()
    assert firmware.received.items == [1, 4]
    assert firmware.received.reads[1] == Read(1, 5, "LOT1", (9000,), 9000, Verdict.PASS, "A")
    assert "line 2 is damaged" in caplog.text and "line 3 is damaged" in caplog.text
    assert spooled_items(spool) == []
