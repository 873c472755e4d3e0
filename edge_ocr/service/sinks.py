"""Where item events go: one small interface, an explicit registry chosen by ``type``.

A sink is ``send(event) -> None`` and ``close() -> None``. ``send`` returns only once the event
is delivered (written and flushed, acknowledged by the MQTT broker, answered 2xx by the HTTP
server, accepted by the serial sink's own acknowledged queue and spool) and raises:

- ``SinkError`` when it could not deliver *now* (broker down, connection refused): the
  delivery worker backs off and replays from the spool, so nothing is lost;
- ``SinkRejectedError`` when the receiver refused this event for good (HTTP 4xx): retrying the same
  bytes cannot help, so it is written to the state directory's ``rejected-<sink>.jsonl``.

The registry is a plain dict, not discovery: a type that is unknown, or whose library is not
installed (``mqtt`` without paho-mqtt), is a startup error that names it. Heavy or optional
libraries are imported inside ``create`` and ``available``, so the service starts fast and
``validate-config`` works on a device without them.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import io
import json
import logging
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

log = logging.getLogger("edge_ocr.service")

# HTTP statuses that mean "try again later", not "this event is refused".
RETRYABLE_HTTP = {408, 425, 429}


class SinkError(Exception):
    """The event could not be delivered now; the caller retries it later (one-line message)."""


class SinkRejectedError(Exception):
    """The receiver refused this event for good; retrying the same event cannot succeed."""


class Sink(Protocol):
    """What every sink implements; see the module docstring for the delivery contract."""

    def send(self, event: Mapping[str, Any]) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SinkContext:
    """What a sink may need from the service besides its own options."""

    name: str
    device: str
    state_dir: Path
    model_name: str = ""
    on_expected: Callable[[str], None] | None = None
    """Where a firmware's SET_EXPECTED goes (the serial sink calls it on its own thread)."""


# ----------------------------------------------------------------------------- stdout
@dataclass(frozen=True)
class StdoutOptions:
    """No options: one JSON object per line on standard output (journald captures it)."""


class StdoutSink:
    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream

    def send(self, event: Mapping[str, Any]) -> None:
        stream = self._stream or sys.stdout
        try:
            stream.write(json.dumps(event, ensure_ascii=False) + "\n")
            stream.flush()
        except (OSError, ValueError) as error:  # ValueError: a closed stream
            raise SinkError(f"cannot write to standard output: {error}") from error

    def close(self) -> None:
        stream = self._stream or sys.stdout
        with contextlib.suppress(OSError, ValueError):
            stream.flush()


# ------------------------------------------------------------------------------- file
CSV_COLUMNS = (
    "item",
    "timestamp",
    "text",
    "confidence",
    "verdict",
    "grade",
    "detail",
    "first_frame",
    "last_frame",
    "frames_read",
    "bbox",
)


@dataclass(frozen=True)
class FileOptions:
    """``path`` (relative paths are in the state directory); ``format`` jsonl or csv."""

    path: str
    format: str = "jsonl"
    fsync: bool = False

    def problems(self) -> list[tuple[str, str]]:
        found = []
        if self.format not in ("jsonl", "csv"):
            found.append(("format", f"must be 'jsonl' or 'csv', got {self.format!r}"))
        if not self.path:
            found.append(("path", "must not be empty"))
        return found


