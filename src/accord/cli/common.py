"""Helpers shared by the command groups: opening a party directory and making consoles."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Final

import typer
from rich.console import Console

from accord.errors import KeyMaterialError
from accord.party import KEY_FILE_NAME, PartyIdentity

__all__ = ["DEFAULT_PASSPHRASE_ENV", "make_console", "open_party"]

DEFAULT_PASSPHRASE_ENV: Final = "ACCORD_PASSPHRASE"  # noqa: S105 (a variable name)
"""The environment variable that commands read a party's passphrase from by default."""

_PIPE_WIDTH: Final = 160


def make_console(*, stderr: bool = False) -> Console:
    """Return a rich console for command output.

    When the output is not a terminal (a pipe or a file) and ``COLUMNS`` is not set, the
    console is made wide enough that fingerprints and ids are never wrapped, so they can be
    copied or searched for in the output.

    Parameters
    ----------
    stderr
        Write to standard error instead of standard output.

    Returns
    -------
    Console
        A console without syntax highlighting.
    """
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = _PIPE_WIDTH
    return console


def open_party(directory: Path, *, passphrase_env: str = DEFAULT_PASSPHRASE_ENV) -> PartyIdentity:
    """Load the party identity in ``directory`` for a command.

    The passphrase is needed only when ``party.key`` is protected. It is read from the
    environment variable ``passphrase_env``; when that is unset or empty and standard input
    is a terminal, it is asked for with a hidden prompt (on standard error).

    Parameters
    ----------
    directory
        The party directory made by ``accord party init``.
    passphrase_env
        Name of the environment variable that may hold the passphrase.

    Returns
    -------
    PartyIdentity
        The loaded identity, checked against its card.

    Raises
    ------
    KeyMaterialError
        If the directory holds no identity, the key file is protected and no passphrase can
        be obtained, or the passphrase is wrong.
    """
    directory = Path(directory)
    if not PartyIdentity.needs_passphrase(directory):
        return PartyIdentity.load(directory, passphrase=None)
    passphrase = os.environ.get(passphrase_env, "")
    if not passphrase:
        if not sys.stdin.isatty():
            raise KeyMaterialError(
                f"{directory / KEY_FILE_NAME} is protected by a passphrase and none was given",
                hint=(
                    f"Set the environment variable {passphrase_env} to the passphrase, "
                    "or run the command in a terminal to be asked for it."
                ),
            )
        passphrase = typer.prompt(
            f"Passphrase for {directory / KEY_FILE_NAME}", hide_input=True, err=True
        )
    return PartyIdentity.load(directory, passphrase=passphrase)
