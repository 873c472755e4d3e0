"""The service loop behind ``edge-ocr serve``: frames in, spooled and delivered events out.

One thread (the caller's, normally the main thread) owns the source, the pipeline and the
spool; each sink has its own delivery thread (``delivery.py``); ``/metrics`` has one more.

- ``READY=1`` once the model is loaded and the source opened; ``WATCHDOG=1`` from this loop
  at half ``WATCHDOG_USEC``, so systemd restarts a *stuck* loop, not only a dead process (the
  loop keeps pinging while it waits out a camera's backoff: it is alive and doing its job);
  ``STATUS=`` with fps, items and sink states about once a second.
- A source that fails or vanishes is closed and reopened with capped exponential backoff;
  status, ``/healthz`` and metrics say so until it is back.
- Every event is renumbered with the spool's sequence number (unique across restarts, the id
  receivers de-duplicate on), appended to the spool, and only then delivered.
- SIGHUP: ``RELOADING=1``, re-read the config; an invalid file keeps the running config. The
  pipeline is only rebuilt when its settings, the ``[rules]`` or the model changed, and then
  the old one is finished first, so no item in flight is dropped.
- With ``[rules]``, a serial sink's SET_EXPECTED (``set_expected``, on the sink's thread)
  changes the expected code of the items judged after it; it survives a reload unless the
  reloaded ``[rules]`` section brings a different code of its own (the latest change wins).
- SIGTERM/SIGINT: ``STOPPING=1``, finish the pipeline (items still in view are reported),
  sync the spool, let every sink deliver within ``drain_timeout_s``, exit 0. What a sink
  could not deliver stays spooled for the next start.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol

from edge_ocr.events import ItemEvent
from edge_ocr.rules.ocv import VERDICTS
from edge_ocr.rules.settings import SetExpected
from edge_ocr.service.config import ConfigError, ServiceConfig, SinkConfig, load_config
from edge_ocr.service.delivery import Delivery, SinkState
from edge_ocr.service.metrics import Metric, MetricsServer
from edge_ocr.service.sdnotify import Notifier
from edge_ocr.service.sinks import SINK_TYPES, Sink, SinkContext
from edge_ocr.service.spool import Spool, SpoolError, SpoolLimits

if TYPE_CHECKING:
    from edge_ocr.rules.engine import RulesEngine

log = logging.getLogger("edge_ocr.service")

IDLE_SLICE_S = 0.05
Sample = tuple[dict[str, str], float]


class SourceError(Exception):
    """The source failed or vanished (one-line message); the service retries it."""


class ServiceError(Exception):
    """The service cannot go on; the message is one line for the journal."""


class StartupError(ServiceError):
    """The service cannot start (model, spool, metrics port)."""


class FrameSource(Protocol):
    """An opened source. ``read`` returns a frame, None at the end of a finite source, or
    raises ``SourceError`` when the camera/file failed. ``dropped`` counts frames a live
    source dropped because processing fell behind."""

    @property
    def dropped(self) -> int: ...

    def read(self) -> Any: ...

    def close(self) -> None: ...


class Processor(Protocol):
    """The recognition pipeline as the service sees it; ``stage_seconds`` are its totals."""

    def process(self, frame: Any) -> list[ItemEvent]: ...

    def finish(self) -> list[ItemEvent]: ...

    def stage_seconds(self) -> dict[str, float]: ...

    @property
    def rules(self) -> RulesEngine | None:
        """The rules engine judging the items (None without ``[rules]``)."""


class Engine(Protocol):
    """Builds the model, the pipeline and the source from a config (``engine.py``)."""

    def load_model(self, config: ServiceConfig) -> Any: ...

    def pipeline(self, config: ServiceConfig, model: Any) -> Processor: ...

    def open_source(self, config: ServiceConfig) -> FrameSource: ...

    def model_name(self, model: Any) -> str: ...


@dataclass
class Counters:
    """What the loop counts; read by the metrics thread (plain ints: no torn reads)."""

    frames: int = 0
    items: int = 0
    dropped: int = 0
    source_failures: int = 0
    reloads_ok: int = 0
    reloads_failed: int = 0
    watchdog_pings: int = 0
    process_seconds: float = 0.0
    source_up: bool = False
    state: str = "starting"
    fps: float = 0.0
    last_iteration: float = 0.0
    verdicts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VERDICTS, 0))
    """Items by verdict (fixed keys: the metrics thread iterates over it)."""
    expected_set: int = 0
    expected_rejected: int = 0


def spool_limits(config: ServiceConfig) -> SpoolLimits:
    spool = config.spool
    return SpoolLimits(
        spool.segment_bytes, spool.max_bytes, spool.sync_every, spool.sync_interval_s
    )


class Service:
    """See the module docstring. ``run()`` returns the exit status."""

    def __init__(
        self,
        config: ServiceConfig,
        engine: Engine,
        notifier: Notifier | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.engine = engine
        self.notifier = notifier or Notifier()
        self.clock = clock
        self.counters = Counters()
        self._stop = threading.Event()
        self._reload = threading.Event()
        self.spool: Spool | None = None
        self.deliveries: dict[str, Delivery] = {}
        self._sink_configs: dict[str, SinkConfig] = {}
        self._metrics: MetricsServer | None = None
        self._model: Any = None
        self._model_name = ""
        self._pipeline: Processor | None = None
        self._source: FrameSource | None = None
        self._retry_at = 0.0
        self._backoff = config.source.retry_initial_s
        self._source_error = ""
        self._next_ping = 0.0
        self._next_status = 0.0
        self._fps_frames = 0
        self._fps_since = 0.0
        self._expected_lock = threading.Lock()
        self._expected_text: str | None = None
        """The last SET_EXPECTED applied, carried over to a rebuilt pipeline."""
        self.metrics_port: int | None = None

    # --------------------------------------------------------------- control
    def request_stop(self) -> None:
        """Ask the loop to drain and exit (signal-safe: only sets an Event)."""
        self._stop.set()

    def request_reload(self) -> None:
        self._reload.set()

    @contextmanager
    def signals(self) -> Iterator[None]:
        """SIGTERM/SIGINT stop, SIGHUP reloads, while inside; previous handlers restored."""

        def stop(_signum: int, _frame: FrameType | None) -> None:
            self.request_stop()

        def reload(_signum: int, _frame: FrameType | None) -> None:
            self.request_reload()

        previous = {
            signal.SIGTERM: signal.signal(signal.SIGTERM, stop),
            signal.SIGINT: signal.signal(signal.SIGINT, stop),
            signal.SIGHUP: signal.signal(signal.SIGHUP, reload),
        }
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    # ----------------------------------------------------------------- start
    def _start(self) -> None:
        config = self.config
        self.notifier.status("loading model")
        try:
            self._model = self.engine.load_model(config)
            self._model_name = self.engine.model_name(self._model)
        except Exception as error:
            raise StartupError(f"model {config.model.name}: {error}") from error
        try:
            self._pipeline = self.engine.pipeline(config, self._model)
        except Exception as error:
            raise StartupError(f"pipeline: {error}") from error
        try:
            self.spool = Spool(
                config.state_dir / "spool", [s.name for s in config.sinks], spool_limits(config)
            )
        except SpoolError as error:
            raise StartupError(str(error)) from error
        except OSError as error:
            raise StartupError(f"spool in {config.state_dir}: {error}") from error
        self._start_sinks(config.sinks)
        self._start_metrics()

    def _sink_factory(self, sink: SinkConfig) -> Callable[[], Sink]:
        entry = SINK_TYPES[sink.type]
        context = SinkContext(
            name=sink.name,
            device=self.config.service.device,
            state_dir=self.config.state_dir,
            model_name=self._model_name,
            on_expected=self.set_expected,
        )
        return lambda: entry.create(sink.table, sink.options, context)

    def set_expected(self, text: str) -> None:
        """A firmware's SET_EXPECTED (from a serial sink's thread): the expected code of the
        items judged from now on; an empty text clears it. Ignored, with a warning, without
        ``[rules]`` or with ``settable = false``; an invalid code keeps the previous one."""
        with self._expected_lock:
            engine = self._pipeline.rules if self._pipeline is not None else None
            if engine is None or not self.config.expected_settable:
                self.counters.expected_rejected += 1
                why = "no [rules] section" if engine is None else "rules.settable is false"
                log.warning("SET_EXPECTED %r ignored: %s", text, why)
                return
            setter = SetExpected(engine)
            setter(text)
            if setter.rejected:
                self.counters.expected_rejected += 1
                return
            self._expected_text = text
            self.counters.expected_set += 1
        log.warning("expected code set by the firmware: %r", text)

    def _start_sinks(self, sinks: tuple[SinkConfig, ...]) -> None:
        """Start a delivery thread per sink. The dicts are replaced, never changed in place:
        the metrics thread may be iterating over the old ones."""
        assert self.spool is not None
        deliveries = dict(self.deliveries)
        configs = dict(self._sink_configs)
        for sink in sinks:
            delivery = Delivery(
                sink.name,
                sink.type,
                self.spool,
                self._sink_factory(sink),
                backoff_initial_s=sink.backoff_initial_s,
                backoff_max_s=sink.backoff_max_s,
                rejected_path=self.config.state_dir / f"rejected-{sink.name}.jsonl",
            )
            delivery.start()
            deliveries[sink.name] = delivery
            configs[sink.name] = sink
        self.deliveries = deliveries
        self._sink_configs = configs

    def _start_metrics(self) -> None:
        metrics = self.config.metrics
        if not metrics.enabled:
            return
        try:
            self._metrics = MetricsServer(metrics.host, metrics.port, self.collect, self.health)
        except OSError as error:
            raise StartupError(
                f"metrics on {metrics.host}:{metrics.port}: {error.strerror or error}"
            ) from error
        self._metrics.start()
        self.metrics_port = self._metrics.port
        log.info("metrics on http://%s:%d/metrics", metrics.host, self._metrics.port)

    # ------------------------------------------------------------------ loop
    def run(self) -> int:
        """Start, loop until asked to stop, drain; the exit status (0 on a clean stop)."""
        try:
            self._start()
        except StartupError:
            self._shutdown_quietly()
            raise
        interval = self.notifier.watchdog_interval_s
        if interval is not None and self.config.source.stall_timeout_s >= 2 * interval:
            log.warning(
                "source.stall_timeout_s (%g s) is not shorter than the watchdog (%g s): a "
                "stalled camera gets the service restarted by systemd",
                self.config.source.stall_timeout_s,
                2 * interval,
            )
        now = self.clock()
        self._fps_since = now
        self._next_status = now
        ready_sent = False
        try:
            while not self._stop.is_set():
                if self._reload.is_set():
                    self._reload.clear()
                    self._do_reload()
                if self._source is None and not self._open_source():
                    self._idle()
                    continue
                if not ready_sent:
                    self.notifier.ready(self._status_text())
                    ready_sent = True
                self._step()
            self._drain()
        finally:
            self._close()
        return 0

    def _open_source(self) -> bool:
        now = self.clock()
        if now < self._retry_at:
            return False
        try:
            self._source = self.engine.open_source(self.config)
        except SourceError as error:
            self._source_failed(str(error))
            return False
        if self.counters.source_failures:
            log.warning("source %s is back", self.config.source.uri)
        self.counters.source_up = True
        self.counters.state = "running"
        self._backoff = self.config.source.retry_initial_s
        self._source_error = ""
        return True

    def _close_source(self) -> None:
        """Close the source; items still in view will not come back: report them now."""
        if self._source is not None:
            self.counters.dropped += self._source.dropped
            try:
                self._source.close()
            except Exception as error:
                log.debug("closing the source: %s", error)
            self._source = None
        if self._pipeline is not None:
            self._spool_events(self._pipeline.finish())

    def _source_ended(self) -> None:
        self._close_source()
        if self.config.source.at_end == "stop":
            log.warning("source %s ended: stopping", self.config.source.uri)
            self._stop.set()
        else:
            log.info("source %s ended: starting it over", self.config.source.uri)

    def _source_failed(self, reason: str) -> None:
        self._close_source()
        delay = self._backoff
        self._retry_at = self.clock() + delay
        self._backoff = min(self._backoff * 2, self.config.source.retry_max_s)
        self.counters.source_failures += 1
        self.counters.source_up = False
        self.counters.state = "source down"
        self._source_error = reason
        log.warning("source %s: %s; retrying in %.1f s", self.config.source.uri, reason, delay)
        self._status(force=True)

    def _idle(self) -> None:
        """Waiting for the source: keep the spool, watchdog and status going."""
        self._housekeeping()
        self._stop.wait(IDLE_SLICE_S)

    def _step(self) -> None:
        assert self._source is not None and self._pipeline is not None
        try:
            frame = self._source.read()
        except SourceError as error:
            self._source_failed(str(error))
            return
        if frame is None:
            self._source_ended()
            return
        started = time.perf_counter()
        events = self._pipeline.process(frame)
        self.counters.process_seconds += time.perf_counter() - started
        self.counters.frames += 1
        self._fps_frames += 1
        self._spool_events(events)
        self._housekeeping()

    def _spool_events(self, events: list[ItemEvent]) -> None:
        assert self.spool is not None
        for event in events:
            wire = dataclasses.replace(event, item=self.spool.next_seq).to_dict()
            try:
                self.spool.append(wire)
            except OSError as error:  # disk full or gone: stop rather than lose reads quietly
                raise ServiceError(
                    f"cannot write the spool in {self.spool.directory}: {error.strerror or error}"
                ) from error
            self.counters.items += 1
            if event.verdict in self.counters.verdicts:
                self.counters.verdicts[event.verdict] += 1

    def _housekeeping(self) -> None:
        assert self.spool is not None
        now = self.clock()
        self.counters.last_iteration = now
        self.spool.tick()
        interval = self.notifier.watchdog_interval_s
        if interval is not None and now >= self._next_ping:
            self.notifier.watchdog()
            self.counters.watchdog_pings += 1
            self._next_ping = now + interval
        self._status()

    def _status(self, force: bool = False) -> None:
        now = self.clock()
        if not force and now < self._next_status:
            return
        elapsed = now - self._fps_since
        if elapsed > 0 and (elapsed >= self.config.service.status_interval_s or force):
            self.counters.fps = self._fps_frames / elapsed
            self._fps_frames = 0
            self._fps_since = now
        self._next_status = now + self.config.service.status_interval_s
        self.notifier.status(self._status_text())

    def _status_text(self) -> str:
        counters = self.counters
        if counters.source_up:
            head = f"running: {counters.fps:.1f} fps, {counters.items} items"
        else:
            left = max(0.0, self._retry_at - self.clock())
            head = (
                f"source down ({self._source_error}), retry in {left:.1f} s; {counters.items} items"
            )
        sinks = ", ".join(
            f"{state.name} {'up' if state.up else 'down'}"
            + (f" ({state.pending} pending)" if state.pending else "")
            for state in self.sink_states()
        )
        return f"{head}; sinks: {sinks}" if sinks else head

    # ---------------------------------------------------------------- reload
    def _do_reload(self) -> None:
        self.notifier.reloading()
        try:
            new = load_config(self.config.path)
        except ConfigError as error:
            self.counters.reloads_failed += 1
            for problem in error.problems:
                log.error("reload: %s", problem.format(error.path))
            log.error("reload failed: keeping the running config")
            self.notifier.ready(
                f"reload failed ({len(error.problems)} problems); " + self._status_text()
            )
            return
        try:
            self._apply(new)
        except StartupError as error:
            self.counters.reloads_failed += 1
            log.error("reload failed: %s; keeping the running config", error)
            self.notifier.ready(f"reload failed: {error}; " + self._status_text())
            return
        self.counters.reloads_ok += 1
        log.warning("reloaded %s", new.path)
        self.notifier.ready(self._status_text())

    def _apply(self, new: ServiceConfig) -> None:
        """Switch to ``new``, touching only what changed; a model that fails keeps the old."""
        old = self.config
        if new.state_dir != old.state_dir:
            log.warning("state_dir changed: takes effect at the next restart")
            new = dataclasses.replace(
                new, service=dataclasses.replace(new.service, state_dir=old.state_dir)
            )
        model = self._model
        if new.model != old.model:
            try:
                model = self.engine.load_model(new)
            except Exception as error:
                raise StartupError(f"model {new.model.name}: {error}") from error
        if (
            model is not self._model
            or new.pipeline != old.pipeline
            or new.rules != old.rules
            or new.expected_settable != old.expected_settable
        ):
            try:
                pipeline = self.engine.pipeline(new, model)
            except Exception as error:
                raise StartupError(f"pipeline: {error}") from error
            assert self._pipeline is not None
            self._spool_events(self._pipeline.finish())  # items in view are not dropped
            with self._expected_lock:
                self._pipeline = pipeline
                self._carry_expected(old, new)
            self._model = model
            self._model_name = self.engine.model_name(model)
        self.config = new
        if new.source != old.source and self._source is not None:
            self._close_source()
            self._retry_at = 0.0
            self._backoff = new.source.retry_initial_s
        assert self.spool is not None
        self.spool.limits = spool_limits(new)
        self._reload_sinks(old, new)
        if new.metrics != old.metrics:
            if self._metrics is not None:
                self._metrics.close()
                self._metrics = None
            self._start_metrics()

    def _carry_expected(self, old: ServiceConfig, new: ServiceConfig) -> None:
        """Give a rebuilt pipeline the code the firmware set, unless the reloaded ``[rules]``
        brings another code of its own (then that is the latest change)."""
        text = self._expected_text
        engine = self._pipeline.rules if self._pipeline is not None else None
        own_code = new.rules is not None and (
            new.rules.expect is not None or new.rules.expect_file is not None
        )
        if text is None or engine is None or not new.expected_settable:
            self._expected_text = None
        elif new.rules == old.rules or not own_code:
            SetExpected(engine)(text)
        else:
            self._expected_text = None

    def _reload_sinks(self, old: ServiceConfig, new: ServiceConfig) -> None:
        assert self.spool is not None
        wanted = {sink.name: sink for sink in new.sinks}
        device_changed = new.service.device != old.service.device
        stale = [
            name
            for name, sink in self._sink_configs.items()
            if device_changed or wanted.get(name) != sink
        ]
        old_deliveries = self.deliveries
        self.deliveries = {n: d for n, d in self.deliveries.items() if n not in stale}
        self._sink_configs = {n: c for n, c in self._sink_configs.items() if n not in stale}
        for name in stale:
            delivery = old_deliveries[name]
            delivery.stop(self.clock())
            if not delivery.join(5.0):
                log.error("sink %s did not stop within 5 s", name)
        self.spool.set_sinks(wanted)
        self._start_sinks(tuple(s for n, s in wanted.items() if n not in self.deliveries))

    # ------------------------------------------------------------------ stop
    def _drain(self) -> None:
        assert self.spool is not None and self._pipeline is not None
        self.counters.state = "stopping"
        self.notifier.stopping(f"stopping: delivering {self._pending()} spooled events")
        self._spool_events(self._pipeline.finish())
        self.spool.sync()
        timeout = self.config.service.drain_timeout_s
        if not self.spool.wait_delivered(timeout):
            for state in self.sink_states():
                if state.pending:
                    log.warning(
                        "sink %s: %d events still spooled (%s); delivered after the next start",
                        state.name,
                        state.pending,
                        state.last_error or "slow",
                    )

    def _pending(self) -> int:
        return max((state.pending for state in self.sink_states()), default=0)

    def _close(self) -> None:
        if self._source is not None:
            self.counters.dropped += self._source.dropped
            try:
                self._source.close()
            except Exception as error:
                log.warning("closing the source: %s", error)
            self._source = None
        self._shutdown_quietly()

    def _shutdown_quietly(self) -> None:
        now = self.clock()
        for delivery in self.deliveries.values():
            delivery.stop(now)
        for delivery in self.deliveries.values():
            if not delivery.join(5.0):
                log.error("sink %s did not stop within 5 s", delivery.name)
        if self.spool is not None:
            try:
                self.spool.close()
            except OSError as error:
                log.error("closing the spool: %s (cursors may lag: duplicates, not losses)", error)
            self.spool = None
        if self._metrics is not None:
            self._metrics.close()
            self._metrics = None
        self.notifier.close()

    # --------------------------------------------------------------- reports
    def sink_states(self) -> list[SinkState]:
        return [delivery.state() for delivery in list(self.deliveries.values())]

    def health(self) -> tuple[bool, str]:
        """For /healthz: the loop iterated recently and the source is up."""
        counters = self.counters
        stall = max(5.0, 2 * (self.notifier.watchdog_interval_s or 0.0))
        age = self.clock() - counters.last_iteration
        if counters.state == "starting":
            return False, "starting"
        if age > stall:
            return False, f"processing loop stalled for {age:.1f} s"
        if not counters.source_up:
            return False, f"source down: {self._source_error}"
        return True, "ok"

    def collect(self) -> list[Metric]:
        counters = self.counters
        spool = self.spool
        source = self._source
        pipeline = self._pipeline
        stages = pipeline.stage_seconds() if pipeline is not None else {}
        states = self.sink_states()

        def per_sink(value: Callable[[SinkState], float]) -> tuple[Sample, ...]:
            return tuple(({"sink": s.name, "type": s.type}, value(s)) for s in states)

        metrics = [
            Metric.single("edge_ocr_frames_total", "counter", "Frames processed.", counters.frames),
            Metric.single(
                "edge_ocr_items_total", "counter", "Item events produced.", counters.items
            ),
            Metric.single(
                "edge_ocr_fps",
                "gauge",
                "Frames per second over the last status interval.",
                counters.fps,
            ),
            Metric.single(
                "edge_ocr_frame_processing_seconds_total",
                "counter",
                "Time spent in the pipeline.",
                counters.process_seconds,
            ),
            Metric.single(
                "edge_ocr_frames_dropped_total",
                "counter",
                "Frames a live source dropped because processing fell behind.",
                counters.dropped + (source.dropped if source is not None else 0),
            ),
            Metric(
                "edge_ocr_stage_seconds_total",
                "counter",
                "Time per pipeline stage (current pipeline; restarts on a rebuild).",
                tuple(({"stage": k}, v) for k, v in stages.items()),
            ),
            Metric.single(
                "edge_ocr_source_up",
                "gauge",
                "1 while the source delivers frames.",
                1.0 if counters.source_up else 0.0,
            ),
            Metric.single(
                "edge_ocr_source_failures_total",
                "counter",
                "Source failures (each followed by a backoff).",
                counters.source_failures,
            ),
            Metric(
                "edge_ocr_reloads_total",
                "counter",
                "Config reloads (SIGHUP) by result.",
                (
                    ({"result": "ok"}, counters.reloads_ok),
                    ({"result": "failed"}, counters.reloads_failed),
                ),
            ),
            Metric(
                "edge_ocr_verdicts_total",
                "counter",
                "Item events by OCV verdict (with [rules]).",
                tuple(({"verdict": v}, n) for v, n in counters.verdicts.items()),
            ),
            Metric(
                "edge_ocr_expected_code_changes_total",
                "counter",
                "SET_EXPECTED commands from the firmware, applied or ignored.",
                (
                    ({"result": "applied"}, counters.expected_set),
                    ({"result": "ignored"}, counters.expected_rejected),
                ),
            ),
            Metric.single(
                "edge_ocr_watchdog_pings_total",
                "counter",
                "WATCHDOG=1 messages sent to systemd.",
                counters.watchdog_pings,
            ),
            Metric.single(
                "edge_ocr_loop_age_seconds",
                "gauge",
                "Seconds since the processing loop last iterated.",
                self.clock() - counters.last_iteration,
            ),
            Metric(
                "edge_ocr_sink_up",
                "gauge",
                "1 while the sink delivers.",
                per_sink(lambda s: 1.0 if s.up else 0.0),
            ),
            Metric(
                "edge_ocr_sink_delivered_total",
                "counter",
                "Events delivered by the sink.",
                per_sink(lambda s: s.delivered),
            ),
            Metric(
                "edge_ocr_sink_errors_total",
                "counter",
                "Failed deliveries (retried).",
                per_sink(lambda s: s.errors),
            ),
            Metric(
                "edge_ocr_sink_rejected_total",
                "counter",
                "Events the receiver refused for good (set aside).",
                per_sink(lambda s: s.rejected),
            ),
            Metric(
                "edge_ocr_sink_pending",
                "gauge",
                "Spooled events the sink has not delivered.",
                per_sink(lambda s: s.pending),
            ),
        ]
        if spool is not None:
            metrics += [
                Metric.single(
                    "edge_ocr_spool_bytes",
                    "gauge",
                    "Size of the spool on disk.",
                    spool.size_bytes(),
                ),
                Metric.single(
                    "edge_ocr_spool_dropped_total",
                    "counter",
                    "Undelivered events deleted because the spool was full.",
                    spool.dropped,
                ),
                Metric.single(
                    "edge_ocr_spool_last_seq",
                    "gauge",
                    "Sequence number (item id) of the newest event.",
                    spool.last_seq,
                ),
            ]
        return metrics
