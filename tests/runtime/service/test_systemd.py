"""sd_notify over a real datagram socket, the generated unit under systemd-analyze, and the
``edge-ocr service`` commands."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from service_support import NotifySocket, wait_for
from typer.testing import CliRunner

from edge_ocr.cli import app
from edge_ocr.service.sdnotify import Notifier
from edge_ocr.service.unit import DEFAULT_CONFIG, UnitOptions, default_exec_start, unit_text


def test_notifier_sends_each_message_as_one_datagram(notify_socket: NotifySocket) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": notify_socket.path})
    assert notifier.enabled
    assert notifier.ready("loaded model lines")
    assert notifier.status("running:\n3.0 fps")
    assert notifier.watchdog()
    assert notifier.reloading()
    assert notifier.stopping()
    wait_for(lambda: len(notify_socket.messages) == 5, 5, "five datagrams")
    messages = [message for _, message in notify_socket.messages]
    assert messages[0] == "READY=1\nSTATUS=loaded model lines"
    assert messages[1] == "STATUS=running: 3.0 fps"  # one line, whatever the caller passed
    assert messages[2] == "WATCHDOG=1"
    assert messages[3].startswith("RELOADING=1\nMONOTONIC_USEC=")
    assert messages[4] == "STOPPING=1"
    notifier.close()


def test_notifier_reaches_an_abstract_namespace_socket(tmp_path: Path) -> None:
    name = f"@edge-ocr-test-{os.getpid()}"
    listener = NotifySocket(name)
    try:
        assert Notifier({"NOTIFY_SOCKET": name}).ready()
        wait_for(lambda: bool(listener.messages), 5, "the datagram")
        assert listener.messages[0][1] == "READY=1"
    finally:
        listener.close()


def test_notifier_outside_systemd_and_with_a_dead_socket(tmp_path: Path) -> None:
    quiet = Notifier({})
    assert not quiet.enabled and not quiet.ready() and quiet.watchdog_interval_s is None
    dead = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert not dead.ready()  # logged, never raised: systemd may be restarting


def test_watchdog_interval_is_half_of_watchdog_usec_for_this_process_only() -> None:
    mine = Notifier({"WATCHDOG_USEC": "3000000", "WATCHDOG_PID": str(os.getpid())})
    assert mine.watchdog_interval_s == 1.5
    assert Notifier({"WATCHDOG_USEC": "3000000"}).watchdog_interval_s == 1.5
    assert Notifier({"WATCHDOG_USEC": "3000000", "WATCHDOG_PID": "1"}).watchdog_interval_s is None
    assert Notifier({"WATCHDOG_USEC": "0"}).watchdog_interval_s is None


def test_unit_has_the_hardening_the_service_relies_on() -> None:
    text = unit_text(UnitOptions(exec_start="/usr/bin/edge-ocr", watchdog_s=20))
    lines = set(text.splitlines())
    for expected in (
        "Type=notify",
        "NotifyAccess=main",
        "WatchdogSec=20s",
        "Restart=on-failure",
        "DynamicUser=yes",
        "SupplementaryGroups=video dialout",
        "StateDirectory=edge-ocr",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "CPUQuota=200%",
        "MemoryMax=512M",
        "ExecStart=/usr/bin/edge-ocr serve --config /etc/edge-ocr/config.toml",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ):
        assert expected in lines, expected
    user = unit_text(UnitOptions(exec_start="/usr/bin/edge-ocr", user="edgeocr"))
    assert "User=edgeocr" in user and "DynamicUser=yes" not in user


def _verify(unit: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed here (Debian: apt-get install systemd)")
    return subprocess.run(
        [tool, "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_systemd_analyze_verify_accepts_the_unit_cleanly(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["service", "unit", "--config", str(tmp_path / "config.toml")])
    assert result.exit_code == 0, result.output
    unit = tmp_path / "edge-ocr.service"
    unit.write_text(result.output)
    checked = _verify(unit)
    # verify exits 0 on unknown keys and bad values, only warning: so no output at all.
    assert checked.returncode == 0 and not checked.stdout.strip() and not checked.stderr.strip(), (
        checked.stdout + checked.stderr
    )
    # The check has teeth: a typo in a directive is reported.
    broken = tmp_path / "broken.service"
    broken.write_text(result.output.replace("ProtectSystem=strict", "ProtectSytem=strict"))
    assert "ProtectSytem" in _verify(broken).stderr


def test_service_install_writes_unit_and_default_config(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["service", "install", "--prefix", str(tmp_path)])
    assert result.exit_code == 0, result.output
    unit = tmp_path / "etc/systemd/system/edge-ocr.service"
    config = tmp_path / "etc/edge-ocr/config.toml"
    assert f"ExecStart={default_exec_start()} serve" in unit.read_text()
    assert config.read_text() == DEFAULT_CONFIG
    config.write_text("# mine\n" + DEFAULT_CONFIG)
    again = runner.invoke(app, ["service", "install", "--prefix", str(tmp_path)])
    assert again.exit_code == 0 and "kept" in again.output
    assert config.read_text().startswith("# mine")  # an operator's config is never clobbered


def test_service_unit_refuses_bad_limits() -> None:
    result = CliRunner().invoke(app, ["service", "unit", "--memory-max", "lots"])
    assert result.exit_code == 2
    assert "memory limit must look like 512M" in result.output
    assert "Traceback" not in result.output
