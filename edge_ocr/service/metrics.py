"""``/metrics`` (Prometheus text format 0.0.4) and ``/healthz`` from a background thread.

The server only *reads* snapshots the service hands it through two callbacks, so a slow
scraper can never stall the processing loop. It binds 127.0.0.1 by default: exposing it
beyond the device is an explicit ``[metrics] host`` change.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger("edge_ocr.service")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class Metric:
    """One metric family: ``samples`` are ``(labels, value)`` pairs."""

    name: str
    kind: str  # counter | gauge
    help: str
    samples: tuple[tuple[Mapping[str, str], float], ...] = field(default_factory=tuple)

    @staticmethod
    def single(name: str, kind: str, help_text: str, value: float) -> Metric:
        return Metric(name, kind, help_text, (({}, value),))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def render(metrics: Iterable[Metric]) -> str:
    """The Prometheus text exposition of ``metrics``."""
    out: list[str] = []
    for metric in metrics:
        out.append(f"# HELP {metric.name} {_escape(metric.help)}")
        out.append(f"# TYPE {metric.name} {metric.kind}")
        for labels, value in metric.samples:
            label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            name = f"{metric.name}{{{label_text}}}" if label_text else metric.name
            out.append(f"{name} {_number(value)}")
    return "\n".join(out) + "\n"


class MetricsServer:
    """Serves ``collect()`` at /metrics and ``health()`` -> (ok, reason) at /healthz."""

    def __init__(
        self,
        host: str,
        port: int,
        collect: Callable[[], Iterable[Metric]],
        health: Callable[[], tuple[bool, str]],
    ) -> None:
        handler = _handler(collect, health)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="metrics",
            daemon=True,
        )

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=2.0)


def _handler(
    collect: Callable[[], Iterable[Metric]], health: Callable[[], tuple[bool, str]]
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "edge-ocr"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            try:
                if path == "/metrics":
                    self._answer(200, render(collect()), CONTENT_TYPE)
                elif path == "/healthz":
                    ok, reason = health()
                    self._answer(200 if ok else 503, reason + "\n", "text/plain; charset=utf-8")
                else:
                    self._answer(
                        404, "not found: try /metrics or /healthz\n", "text/plain; charset=utf-8"
                    )
            except Exception as error:  # a scrape must never take the service down
                log.exception("metrics request failed")
                self._answer(500, f"error: {error}\n", "text/plain; charset=utf-8")

        def _answer(self, code: int, body: str, content_type: str) -> None:
            data = body.encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            """Scrapes every few seconds would flood the journal; stay quiet."""

    return Handler