class FileSink:
    """Appends one line per event (JSON lines, or CSV with a header when the file is new)."""

    def __init__(self, path: Path, fmt: str = "jsonl", fsync: bool = False) -> None:
        self.path = path
        self.format = fmt
        self.fsync = fsync
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            new = not path.exists() or path.stat().st_size == 0
            self._handle = path.open("a", encoding="utf-8", newline="")
        except OSError as error:
            raise SinkError(f"cannot open {path}: {error.strerror or error}") from error
        if fmt == "csv" and new:
            self._write_row(list(CSV_COLUMNS))

    def _write_row(self, row: list[Any]) -> None:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(row)
        self._write(buffer.getvalue())

    def _write(self, text: str) -> None:
        try:
            self._handle.write(text)
            self._handle.flush()
            if self.fsync:
                os.fsync(self._handle.fileno())
        except OSError as error:
            raise SinkError(f"cannot write {self.path}: {error.strerror or error}") from error

    def send(self, event: Mapping[str, Any]) -> None:
        if self.format == "jsonl":
            self._write(json.dumps(event, ensure_ascii=False) + "\n")
            return
        row = [event.get(column) for column in CSV_COLUMNS]
        row[CSV_COLUMNS.index("bbox")] = " ".join(str(v) for v in event.get("bbox") or ())
        self._write_row(["" if value is None else value for value in row])

    def close(self) -> None:
        try:
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError as error:
            log.warning("sink file %s: cannot flush on close: %s", self.path, error)
        finally:
            self._handle.close()


# ------------------------------------------------------------------------------- mqtt
@dataclass(frozen=True)
class MqttOptions:
    """Broker and topics; items go to ``<topic_prefix>/<device>/items``, QoS 1 by default."""

    host: str = "127.0.0.1"
    port: int = 1883
    topic_prefix: str = "edge-ocr"
    qos: int = 1
    client_id: str = ""
    username: str = ""
    password: str = ""
    keepalive_s: int = 30
    ack_timeout_s: float = 5.0
    reconnect_max_s: int = 30

    def problems(self) -> list[tuple[str, str]]:
        found = []
        if not 0 < self.port < 65536:
            found.append(("port", f"must be in 1..65535, got {self.port}"))
        if self.qos not in (0, 1, 2):
            found.append(("qos", f"must be 0, 1 or 2, got {self.qos}"))
        if not self.topic_prefix or any(c in self.topic_prefix for c in "#+"):
            found.append(("topic_prefix", "must be a non-empty topic without # or +"))
        if self.keepalive_s < 5:
            found.append(("keepalive_s", f"must be >= 5, got {self.keepalive_s}"))
        if self.ack_timeout_s <= 0:
            found.append(("ack_timeout_s", f"must be > 0, got {self.ack_timeout_s}"))
        if self.reconnect_max_s < 1:
            found.append(("reconnect_max_s", f"must be >= 1, got {self.reconnect_max_s}"))
        return found


def mqtt_topics(prefix: str, device: str) -> tuple[str, str]:
    """(items topic, status topic) for a device."""
    base = f"{prefix.rstrip('/')}/{device}"
    return f"{base}/items", f"{base}/status"


