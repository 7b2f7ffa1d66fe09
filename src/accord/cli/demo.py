"""``accord demo``: the seed scenario on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from accord.cli.common import make_console
from accord.demo import DemoOptions, run_demo

__all__ = ["register"]


def demo(
    parties: Annotated[
        int, typer.Option("--parties", min=2, max=4, help="How many parties share the data.")
    ] = 2,
    nodes: Annotated[
        int, typer.Option("--nodes", min=1, max=4, help="How many enclave nodes to start.")
    ] = 2,
    work_dir: Annotated[
        Path | None,
        typer.Option(
            "--work-dir", metavar="DIR", help="Work folder (kept); a temporary one if omitted."
        ),
    ] = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the work folder in place for inspection.")
    ] = False,
) -> None:
    """Run the multi-party demo on this machine: real processes, simulated enclaves.

    Parties seal the shipped agaricus data, an orchestrator and enclave nodes start on
    loopback, every party attests every node, and a joint XGBoost model is trained on
    approved commands. Exit status 1 if any step or check fails.
    """
    result = run_demo(
        DemoOptions(parties=parties, nodes=nodes, work_dir=work_dir, keep=keep),
        console=make_console(),
    )
    if not result.ok:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add ``accord demo`` to ``app``."""
    app.command("demo")(demo)
