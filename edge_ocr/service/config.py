"""The service's TOML config as frozen dataclasses; every problem reported with key and line.

``load_config(path)`` returns a ``ServiceConfig`` or raises ``ConfigError`` listing *all*
problems (``FILE:LINE: KEY: message``), so an operator fixes a file in one pass. Sections:

- ``[service]``  device name, state directory, drain timeout, status interval
- ``[source]``   camera/file/synthetic source and its reconnect backoff
- ``[model]``    bundled model name or path, accelerator, threads
- ``[pipeline]`` the recognition pipeline's ``PipelineConfig``: ``roi``, ``max_batch`` and the
  ``[pipeline.locate]`` / ``[pipeline.track]`` thresholds
- ``[spool]``    durable event spool: segment size, total cap, fsync batching
- ``[metrics]``  Prometheus ``/metrics`` and ``/healthz`` address
- ``[rules]``    optional: field template, expected code (text or watched file) and the
  ``[rules.thresholds]`` of OCV, rejects and grading (``edge_ocr.rules.RulesSettings``);
  with it every event carries a verdict and a grade
- ``[[sinks]]``  one table per sink, chosen by ``type`` (see ``sinks.SINK_TYPES``)
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_ocr.conveyor import ConveyorConfig
from edge_ocr.pipeline import PipelineConfig
from edge_ocr.rules.settings import RulesSettings
from edge_ocr.service.sinks import SINK_COMMON_KEYS, SINK_TYPES
from edge_ocr.service.tables import (
    ConfigError,
    Problem,
    Problems,
    build,
    join,
    key_lines,
    unknown_key,
)

__all__ = ["ConfigError", "ServiceConfig", "load_config", "parse_config"]

DEFAULT_CONFIG_PATH = Path("/etc/edge-ocr/config.toml")
DEFAULT_STATE_DIR = Path("/var/lib/edge-ocr")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def default_state_dir() -> Path:
    """systemd's ``$STATE_DIRECTORY`` (set by ``StateDirectory=``), else /var/lib/edge-ocr."""
    from_systemd = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(from_systemd) if from_systemd else DEFAULT_STATE_DIR


def _default_device() -> str:
    name = socket.gethostname().split(".")[0]
    return name if _NAME.match(name) else "edge-ocr"


@dataclass(frozen=True)
class GeneralConfig:
    """``[service]``: identity and shutdown behaviour."""

    device: str = field(default_factory=_default_device)
    state_dir: Path = field(default_factory=default_state_dir)
    drain_timeout_s: float = 10.0
    status_interval_s: float = 1.0

    def problems(self) -> list[tuple[str, str]]:
        found = []
        if not _NAME.match(self.device):
            found.append(("device", f"must be 1-64 of A-Z a-z 0-9 _ . -, got {self.device!r}"))
        if self.drain_timeout_s < 0:
            found.append(("drain_timeout_s", f"must be >= 0, got {self.drain_timeout_s}"))
        if self.status_interval_s <= 0:
            found.append(("status_interval_s", f"must be > 0, got {self.status_interval_s}"))
        return found


AT_END = ("stop", "reopen")


@dataclass(frozen=True)
class SourceConfig:
    """``[source]``: what to read frames from and how to retry when it fails.

    ``uri`` is ``synthetic`` (the built-in conveyor, shaped by ``[source.synthetic]``), a
    camera (``/dev/video0`` or ``0``), a video file, an image folder or a stream URL. A source
    that fails or vanishes is reopened after ``retry_initial_s``, doubling up to
    ``retry_max_s``. A finite source (file, folder, synthetic) that ends either stops the
    service cleanly (``at_end = "stop"``: drain, exit 0) or starts over (``"reopen"``).
    ``realtime`` replays files and the synthetic stream at their frame rate, like a camera.
    """

    uri: str = "synthetic"
    retry_initial_s: float = 0.5
    retry_max_s: float = 30.0
    at_end: str = "stop"
    realtime: bool = False
    queue_size: int = 4
    stall_timeout_s: float = 5.0
    synthetic: ConveyorConfig = field(default_factory=ConveyorConfig)

    def problems(self) -> list[tuple[str, str]]:
        found = []
        if not self.uri:
            found.append(("uri", "must not be empty"))
        if self.retry_initial_s <= 0:
            found.append(("retry_initial_s", f"must be > 0, got {self.retry_initial_s}"))
        if self.retry_max_s < self.retry_initial_s:
            found.append(("retry_max_s", f"must be >= retry_initial_s, got {self.retry_max_s}"))
        if self.at_end not in AT_END:
            found.append(("at_end", f"must be 'stop' or 'reopen', got {self.at_end!r}"))
        if self.queue_size < 1:
            found.append(("queue_size", f"must be >= 1, got {self.queue_size}"))
        if self.stall_timeout_s <= 0:
            found.append(("stall_timeout_s", f"must be > 0, got {self.stall_timeout_s}"))
        return found


