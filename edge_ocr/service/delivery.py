"""One delivery thread per sink: spool -> sink, in order, with capped exponential backoff.

The thread owns its sink. It reads synced events after the sink's cursor, sends them one by
one and advances the cursor after each success. A ``SinkError`` (receiver down) rewinds to the
cursor and waits before trying again, so everything not acknowledged is replayed after a
reconnection; a ``SinkRejectedError`` event is set aside in ``rejected-<sink>.jsonl`` and skipped.
A sink whose construction fails transiently (serial port not plugged in yet) is retried the
same way, so one absent receiver never stops the others.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge_ocr.service.sinks import Sink, SinkError, SinkRejectedError
from edge_ocr.service.spool import Spool

log = logging.getLogger("edge_ocr.service")

BATCH = 64
POLL_S = 0.2


@dataclass(frozen=True)
class SinkState:
    """A snapshot for status lines and metrics."""

    name: str
    type: str
    up: bool
    delivered: int
    errors: int
    rejected: int
    pending: int
    last_error: str


class Delivery:
    """See the module docstring. ``stop(deadline)`` drains until caught up or the deadline."""

    def __init__(
        self,
        name: str,
        kind: str,
        spool: Spool,
        create: Callable[[], Sink],
        *,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        rejected_path: Path | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.spool = spool
        self._create = create
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.rejected_path = rejected_path
        self._lock = threading.Lock()
        self._up = False
        self._delivered = 0
        self._errors = 0
        self._rejected = 0
        self._last_error = ""
        self._stopping = threading.Event()
        self._deadline = float("inf")
        self._thread = threading.Thread(target=self._run, name=f"sink-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, deadline: float) -> None:
        """Ask the thread to finish: deliver what is spooled until ``deadline`` (monotonic)."""
        self._deadline = deadline
        self._stopping.set()
        self.spool.wake()

    def join(self, timeout_s: float) -> bool:
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def state(self) -> SinkState:
        with self._lock:
            return SinkState(
                name=self.name,
                type=self.kind,
                up=self._up,
                delivered=self._delivered,
                errors=self._errors,
                rejected=self._rejected,
                pending=self.spool.pending(self.name),
                last_error=self._last_error,
            )

    # ------------------------------------------------------------------- thread
    def _finished(self) -> bool:
        if not self._stopping.is_set():
            return False
        if time.monotonic() >= self._deadline:
            return True
        return self.spool.cursor(self.name) >= self.spool.last_seq

    def _wait(self, seconds: float) -> None:
        """Sleep ``seconds``, cut short by the drain deadline."""
        end = min(time.monotonic() + seconds, self._deadline)
        while not self._finished():
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.05))

    def _failed(self, error: BaseException, action: str) -> None:
        with self._lock:
            was_up = self._up or not self._last_error
            self._up = False
            self._errors += 1
            self._last_error = str(error)
        if was_up:
            log.warning("sink %s: %s failed: %s (retrying with backoff)", self.name, action, error)

    def _run(self) -> None:
        sink: Sink | None = None
        reader = self.spool.reader(self.name)
        backoff = self.backoff_initial_s
        try:
            while not self._finished():
                if sink is None:
                    try:
                        sink = self._create()
                    except Exception as error:  # any failure to open: retry, never die
                        self._failed(error, "opening")
                        self._wait(backoff)
                        backoff = min(backoff * 2, self.backoff_max_s)
                        continue
                    with self._lock:
                        self._up = True
                batch = reader.read(BATCH, POLL_S)
                for seq, event in batch:
                    try:
                        sink.send(event)
                    except SinkRejectedError as error:
                        self._set_aside(event, str(error))
                    except Exception as error:  # SinkError, OSError, or a sink bug
                        if not isinstance(error, SinkError | OSError):
                            log.exception("sink %s: unexpected error", self.name)
                        self._failed(error, "delivery")
                        reader.reset(self.spool.cursor(self.name))
                        self._wait(backoff)
                        backoff = min(backoff * 2, self.backoff_max_s)
                        break
                    else:
                        backoff = self.backoff_initial_s
                        with self._lock:
                            if not self._up:
                                log.info("sink %s: delivering again", self.name)
                            self._up = True
                            self._last_error = ""
                            self._delivered += 1
                    self.spool.ack(self.name, seq)
        finally:
            reader.close()
            if sink is not None:
                try:
                    sink.close()
                except Exception as error:
                    log.warning("sink %s: close failed: %s", self.name, error)
            with self._lock:
                self._up = False

    def _set_aside(self, event: dict[str, object], reason: str) -> None:
        with self._lock:
            self._rejected += 1
        log.error("sink %s refused item %s for good: %s", self.name, event.get("item"), reason)
        if self.rejected_path is None:
            return
        try:
            with self.rejected_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"reason": reason, "event": event}) + "\n")
        except OSError as error:
            log.error("cannot write %s: %s", self.rejected_path, error)