class MqttSink:
    """Publishes each event and waits for the broker's acknowledgement (QoS 1/2).

    The ``status`` topic holds a retained ``online`` while connected and ``offline``
    otherwise (set as the last will, so a crash or lost network also reads ``offline``).
    paho's network thread reconnects on its own; while it is disconnected ``send`` raises
    ``SinkError`` and the spool keeps the events for replay.
    """

    def __init__(self, options: MqttOptions, context: SinkContext) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.options = options
        self.items_topic, self.status_topic = mqtt_topics(options.topic_prefix, context.device)
        self._connected = threading.Event()
        self._last_error = "not connected yet"
        client_id = options.client_id or f"edge-ocr-{context.device}-{context.name}"
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id
        )
        if options.username:
            self._client.username_pw_set(options.username, options.password or None)
        self._client.will_set(self.status_topic, "offline", qos=1, retain=True)
        self._client.reconnect_delay_set(min_delay=1, max_delay=options.reconnect_max_s)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        try:
            self._client.connect_async(options.host, options.port, options.keepalive_s)
        except (OSError, ValueError) as error:
            raise SinkError(f"mqtt {options.host}:{options.port}: {error}") from error
        self._client.loop_start()

    def _on_connect(self, client: Any, _userdata: Any, _flags: Any, reason: Any, _p: Any) -> None:
        if getattr(reason, "is_failure", False):
            self._last_error = f"broker refused the connection: {reason}"
            return
        client.publish(self.status_topic, "online", qos=1, retain=True)
        self._connected.set()
        log.info("mqtt: connected to %s:%d", self.options.host, self.options.port)

    def _on_disconnect(
        self, _client: Any, _userdata: Any, _flags: Any, reason: Any, _p: Any
    ) -> None:
        if self._connected.is_set():
            log.warning(
                "mqtt: disconnected from %s:%d (%s)", self.options.host, self.options.port, reason
            )
        self._connected.clear()
        self._last_error = f"disconnected ({reason})"

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def send(self, event: Mapping[str, Any]) -> None:
        where = f"mqtt {self.options.host}:{self.options.port}"
        if not self._connected.is_set():
            raise SinkError(f"{where}: {self._last_error}")
        payload = json.dumps(event, ensure_ascii=False)
        info = self._client.publish(self.items_topic, payload, qos=self.options.qos)
        if self.options.qos == 0:
            return
        try:
            info.wait_for_publish(timeout=self.options.ack_timeout_s)
        except (RuntimeError, ValueError) as error:
            raise SinkError(f"{where}: publish failed: {error}") from error
        if not info.is_published():
            raise SinkError(f"{where}: no acknowledgement within {self.options.ack_timeout_s} s")

    def close(self) -> None:
        if self._connected.is_set():
            info = self._client.publish(self.status_topic, "offline", qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout=2.0)
        self._client.disconnect()
        self._client.loop_stop()


# ------------------------------------------------------------------------------- http
@dataclass(frozen=True)
class HttpOptions:
    """POST each event as JSON to ``url``; ``retries`` quick retries before backing off."""

    url: str
    timeout_s: float = 5.0
    retries: int = 2
    retry_delay_s: float = 0.5
    headers: dict[str, str] = field(default_factory=dict)

    def problems(self) -> list[tuple[str, str]]:
        found = []
        if not self.url.startswith(("http://", "https://")):
            found.append(("url", f"must start with http:// or https://, got {self.url!r}"))
        if self.timeout_s <= 0:
            found.append(("timeout_s", f"must be > 0, got {self.timeout_s}"))
        if self.retries < 0:
            found.append(("retries", f"must be >= 0, got {self.retries}"))
        if self.retry_delay_s < 0:
            found.append(("retry_delay_s", f"must be >= 0, got {self.retry_delay_s}"))
        return found


class HttpSink:
    """``urllib`` only: a 2xx answer is delivery, 4xx (but 408/425/429) a rejection."""

    def __init__(self, options: HttpOptions) -> None:
        self.options = options

    def _post(self, body: bytes) -> None:
        headers = {"Content-Type": "application/json", **self.options.headers}
        request = urllib.request.Request(
            self.options.url, data=body, headers=headers, method="POST"
        )
        with urllib.request.urlopen(request, timeout=self.options.timeout_s) as response:
            response.read()

    def send(self, event: Mapping[str, Any]) -> None:
        body = json.dumps(event, ensure_ascii=False).encode("utf-8")
        last = ""
        for attempt in range(self.options.retries + 1):
            if attempt:
                time.sleep(self.options.retry_delay_s * 2 ** (attempt - 1))
            try:
                self._post(body)
                return
            except urllib.error.HTTPError as error:
                if 400 <= error.code < 500 and error.code not in RETRYABLE_HTTP:
                    raise SinkRejectedError(
                        f"{self.options.url}: HTTP {error.code} {error.reason}"
                    ) from None
                last = f"HTTP {error.code} {error.reason}"
            except (urllib.error.URLError, OSError) as error:
                reason = getattr(error, "reason", error)
                last = str(reason)
        raise SinkError(f"{self.options.url}: {last}")

    def close(self) -> None:
        """Nothing to release: each POST is its own connection."""


