"""``edge-ocr serve`` run for real: a subprocess on the built-in conveyor, read by the bundled
model, with a real AF_UNIX notify socket, real signals, a real Mosquitto broker, a real HTTP
receiver, ``kill -9``, and a camera (image folder) that vanishes and comes back."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import cv2
from service_support import Broker, NotifySocket, Receiver, Subscriber, free_port, wait_for

from edge_ocr.conveyor import ConveyorConfig, ConveyorStream

SPEED = 1500.0  # px/s: an item crosses the 640-pixel view in about 15 frames
SEED = 3
WATCHDOG_USEC = 2_000_000  # the service must ping about every second


def config_text(
    state: Path, sinks: str, *, source: str = "", extra: str = "", metrics_port: int = 0
) -> str:
    return f"""\
[service]
device = "line-7"
state_dir = "{state}"
status_interval_s = 0.25
drain_timeout_s = 15.0

[source]
{source or 'uri = "synthetic"' + chr(10) + 'at_end = "reopen"'}
retry_initial_s = 0.1
retry_max_s = 0.4

[source.synthetic]
items = 8
speed = {SPEED}
seed = {SEED}

[model]
name = "lines"
accel = "cpu"

[metrics]
enabled = {"true" if metrics_port else "false"}
port = {metrics_port}

