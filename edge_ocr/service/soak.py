"""Soak: run the real service loop on the synthetic conveyor and watch its memory.

The benchmark calls ``soak(600)`` (ten minutes at full speed) and checks ``result.flat()``:
resident memory after warm-up must stay within 10% of its early level. A bounded pipeline and
a bounded spool keep it flat; a leak (an unbounded track table, a growing queue) shows as a
steady climb. Linux only (reads ``/proc/self/statm``), like the devices it runs on.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from edge_ocr.service.config import ServiceConfig, parse_config
from edge_ocr.service.sdnotify import Notifier

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """Resident set size of this process now (not the peak getrusage reports)."""
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * PAGE


@dataclass(frozen=True)
class SoakResult:
    """RSS samples ``(seconds since start, bytes)`` and what the loop did meanwhile."""

    seconds: float
    frames: int
    items: int
    delivered: int
    samples: tuple[tuple[float, int], ...]
    warmup_s: float

    @property
    def baseline_rss(self) -> int:
        """The first sample after warm-up (model, arenas and caches allocated)."""
        after = [rss for t, rss in self.samples if t >= self.warmup_s]
        return after[0] if after else self.samples[-1][1]

    @property
    def peak_rss(self) -> int:
        return max(rss for t, rss in self.samples if t >= self.warmup_s)

    @property
    def growth(self) -> float:
        """Peak over baseline, minus one: 0.05 is 5% growth after warm-up."""
        return self.peak_rss / self.baseline_rss - 1.0

    def flat(self, tolerance: float = 0.10) -> bool:
        return self.growth <= tolerance

    def summary(self) -> str:
        mib = 1024 * 1024
        return (
            f"{self.seconds:.0f} s, {self.frames} frames ({self.frames / self.seconds:.1f} fps), "
            f"{self.items} items, {self.delivered} delivered; RSS {self.baseline_rss / mib:.1f} "
            f"-> peak {self.peak_rss / mib:.1f} MiB ({self.growth:+.1%})"
        )


def soak_config(state_dir: Path, model: str = "lines", accel: str = "cpu") -> ServiceConfig:
    """The synthetic conveyor into a JSON-lines file sink; no metrics port."""
    text = f"""
[service]
state_dir = '{state_dir}'
drain_timeout_s = 10.0

[source]
uri = "synthetic"
at_end = "reopen"

[model]
name = '{model}'
accel = '{accel}'

[metrics]
enabled = false

[[sinks]]
type = "file"
path = "events.jsonl"
"""
    return parse_config(text, state_dir / "soak.toml")


def soak(
    seconds: float,
    *,
    config: ServiceConfig | None = None,
    sample_every_s: float = 1.0,
    warmup_s: float | None = None,
) -> SoakResult:
    """Run the service loop for ``seconds`` and sample RSS every ``sample_every_s``.

    Without ``config`` it uses ``soak_config`` in a temporary state directory. Warm-up
    defaults to 10% of the run (at least one sample interval).
    """
    from edge_ocr.service.engine import PipelineEngine
    from edge_ocr.service.service import Service

    warmup = warmup_s if warmup_s is not None else max(sample_every_s, seconds * 0.1)
    with tempfile.TemporaryDirectory(prefix="edge-ocr-soak-") as scratch:
        service = Service(config or soak_config(Path(scratch)), PipelineEngine(), Notifier({}))
        outcome: list[BaseException] = []

        def run() -> None:
            try:
                service.run()
            except BaseException as error:  # re-raised in the caller's thread
                outcome.append(error)

        worker = threading.Thread(target=run, name="soak-service", daemon=True)
        started = time.monotonic()
        worker.start()
        samples: list[tuple[float, int]] = []
        while worker.is_alive() and (elapsed := time.monotonic() - started) < seconds:
            samples.append((elapsed, rss_bytes()))
            time.sleep(min(sample_every_s, max(0.0, seconds - elapsed)))
        samples.append((time.monotonic() - started, rss_bytes()))
        service.request_stop()
        worker.join()
        if outcome:
            raise outcome[0]
        delivered = sum(state.delivered for state in service.sink_states())
        return SoakResult(
            seconds=time.monotonic() - started,
            frames=service.counters.frames,
            items=service.counters.items,
            delivered=delivered,
            samples=tuple(samples),
            warmup_s=warmup,
        )