ACCELERATORS = ("auto", "cpu", "gpu", "none")


@dataclass(frozen=True)
class ModelConfig:
    """``[model]``: a bundled model name or a .tflite path (contract beside it)."""

    name: str = "lines"
    accel: str = "auto"
    threads: int = 1

    def problems(self) -> list[tuple[str, str]]:
        found = []
        if not self.name:
            found.append(("name", "must not be empty"))
        if self.accel not in ACCELERATORS and not self.accel.endswith(".so"):
            found.append(
                ("accel", f"must be auto, cpu, gpu, none or a delegate .so, got {self.accel!r}")
            )
        if self.threads < 1:
            found.append(("threads", f"must be >= 1, got {self.threads}"))
        return found


@dataclass(frozen=True)
class SpoolConfig:
    """``[spool]``: the durable event log in the state directory (see ``spool.py``)."""

    segment_bytes: int = 4 * 1024 * 1024
    max_bytes: int = 256 * 1024 * 1024
    sync_every: int = 16
    sync_interval_s: float = 0.2

    def problems(self) -> list[tuple[str, str]]:
        found = []
        if self.segment_bytes < 4096:
            found.append(("segment_bytes", f"must be >= 4096, got {self.segment_bytes}"))
        if self.max_bytes < 2 * self.segment_bytes:
            found.append(("max_bytes", "must be at least twice segment_bytes"))
        if self.sync_every < 1:
            found.append(("sync_every", f"must be >= 1, got {self.sync_every}"))
        if self.sync_interval_s <= 0:
            found.append(("sync_interval_s", f"must be > 0, got {self.sync_interval_s}"))
        return found


@dataclass(frozen=True)
class MetricsConfig:
    """``[metrics]``: ``/metrics`` and ``/healthz``; loopback only unless changed on purpose."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 9310

    def problems(self) -> list[tuple[str, str]]:
        if not 0 <= self.port < 65536:
            return [("port", f"must be in 0..65535 (0: any free port), got {self.port}")]
        return []


@dataclass(frozen=True)
class SinkConfig:
    """One ``[[sinks]]`` table: its ``type``, unique ``name`` and typed options.

    ``table`` keeps the raw table for sinks that pass options through (serial).
    """

    type: str
    name: str
    options: Any
    table: Mapping[str, Any]
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0


@dataclass(frozen=True)
class ServiceConfig:
    """The whole file, validated."""

    path: Path
    service: GeneralConfig
    source: SourceConfig
    model: ModelConfig
    pipeline: PipelineConfig
    spool: SpoolConfig
    metrics: MetricsConfig
    sinks: tuple[SinkConfig, ...]
    rules: RulesSettings | None = None
    """None without a ``[rules]`` section: events carry no verdict."""

    @property
    def state_dir(self) -> Path:
        return self.service.state_dir

    @property
    def expected_settable(self) -> bool:
        """Whether a serial sink's SET_EXPECTED may set the expected code: ``rules.settable``
        and a serial sink to receive it from."""
        return (
            self.rules is not None
            and self.rules.settable
            and any(sink.type == "serial" for sink in self.sinks)
        )


SECTIONS = ("service", "source", "model", "pipeline", "spool", "metrics", "rules", "sinks")


def _sink_type(table: Any, key: str, problems: Problems) -> str | None:
    """The table's sink type if it is known and usable here."""
    if not isinstance(table, dict):
        problems.add(key, "must be a table ([[sinks]])")
        return None
    kind = table.get("type")
    if kind is None:
        problems.add(join(key, "type"), f"is required (one of: {', '.join(SINK_TYPES)})")
        return None
    if not isinstance(kind, str) or kind not in SINK_TYPES:
        problems.add(
            join(key, "type"), f"unknown sink type {kind!r} (known: {', '.join(SINK_TYPES)})"
        )
        return None
    reason = SINK_TYPES[kind].unavailable()
    if reason:
        problems.add(join(key, "type"), f"sink type {kind!r} is unavailable here: {reason}")
        return None
    return kind


def _sink_backoff(table: dict[str, Any], key: str, problems: Problems) -> dict[str, float]:
    """The delivery backoff keys every sink table may have."""
    common = {"backoff_initial_s": 0.5, "backoff_max_s": 30.0}
    for option in common:
        if option in table:
            value = table[option]
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                problems.add(join(key, option), f"must be a number > 0, got {value!r}")
            else:
                common[option] = float(value)
    if common["backoff_max_s"] < common["backoff_initial_s"]:
        problems.add(join(key, "backoff_max_s"), "must be >= backoff_initial_s")
    return common