[spool]
sync_interval_s = 0.05
{extra}
{sinks}
"""


class Serve:
    """``edge-ocr serve`` in a subprocess, its stderr in a file."""

    def __init__(self, config: Path, notify: NotifySocket | None = None) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop("NOTIFY_SOCKET", None)
        if notify is not None:
            env.update(NOTIFY_SOCKET=notify.path, WATCHDOG_USEC=str(WATCHDOG_USEC))
        self.log = config.with_suffix(f".{time.monotonic_ns()}.log")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "edge_ocr.cli", "serve", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("wb"),
            env=env,
        )

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout_s: float = 30.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.wait(timeout_s)

    def wait(self, timeout_s: float) -> int:
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"serve did not exit:\n{self.stderr()}") from None

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
            self.process.wait(10)


def jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def spooled(state: Path) -> list[dict[str, Any]]:
    """Every event in the spool, in order (what the service promised to deliver)."""
    records: list[dict[str, Any]] = []
    for segment in sorted((state / "spool").glob("segment-*.jsonl")):
        for line in segment.read_text().splitlines():
            record = json.loads(line)
            assert record["event"]["item"] == record["seq"]
            records.append(record["event"])
    return records


def truth_texts() -> set[str]:
    stream = ConveyorStream(ConveyorConfig(items=8, speed=SPEED, seed=SEED))
    return {item.text for item in stream.truth}


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics:\n{text}")


def test_systemd_lifecycle_reload_and_clean_stop(
    tmp_path: Path, notify_socket: NotifySocket
) -> None:
    """READY after loading, watchdog pings from the loop, STATUS, SIGHUP reload without a lost
    read, metrics, SIGTERM: STOPPING, exit 0, every spooled event delivered exactly once."""
    state = tmp_path / "state"
    port = free_port()
    config = tmp_path / "config.toml"
    one_sink = '[[sinks]]\ntype = "file"\nname = "a"\npath = "a.jsonl"\n'
    config.write_text(config_text(state, one_sink, metrics_port=port))
    serve = Serve(config, notify_socket)
    try:
        wait_for(lambda: bool(notify_socket.seen("READY=1")), 30, "READY=1")
        ready = notify_socket.seen("READY=1")[0]
        assert notify_socket.seen("STATUS=loading model")[0] < ready
        wait_for(lambda: len(jsonl(state / "a.jsonl")) >= 3, 30, "three items")
        statuses = [line for _, line in notify_socket.fields() if line.startswith("STATUS=running")]
        assert any(" fps, " in s and " items" in s and "sinks: a up" in s for s in statuses)

        code, body = http_get(f"http://127.0.0.1:{port}/metrics")
        assert code == 200 and metric(body, "edge_ocr_items_total") >= 3
        assert metric(body, 'edge_ocr_sink_up{sink="a",type="file"}') == 1
        assert http_get(f"http://127.0.0.1:{port}/healthz") == (200, "ok\n")

        # Reload: a second sink, and a pipeline setting that rebuilds the pipeline.
        before_reload = len(jsonl(state / "a.jsonl"))
        two_sinks = one_sink + '[[sinks]]\ntype = "file"\nname = "b"\npath = "b.jsonl"\n'
        config.write_text(
            config_text(
                state, two_sinks, metrics_port=port, extra="[pipeline.track]\nmin_reads = 1\n"
            )
        )
        sent_hup = time.monotonic()
        serve.process.send_signal(signal.SIGHUP)
        wait_for(
            lambda: any(t > sent_hup for t in notify_socket.seen("READY=1")),
            20,
            "READY=1 after the reload",
        )
        reloading = [t for t in notify_socket.seen("RELOADING=1") if t > sent_hup]
        assert reloading and reloading[0] < notify_socket.seen("READY=1")[-1]
        wait_for(lambda: len(jsonl(state / "b.jsonl")) >= 3, 30, "items in the new sink")
        assert len(jsonl(state / "a.jsonl")) > before_reload

        # A broken config on reload is refused; the service keeps running the old one.
        config.write_text("[source]\nuri = 3\n")
        sent_hup = time.monotonic()
        serve.process.send_signal(signal.SIGHUP)
        wait_for(
            lambda: any(t > sent_hup for t in notify_socket.seen("READY=1")),
            20,
            "READY=1 after the refused reload",
        )
        assert "reload: " in serve.stderr() and "source.uri: must be a string" in serve.stderr()
        assert serve.alive()

        wait_for(
            lambda: len([t for t in notify_socket.seen("WATCHDOG=1") if t > ready]) >= 4,
            10,
            "four watchdog pings",
        )
        assert serve.stop() == 0, serve.stderr()
    finally:
        serve.kill()
    pings = [t for t in notify_socket.seen("WATCHDOG=1") if t > ready]
    gaps = sorted(b - a for a, b in itertools.pairwise(pings))
    interval = WATCHDOG_USEC / 1e6
    assert gaps[0] > 0.45 * interval  # at half the interval, not at every frame...
    assert gaps[len(gaps) // 2] < interval  # ...and well before systemd would give up
    assert notify_socket.seen("STOPPING=1")
    assert "Traceback" not in serve.stderr()
    events = spooled(state)
    a_items = [event["item"] for event in jsonl(state / "a.jsonl")]
    assert a_items == list(range(1, len(events) + 1))  # each once, in order, none lost
    b_items = [event["item"] for event in jsonl(state / "b.jsonl")]
    assert b_items == list(range(b_items[0], len(events) + 1))  # nothing lost after the switch
    assert b_items[0] > before_reload
    # The real pipeline and the bundled model: events are the cartons' printed texts.
    truth = truth_texts()
    right = sum(event["text"] in truth for event in events)
    assert right >= 0.5 * len(events), [event["text"] for event in events]
    cursors = json.loads((state / "spool/cursors.json").read_text())["cursors"]
    assert cursors == {"a": len(events), "b": len(events)}


def test_mqtt_broker_restart_loses_nothing(tmp_path: Path, broker: Broker) -> None:
    """Stop Mosquitto mid-run and start it again: every item still arrives, a duplicate only
    ever repeats an item id with identical content."""
    state = tmp_path / "state"
    config = tmp_path / "config.toml"
    sinks = f"""\
[[sinks]]
type = "mqtt"
port = {broker.port}
reconnect_max_s = 1
ack_timeout_s = 2.0
backoff_initial_s = 0.1
backoff_max_s = 0.5

