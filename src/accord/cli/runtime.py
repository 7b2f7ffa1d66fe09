"""The runtime commands of a party: ``accord attest nodes``, ``provision`` and ``upload``.

:func:`register` also adds the proposal commands (:mod:`accord.cli.proposals`: ``propose``,
``pending``, ``status``, ``approve``, ``reject``, ``wait``) and ``accord audit``
(:mod:`accord.cli.audit`), so the application wires the whole runtime with one call.

Every command connects to the orchestrator with the connection options of
:mod:`accord.cli.connection`. A command line process keeps no state between runs, so the
commands that need attested nodes (provision, propose, approve, wait, audit) attest them
first, each time: the party always acts on evidence it has just verified.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from accord.cli import audit, proposals
from accord.cli.common import make_console
from accord.cli.connection import (
    AgreementOption,
    Connection,
    NodeOption,
    OrchestratorCertOption,
    OrchestratorOption,
    PartyOption,
    TimeoutOption,
    open_client,
    report_unattested,
    selected_nodes,
)
from accord.transport import DEFAULT_CALL_TIMEOUT

__all__ = ["attest", "provision", "register", "upload"]


def attest(
    node: NodeOption = None,
    orchestrator: OrchestratorOption = None,
    agreement: AgreementOption = None,
    party: PartyOption = None,
    orchestrator_cert: OrchestratorCertOption = None,
    timeout: TimeoutOption = DEFAULT_CALL_TIMEOUT,
) -> None:
    """Verify every enclave node's evidence against the agreement and show what it proves.

    Nodes that cannot be attested are listed on standard error; the exit status is 1 if a
    node's evidence failed verification (a node that is only out of reach does not fail
    the command unless no node could be attested).
    """
    options = Connection(orchestrator, agreement, party, orchestrator_cert, timeout)
    with open_client(options) as client:
        verified = client.attest(selected_nodes(node))
        untrusted = report_unattested(client)
        table = Table("node", "session", "backend", "measurement", "debug")
        for node_id, enclave in verified.items():
            claims = enclave.evidence.claims
            table.add_row(
                node_id,
                enclave.session_id,
                claims.backend,
                claims.measurement,
                "yes" if claims.debug else "no",
            )
        make_console().print(table)
    if untrusted:
        raise typer.Exit(code=1)


def provision(
    node: NodeOption = None,
    orchestrator: OrchestratorOption = None,
    agreement: AgreementOption = None,
    party: PartyOption = None,
    orchestrator_cert: OrchestratorCertOption = None,
    timeout: TimeoutOption = DEFAULT_CALL_TIMEOUT,
) -> None:
    """Attest the nodes, then release your data key to each attested enclave session."""
    options = Connection(orchestrator, agreement, party, orchestrator_cert, timeout)
    with open_client(options) as client:
        client.attest(selected_nodes(node))
        report_unattested(client)
        accepted = client.provision()
        console = make_console()
        for node_id, key_id in accepted.items():
            console.print(
                f"{client.party}: data key {key_id} provisioned to {node_id} "
                f"(session {client.sessions[node_id]})"
            )


def upload(
    path: Annotated[
        Path,
        typer.Argument(help="A sealed file (accord seal); plaintext is refused.", dir_okay=False),
    ],
    orchestrator: OrchestratorOption = None,
    agreement: AgreementOption = None,
    party: PartyOption = None,
    orchestrator_cert: OrchestratorCertOption = None,
    timeout: TimeoutOption = DEFAULT_CALL_TIMEOUT,
) -> None:
    """Upload a sealed file to the orchestrator and print its blob id (its SHA-256)."""
    options = Connection(orchestrator, agreement, party, orchestrator_cert, timeout)
    with open_client(options) as client:
        typer.echo(client.upload(path))


def register(app: typer.Typer, *, attest_group: typer.Typer) -> None:
    """Add every runtime command of a party to ``app``.

    ``attest nodes`` (in the ``attest`` group, beside ``attest verify``), ``provision``,
    ``upload``, ``propose``, ``pending``, ``status``, ``approve``, ``reject``, ``wait`` and
    ``audit``.
    """
    attest_group.command("nodes")(attest)
    app.command("provision")(provision)
    app.command("upload")(upload)
    proposals.register(app)
    audit.register(app)
