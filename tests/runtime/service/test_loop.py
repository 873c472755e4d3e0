"""The service loop in-process, where a subprocess cannot show it: the watchdog stops while
the pipeline is stuck; startup failures are one-line errors; the soak helper for the bench."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from service_support import NotifySocket, wait_for
from typer.testing import CliRunner

from edge_ocr.cli import app
from edge_ocr.events import ItemEvent
from edge_ocr.service.config import ServiceConfig, load_config, parse_config
from edge_ocr.service.engine import PipelineEngine, PipelineProcessor
from edge_ocr.service.sdnotify import Notifier
from edge_ocr.service.service import Service
from firmware_bridge.testing import FakeFirmware
from edge_ocr.service.soak import soak
from edge_ocr.service.spool import Spool


def synthetic_config(state: Path, extra: str = "") -> ServiceConfig:
    return parse_config(
        f"""
[service]
state_dir = "{state}"
status_interval_s = 0.2
[source]
uri = "synthetic"
at_end = "reopen"
stall_timeout_s = 0.1
[source.synthetic]
speed = 1500.0
[model]
accel = "cpu"
[metrics]
enabled = false
[[sinks]]
type = "file"
path = "out.jsonl"
{extra}
""",
        state / "config.toml",
    )


class StuckProcessor(PipelineProcessor):
    """The real pipeline, which can be made to hang inside ``process`` (a wedged driver)."""

    stuck = threading.Event()
    release = threading.Event()

    def process(self, captured: Any) -> list[ItemEvent]:
        if self.stuck.is_set():
            self.release.wait(10)
        return super().process(captured)


class StuckEngine(PipelineEngine):
    def pipeline(self, config: ServiceConfig, model: Any) -> PipelineProcessor:
        return StuckProcessor(super().pipeline(config, model).pipeline)


def test_watchdog_is_fed_only_while_the_loop_runs(
    tmp_path: Path, notify_socket: NotifySocket
) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": notify_socket.path, "WATCHDOG_USEC": "200000"})
    service = Service(synthetic_config(tmp_path), StuckEngine(), notifier)
    worker = threading.Thread(target=service.run)
    worker.start()
    try:
        wait_for(lambda: len(notify_socket.seen("WATCHDOG=1")) >= 5, 30, "watchdog pings")
        StuckProcessor.stuck.set()
        time.sleep(0.3)  # let the loop enter the stuck call
        stuck_at = len(notify_socket.seen("WATCHDOG=1"))
        time.sleep(1.0)  # five intervals: systemd would restart the service now
        assert len(notify_socket.seen("WATCHDOG=1")) == stuck_at
        StuckProcessor.stuck.clear()
        StuckProcessor.release.set()
        wait_for(lambda: len(notify_socket.seen("WATCHDOG=1")) > stuck_at + 2, 10, "pings again")
    finally:
        StuckProcessor.stuck.clear()
        StuckProcessor.release.set()
        service.request_stop()
        worker.join(30)
    assert not worker.is_alive()
    assert notify_socket.seen("STOPPING=1")


def test_startup_failures_are_one_line_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = tmp_path / "bad.toml"
    bad.write_text("[[sinks]]\ntype = 'kafka'\n")
    result = runner.invoke(app, ["serve", "--config", str(bad)])
    assert result.exit_code == 78  # EX_CONFIG: the unit does not restart it in a loop
    assert "bad.toml:2: sinks[0].type: unknown sink type 'kafka'" in result.output
    missing = tmp_path / "model.toml"
    missing.write_text(
        f"[service]\nstate_dir = '{tmp_path}'\n[model]\nname = 'nope'\n[[sinks]]\ntype = 'stdout'\n"
    )
    result = runner.invoke(app, ["serve", "--config", str(missing)])
    assert result.exit_code == 1
    assert "edge-ocr: error: model nope: model not found: nope" in result.output
    assert "Traceback" not in result.output
    busy = tmp_path / "busy.toml"
    busy.write_text(f"[service]\nstate_dir = '{tmp_path}'\n[[sinks]]\ntype = 'stdout'\n")
    holder = Spool(tmp_path / "spool", ["stdout"])  # another service on the same state
    try:
        result = runner.invoke(app, ["serve", "--config", str(busy)])
    finally:
        holder.close()
    assert result.exit_code == 1
    assert "is in use by another edge-ocr process" in result.output


def test_soak_reports_rss_samples_for_the_benchmark(tmp_path: Path) -> None:
    result = soak(5.0, sample_every_s=0.25, config=synthetic_config(tmp_path))
    assert 5.0 <= result.seconds < 20
    assert len(result.samples) >= 15 and all(rss > 10 * 2**20 for _, rss in result.samples)
    assert result.frames > 50 and result.items > 0
    assert result.delivered == result.items  # the file sink got every event before the stop
    assert result.baseline_rss <= result.peak_rss
    assert result.growth < 0.25, result.summary()
    assert "MiB" in result.summary()


# One large, clean two-line item (the same as tests/runtime/test_rules_run.py reads), over
# and over: every event is that item, and its verdict says which expected code is in force.
CODE = "IXTUJZ | L4620098"
WRONG = "IXTUJZ | L4620038"


def rules_config(state: Path, rules: str, sinks: str = "") -> Path:
    path = state / "config.toml"
    path.write_text(
        f"""
