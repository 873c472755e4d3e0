"""The bench sections that depend on features built beside the line reader: characters,
conveyor streams and the service soak.

Each section runs in its own one-thread subprocess (``python -m bench.sections NAME OUT``) and
returns a dict with ``status`` (``ok`` or ``skipped``, or ``failed`` from the parent when the
child crashed), a one-line ``reason`` when not ok, a ``summary`` line and the ``targets`` it
checked. A section never fails the whole bench.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.measure import run_child

SOAK_SECONDS = 600.0
"""Issue 5's soak: ten minutes of the real service loop on the synthetic conveyor."""
SOAK_TOLERANCE = 0.10
"""RSS may grow at most 10% over its level after warm-up (``SoakResult.flat``)."""
SOAK_SAMPLE_EVERY_S = 10.0
"""Resolution of the RSS curve kept in the JSON (the soak samples every second)."""


def _missing(*modules: str) -> list[str]:
    missing = []
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(module)
    return missing


def _skipped(reason: str) -> dict[str, Any]:
    return {"status": "skipped", "reason": reason}


def chars_section(quick: bool, seconds: float | None) -> dict[str, Any]:  # noqa: ARG001
    """load_digits split and held-out synthetic characters: char model vs KNN and SVM."""
    missing = _missing("training.baselines")
    if missing:
        return _skipped(f"char mode not available ({', '.join(missing)} missing)")
    return _skipped("char mode not available: training.baselines is new and not wired in yet")


def streams_section(quick: bool, seconds: float | None) -> dict[str, Any]:  # noqa: ARG001
    """Conveyor streams at 200-1200 px/s: exact items, duplicates, false items, fps."""
    missing = _missing("edge_ocr.conveyor", "edge_ocr.pipeline")
    if missing:
        return _skipped(f"stream pipeline not available ({', '.join(missing)} missing)")
    return _skipped("stream pipeline not available: edge_ocr.pipeline is new and not wired in yet")


def soak_section(quick: bool, seconds: float | None) -> dict[str, Any]:
    """The service loop on the synthetic conveyor for ten minutes: is its RSS flat?"""
    if quick and seconds is None:
        return _skipped("full mode only (10 minutes)")
    missing = _missing("edge_ocr.service.soak", "edge_ocr.service.engine")
    if missing:
        return _skipped(f"service soak not available ({', '.join(missing)} missing)")
    from bench.report import Target
    from edge_ocr.service.soak import soak

    duration = seconds or SOAK_SECONDS
    result = soak(duration)
    mib = 1024 * 1024
    curve: list[tuple[float, float]] = []
    for elapsed, rss in result.samples:
        if not curve or elapsed - curve[-1][0] >= SOAK_SAMPLE_EVERY_S:
            curve.append((round(elapsed, 1), round(rss / mib, 2)))
    flat = result.flat(SOAK_TOLERANCE)
    target = Target(
        "soak_rss_flat",
        5,
        f"service soak, {duration / 60:.0f} min on the synthetic conveyor: RSS growth after "
        "warm-up",
        f"{result.growth:+.1%} ({result.baseline_rss / mib:.0f} -> "
        f"{result.peak_rss / mib:.0f} MiB)",
        f"<= {SOAK_TOLERANCE:.0%}",
        flat,
    )
    return {
        "status": "ok",
        "summary": result.summary(),
        "seconds": round(result.seconds, 1),
        "frames": result.frames,
        "items": result.items,
        "delivered": result.delivered,
        "baseline_rss_mib": round(result.baseline_rss / mib, 2),
        "peak_rss_mib": round(result.peak_rss / mib, 2),
        "growth": round(result.growth, 5),
        "flat": flat,
        "rss_curve_mib": curve,
        "targets": [target.to_dict()],
    }


SECTIONS: dict[str, Callable[[bool, float | None], dict[str, Any]]] = {
    "chars": chars_section,
    "streams": streams_section,
    "soak": soak_section,
}


def run_section(
    name: str, quick: bool, work_dir: Path, timeout_s: float, seconds: float | None = None
) -> dict[str, Any]:
    """Run one section in a one-thread subprocess."""
    out_file = work_dir / f"section-{name}.json"
    arguments = ["-m", "bench.sections", name, str(out_file)]
    if quick:
        arguments.append("--quick")
    if seconds is not None:
        arguments += ["--seconds", str(seconds)]
    return run_child(arguments, out_file, timeout_s)


def main(argv: Sequence[str] | None = None) -> int:
    """Child entry point: ``python -m bench.sections NAME OUT.json [--quick] [--seconds S]``."""
    parser = argparse.ArgumentParser(prog="python -m bench.sections")
    parser.add_argument("name", choices=sorted(SECTIONS))
    parser.add_argument("out", type=Path)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--seconds", type=float, default=None, help="Shorter soak, for trying the section out."
    )
    args = parser.parse_args(argv)
    result = SECTIONS[args.name](args.quick, args.seconds)
    args.out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
