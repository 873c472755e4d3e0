"""``python -m bench [--quick]``: generate the sets, measure every reader, write the results."""

from __future__ import annotations

import pickle
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from bench.measure import ROOT, Job, spawn
from bench.peers import READER_IDS, READER_LABELS
from bench.report import (
    check_targets,
    machine_info,
    now_iso,
    speed_ratios,
    stream_fps_estimates,
    write_outputs,
)
from bench.score import score_set
from bench.sections import SECTIONS, SectionOptions, run_section
from bench.sets import FULL_SIZES, QUICK_SIZES, EvalSet, SetSizes, build_sets

EDGE_READERS = ("edge-ocr-int8", "edge-ocr-float")
PEER_MODEL = "-"
"""Peers read every set with their one model."""

app = typer.Typer(add_completion=False, help=__doc__)


def _say(message: str) -> None:
    typer.echo(message, err=True)


def _parse_list(value: str, known: tuple[str, ...], what: str) -> tuple[str, ...]:
    if value in ("all", ""):
        return known if value == "all" else ()
    chosen = tuple(v.strip() for v in value.split(",") if v.strip())
    unknown = [v for v in chosen if v not in known]
    if unknown:
        _say(f"bench: unknown {what} {', '.join(unknown)} (known: {', '.join(known)})")
        raise typer.Exit(2)
    return chosen


def _jobs(readers: tuple[str, ...], sets: list[EvalSet], runs_dir: str, batch: int) -> list[Job]:
    """One job (one process) per reader over every set; edge-ocr reads each set with the
    set's model (lines or captcha), peers read every set the same way."""
    names = tuple(s.name for s in sets)
    models = tuple(s.model for s in sets)
    peer_models = tuple(PEER_MODEL for _ in sets)
    return [
        Job(reader, names, models if reader in EDGE_READERS else peer_models, batch=batch,
            runs_dir=runs_dir)
        for reader in readers
    ]  # fmt: skip


def float_pairing(model: str, runs_dir: Path) -> dict[str, Any]:
    """Is the recipe's run folder's ``model.keras`` the float model the bundled int8 was exported
    from? Only then does "int8 loses at most 0.5 points against float" compare like with like:
    the run's own export (``model.tflite``) must be byte-identical to the bundled one."""
    from edge_ocr.contract import file_sha256
    from edge_ocr.model import BUNDLED_DIR
    from training.recipes import bundled_run_dir

    bundled = BUNDLED_DIR / f"{model}.tflite"
    run_dir = Path(bundled_run_dir(model, str(runs_dir)))
    exported = run_dir / "model.tflite"
    if not bundled.is_file():
        return {"paired": None, "detail": f"no bundled {model} model"}
    if not exported.is_file():
        return {
            "paired": False,
            "detail": f"{exported} missing: the float model may not be the bundled int8's",
        }
    if file_sha256(exported) != file_sha256(bundled):
        return {"paired": False, "detail": f"{exported} differs from the bundled {model}.tflite"}
    keras_file = run_dir / "model.keras"
    if keras_file.is_file() and keras_file.stat().st_mtime > exported.stat().st_mtime:
        # Training went on after the export (a resumed or extended run).
        return {"paired": False, "detail": f"{keras_file} is newer than its int8 export"}
    return {"paired": True, "detail": ""}


def _collect(
    jobs: list[Job], outcomes: list[dict[str, Any]], sets: dict[str, EvalSet]
) -> dict[str, Any]:
    """Per reader: whether it ran (or why not), its memory, and the scores of every set it
    read; sets it could not read (a model not installed) are listed with the reason."""
    readers: dict[str, Any] = {}
    for job, outcome in zip(jobs, outcomes, strict=True):
        entry: dict[str, Any] = {
            "label": READER_LABELS[job.reader],
            "status": outcome["status"],
            "reason": outcome.get("reason", ""),
            "memory": outcome.get("memory", {}),
            "models": {},
            "sets": {},
            "skipped_sets": {},
        }
        readers[job.reader] = entry
        for name, measured in outcome.get("sets", {}).items():
            if measured["status"] != "ok":
                entry["skipped_sets"][name] = measured["reason"]
                continue
            entry["models"].setdefault(
                measured["model"],
                {k: measured[k] for k in ("library", "version", "model_files", "model_bytes",
                                           "preprocessing", "load_seconds")},
            )  # fmt: skip
            score = score_set(sets[name], measured)
            score["model"] = measured["model"]
            score["model_bytes"] = measured["model_bytes"]
            score["peak_rss_kb"] = entry["memory"]["peak_rss_kb"]
            score["reader_rss_kb"] = entry["memory"]["reader_rss_kb"]
            entry["sets"][name] = score
    return readers