[[sinks]]
type = "file"
name = "reference"
path = "all.jsonl"
"""
    source = 'uri = "synthetic"\nat_end = "reopen"\nrealtime = true'
    config.write_text(config_text(state, sinks, source=source))
    subscriber = Subscriber(broker.port, "edge-ocr/line-7/#")
    serve = Serve(config)
    try:
        wait_for(lambda: len(subscriber.payloads("/items")) >= 2, 40, "items over MQTT")
        assert subscriber.raw("/status")[0] == b"online"
        broker.stop()
        stopped_at = len(jsonl(state / "all.jsonl"))
        wait_for(
            lambda: len(jsonl(state / "all.jsonl")) >= stopped_at + 3,
            30,
            "items read while the broker is down",
        )
        broker.start()
        wait_for(lambda: len(jsonl(state / "all.jsonl")) >= stopped_at + 5, 30, "more items")
        assert serve.stop() == 0, serve.stderr()
        reference = {event["item"]: event for event in jsonl(state / "all.jsonl")}
        wait_for(
            lambda: {p["item"] for p in subscriber.payloads("/items")} >= set(reference),
            20,
            "every item over MQTT",
        )
        wait_for(lambda: subscriber.raw("/status")[-1:] == [b"offline"], 10, "offline status")
    finally:
        serve.kill()
        subscriber.close()
    received = subscriber.payloads("/items")
    assert {p["item"] for p in received} == set(reference) == set(range(1, len(reference) + 1))
    for payload in received:
        assert payload == reference[payload["item"]]  # duplicates: same id, same content
    assert "mqtt: disconnected" in serve.stderr()


def test_kill_9_then_restart_delivers_what_was_spooled(tmp_path: Path, receiver: Receiver) -> None:
    state = tmp_path / "state"
    config = tmp_path / "config.toml"
    sinks = f"""\
[[sinks]]
type = "http"
url = "http://127.0.0.1:{receiver.port}/events"
retries = 0
timeout_s = 2.0
backoff_initial_s = 0.1
backoff_max_s = 0.3
"""
    config.write_text(config_text(state, sinks))
    first = Serve(config)
    try:
        wait_for(lambda: len(spooled(state)) >= 4, 40, "events spooled while the receiver is down")
        first.process.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        first.kill()
    stranded = [event["item"] for event in spooled(state)]
    assert receiver.items() == [] and stranded == list(range(1, len(stranded) + 1))
    receiver.start()
    second = Serve(config)
    try:
        wait_for(lambda: set(receiver.items()) >= set(stranded), 40, "the stranded events")
        assert second.stop() == 0, second.stderr()
    finally:
        second.kill()
    delivered = receiver.items()
    assert set(delivered) == set(range(1, len(spooled(state)) + 1))  # none lost after the kill
    assert delivered[: len(stranded)] == stranded  # replayed first, in order


def test_a_vanishing_camera_is_retried_with_capped_backoff(
    tmp_path: Path, notify_socket: NotifySocket
) -> None:
    """The image folder disappears mid-stream: backoff 0.1, 0.2, 0.4, 0.4 s, STATUS and
    /healthz say so; it comes back: the stream resumes and, at its end, the service stops."""
    frames = tmp_path / "camera"
    frames.mkdir()
    stream = ConveyorStream(ConveyorConfig(items=3, speed=SPEED, seed=SEED))
    for index in range(stream.frame_count):
        cv2.imwrite(str(frames / f"{index:04d}.png"), stream.frame(index))
    state = tmp_path / "state"
    config = tmp_path / "config.toml"
    port = free_port()
    source = f'uri = "{frames}"\nrealtime = true\nat_end = "stop"'
    config.write_text(
        config_text(
            state,
            '[[sinks]]\ntype = "file"\npath = "out.jsonl"\n',
            source=source,
            metrics_port=port,
        )
    )
    serve = Serve(config, notify_socket)
    away = tmp_path / "unplugged"
    try:
        wait_for(lambda: bool(notify_socket.seen("READY=1")), 30, "READY=1")
        frames.rename(away)  # unplugged
        wait_for(lambda: serve.stderr().count("retrying in 0.4 s") >= 2, 20, "backoff at its cap")
        assert http_get(f"http://127.0.0.1:{port}/healthz")[0] == 503
        assert any("source down (" in line for _, line in notify_socket.fields())
        pings_down = len(notify_socket.seen("WATCHDOG=1"))
        time.sleep(0.5)
        assert len(notify_socket.seen("WATCHDOG=1")) > pings_down  # the loop itself is healthy
        away.rename(frames)  # plugged back in
        assert serve.wait(60) == 0, serve.stderr()
    finally:
        serve.kill()
    log = serve.stderr()
    delays = [float(part.split(" s")[0]) for part in log.split("retrying in ")[1:]]
    assert delays[:4] == [0.1, 0.2, 0.4, 0.4]
    assert "is back" in log and "ended: stopping" in log
    back = [t for t, line in notify_socket.fields() if line.startswith("STATUS=running")]
    down = [t for t, line in notify_socket.fields() if "source down (" in line]
    assert back[-1] > down[-1]  # status recovered
    assert len(jsonl(state / "out.jsonl")) >= 1
