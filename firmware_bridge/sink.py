"""The `serial` sink: sends each recognizer event to firmware as an acknowledged READ.

Usage (CLI and service config)::

    sink = SerialSink("serial:/dev/ttyUSB0?baud=115200", spool_path="/var/lib/edge-ocr/spool")
    sink.send(event)      # never blocks for long, never raises on a dead port
    sink.close()          # waits briefly for ACKs, spools the rest

Delivery is at-least-once and in order: one READ is in flight at a time (stop-and-wait),
retransmitted with the same sequence number every `ack_timeout_s` until the firmware ACKs
it. After `max_retries` retransmissions it is appended to the spool and the next read goes
out; spooled reads are re-sent after the next (re)connection, firmware HELLO, or a healthy
spell of `spool_retry_s`. The firmware de-duplicates by item id (see PROTOCOL.md).

All port I/O happens on one worker thread that owns the link, so `send` only appends to a
bounded queue under a lock. The worker reconnects with capped exponential backoff.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from firmware_bridge.link import Link, LinkError, LinkOpener, LinkSpec, SerialSpec, TcpSpec
from firmware_bridge.parser import FrameParser
from firmware_bridge.protocol import (
    CONFIDENCE_SCALE,
    MAX_LINES,
    MAX_TEXT,
    Ack,
    Frame,
    Heartbeat,
    Hello,
    Message,
    MessageType,
    Nack,
    NackReason,
    ProtocolError,
    Read,
    SetExpected,
    Verdict,
    decode_message,
    encode_message,
)
from firmware_bridge.spool import Spool, read_to_json

log = logging.getLogger("firmware_bridge")

_VERDICTS = {
    None: Verdict.NONE,
    "pass": Verdict.PASS,
    "fail": Verdict.FAIL,
    "no-read": Verdict.NO_READ,
}
_NACK_FOR_KIND = {
    "version": NackReason.UNSUPPORTED_VERSION,
    "unknown_type": NackReason.UNKNOWN_TYPE,
    "malformed": NackReason.MALFORMED,
}


def parse_sink_url(url: str) -> LinkSpec:
    """Parse `serial:/dev/ttyUSB0?baud=115200` or `tcp:HOST:PORT` into a link spec.

    A ValueError names the URL and what is wrong with it, for config and CLI messages.
    """
    scheme, sep, rest = url.partition(":")
    if not sep or not rest:
        raise ValueError(f"sink URL {url!r}: expected serial:PATH[?baud=N] or tcp:HOST:PORT")
    if scheme == "serial":
        path, _, query = rest.partition("?")
        if not path:
            raise ValueError(f"sink URL {url!r}: the serial port path is empty")
        options = parse_qs(query, keep_blank_values=True, strict_parsing=False)
        unknown = sorted(set(options) - {"baud"})
        if unknown:
            raise ValueError(f"sink URL {url!r}: unknown option {unknown[0]!r} (known: baud)")
        baud_text = options.get("baud", ["115200"])[-1]
        if not baud_text.isdigit() or int(baud_text) <= 0:
            raise ValueError(f"sink URL {url!r}: baud must be a positive integer")
        return SerialSpec(path, int(baud_text))
    if scheme == "tcp":
        rest = rest.removeprefix("//")
        host, sep, port_text = rest.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")  # [::1]:5000
        if not sep or not host:
            raise ValueError(f"sink URL {url!r}: expected tcp:HOST:PORT")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"sink URL {url!r}: port must be an integer in 1..65535")
        return TcpSpec(host, int(port_text))
    raise ValueError(f"sink URL {url!r}: unknown scheme {scheme!r} (known: serial, tcp)")


def _scaled_confidence(value: Any) -> int:
    confidence = float(value)
    if not math.isfinite(confidence):
        return 0
    return round(min(max(confidence, 0.0), 1.0) * CONFIDENCE_SCALE)


def _truncate_utf8(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")


def read_from_event(event: Mapping[str, Any]) -> Read:
    """Convert one recognizer event (see SerialSink.send) to a READ message.

    Text longer than 255 bytes of UTF-8 and more than 16 lines are truncated with a warning:
    the wire format has fixed limits that firmware buffers are sized for.
    """
    try:
        item = event["item"]
        timestamp = float(event["timestamp"])
        text = str(event["text"])
        lines = list(event.get("lines") or [])
        line_confidences = tuple(_scaled_confidence(line["confidence"]) for line in lines)
        confidence = _scaled_confidence(event.get("confidence", 0.0))
    except KeyError as error:
        raise ValueError(f"sink event lacks key {error}") from error
    except (TypeError, ValueError) as error:
        raise ValueError(f"sink event has a value of the wrong type: {error}") from error
    verdict = _VERDICTS.get(event.get("verdict"))
    if verdict is None:
        raise ValueError(f"sink event verdict {event.get('verdict')!r} is not pass/fail/no-read")
    grade = event.get("grade")
    if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= 0xFFFFFFFF:
        raise ValueError(f"sink event item {item!r} is not an integer in 0..2**32-1")
    if not math.isfinite(timestamp) or timestamp < 0:
        raise ValueError(f"sink event timestamp {timestamp!r} is not a unix time")
    if grade is not None and grade not in ("A", "B", "C", "D", "E", "F"):
        raise ValueError(f"sink event grade {grade!r} is not one of A..F or None")
    short_text = _truncate_utf8(text, MAX_TEXT)
    if short_text != text or len(lines) > MAX_LINES:
        log.warning("item %d: text or lines truncated to the wire limits", item)
    return Read(
        item_id=item,
        timestamp_ms=round(timestamp * 1000),
        text=short_text,
        line_confidences=line_confidences[:MAX_LINES],
        confidence=confidence,
        verdict=verdict,
        grade=grade,
    )


def _software_version() -> str:
    try:
        return f"edge-ocr {metadata.version('edge-ocr')}"
    except metadata.PackageNotFoundError:
        return "edge-ocr"


@dataclass(frozen=True)
class SinkOptions:
    """Tuning of the link; defaults suit a 115200-baud UART to a microcontroller."""

    ack_timeout_s: float = 0.25
    max_retries: int = 8
    queue_size: int = 1024
    heartbeat_s: float = 1.0
    backoff_initial_s: float = 0.1
    backoff_max_s: float = 5.0
    close_timeout_s: float = 2.0
    spool_max_items: int = 100_000
    spool_retry_s: float = 30.0
    poll_s: float = 0.01
    device_id: str = ""
    model_name: str = ""
    software: str = field(default_factory=_software_version)

    def __post_init__(self) -> None:
        positive = {
            "ack_timeout_s": self.ack_timeout_s,
            "queue_size": self.queue_size,
            "backoff_initial_s": self.backoff_initial_s,
            "backoff_max_s": self.backoff_max_s,
            "spool_max_items": self.spool_max_items,
            "poll_s": self.poll_s,
        }
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"sink option {name} must be > 0, got {value!r}")
        non_negative = {
            "max_retries": self.max_retries,
            "heartbeat_s": self.heartbeat_s,
            "close_timeout_s": self.close_timeout_s,
            "spool_retry_s": self.spool_retry_s,
        }
        for name, value in non_negative.items():
            if not value >= 0:
                raise ValueError(f"sink option {name} must be >= 0, got {value!r}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: str = "sink options") -> SinkOptions:
        """Options from a config table (e.g. `[sink]` in config.toml); errors name the key
        and `where` (the file), so a typo is reported instead of silently ignored."""
        defaults = cls()
        known = sorted(field.name for field in fields(cls))
        for key, value in values.items():
            if key not in known:
                raise ValueError(f"{where}: unknown key {key!r} (known: {', '.join(known)})")
            default = getattr(defaults, key)
            if isinstance(default, str):
                ok, kind = isinstance(value, str), "a string"
            elif isinstance(default, float):
                ok, kind = isinstance(value, int | float), "a number"
            else:
                ok, kind = isinstance(value, int), "an integer"
            if not ok or isinstance(value, bool):
                raise ValueError(f"{where}: {key} must be {kind}, got {value!r}")
        try:
            return cls(**values)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from error


@dataclass
class SinkStats:
    """Counters for monitoring; `dropped` and `rejected` reads need an operator's look."""

    queued: int = 0
    sent: int = 0
    acked: int = 0
    retransmits: int = 0
    spooled: int = 0
    unspooled: int = 0
    rejected: int = 0
    dropped: int = 0
    connects: int = 0
    disconnects: int = 0
    expected_received: int = 0
    bad_frames: int = 0


