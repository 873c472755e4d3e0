"""``edge-ocr service``: the systemd unit, printed or installed with a default config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edge_ocr.commands.common import fail
from edge_ocr.service.unit import CONFIG_PATH, DEFAULT_CONFIG, UNIT_NAME, UnitOptions

app = typer.Typer(
    name="service",
    help="The systemd unit for `edge-ocr serve`: print it, or install it with a default config.",
    no_args_is_help=True,
)

ConfigOption = Annotated[
    str, typer.Option("--config", help="Config path the unit passes to `edge-ocr serve`.")
]
ExecOption = Annotated[
    str,
    typer.Option("--exec", help="The edge-ocr executable (default: the one next to this Python)."),
]
WatchdogOption = Annotated[
    int, typer.Option("--watchdog", help="WatchdogSec: restart the service if its loop stalls.")
]
CpuOption = Annotated[str, typer.Option("--cpu-quota", help="CPUQuota, e.g. 200% = two cores.")]
MemoryOption = Annotated[str, typer.Option("--memory-max", help="MemoryMax, e.g. 512M.")]
UserOption = Annotated[
    str,
    typer.Option("--user", help="Run as this existing user instead of DynamicUser=yes."),
]


def _options(
    config: str, exec_path: str, watchdog: int, cpu_quota: str, memory_max: str, user: str
) -> UnitOptions:
    from edge_ocr.service.unit import default_exec_start

    options = UnitOptions(
        exec_start=exec_path or default_exec_start(),
        config=config,
        watchdog_s=watchdog,
        cpu_quota=cpu_quota,
        memory_max=memory_max,
        user=user,
    )
    problems = options.problems()
    if problems:
        fail("; ".join(problems))
    return options


@app.command()
def unit(
    config: ConfigOption = CONFIG_PATH,
    exec_path: ExecOption = "",
    watchdog: WatchdogOption = 30,
    cpu_quota: CpuOption = "200%",
    memory_max: MemoryOption = "512M",
    user: UserOption = "",
) -> None:
    """Print the hardened systemd unit (Type=notify, watchdog, DynamicUser, sandboxing)."""
    from edge_ocr.service.unit import unit_text

    typer.echo(
        unit_text(_options(config, exec_path, watchdog, cpu_quota, memory_max, user)), nl=False
    )


@app.command()
def install(
    prefix: Annotated[
        Path,
        typer.Option(
            "--prefix", help="Root to install under (a staging tree or image); / is live."
        ),
    ] = Path("/"),
    config: ConfigOption = CONFIG_PATH,
    exec_path: ExecOption = "",
    watchdog: WatchdogOption = 30,
    cpu_quota: CpuOption = "200%",
    memory_max: MemoryOption = "512M",
    user: UserOption = "",
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing config with the default.")
    ] = False,
) -> None:
    """Write the unit to PREFIX/etc/systemd/system and the default config (kept if present)."""
    from edge_ocr.service.unit import unit_text

    options = _options(config, exec_path, watchdog, cpu_quota, memory_max, user)
    unit_path = prefix / "etc/systemd/system" / UNIT_NAME
    config_path = prefix / config.lstrip("/")
    try:
        unit_path.parent.mkdir(parents=True, exist_ok=True)
        unit_path.write_text(unit_text(options), encoding="utf-8")
        typer.echo(f"wrote {unit_path}")
        if config_path.exists() and not force:
            typer.echo(f"kept {config_path} (exists; --force replaces it with the default)")
        else:
            config_path.parent.mkdir(parents=True, exist_ok=True)
            config_path.write_text(DEFAULT_CONFIG, encoding="utf-8")
            config_path.chmod(0o644)
            typer.echo(f"wrote {config_path}")
    except OSError as error:
        fail(f"cannot install under {prefix}: {error.strerror or error} ({error.filename})")
    if prefix == Path("/"):
        typer.echo(
            "next: edit the config, `edge-ocr validate-config "
            f"{config}`, then `systemctl daemon-reload && systemctl enable --now edge-ocr`"
        )
