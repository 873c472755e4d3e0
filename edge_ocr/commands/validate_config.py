"""``edge-ocr validate-config``: check a service config and report every problem at once."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from edge_ocr.service.config import ServiceConfig


def validate_config(
    config: Annotated[Path, typer.Argument(help="The service config (TOML) to check.")],
) -> None:
    """Check a service config file without starting anything.

    Every problem is printed on its own line as FILE:LINE: KEY: message, and the exit status is
    1 if there is any. Sink types are checked for availability here (an mqtt sink without
    paho-mqtt installed is an error now, not at 3 a.m.). A [rules] template and expected code
    are checked against the default charset; that they fit the model's is checked at start.
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
        f"state in {loaded.state_dir}{_rules_summary(loaded)}"
    )


def _rules_summary(loaded: ServiceConfig) -> str:
    """``; rules: ...`` naming what the [rules] section verifies (empty without one)."""
    rules = loaded.rules
    if rules is None:
        return ""
    parts = []
    if rules.template is not None:
        parts.append(f"template {rules.template!r}")
    if rules.expect is not None:
        parts.append(f"expected {rules.expect!r}")
    if rules.expect_file is not None:
        parts.append(f"expected code in {rules.expect_file}")
    if loaded.expected_settable:
        parts.append("set by the firmware")
    return "; rules: " + (", ".join(parts) or "grading only")
