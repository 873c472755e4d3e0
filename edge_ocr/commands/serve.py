"""``edge-ocr serve``: the camera service systemd runs (see ``edge-ocr service unit``)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from edge_ocr.commands.common import fail

# sysexits' EX_CONFIG: the unit's RestartPreventExitStatus= keeps systemd from restarting a
# service whose config is wrong (it would fail the same way forever).
EXIT_CONFIG = 78


def serve(
    config: Annotated[
        Path,
        typer.Option("--config", "-c", help="Service config (TOML); see `validate-config`."),
    ] = Path("/etc/edge-ocr/config.toml"),
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Log warnings and errors only.")
    ] = False,
) -> None:
    """Run the recognizer as a service: source -> pipeline -> durable spool -> sinks.

    Tells systemd when it is ready (model loaded, source open), pings its watchdog from the
    processing loop, reloads the config on SIGHUP and drains on SIGTERM. Events go to the
    configured sinks; logs go to stderr (the journal).
    """
    from edge_ocr.service.config import ConfigError, load_config
    from edge_ocr.service.engine import PipelineEngine
    from edge_ocr.service.service import Service, ServiceError

    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        stream=sys.stderr,
        format="edge-ocr: %(levelname)s: %(message)s",
    )
    try:
        loaded = load_config(config)
    except ConfigError as error:
        for problem in error.problems:
            typer.echo(f"edge-ocr: error: {problem.format(error.path)}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None
    service = Service(loaded, PipelineEngine())
    try:
        with service.signals():
            code = service.run()
    except ServiceError as error:
        fail(str(error), code=1)
    raise typer.Exit(code)
