"""Sinks through the registry, against real receivers: files, an HTTP server, Mosquitto,
firmware over the serial sink's TCP link; and the delivery thread's replay after an outage."""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from service_support import Broker, Receiver, Subscriber, wait_for

from edge_ocr.events import ItemEvent, LineResult
from edge_ocr.service.config import parse_config
from edge_ocr.service.delivery import Delivery
from edge_ocr.service.sinks import (
    SINK_TYPES,
    FileSink,
    HttpOptions,
    HttpSink,
    Sink,
    SinkContext,
    SinkError,
    SinkRejectedError,
    StdoutSink,
)
from edge_ocr.service.spool import Spool, SpoolLimits
from firmware_bridge.testing import FakeFirmware


def wire(item: int, text: str = "LOT 2291-A") -> dict[str, Any]:
    event = ItemEvent(
        item=item,
        timestamp=1_700_000_000.0 + item,
        lines=(LineResult(text, 0.97), LineResult("EXP 12/27", 0.91)),
        confidence=0.91,
        first_frame=10 * item,
        last_frame=10 * item + 6,
        frames_read=5,
        bbox=(12, 40, 300, 80),
        verdict="pass",
    )
    return event.to_dict()


def make_sink(tmp_path: Path, table_toml: str) -> Sink:
    """Build a sink exactly as the service does: from a config table via the registry."""
    config = parse_config(f"[service]\nstate_dir = '{tmp_path}'\n\n[[sinks]]\n{table_toml}")
    sink = config.sinks[0]
    context = SinkContext(sink.name, "line-1", tmp_path, "lines")
    return SINK_TYPES[sink.type].create(sink.table, sink.options, context)


def test_stdout_sink_writes_one_json_object_per_line() -> None:
    stream = io.StringIO()
    sink = StdoutSink(stream)
    sink.send(wire(1))
    sink.send(wire(2))
    lines = stream.getvalue().splitlines()
    assert [json.loads(line)["item"] for line in lines] == [1, 2]
    assert json.loads(lines[0])["text"] == "LOT 2291-A | EXP 12/27"


def test_file_sink_jsonl_and_csv(tmp_path: Path) -> None:
    jsonl = make_sink(tmp_path, 'type = "file"\npath = "out/events.jsonl"')
    for item in (1, 2, 3):
        jsonl.send(wire(item))
    jsonl.close()
    rows = (tmp_path / "out/events.jsonl").read_text().splitlines()
    assert [json.loads(row)["item"] for row in rows] == [1, 2, 3]

    table = csv.DictReader  # header once, even across reopenings
    for item in (1, 2):
        sink = FileSink(tmp_path / "events.csv", "csv")
        sink.send(wire(item, text='LOT "7", A'))
        sink.close()
    parsed = list(table((tmp_path / "events.csv").open()))
    assert [row["item"] for row in parsed] == ["1", "2"]
    assert parsed[0]["text"] == 'LOT "7", A | EXP 12/27'
    assert parsed[0]["bbox"] == "12 40 300 80" and parsed[0]["verdict"] == "pass"


def test_file_sink_that_cannot_write_is_a_sink_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(SinkError, match="cannot open"):
        FileSink(blocker / "events.jsonl")


def test_http_sink_posts_retries_and_rejects(receiver: Receiver) -> None:
    receiver.start()
    url = f"http://127.0.0.1:{receiver.port}/events"
    sink = HttpSink(HttpOptions(url=url, retries=1, retry_delay_s=0.01, timeout_s=2))
    sink.send(wire(7))
    assert receiver.items() == [7]
    receiver.status = 400
    with pytest.raises(SinkRejectedError, match="HTTP 400"):
        sink.send(wire(8))
    receiver.status = 503
    with pytest.raises(SinkError, match="HTTP 503"):
        sink.send(wire(9))
    receiver.stop()
    with pytest.raises(SinkError, match="refused"):
        sink.send(wire(10))