# ----------------------------------------------------------------------------- serial
@dataclass(frozen=True)
class SerialOptions:
    """``url`` is ``serial:/dev/ttyUSB0?baud=115200`` or ``tcp:HOST:PORT``; every other key
    is a ``firmware_bridge.SinkOptions`` field (ack_timeout_s, max_retries, ...)."""

    url: str


def _serial_problems(table: Mapping[str, Any]) -> list[tuple[str, str]]:
    from firmware_bridge.sink import SinkOptions, parse_sink_url

    found = []
    url = table.get("url")
    if isinstance(url, str):
        try:
            parse_sink_url(url)
        except ValueError as error:
            found.append(("url", str(error)))
    rest = {k: v for k, v in table.items() if k not in SINK_COMMON_KEYS and k != "url"}
    try:
        SinkOptions.from_mapping(rest, where="serial sink")
    except ValueError as error:
        message = str(error).removeprefix("serial sink: ")
        named = [key for key in rest if re.search(rf"\b{re.escape(key)}\b", message)]
        found.append((named[0] if named else "", message))
    return found


def _create_serial(table: Mapping[str, Any], context: SinkContext) -> Sink:
    from firmware_bridge.link import LinkError
    from firmware_bridge.sink import SerialSink, SinkOptions

    rest = {k: v for k, v in table.items() if k not in SINK_COMMON_KEYS and k != "url"}
    rest.setdefault("device_id", context.device)
    rest.setdefault("model_name", context.model_name)
    options = SinkOptions.from_mapping(rest, where=f"sink {context.name}")
    try:
        return SerialSink(
            str(table["url"]),
            on_expected=context.on_expected,
            spool_path=context.state_dir / f"serial-{context.name}.spool",
            options=options,
        )
    except LinkError as error:
        raise SinkError(f"serial sink {table['url']}: {error}") from error


# --------------------------------------------------------------------------- registry
# Keys every [[sinks]] table may have besides its type's options.
SINK_COMMON_KEYS = ("type", "name", "backoff_initial_s", "backoff_max_s")


@dataclass(frozen=True)
class SinkType:
    """One registry entry.

    ``options`` is the dataclass its table is checked against (``open_options`` lets
    extra keys through to ``extra_problems``, for the serial sink's pass-through options);
    ``requires`` names the module that must be importable, with an install hint.
    """

    options: type[Any]
    create: Callable[[Mapping[str, Any], Any, SinkContext], Sink]
    requires: tuple[str, str] | None = None
    open_options: bool = False
    extra_problems: Callable[[Mapping[str, Any]], list[tuple[str, str]]] | None = None

    def unavailable(self) -> str | None:
        """Why this type cannot be used here, or None."""
        if self.requires is None:
            return None
        module, hint = self.requires
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        return None if found else f"needs the Python package {module!r} ({hint})"


def _file_path(options: FileOptions, context: SinkContext) -> Path:
    path = Path(options.path)
    return path if path.is_absolute() else context.state_dir / path


SINK_TYPES: dict[str, SinkType] = {
    "stdout": SinkType(StdoutOptions, lambda _t, _o, _c: StdoutSink()),
    "file": SinkType(
        FileOptions,
        lambda _t, o, c: FileSink(_file_path(o, c), o.format, o.fsync),
    ),
    "mqtt": SinkType(
        MqttOptions,
        lambda _t, o, c: MqttSink(o, c),
        requires=("paho.mqtt", "pip install 'edge-ocr[mqtt]'"),
    ),
    "http": SinkType(HttpOptions, lambda _t, o, _c: HttpSink(o)),
    "serial": SinkType(
        SerialOptions,
        lambda t, _o, c: _create_serial(t, c),
        requires=("serial", "pip install pyserial"),
        open_options=True,
        extra_problems=_serial_problems,
    ),
}
