"""``accord party``: create, show and protect party identities."""

from __future__ import annotations

import datetime as dt
import os
import stat
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from accord.cli.common import DEFAULT_PASSPHRASE_ENV, make_console, open_party
from accord.errors import KeyMaterialError, UsageError
from accord.party import (
    CARD_FILE_NAME,
    CERTIFICATE_FILE_NAME,
    DEFAULT_VALID_DAYS,
    KEY_FILE_NAME,
    PartyCard,
    PartyIdentity,
)

__all__ = ["app"]

app = typer.Typer(help="Create and show party identities.", no_args_is_help=True)

_PassphraseEnv = Annotated[
    str | None,
    typer.Option(
        "--passphrase-env",
        metavar="VAR",
        help="Protect party.key with the passphrase held in environment variable VAR.",
    ),
]
_AskPassphrase = Annotated[
    bool,
    typer.Option("--ask-passphrase", help="Protect party.key with a passphrase typed at a prompt."),
]


def _new_passphrase(passphrase_env: str | None, ask: bool) -> str | None:
    """Return the passphrase chosen for a new key file, or None for no protection."""
    if passphrase_env is not None and ask:
        raise UsageError("give either --passphrase-env or --ask-passphrase, not both")
    if passphrase_env is not None:
        passphrase = os.environ.get(passphrase_env, "")
        if not passphrase:
            raise UsageError(
                f"environment variable {passphrase_env} is not set or is empty",
                hint=f"Export {passphrase_env} with the passphrase, or use --ask-passphrase.",
            )
        return passphrase
    if ask:
        passphrase = str(
            typer.prompt(
                "New passphrase for party.key",
                hide_input=True,
                confirmation_prompt=True,
                err=True,
            )
        )
        if not passphrase:
            raise UsageError("an empty passphrase protects nothing", hint="Choose a passphrase.")
        return passphrase
    return None


def _warn_unprotected(directory: Path) -> None:
    console = make_console(stderr=True)
    console.print(
        f"[yellow]warning:[/] {escape(str(directory / KEY_FILE_NAME))} is not protected "
        "by a passphrase; only its file mode (0600) keeps it private."
    )
    console.print(
        f"To protect it, run: accord party protect {directory} --ask-passphrase", markup=False
    )


@app.command()
def init(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The party name, e.g. 'hospital-a'.")],
    directory: Annotated[
        Path,
        typer.Option("--dir", metavar="DIR", help="The party directory to create (mode 0700)."),
    ],
    passphrase_env: _PassphraseEnv = None,
    ask_passphrase: _AskPassphrase = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an identity already in the directory.")
    ] = False,
    valid_days: Annotated[
        int,
        typer.Option(
            "--valid-days", metavar="N", min=1, help="Lifetime of the TLS certificate in days."
        ),
    ] = DEFAULT_VALID_DAYS,
) -> None:
    """Create a party's keys, TLS certificate and public card in DIR."""
    passphrase = _new_passphrase(passphrase_env, ask_passphrase)
    identity = PartyIdentity.create(
        name, directory, passphrase=passphrase, valid_days=valid_days, overwrite=force
    )
    console = make_console()
    console.print(f"Created party [bold]{identity.name}[/] in {escape(str(directory))}")
    console.print(_card_table(identity.card))
    console.print(
        f"Share {directory / CARD_FILE_NAME} with the other parties and confirm the "
        "fingerprints with them over another channel. Keep "
        f"{directory / KEY_FILE_NAME} secret and backed up.",
        markup=False,
    )
    if passphrase is None:
        _warn_unprotected(directory)


@app.command()
def show(
    path: Annotated[
        Path, typer.Argument(metavar="DIR|CARD", help="A party directory, or a card file.")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the card as JSON (the content of card.json).")
    ] = False,
) -> None:
    """Show a party's public card and the state of its files; never a secret."""
    card_path = path / CARD_FILE_NAME if path.is_dir() else path
    if not card_path.is_file():
        raise KeyMaterialError(
            f"{path} holds no party identity ({CARD_FILE_NAME} not found)"
            if path.is_dir()
            else f"{path} does not exist",
            hint="Give a directory made by `accord party init NAME --dir DIR`, or a card file.",
        )
    card = PartyCard.load(card_path)
    if as_json:
        sys.stdout.write(card.to_json().decode())
        return
    table = _card_table(card)
    if path.is_dir():
        _add_file_rows(table, path)
    make_console().print(table)


@app.command()
def protect(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="The party directory.")],
    passphrase_env: _PassphraseEnv = None,
    ask_passphrase: _AskPassphrase = False,
    current_passphrase_env: Annotated[
        str,
        typer.Option(
            "--current-passphrase-env",
            metavar="VAR",
            help="Environment variable holding the current passphrase, if there is one.",
        ),
    ] = DEFAULT_PASSPHRASE_ENV,
) -> None:
    """Set or change the passphrase that protects DIR/party.key (the keys stay the same)."""
    passphrase = _new_passphrase(passphrase_env, ask_passphrase)
    if passphrase is None:
        raise UsageError(
            "say where the new passphrase comes from",
            hint="Use --passphrase-env VAR or --ask-passphrase.",
        )
    identity = open_party(directory, passphrase_env=current_passphrase_env)
    identity.save_key_file(passphrase=passphrase)
    make_console().print(f"{directory / KEY_FILE_NAME} is now protected by the new passphrase.")


def _card_table(card: PartyCard) -> Table:
    certificate = card.tls_certificate
    now = dt.datetime.now(dt.UTC)
    not_before, not_after = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    state = (
        "valid" if not_before <= now <= not_after else "EXPIRED" if now > not_after else "not yet"
    )
    table = Table(title=f"party {card.name}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for field, value in (
        ("name", card.name),
        ("signing key", "Ed25519"),
        ("signing key fingerprint", card.signing_key_fingerprint),
        ("TLS certificate", f"ECDSA P-256, CN={card.name}, serial {certificate.serial_number:x}"),
        ("TLS certificate fingerprint", card.tls_certificate_fingerprint),
        (
            "TLS certificate validity",
            f"{not_before:%Y-%m-%d %H:%M:%SZ} to {not_after:%Y-%m-%d %H:%M:%SZ} ({state})",
        ),
        ("data key id", card.data_key_id),
        ("created at", f"{card.created_at:%Y-%m-%dT%H:%M:%SZ}"),
        ("card digest", card.digest),
    ):
        table.add_row(field, value, end_section=False)
    return table


def _mode_text(path: Path, *, private: bool) -> str:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return "missing"
    text = f"{mode:04o}"
    if private and mode & 0o077:
        text += " (readable by others: run chmod go-rwx on it)"
    return text


def _add_file_rows(table: Table, directory: Path) -> None:
    key_path = directory / KEY_FILE_NAME
    if key_path.is_file():
        header = PartyIdentity.read_key_file_header(directory)
        protection = (
            f"protected by a passphrase ({header.argon2.describe()}, AES-256-GCM)"
            if header.argon2 is not None
            else "NOT protected by a passphrase"
        )
    else:
        protection = "missing"
    table.add_row("party.key", protection)
    table.add_row("mode of directory", _mode_text(directory, private=True))
    table.add_row(f"mode of {KEY_FILE_NAME}", _mode_text(key_path, private=True))
    table.add_row(
        f"mode of {CARD_FILE_NAME}", _mode_text(directory / CARD_FILE_NAME, private=False)
    )
    table.add_row(
        f"mode of {CERTIFICATE_FILE_NAME}",
        _mode_text(directory / CERTIFICATE_FILE_NAME, private=False),
    )
