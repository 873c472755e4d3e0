"""The ``edge-ocr`` command: one module per command under ``edge_ocr.commands``.

Heavy imports happen inside the commands, so ``edge-ocr --help`` is instant on a small device.
"""

from __future__ import annotations

import typer

from edge_ocr.commands import bench as bench_command
from edge_ocr.commands import demo as demo_command
from edge_ocr.commands import read as read_command
from edge_ocr.commands import run as run_command
from edge_ocr.commands import serve as serve_command
from edge_ocr.commands import service as service_command
from edge_ocr.commands import validate_config as validate_config_command

app = typer.Typer(
    name="edge-ocr",
    help="Read printed codes and captchas on small devices with tiny int8 models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command(name="read")(read_command.read)
app.command(name="demo")(demo_command.demo)
app.command(name="run")(run_command.run)
app.command(name="bench")(bench_command.bench)
app.command(name="serve")(serve_command.serve)
app.command(name="validate-config")(validate_config_command.validate_config)
app.add_typer(service_command.app, name="service")


@app.callback()
def _root() -> None:
    """Read printed codes and captchas on small devices with tiny int8 models."""


def main() -> None:
    app()


if __name__ == "__main__":
    main()