def test_mqtt_sink_publishes_items_and_a_retained_status(broker: Broker) -> None:
    subscriber = Subscriber(broker.port, "edge-ocr/#")
    try:
        sink = make_sink(Path("/tmp"), f'type = "mqtt"\nport = {broker.port}')
        wait_for(lambda: getattr(sink, "connected", False), 10, "the sink to connect")
        for item in (1, 2, 3):
            sink.send(wire(item))
        wait_for(lambda: len(subscriber.payloads("/items")) == 3, 10, "3 items")
        assert [p["item"] for p in subscriber.payloads("/items")] == [1, 2, 3]
        assert subscriber.messages[0][0] == "edge-ocr/line-1/status"
        sink.close()
        wait_for(lambda: b"offline" in subscriber.raw("/status"), 10, "offline status")
        assert subscriber.raw("/status") == [b"online", b"offline"]
    finally:
        subscriber.close()
    late = Subscriber(broker.port, "edge-ocr/+/status")  # retained: a newcomer sees it
    try:
        wait_for(lambda: bool(late.raw("/status")), 10, "the retained status")
        assert late.messages[0][1:] == (b"offline", True)
    finally:
        late.close()


def test_mqtt_sink_raises_while_the_broker_is_down(tmp_path: Path) -> None:
    pytest.importorskip("paho.mqtt")
    from service_support import free_port

    sink = make_sink(tmp_path, f'type = "mqtt"\nport = {free_port()}')
    try:
        with pytest.raises(SinkError, match=r"mqtt 127\.0\.0\.1"):
            sink.send(wire(1))
    finally:
        sink.close()


def test_serial_sink_delivers_to_firmware_over_tcp(tmp_path: Path) -> None:
    firmware = FakeFirmware()
    try:
        sink = make_sink(
            tmp_path, f'type = "serial"\nurl = "tcp:127.0.0.1:{firmware.port}"\nack_timeout_s = 0.2'
        )
        for item in (5, 6):
            sink.send(wire(item))
        sink.close()
        assert firmware.received.items == [5, 6]
    finally:
        firmware.stop()


def test_serial_sink_to_an_absent_port_is_a_transient_sink_error(tmp_path: Path) -> None:
    with pytest.raises(SinkError, match="serial sink serial:/dev/edge-ocr-absent"):
        make_sink(tmp_path, 'type = "serial"\nurl = "serial:/dev/edge-ocr-absent"')


def test_delivery_replays_everything_after_an_outage(tmp_path: Path, receiver: Receiver) -> None:
    """The receiver is down for the first events: they stay spooled and arrive in order."""
    spool = Spool(tmp_path / "spool", ["http"], SpoolLimits(sync_every=1))
    url = f"http://127.0.0.1:{receiver.port}/"
    delivery = Delivery(
        "http",
        "http",
        spool,
        lambda: HttpSink(HttpOptions(url=url, retries=0, timeout_s=1)),
        backoff_initial_s=0.05,
        backoff_max_s=0.2,
        rejected_path=tmp_path / "rejected.jsonl",
    )
    delivery.start()
    for item in range(1, 6):
        spool.append(wire(item))
    wait_for(lambda: delivery.state().errors > 0, 5, "a failed delivery")
    assert not delivery.state().up and delivery.state().pending == 5
    receiver.start()
    for item in range(6, 11):
        spool.append(wire(item))
    wait_for(lambda: spool.cursor("http") == 10, 10, "every event delivered")
    assert receiver.items() == list(range(1, 11))
    state = delivery.state()
    assert state.up and state.delivered == 10 and state.pending == 0
    receiver.status = 422  # refused for good: set aside, the rest still flows
    spool.append(wire(11))
    wait_for(lambda: spool.cursor("http") == 11, 10, "the refused event to be skipped")
    receiver.status = 200
    spool.append(wire(12))
    wait_for(lambda: spool.cursor("http") == 12, 10, "delivery to continue")
    assert receiver.items()[-1] == 12
    aside = [json.loads(line) for line in (tmp_path / "rejected.jsonl").read_text().splitlines()]
    assert [entry["event"]["item"] for entry in aside] == [11]
    delivery.stop(time.monotonic() + 1)
    assert delivery.join(3)
    spool.close()


def test_stdout_sink_survives_a_closed_stream() -> None:
    stream = io.StringIO()
    stream.close()
    with pytest.raises(SinkError):
        StdoutSink(stream).send(wire(1))
    assert sys.stdout is not None
