"""Placeholder: ``accord seal/unseal/inspect`` (being written)."""

import typer


def register(app: typer.Typer) -> None:
    """Add the sealing commands to ``app``."""
