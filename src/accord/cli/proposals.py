"""Proposal commands: `accord propose`, `pending`, `status`, `approve`, `reject`, `wait`.

``approve`` always prints the full command (every field, as the signature approves it) before
it asks for confirmation; ``--yes`` skips the question, never the printout. Without a
terminal and without ``--yes`` it refuses rather than sign unseen.

``approve`` and ``status`` print what the (untrusted) orchestrator says about a proposal
first (its state, checked to be a proposal state; rejections and errors with every control
character escaped), then a separator line, then the command last, rendered only from the
command whose digest is the proposal id. Nothing the orchestrator supplies comes after the
command, so it cannot redraw or hide it. ``approve`` attests only the nodes whose sessions
the command names.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from rich.markup import escape
from rich.table import Table

from accord._internal.files import write_atomically
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
    selected_nodes,
)
from accord.client import DEFAULT_WAIT_TIMEOUT, Proposal
from accord.errors import ApprovalError, UsageError
from accord.transport import DEFAULT_CALL_TIMEOUT

__all__ = ["approve", "pending", "propose", "register", "reject", "status", "wait"]

_SAFE_NAME: Final = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")

ProposalIdArgument = Annotated[str, typer.Argument(help="The proposal id (command digest).")]


def _parse_arguments(arguments: str | None, pairs: list[str] | None) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    if arguments is not None:
        try:
            value = json.loads(arguments)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--arguments is not valid JSON: {exc.msg}") from None
        if not isinstance(value, dict):
            raise UsageError('--arguments must be a JSON object, e.g. \'{"message": "hi"}\'')
        parsed.update(value)
    for pair in pairs or []:
        key, separator, text = pair.partition("=")
        if not separator or not key:
            raise UsageError(f"--arg {pair!r} is not KEY=VALUE")
        parsed[key] = text
    return parsed


def propose(
    operation: Annotated[str, typer.Argument(help="The operation, e.g. echo.")],
    arguments: Annotated[
        str | None,
        typer.Option("--arguments", metavar="JSON", help="The arguments as a JSON object."),
    ] = None,
    arg: Annotated[
        list[str] | None,
        typer.Option("--arg", metavar="KEY=VALUE", help="One string argument (repeatable)."),
    ] = None,
    to: Annotated[
        list[str] | None,
        typer.Option("--to", metavar="PARTY", help="A recipient of the outputs (repeatable)."),
    ] = None,
    ttl: Annotated[
        float, typer.Option("--ttl", metavar="SECONDS", min=1, help="How long it may wait.")
    ] = 1800,
    node: NodeOption = None,
    orchestrator: OrchestratorOption = None,
    agreement: AgreementOption = None,
    party: PartyOption = None,
    orchestrator_cert: OrchestratorCertOption = None,
    timeout: TimeoutOption = DEFAULT_CALL_TIMEOUT,
) -> None:
    """Attest the nodes, then propose a command signed by you; print its proposal id."""
    options = Connection(orchestrator, agreement, party, orchestrator_cert, timeout)
    values = _parse_arguments(arguments, arg)
    with open_client(options) as client:
        client.attest(selected_nodes(node))
        proposal_id = client.propose(
            operation, values, recipients=to or None, ttl=ttl, nodes=selected_nodes(node)
        )
        typer.echo(proposal_id)


def _summary_table(proposals: list[Proposal]) -> Table:
    table = Table("proposal", "operation", "proposer", "state", "approvals", "expires")
    for proposal in proposals:
        command = proposal.command
        table.add_row(
            proposal.proposal_id,
            command.operation,
            escape(escape_unsafe(command.proposer)),
            proposal.state,
            ", ".join(proposal.approvers) or "-",
            command.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
    return table


def pending(
    orchestrator: OrchestratorOption = None,
    agreement: AgreementOption = None,
    party: PartyOption = None,
    orchestrator_cert: OrchestratorCertOption = None,
    timeout: TimeoutOption = DEFAULT_CALL_TIMEOUT,
) -> None:
    """List the pending proposals that wait for your approval."""
    options = Connection(orchestrator, agreement, party, orchestrator_cert, timeout)
    with open_client(options) as client:
        waiting = client.pending()
        console = make_console()
        if not waiting:
            console.print(f"no proposal waits for {client.party}")
            return
        console.print(_summary_table(waiting))


def status(
    proposal_id: Annotated[
        str | None, typer.Argument(help="A proposal id; all proposals when omitted.")
    ] = None,
    orchestrator: OrchestratorOption = None,
    agreement: AgreementOption = None,
    party: PartyOption = None,
    orchestrator_cert: OrchestratorCertOption = None,
    timeout: TimeoutOption = DEFAULT_CALL_TIMEOUT,
) -> None:
    """Show one proposal in full, or list every proposal with its state."""
    options = Connection(orchestrator, agreement, party, orchestrator_cert, timeout)
    with open_client(options) as client:
        console = make_console()
        if proposal_id is None:
            console.print(_summary_table(client.proposals()))
        else:
            _print_proposal(client.proposal(proposal_id))


def _print_proposal(proposal: Proposal) -> None:
    """Print the orchestrator's claims, a separator, and the verified command last."""
    typer.echo(proposal.describe())