@dataclass
class _Pending:
    """A message waiting for its ACK; `seq` is kept across retransmissions."""

    message: Hello | Read
    from_spool: bool = False
    seq: int = -1
    tries: int = 0
    deadline: float = 0.0


class SerialSink:
    """Sink that delivers READs to firmware over a serial port or TCP (see module doc).

    `on_expected` is called on the sink's worker thread with the text of each new
    SET_EXPECTED from the firmware; keep it short and thread-safe (e.g. store a string).
    A port that cannot be opened at construction raises LinkError with a one-line message.
    """

    def __init__(
        self,
        target: str | LinkOpener,
        *,
        on_expected: Callable[[str], None] | None = None,
        spool_path: str | Path | None = None,
        options: SinkOptions | None = None,
    ) -> None:
        self.spec: LinkOpener = parse_sink_url(target) if isinstance(target, str) else target
        self.options = options or SinkOptions()
        self._on_expected = on_expected
        self._spool = Spool(Path(spool_path), self.options.spool_max_items) if spool_path else None
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._reads: deque[_Pending] = deque()  # guarded by _lock
        self._stats = SinkStats()  # guarded by _lock
        self._closed = False
        # Worker-thread state from here on.
        self._control: deque[_Pending] = deque()
        self._inflight: _Pending | None = None
        self._parser = FrameParser()
        self._seq = 0
        self._started = time.monotonic()
        self._next_heartbeat = 0.0
        self._spool_taken = 0  # reads peeked from the spool file, not yet committed
        self._spool_resolved = 0  # of those, acknowledged or re-spooled
        self._spool_retry_at = 0.0
        self._last_expected: tuple[int, str] | None = None
        self.firmware_hello: Hello | None = None
        self._link: Link | None = self.spec.open(self.options.poll_s)
        try:
            self._on_connected()
        except LinkError:
            self._close_link()
            raise
        self._worker = threading.Thread(target=self._run, name="firmware-sink", daemon=True)
        self._worker.start()

    # ----------------------------------------------------------------- public interface
    def send(self, event: Mapping[str, Any]) -> None:
        """Queue one recognizer event for delivery; returns at once.

        The event has keys `item` (int), `timestamp` (unix seconds), `text`, `lines`
        (list of {"text", "confidence"}), `confidence` (0-1) and optional `verdict`
        ("pass"|"fail"|"no-read"|None) and `grade` ("A".."F"|None). A malformed event
        raises ValueError (a bug in the caller); a dead port never raises here.
        """
        read = read_from_event(event)
        with self._lock:
            if self._closed:
                log.error("send after close: spooling item %d", read.item_id)
                self._spool_reads([read])
                return
            self._stats.queued += 1
            if len(self._reads) < self.options.queue_size:
                self._reads.append(_Pending(read))
            elif self._spool is not None:
                self._spool_reads([read])
            else:
                lost = self._reads.popleft()
                self._reads.append(_Pending(read))
                self._stats.dropped += 1
                if isinstance(lost.message, Read):
                    log.error(
                        "sink queue full and no spool configured, read lost: %s",
                        json.dumps(read_to_json(lost.message)),
                    )

    def flush(self, timeout_s: float) -> bool:
        """Wait until every queued read is acknowledged or spooled; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._idle:
            while self._reads or self._inflight is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not self._worker.is_alive():
                    return False
                self._idle.wait(min(left, 0.05))
        return True

    def close(self) -> None:
        """Deliver what can be delivered within close_timeout_s, spool the rest; never raises."""
        if self._closed:
            return
        if self._link is not None:
            self.flush(self.options.close_timeout_s)
        self._stop.set()
        self._worker.join(timeout=self.options.close_timeout_s + 2.0)
        if self._worker.is_alive():
            log.error("sink worker did not stop; spooling its queue anyway")
        with self._lock:
            self._closed = True
            leftovers = ([self._inflight] if self._inflight else []) + list(self._reads)
            self._reads.clear()
            self._inflight = None
            # Reads taken from the spool are still in its file: only commit resolved ones.
            fresh = [
                p.message for p in leftovers if isinstance(p.message, Read) and not p.from_spool
            ]
            self._spool_reads(fresh)
        self._commit_spool(final=True)
        self._close_link()

    def stats(self) -> SinkStats:
        """A snapshot of the counters."""
        with self._lock:
            return replace(self._stats)

    @property
    def connected(self) -> bool:
        """Whether the port is open right now (not whether firmware is listening)."""
        return self._link is not None

    def __enter__(self) -> SerialSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- worker thread
    def _run(self) -> None:
        backoff = self.options.backoff_initial_s
        while not self._stop.is_set():
            if self._link is None:
                try:
                    self._link = self.spec.open(self.options.poll_s)
                except LinkError as error:
                    log.debug("reconnect failed, next try in %.1f s: %s", backoff, error)
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, self.options.backoff_max_s)
                    continue
                log.info("reconnected to %s", self._link.description)
                backoff = self.options.backoff_initial_s
                try:
                    self._on_connected()
                except LinkError as error:
                    self._on_link_error(error)
                    continue
            try:
                self._step()
            except LinkError as error:
                self._on_link_error(error)
            except Exception:
                # A bug must not silently stop delivery: log it and start over on a new link.
                log.exception("firmware sink worker error")
                self._on_link_error(LinkError("internal error"))
                self._stop.wait(self.options.backoff_initial_s)

    def _on_connected(self) -> None:
        """Announce ourselves and bring spooled reads back into the queue."""
        with self._lock:
            self._stats.connects += 1
        self._parser = FrameParser()
        self._write(b"\x00")  # terminate whatever half frame the firmware was holding
        hello = Hello(
            software=_truncate_utf8(self.options.software, 64),
            device_id=_truncate_utf8(self.options.device_id, 64),
            model_name=_truncate_utf8(self.options.model_name, 64),
        )
        self._control.appendleft(_Pending(hello))
        self._next_heartbeat = time.monotonic() + self.options.heartbeat_s
        self._take_from_spool()

    def _on_link_error(self, error: LinkError) -> None:
        log.warning("%s; reconnecting", error)
        self._close_link()
        with self._lock:
            self._stats.disconnects += 1
            pending = self._inflight
            self._inflight = None
            self._control.clear()  # a fresh HELLO is sent on reconnection
            if pending is not None and isinstance(pending.message, Read):
                pending.seq, pending.tries = -1, 0
                self._reads.appendleft(pending)

    def _close_link(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            link.close()

    def _step(self) -> None:
        assert self._link is not None
        data = self._link.read()
        now = time.monotonic()
        for frame in self._parser.feed(data):
            self._handle(frame, now)
        self._pump(now)
        if self.options.heartbeat_s > 0 and now >= self._next_heartbeat:
            with self._lock:
                backlog = len(self._reads) + (len(self._spool) if self._spool else 0)
            uptime = int((now - self._started) * 1000)
            self._send_unacked(Heartbeat(uptime_ms=uptime, queued=backlog))
            self._next_heartbeat = now + self.options.heartbeat_s

    def _handle(self, frame: Frame, now: float) -> None:
        try:
            message = decode_message(frame)
        except ProtocolError as error:
            with self._lock:
                self._stats.bad_frames += 1
            log.warning("refusing frame seq=%d type=0x%02x: %s", frame.seq, frame.type, error)
            if frame.type not in (MessageType.ACK, MessageType.NACK):
                self._send_unacked(Nack(frame.seq, _NACK_FOR_KIND[error.kind]))
            return
        if isinstance(message, Ack):
            self._on_ack(message.seq, now)
        elif isinstance(message, Nack):
            self._on_nack(message)
        elif isinstance(message, SetExpected):
            self._send_unacked(Ack(frame.seq))
            if self._last_expected != (frame.seq, message.text):
                self._last_expected = (frame.seq, message.text)
                with self._lock:
                    self._stats.expected_received += 1
                self._notify_expected(message.text)
        elif isinstance(message, Hello):
            self._send_unacked(Ack(frame.seq))
            self.firmware_hello = message
            log.info("firmware hello: %s", message)
            self._take_from_spool()
        elif isinstance(message, Read):
            # Reads flow recognizer -> firmware only; refuse rather than ignore silently.
            self._send_unacked(Nack(frame.seq, NackReason.UNKNOWN_TYPE))
        # Heartbeats need no answer.

    def _notify_expected(self, text: str) -> None:
        if self._on_expected is None:
            return
        try:
            self._on_expected(text)
        except Exception:
            log.exception("on_expected callback failed for %r", text)

    def _on_ack(self, seq: int, now: float) -> None:
        pending = self._inflight
        if pending is None or pending.seq != seq:
            return  # a late duplicate ACK of an earlier frame
        with self._idle:
            self._inflight = None
            if isinstance(pending.message, Read):
                self._stats.acked += 1
                if pending.from_spool:
                    self._spool_resolved += 1
            self._idle.notify_all()
        self._commit_spool()
        if (
            self._spool is not None
            and len(self._spool) > self._spool_taken
            and not self._reads
            and now >= self._spool_retry_at
        ):
            self._take_from_spool()

    def _on_nack(self, nack: Nack) -> None:
        pending = self._inflight
        if pending is None or pending.seq != nack.seq:
            return
        with self._idle:
            self._inflight = None
            if isinstance(pending.message, Read):
                self._stats.rejected += 1
                if pending.from_spool:
                    self._spool_resolved += 1
            self._idle.notify_all()
        if isinstance(pending.message, Read):
            # The frame arrived intact and was refused: resending the same bytes cannot help.
            log.error(
                "firmware refused item %d (reason %d): %s",
                pending.message.item_id,
                nack.reason,
                json.dumps(read_to_json(pending.message)),
            )
            self._write_rejected(pending.message)
        else:
            log.error("firmware refused our HELLO (reason %d): protocol mismatch?", nack.reason)
        self._commit_spool()

    def _pump(self, now: float) -> None:
        pending = self._inflight
        if pending is not None and now < pending.deadline:
            return
        if pending is not None and pending.tries > self.options.max_retries:
            self._give_up(pending, now)
            pending = None
        if pending is None:
            pending = self._next_pending()
            if pending is None:
                return
            self._seq = (self._seq + 1) & 0xFFFF
            pending.seq = self._seq
        elif pending.tries > 0:
            with self._lock:
                self._stats.retransmits += 1
        pending.tries += 1
        pending.deadline = now + self.options.ack_timeout_s
        self._write(encode_message(pending.message, pending.seq))
        if isinstance(pending.message, Read) and pending.tries == 1:
            with self._lock:
                self._stats.sent += 1

    def _next_pending(self) -> _Pending | None:
        with self._lock:
            if self._control:
                self._inflight = self._control.popleft()
            elif self._reads:
                self._inflight = self._reads.popleft()
            else:
                self._inflight = None
            return self._inflight

    def _give_up(self, pending: _Pending, now: float) -> None:
        with self._idle:
            self._inflight = None
            if isinstance(pending.message, Read):
                log.warning(
                    "item %d not acknowledged after %d tries: spooled",
                    pending.message.item_id,
                    pending.tries,
                )
                if pending.from_spool:
                    self._spool_resolved += 1
                self._spool_reads([pending.message])
            else:
                log.warning("firmware did not acknowledge HELLO; carrying on")
            self._idle.notify_all()
        self._spool_retry_at = now + self.options.spool_retry_s
        self._commit_spool()

    def _spool_reads(self, reads: list[Read]) -> None:
        """Append to the spool (lock held by the caller); without a spool they are lost."""
        if not reads:
            return
        if self._spool is None:
            self._stats.dropped += len(reads)
            for read in reads:
                log.error("no spool configured, read lost: %s", json.dumps(read_to_json(read)))
            return
        try:
            dropped = self._spool.append(reads)
        except OSError as error:
            log.error(
                "cannot write spool %s (%s): %d reads lost", self._spool.path, error, len(reads)
            )
            for read in reads:
                log.error("read lost: %s", json.dumps(read_to_json(read)))
            dropped = len(reads)
        self._stats.spooled += len(reads) - dropped
        self._stats.dropped += dropped

    def _take_from_spool(self) -> None:
        """Move the oldest spooled reads to the front of the queue, as room allows."""
        if self._spool is None or self._spool_taken > 0:
            return  # one batch at a time keeps file order == send order
        with self._lock:
            room = self.options.queue_size - len(self._reads)
            batch = self._spool.peek(room) if room > 0 else []
            self._reads.extendleft(_Pending(read, from_spool=True) for read in reversed(batch))
            self._spool_taken = len(batch)
            self._spool_resolved = 0
            self._stats.unspooled += len(batch)
        if batch:
            log.info("re-sending %d spooled reads", len(batch))

    def _commit_spool(self, final: bool = False) -> None:
        """Drop resolved reads from the spool file once the whole batch is resolved.

        Under the lock: `send` may be appending to the same file from another thread.
        """
        with self._lock:
            if self._spool is None or self._spool_taken == 0:
                return
            if final or self._spool_resolved >= self._spool_taken:
                try:
                    self._spool.commit(self._spool_resolved)
                except OSError as error:
                    # The reads stay in the file: a later run re-sends them (duplicates).
                    log.error("cannot rewrite spool %s: %s", self._spool.path, error)
                self._spool_taken = self._spool_resolved = 0

    def _write_rejected(self, read: Read) -> None:
        if self._spool is None:
            return
        path = self._spool.path.with_name(self._spool.path.name + ".rejected")
        try:
            with path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(read_to_json(read), ensure_ascii=False) + "\n")
        except OSError as error:
            log.error("cannot write %s: %s", path, error)

    def _send_unacked(self, message: Message) -> None:
        self._seq = (self._seq + 1) & 0xFFFF
        self._write(encode_message(message, self._seq))

    def _write(self, data: bytes) -> None:
        if self._link is None:
            raise LinkError("link is closed")
        self._link.write(data)