@app.command()
def main(
    quick: Annotated[
        bool, typer.Option("--quick", help="Small sets (under 2 minutes), for development.")
    ] = False,
    readers: Annotated[
        str, typer.Option(help=f"Comma-separated readers, or 'all': {', '.join(READER_IDS)}.")
    ] = "all",
    sections: Annotated[
        str,
        typer.Option(help=f"Extra sections, comma-separated, 'all' or '': {', '.join(SECTIONS)}."),
    ] = "all",
    lines: Annotated[
        int | None, typer.Option(min=1, help="Override the number of held-out lines.")
    ] = None,
    captchas: Annotated[
        int | None,
        typer.Option(min=1, help="Override the number of 4-char captchas (5-6 chars: half)."),
    ] = None,
    results: Annotated[Path, typer.Option(help="Where the JSON, markdown and plot go.")] = ROOT
    / "bench"
    / "results",
    runs: Annotated[
        str, typer.Option(help="Training runs folder with <model>/model.keras (float models).")
    ] = "runs",
    soak_seconds: Annotated[
        float | None,
        typer.Option(
            min=1.0,
            help="Run the service soak for this long (default: 600 s, full "
            "mode only; given, it also runs in quick mode).",
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(min=1.0, help="Seconds one reader may take (default: 300 quick, 3600 full)."),
    ] = None,
) -> None:
    """Measure edge-ocr int8 and float, Tesseract and RapidOCR on the same crops, one thread
    each, and check the figures the issues ask for. A reader that is not installed is skipped
    and said so; only a crash of edge-ocr itself makes the exit status non-zero."""
    chosen_readers = _parse_list(readers, READER_IDS, "reader")
    chosen_sections = _parse_list(sections, tuple(SECTIONS), "section")
    base = QUICK_SIZES if quick else FULL_SIZES
    sizes = SetSizes(
        lines=lines or base.lines,
        captchas_4=captchas or base.captchas_4,
        captchas_5_6=max(1, captchas // 2) if captchas else base.captchas_5_6,
    )
    mode = "quick" if quick else "full"
    started_iso = now_iso()
    started = time.monotonic()
    machine = machine_info()
    _say(f"bench ({mode}): generating sets {sizes}")
    eval_sets = build_sets(sizes)
    by_name = {s.name: s for s in eval_sets}
    _say(f"bench: sets ready in {time.monotonic() - started:.0f} s")
    jobs = _jobs(chosen_readers, eval_sets, runs, batch=32)
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="edge-ocr-bench-") as tmp:
        work = Path(tmp)
        set_files = {}
        for eval_set in eval_sets:
            set_files[eval_set.name] = work / f"{eval_set.name}.pkl"
            with set_files[eval_set.name].open("wb") as handle:
                pickle.dump(eval_set, handle, protocol=pickle.HIGHEST_PROTOCOL)
        for job in jobs:
            job_started = time.monotonic()
            outcome = spawn(
                job,
                {n: set_files[n] for n in job.sets},
                work,
                timeout or (300.0 if quick else 3600.0),
            )
            detail = outcome.get("reason", "")
            _say(
                f"bench: {READER_LABELS[job.reader]} on {', '.join(job.sets)}: "
                f"{outcome['status']}{': ' + detail if detail else ''} "
                f"({time.monotonic() - job_started:.0f} s)"
            )
            outcomes.append(outcome)
        section_results = {}
        for name in SECTIONS:
            if name not in chosen_sections:
                section_results[name] = {"status": "skipped", "reason": "not selected (--sections)"}
                continue
            section_started = time.monotonic()
            options = SectionOptions(quick, soak_seconds, ROOT / runs)
            section_results[name] = run_section(name, options, work, 3 * 3600.0)
            outcome = section_results[name]
            detail = outcome.get("reason", outcome.get("summary", ""))
            _say(
                f"bench: section {name}: {outcome['status']}: {detail} "
                f"({time.monotonic() - section_started:.0f} s)"
            )
    result: dict[str, Any] = {
        "schema": "edge-ocr-bench/1",
        "mode": mode,
        "started": started_iso,
        "machine": machine,
        "sets": {s.name: s.describe() for s in eval_sets},
        "readers": _collect(jobs, outcomes, by_name),
        "sections": section_results,
        "float_pairing": {
            model: float_pairing(model, ROOT / runs)
            for model in dict.fromkeys(s.model for s in eval_sets)
        },
    }
    result["ratios"] = speed_ratios(result)
    result["stream_fps_estimates"] = stream_fps_estimates(result)
    result["targets"] = check_targets(result)
    result["duration_s"] = round(time.monotonic() - started, 1)
    for path in write_outputs(result, results):
        _say(f"bench: wrote {path}")
    crashed = [
        f"{job.reader}: {outcome['reason']}"
        for job, outcome in zip(jobs, outcomes, strict=True)
        if job.reader in EDGE_READERS and outcome["status"] == "failed"
    ]
    if crashed:
        _say("bench: edge-ocr failed: " + "; ".join(crashed))
        raise typer.Exit(1)