def approve(
    proposal_id: ProposalIdArgument,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Approve without asking (still prints it).")
    ] = False,
    orchestrator: OrchestratorOption = None,
    agreement: AgreementOption = None,
    party: PartyOption = None,
    orchestrator_cert: OrchestratorCertOption = None,
    timeout: TimeoutOption = DEFAULT_CALL_TIMEOUT,
) -> None:
    """Print a proposal's full command, ask, then sign it.

    The nodes running the command's sessions are attested first: a command naming an
    enclave session you have not just verified, for another agreement, or expired, is
    refused before anything is signed.
    """
    options = Connection(orchestrator, agreement, party, orchestrator_cert, timeout)
    with open_client(options) as client:
        shown = client.proposal(proposal_id)
        client.attest_sessions(shown.command.session_ids)
        _print_proposal(shown)
        console = make_console()
        if not yes:
            if not sys.stdin.isatty():
                raise UsageError(
                    "not approved: there is no terminal to confirm on",
                    hint="Read the command above; pass --yes to approve it without a prompt.",
                )
            if not typer.confirm(f"Sign this command as {client.party}?", default=False):
                raise ApprovalError(f"{client.party} did not approve {proposal_id[:16]}..")
        proposal = client.approve(shown.proposal_id)
        console.print(
            f"{client.party} approved {proposal.proposal_id}: {proposal.state} ({proposal.rule})",
            markup=False,
        )


def reject(
    proposal_id: ProposalIdArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the other parties to read.")],
    orchestrator: OrchestratorOption = None,
    agreement: AgreementOption = None,
    party: PartyOption = None,
    orchestrator_cert: OrchestratorCertOption = None,
    timeout: TimeoutOption = DEFAULT_CALL_TIMEOUT,
) -> None:
    """Reject a proposal with a signed rejection."""
    options = Connection(orchestrator, agreement, party, orchestrator_cert, timeout)
    with open_client(options) as client:
        proposal = client.reject(proposal_id, reason)
        make_console().print(
            f"{client.party} rejected {proposal.proposal_id}: {proposal.state}", markup=False
        )


def wait(
    proposal_id: ProposalIdArgument,
    wait_timeout: Annotated[
        float,
        typer.Option("--wait-timeout", metavar="SECONDS", min=0.1, help="How long to wait."),
    ] = DEFAULT_WAIT_TIMEOUT,
    open_name: Annotated[
        str | None,
        typer.Option("--open", metavar="NAME", help="Write your output NAME to stdout."),
    ] = None,
    output_dir: Annotated[
        Path | None,
        typer.Option(
            "--output-dir",
            metavar="DIR",
            file_okay=False,
            help="Write each of your opened outputs to DIR/NAME (mode 0600).",
        ),
    ] = None,
    orchestrator: OrchestratorOption = None,
    agreement: AgreementOption = None,
    party: PartyOption = None,
    orchestrator_cert: OrchestratorCertOption = None,
    timeout: TimeoutOption = DEFAULT_CALL_TIMEOUT,
) -> None:
    """Wait for a proposal; verify the nodes' signed receipts and list (or open) its outputs.

    Exits with status 1 if the command failed, was rejected or expired.
    """
    options = Connection(orchestrator, agreement, party, orchestrator_cert, timeout)
    with open_client(options) as client:
        client.attest()
        result = client.wait(proposal_id, timeout=wait_timeout)
        console = make_console(stderr=open_name is not None)
        table = Table("node", "recipient", "output", "digest (verified against receipt)")
        for node_id, output in result.outputs():
            table.add_row(node_id, output.recipient, escape(output.name), output.digest)
        console.print(f"proposal {result.proposal_id} executed on {len(result.nodes)} node(s)")
        console.print(table)
        if output_dir is not None:
            output_dir.mkdir(parents=True, exist_ok=True)
            for name in result.names():
                target = output_dir / _file_name(name)
                write_atomically(target, result.open(name), mode=0o600, overwrite=True)
                console.print(f"wrote {target}", markup=False)
        if open_name is not None:
            sys.stdout.buffer.write(result.open(open_name))
            sys.stdout.buffer.flush()


def _file_name(name: str) -> str:
    if not _SAFE_NAME.fullmatch(name):
        raise UsageError(
            f"output name {name!r} is not a safe file name; it is not written",
            hint="Open it with --open NAME instead.",
        )
    return name


def register(app: typer.Typer) -> None:
    """Add the proposal commands to ``app``."""
    for command in (propose, pending, status, approve, reject, wait):
        app.command(command.__name__)(command)
