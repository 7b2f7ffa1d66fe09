"""``accord orchestrator --config FILE``: run the orchestrator until SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["orchestrator", "register"]


def orchestrator(
    config: Annotated[
        Path,
        typer.Option(
            "--config",
            help="The orchestrator's TOML configuration (see docs/orchestrator.md).",
            dir_okay=False,
        ),
    ],
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log what the orchestrator does.")
    ] = False,
) -> None:
    """Run the orchestrator: store sealed blobs and proposals, relay approved commands.

    It accepts only clients whose TLS certificates the agreement lists, prints
    "orchestrator ready address=HOST:PORT" once serving, and stops cleanly on SIGTERM.
    """
    from accord.orchestrator.config import load_config  # the server imports grpc: load late
    from accord.orchestrator.server import serve

    if verbose:
        logging.getLogger("accord").setLevel(logging.INFO)
    serve(load_config(config))


def register(app: typer.Typer) -> None:
    """Add the ``orchestrator`` command to ``app``."""
    app.command("orchestrator")(orchestrator)
