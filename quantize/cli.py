"""The ``python -m quantize`` command group: int8, check, report, export-c."""

from __future__ import annotations

import typer

from quantize.commands import check as check_command
from quantize.commands import export_c as export_c_command
from quantize.commands import int8 as int8_command
from quantize.commands import report as report_command

app = typer.Typer(
    name="quantize",
    help="Full-int8 conversion, float/int8 checks, model reports and C export.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command(name="int8")(int8_command.int8)
app.command(name="check")(check_command.check)
app.command(name="report")(report_command.report)
app.command(name="export-c")(export_c_command.export_c)


@app.callback()
def _root() -> None:
    """Full-int8 conversion, float/int8 checks, model reports and C export for edge-ocr models."""


def main() -> None:
    app()
