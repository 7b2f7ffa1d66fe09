"""Placeholder: ``accord party`` commands (being written)."""

import typer

app = typer.Typer(help="Create and show party identities.", no_args_is_help=True)
