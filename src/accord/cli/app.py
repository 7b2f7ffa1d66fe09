"""The ``accord`` console script: assembles the command groups and reports errors plainly."""

from __future__ import annotations

import logging
import sys

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from accord._version import __version__
from accord.agreement.display import escape_unsafe
from accord.cli import (
    agreement,
    attest,
    cluster,
    demo,
    node,
    orchestrator,
    party,
    runtime,
    sealing,
)
from accord.cli.common import make_console
from accord.errors import AccordError

__all__ = ["app", "main"]

app = typer.Typer(
    name="accord",
    help="Accord: train and use models on several parties' sealed data inside attested enclaves.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"accord {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Accord: confidential multi-party machine learning."""


app.add_typer(party.app, name="party")
app.add_typer(agreement.app, name="agreement")
sealing.register(app)
attest.register(app)
demo.register(app)
node.register(app)
orchestrator.register(app)
runtime.register(app, attest_group=attest.app)
cluster.register(app)


def report_error(error: AccordError, console: Console | None = None) -> None:
    """Print an Accord error as one short paragraph on standard error."""
    console = console or Console(stderr=True, highlight=False, soft_wrap=True)
    kind = type(error).__name__
    message = escape(escape_unsafe(error.message))
    console.print(f"[bold red]error[/] ({kind}): {message}", markup=True)
    console.print(escape_unsafe(error.hint), markup=False)


def main() -> None:
    """Run the command line; exit non-zero with a readable message on any Accord error.

    Usage errors from the argument parser are reported by typer itself (exit status 2);
    an :class:`~accord.errors.AccordError` is printed as one paragraph (exit status 1).
    """
    logging.basicConfig(
        level=logging.WARNING,
        format="%(message)s",
        handlers=[
            RichHandler(
                console=make_console(stderr=True),
                show_time=False,
                show_path=False,
                markup=False,
            )
        ],
    )
    try:
        app(prog_name="accord")
    except AccordError as error:
        report_error(error)
        sys.exit(1)
