"""The systemd camera service behind ``edge-ocr serve``.

``config`` (TOML -> frozen dataclasses), ``sdnotify`` (systemd readiness/watchdog), ``spool``
(durable event log with per-sink cursors), ``sinks`` (stdout, file, mqtt, http, serial),
``delivery`` (one thread per sink), ``metrics`` (/metrics, /healthz), ``unit`` (the systemd
unit), ``engine`` (the real pipeline behind the loop), ``service`` (the loop) and ``soak``
(RSS over a long synthetic run, for the benchmark).
"""