[service]
state_dir = "{state}"
drain_timeout_s = 5.0
[source]
uri = "synthetic"
at_end = "reopen"
[source.synthetic]
items = 1
seed = 11
speed = 300.0
char_height = [28, 32]
noise = 2.0
[model]
accel = "cpu"
[metrics]
enabled = false
[spool]
sync_interval_s = 0.05
[rules]
{rules}
[[sinks]]
type = "file"
path = "out.jsonl"
{sinks}
"""
    )
    return path


def file_events(state: Path) -> list[dict[str, Any]]:
    path = state / "out.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_service_events_carry_verdicts_and_a_reload_changes_the_rules(tmp_path: Path) -> None:
    path = rules_config(tmp_path, f'expect = "{WRONG}"')
    service = Service(load_config(path), PipelineEngine())
    worker = threading.Thread(target=service.run)
    worker.start()
    try:
        wait_for(lambda: len(file_events(tmp_path)) >= 1, 60, "a first event")
        (first, *_) = file_events(tmp_path)
        assert first["text"] == CODE and first["verdict"] == "fail", first
        assert first["detail"].startswith("line 2, position 7") and first["grade"] in "ABCDF"
        rules_config(tmp_path, f'expect = "{CODE}"')
        service.request_reload()
        wait_for(lambda: service.counters.reloads_ok == 1, 30, "the reload")
        wait_for(lambda: any(e["verdict"] == "pass" for e in file_events(tmp_path)), 60, "a pass")
    finally:
        service.request_stop()
        worker.join(30)
    assert not worker.is_alive()
    verdicts = [e["verdict"] for e in file_events(tmp_path)]
    cut = verdicts.index("pass")
    assert set(verdicts[:cut]) == {"fail"} and set(verdicts[cut:]) == {"pass"}, verdicts
    assert service.counters.verdicts["pass"] == len(verdicts) - cut
    samples = {
        labels["verdict"]: value
        for metric in service.collect()
        if metric.name == "edge_ocr_verdicts_total"
        for labels, value in metric.samples
    }
    assert samples == {"pass": len(verdicts) - cut, "fail": cut, "no-read": 0}


def test_the_firmware_sets_the_expected_code_over_the_serial_sink(tmp_path: Path) -> None:
    firmware = FakeFirmware()
    sinks = f'[[sinks]]\ntype = "serial"\nurl = "tcp:127.0.0.1:{firmware.port}"\n'
    path = rules_config(tmp_path, 'template = "[A-Z]{6} | L[0-9]{7}"', sinks)
    config = load_config(path)
    assert config.expected_settable
    service = Service(config, PipelineEngine())
    worker = threading.Thread(target=service.run)
    worker.start()
    try:
        wait_for(lambda: firmware.received.count() >= 1, 60, "a first READ")
        # Settable and no code yet: no item passes before the firmware says what to expect.
        assert {e["verdict"] for e in file_events(tmp_path)} == {"no-read"}
        assert file_events(tmp_path)[0]["detail"] == "no expected code set"
        firmware.send_set_expected("lot 1")  # invalid: ignored, the loop goes on
        wait_for(lambda: service.counters.expected_rejected == 1, 30, "the bad code refused")
        firmware.send_set_expected(CODE)
        wait_for(lambda: service.counters.expected_set == 1, 30, "SET_EXPECTED applied")
        seen = len(file_events(tmp_path))
        wait_for(lambda: len(file_events(tmp_path)) >= seen + 2, 60, "items after the code")
        assert file_events(tmp_path)[-1]["verdict"] == "pass"
        service.request_reload()  # the reload changes nothing: the firmware's code stays
        wait_for(lambda: service.counters.reloads_ok == 1, 30, "the reload")
        seen = len(file_events(tmp_path))
        wait_for(lambda: len(file_events(tmp_path)) >= seen + 1, 60, "an item after it")
        assert file_events(tmp_path)[-1]["verdict"] == "pass"
        firmware.send_set_expected("")  # clears the code
        wait_for(lambda: service.counters.expected_set == 2, 30, "the code cleared")
        seen = len(file_events(tmp_path))
        wait_for(lambda: len(file_events(tmp_path)) >= seen + 2, 60, "items after clearing")
        assert file_events(tmp_path)[-1]["verdict"] == "no-read"
    finally:
        service.request_stop()
        worker.join(30)
        firmware.stop()
    assert not worker.is_alive()
    reads = list(firmware.received.reads.values())
    assert {int(read.verdict) for read in reads} >= {1, 3}  # PASS and NO_READ on the wire
