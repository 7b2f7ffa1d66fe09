"""The options every runtime command shares, and the client they open.

Each option has an environment variable as its default, so a party sets them once::

    export ACCORD_ORCHESTRATOR=10.0.0.5:7000
    export ACCORD_AGREEMENT=agreement.toml
    export ACCORD_PARTY=alice/
    export ACCORD_ORCHESTRATOR_CERT=orchestrator-cert.pem
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final, TypeVar

import typer
from rich.markup import escape

from accord.agreement.display import escape_unsafe
from accord.cli.common import make_console, open_party
from accord.client import Client, connect
from accord.errors import UsageError, VerificationError
from accord.transport import DEFAULT_CALL_TIMEOUT

__all__ = [
    "AgreementOption",
    "Connection",
    "NodeOption",
    "OrchestratorCertOption",
    "OrchestratorOption",
    "PartyOption",
    "TimeoutOption",
    "open_client",
    "report_unattested",
    "selected_nodes",
]

_T = TypeVar("_T")

_PANEL: Final = "Connection (defaults from ACCORD_* environment variables)"

OrchestratorOption = Annotated[
    str | None,
    typer.Option(
        "--orchestrator",
        metavar="HOST:PORT",
        envvar="ACCORD_ORCHESTRATOR",
        help="The orchestrator's address.",
        rich_help_panel=_PANEL,
    ),
]
AgreementOption = Annotated[
    Path | None,
    typer.Option(
        "--agreement",
        metavar="FILE",
        envvar="ACCORD_AGREEMENT",
        help="The agreement, signed by every party.",
        dir_okay=False,
        rich_help_panel=_PANEL,
    ),
]
PartyOption = Annotated[
    Path | None,
    typer.Option(
        "--party",
        metavar="DIR",
        envvar="ACCORD_PARTY",
        help="Your party directory (accord party init).",
        file_okay=False,
        rich_help_panel=_PANEL,
    ),
]
OrchestratorCertOption = Annotated[
    Path | None,
    typer.Option(
        "--orchestrator-cert",
        metavar="FILE",
        envvar="ACCORD_ORCHESTRATOR_CERT",
        help="The orchestrator's TLS certificate (its tls-cert.pem), received out of band.",
        dir_okay=False,
        rich_help_panel=_PANEL,
    ),
]
TimeoutOption = Annotated[
    float,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        envvar="ACCORD_TIMEOUT",
        min=0.1,
        help="Deadline of each network call.",
        rich_help_panel=_PANEL,
    ),
]
NodeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--node",
        metavar="ID",
        help="Only this node (repeat for several); every node by default.",
    ),
]


@dataclass(frozen=True)
class Connection:
    """The connection options of one command, as given."""

    orchestrator: str | None
    agreement: Path | None
    party: Path | None
    orchestrator_cert: Path | None
    timeout: float = DEFAULT_CALL_TIMEOUT


def _required(value: _T | None, option: str, variable: str) -> _T:
    if value is None:
        raise UsageError(
            f"{option} is required",
            hint=f"Pass {option} or set the environment variable {variable}.",
        )
    return value


@contextmanager
def open_client(options: Connection) -> Iterator[Client]:
    """Connect with ``options`` and close the client afterwards.

    Raises
    ------
    UsageError
        If an option is missing (neither given nor set in the environment).
    """
    orchestrator = _required(options.orchestrator, "--orchestrator", "ACCORD_ORCHESTRATOR")
    agreement = _required(options.agreement, "--agreement", "ACCORD_AGREEMENT")
    party_dir = _required(options.party, "--party", "ACCORD_PARTY")
    certificate = _required(
        options.orchestrator_cert, "--orchestrator-cert", "ACCORD_ORCHESTRATOR_CERT"
    )
    client = connect(
        orchestrator,
        agreement,
        open_party(party_dir),
        orchestrator_certificate=certificate,
        timeout=options.timeout,
    )
    try:
        yield client
    finally:
        client.close()


def selected_nodes(nodes: Sequence[str] | None) -> list[str] | None:
    """Return the ``--node`` values, or None for every node."""
    return list(nodes) if nodes else None


def report_unattested(client: Client) -> bool:
    """Print, on standard error, each node the client's last attestation left out, and why.

    Returns
    -------
    bool
        Whether a node's evidence or TLS key failed verification (not merely out of reach):
        a security event that commands should report with a failing exit status.
    """
    failures = client.attestation_failures
    console = make_console(stderr=True)
    for node_id, error in failures.items():
        console.print(
            f"[bold yellow]not attested[/] node {escape(escape_unsafe(node_id))}: "
            f"{escape(escape_unsafe(error.message))}"
        )
    return any(isinstance(error, VerificationError) for error in failures.values())
