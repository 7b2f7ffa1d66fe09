"""``accord measure``: compute the simulated backend's measurement of an enclave code tree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from accord.attest.measurement import (
    LISTING_HEADER,
    CodeMeasurement,
    measure_installed_package,
    measure_tree,
)

__all__ = ["measure", "register"]


def measure(
    root: Annotated[
        Path | None,
        typer.Option(
            "--root",
            help="Measure this package directory (e.g. an unpacked release's accord/) "
            "instead of the installed accord package.",
            file_okay=False,
        ),
    ] = None,
    listing: Annotated[
        bool,
        typer.Option(
            "--listing",
            help="Print the canonical listing (the exact bytes whose SHA-256 is the measurement).",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON object instead of text.")
    ] = False,
) -> None:
    """Print the measurement that simulated evidence of this code carries.

    The measurement is the SHA-256 of a canonical listing of every file of the code tree
    (see docs/attestation.md). Publish it so that parties can pin it in the agreement.
    """
    result = measure_installed_package() if root is None else measure_tree(root)
    if as_json:
        typer.echo(json.dumps(_as_json(result, with_files=listing), indent=2, sort_keys=True))
    elif listing:
        typer.echo(result.listing(), nl=False)
    else:
        typer.echo(result.digest)
        typer.echo(f"measured {len(result.files)} files under {result.root}", err=True)


def _as_json(result: CodeMeasurement, *, with_files: bool) -> dict[str, object]:
    document: dict[str, object] = {
        "format": LISTING_HEADER.decode().strip(),
        "measurement": result.digest,
        "root": str(result.root),
        "file_count": len(result.files),
    }
    if with_files:
        document["files"] = [{"path": item.path, "sha256": item.sha256} for item in result.files]
    return document


def register(app: typer.Typer) -> None:
    """Add the ``measure`` command to ``app``."""
    app.command("measure")(measure)
