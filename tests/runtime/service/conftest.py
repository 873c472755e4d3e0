"""Fixtures for the service tests; the helpers themselves are in service_support.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# pytest runs with --import-mode=importlib, which puts no test folder on sys.path.
sys.path.insert(0, str(Path(__file__).parent))

from service_support import Broker, NotifySocket, Receiver, find_mosquitto


@pytest.fixture()
def broker(tmp_path: Path) -> Iterator[Broker]:
    pytest.importorskip("paho.mqtt", reason="paho-mqtt is not installed (edge-ocr[mqtt])")
    directory = tmp_path / "mosquitto"
    directory.mkdir()
    running = Broker(find_mosquitto(), directory)
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.stop()


@pytest.fixture()
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    running = NotifySocket(str(tmp_path / "notify.sock"))
    yield running
    running.close()
