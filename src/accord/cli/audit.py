"""``accord audit``: fetch every node's signed audit log and verify it as a party.

Each node is attested first; its log is fetched over the channel pinned to the attested
session and checked with that session's signing key (hash chain from entry 0, signatures,
sequence numbers, approvals against the agreement's rules). A table shows every entry of
every log that verified; any failure is reported and makes the command exit with status 1.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from accord.agreement.display import escape_unsafe
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
from accord.client import NodeAudit
from accord.errors import AccordError
from accord.transport import DEFAULT_CALL_TIMEOUT

__all__ = ["audit", "audit_table", "register"]


def audit_table(logs: list[NodeAudit]) -> Table:
    """Return one table row per verified audit entry of ``logs``.

    Columns: node, index, operation, proposer, approvals, status, output digests.
    """
    table = Table("node", "index", "operation", "proposer", "approvals", "status", "output digests")
    for log in logs:
        for entry in log.entries:
            outputs = "\n".join(
                f"{escape(o.recipient)}/{escape(o.name)} {o.digest[:16]}.." for o in entry.outputs
            )
            status = entry.status if entry.error is None else f"{entry.status}: {entry.error}"
            table.add_row(
                log.node_id,
                str(entry.index),
                entry.command.operation,
                escape(entry.command.proposer),
                ", ".join(escape(a.party) for a in entry.approvals) or "-",
                escape(escape_unsafe(status)),
                outputs or "-",
            )
    return table


def audit(
    verify: Annotated[
        bool,
        typer.Option(
            "--verify/--no-verify",
            help="Verify chains, signatures and approvals (the default); --no-verify only "
            "counts the entries, untrusted.",
        ),
    ] = True,
    node: NodeOption = None,
    orchestrator: OrchestratorOption = None,
    agreement: AgreementOption = None,
    party: PartyOption = None,
    orchestrator_cert: OrchestratorCertOption = None,
    timeout: TimeoutOption = DEFAULT_CALL_TIMEOUT,
) -> None:
    """Fetch and verify each node's audit log; exit with status 1 on any failure.

    A node that cannot be attested is reported and counts as a failure: its log cannot be
    checked.
    """
    options = Connection(orchestrator, agreement, party, orchestrator_cert, timeout)
    console = make_console()
    errors = make_console(stderr=True)
    failed = False
    with open_client(options) as client:
        verified_nodes = client.attest(selected_nodes(node))
        report_unattested(client)
        failed = bool(client.attestation_failures)  # their logs could not be checked
        logs: list[NodeAudit] = []
        for node_id in verified_nodes:
            try:
                log = client.audit(verify=verify, node_ids=[node_id])[node_id]
            except AccordError as error:
                failed = True
                errors.print(
                    f"[bold red]FAILED[/] node {escape(node_id)}: "
                    f"{escape(escape_unsafe(error.message))}"
                )
                continue
            logs.append(log)
            state = "verified" if log.verified else "NOT verified"
            console.print(
                f"node {node_id} session {log.session_id}: {len(log.signed_entries)} "
                f"entries, {state}",
                markup=False,
            )
        if verify:
            console.print(audit_table(logs))
    if failed:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add the ``audit`` command to ``app``."""
    app.command("audit")(audit)
