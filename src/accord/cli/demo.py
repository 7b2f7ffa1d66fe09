"""Placeholder: ``accord demo`` (being written)."""

import typer


def register(app: typer.Typer) -> None:
    """Add the demo command to ``app``."""
