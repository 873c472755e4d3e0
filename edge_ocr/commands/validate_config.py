"""``edge-ocr validate-config``: check a service config and report every problem at once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def validate_config(
    config: Annotated[Path, typer.Argument(help="The service config (TOML) to check.")],
) -> None:
    """Check a service config file without starting anything.

    Every problem is printed on its own line as FILE:LINE: KEY: message, and the exit status is
    1 if there is any. Sink types are checked for availability here (an mqtt sink without
    paho-mqtt installed is an error now, not at 3 a.m.).
    """
    from edge_ocr.service.config import ConfigError, load_config

    try:
        loaded = load_config(config)
    except ConfigError as error:
        for problem in error.problems:
            typer.echo(f"edge-ocr: error: {problem.format(error.path)}", err=True)
        count = len(error.problems)
        typer.echo(f"{config}: {count} problem{'s' if count != 1 else ''}", err=True)
        raise typer.Exit(1) from None
    sinks = ", ".join(f"{sink.name} ({sink.type})" for sink in loaded.sinks)
    typer.echo(
        f"{config}: ok; source {loaded.source.uri}, model {loaded.model.name}, sinks: {sinks}, "
        f"state in {loaded.state_dir}"
    )