def _sink(table: Any, key: str, problems: Problems, names: dict[str, str]) -> SinkConfig | None:
    kind = _sink_type(table, key, problems)
    if kind is None:
        return None
    before = len(problems.items)
    entry = SINK_TYPES[kind]
    name = table.get("name", kind)
    if not isinstance(name, str) or not _NAME.match(name):
        problems.add(join(key, "name"), f"must be 1-64 of A-Z a-z 0-9 _ . -, got {name!r}")
    elif name in names:
        problems.add(
            join(key, "name"),
            f"duplicate sink name {name!r} (also {names[name]}); give each sink its own name",
        )
    else:
        names[name] = key
    backoff = _sink_backoff(table, key, problems)
    if entry.open_options:
        # Only this type's own fields here; the rest pass through to the sink's own checks.
        own = {k: v for k, v in table.items() if k in _field_names(entry.options)}
        options = build(entry.options, own, key, problems)
        if options is not None and entry.extra_problems is not None:
            for option, message in entry.extra_problems(table):
                problems.add(join(key, option) if option else key, message)
    else:
        options = build(entry.options, table, key, problems, skip=SINK_COMMON_KEYS)
    if options is None or len(problems.items) > before:
        return None
    return SinkConfig(
        type=kind,
        name=str(name),
        options=options,
        table=types.MappingProxyType(dict(table)),
        backoff_initial_s=backoff["backoff_initial_s"],
        backoff_max_s=backoff["backoff_max_s"],
    )


def _field_names(cls: type[Any]) -> set[str]:
    return set(getattr(cls, "__dataclass_fields__", {}))


def parse_config(text: str, path: Path | str = "<config>") -> ServiceConfig:
    """Parse and validate config text; ``path`` is used in messages and kept on the result."""
    problems = Problems(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        problems.add("", f"not valid TOML: {error}")
        problems.raise_if_any()
        raise  # unreachable: raise_if_any raised
    problems.lines = key_lines(text)
    for name in data:
        if name not in SECTIONS:
            unknown_key("", name, list(SECTIONS), problems)

    general = build(GeneralConfig, data.get("service", {}), "service", problems)
    source = build(SourceConfig, data.get("source", {}), "source", problems)
    model = build(ModelConfig, data.get("model", {}), "model", problems)
    pipeline = build(PipelineConfig, data.get("pipeline", {}), "pipeline", problems)
    spool = build(SpoolConfig, data.get("spool", {}), "spool", problems)
    metrics = build(MetricsConfig, data.get("metrics", {}), "metrics", problems)
    rules = _rules(data, Path(path), problems)

    sinks: list[SinkConfig] = []
    raw_sinks = data.get("sinks")
    if raw_sinks is None:
        problems.add("sinks", 'at least one [[sinks]] table is required (e.g. type = "stdout")')
    elif not isinstance(raw_sinks, list) or not raw_sinks:
        problems.add("sinks", "must be one or more [[sinks]] tables")
    else:
        names: dict[str, str] = {}
        for index, table in enumerate(raw_sinks):
            sink = _sink(table, f"sinks[{index}]", problems, names)
            if sink is not None:
                sinks.append(sink)
    problems.raise_if_any()
    # No problems: every section was built.
    assert general and source and model and pipeline and spool and metrics
    state_dir = general.state_dir
    if not state_dir.is_absolute():
        # Relative to the config file, so a config and its state can travel together.
        state_dir = (Path(path).parent / state_dir).resolve()
        general = GeneralConfig(
            general.device, state_dir, general.drain_timeout_s, general.status_interval_s
        )
    return ServiceConfig(
        path=Path(path),
        service=general,
        source=source,
        model=model,
        pipeline=pipeline,
        spool=spool,
        metrics=metrics,
        sinks=tuple(sinks),
        rules=rules,
    )


def _rules(data: Mapping[str, Any], path: Path, problems: Problems) -> RulesSettings | None:
    """The ``[rules]`` section (None without one); a relative ``expect_file`` is beside the
    config file, like a relative ``state_dir``."""
    if "rules" not in data:
        return None
    table = data["rules"]
    if isinstance(table, dict):
        expect_file = table.get("expect_file")
        if isinstance(expect_file, str) and expect_file and not Path(expect_file).is_absolute():
            table = dict(table, expect_file=str(path.parent / expect_file))
    return build(RulesSettings, table, "rules", problems)


def load_config(path: Path | str) -> ServiceConfig:
    """Read and validate a config file; ``ConfigError`` (one line per problem) on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, [Problem("", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(path, [Problem("", f"cannot read: {error}")]) from None
    return parse_config(text, path)
