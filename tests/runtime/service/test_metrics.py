"""/metrics in Prometheus text format and /healthz, served from a real socket."""

from __future__ import annotations

import urllib.error
import urllib.request

from edge_ocr.service.metrics import Metric, MetricsServer, render


def test_render_is_prometheus_text_format() -> None:
    text = render(
        [
            Metric.single("edge_ocr_frames_total", "counter", "Frames processed.", 12),
            Metric(
                "edge_ocr_sink_up",
                "gauge",
                "1 while up.",
                (({"sink": 'a"b', "type": "mqtt"}, 1.0), ({"sink": "c", "type": "http"}, 0.0)),
            ),
            Metric.single("edge_ocr_fps", "gauge", "Frames per second.", 29.5),
        ]
    )
    assert text == (
        "# HELP edge_ocr_frames_total Frames processed.\n"
        "# TYPE edge_ocr_frames_total counter\n"
        "edge_ocr_frames_total 12\n"
        "# HELP edge_ocr_sink_up 1 while up.\n"
        "# TYPE edge_ocr_sink_up gauge\n"
        'edge_ocr_sink_up{sink="a\\"b",type="mqtt"} 1\n'
        'edge_ocr_sink_up{sink="c",type="http"} 0\n'
        "# HELP edge_ocr_fps Frames per second.\n"
        "# TYPE edge_ocr_fps gauge\n"
        "edge_ocr_fps 29.5\n"
    )


def test_server_answers_metrics_and_health_on_loopback() -> None:
    health = [(True, "ok")]
    server = MetricsServer(
        "127.0.0.1",
        0,
        lambda: [Metric.single("edge_ocr_items_total", "counter", "Items.", 3)],
        lambda: health[0],
    )
    server.start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            assert "edge_ocr_items_total 3" in response.read().decode()
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
            assert response.status == 200 and response.read() == b"ok\n"
        health[0] = (False, "source down: /dev/video0 vanished")
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=5)
            raise AssertionError("an unhealthy service must answer 503")
        except urllib.error.HTTPError as error:
            assert error.code == 503
            assert error.read() == b"source down: /dev/video0 vanished\n"
        try:
            urllib.request.urlopen(f"{base}/nope", timeout=5)
            raise AssertionError("unknown paths are 404")
        except urllib.error.HTTPError as error:
            assert error.code == 404
    finally:
        server.close()
