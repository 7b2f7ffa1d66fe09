"""Proposals as a party reads them, and the checks a party makes before it signs one.

The orchestrator is not trusted, so a :class:`Proposal` is built only from what a party can
check itself: the command bytes must hash to the proposal id, and only approvals whose
signatures verify with the agreement's keys are listed as approvals. What the orchestrator
says about state and errors is shown as its claim: the state must be one of
:data:`PROPOSAL_STATES`, and every other text it supplies (error, rejecting parties and their
reasons) is cut to a bounded length and has its control and invisible characters written as
visible escapes (:func:`accord.agreement.display.escape_unsafe`), so it can neither move the
terminal's cursor nor disguise the command. :meth:`Proposal.describe` shows those claims
first and the command, rendered only from the verified :class:`~accord.enclave.commands.Command`,
last.

:func:`check_approvable` is what :meth:`accord.client.Client.approve` runs before signing:
the command must be for this agreement, name only enclave sessions that this client
attested, not have expired, and send outputs only where the output policy allows.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from accord.agreement.display import escape_unsafe
from accord.agreement.signing import SignedAgreement
from accord.client.nodes import NodeStatus
from accord.crypto.keys import VerifyKey
from accord.enclave.commands import Approval, Command, format_timestamp, verify_approval
from accord.enclave.consensus import check_recipients
from accord.errors import ApprovalError, KeyMaterialError, UsageError, VerificationError
from accord.v1 import common_pb2, orchestrator_pb2

__all__ = [
    "COMMAND_SEPARATOR",
    "FINAL_STATES",
    "MAX_CLAIM_CHARS",
    "PROPOSAL_STATES",
    "Proposal",
    "check_approvable",
    "common_sequence",
    "parse_proposal",
    "require_provisioned",
]

PROPOSAL_STATES: Final = ("pending", "executing", "executed", "failed", "rejected", "expired")
"""Every state a proposal can be in; an orchestrator that reports another is refused."""

FINAL_STATES: Final = frozenset({"executed", "failed", "rejected", "expired"})
"""Proposal states that never change again."""

MAX_CLAIM_CHARS: Final = 2000
"""The most characters kept of one text the orchestrator supplies (error, reason)."""

COMMAND_SEPARATOR: Final = (
    "---- the command (its digest is the proposal id; a signature approves exactly this) ----"
)
"""The line :meth:`Proposal.describe` puts between the orchestrator's claims and the command."""

_MAX_NAME_CHARS: Final = 64


@dataclass(frozen=True)
class Proposal:
    """A proposal whose command this party checked against its id.

    Attributes
    ----------
    proposal_id
        The command digest.
    command
        The command, parsed strictly; its digest is ``proposal_id``.
    approvers
        Parties whose approval signatures verify with the agreement's keys, sorted.
    approvals
        Those parties' approvals (one each), as they can be relayed to a node.
    state
        The orchestrator's word, one of :data:`PROPOSAL_STATES`.
    error
        The orchestrator's error text, or ``""`` (escaped and bounded, see the module).
    rejections
        ``(party, reason)`` pairs, as the orchestrator reports them (escaped and bounded).
    rule
        What the operation's rule needs, in words, and which approvals it has.
    rule_met
        Whether the verified approvers satisfy the rule.
    """

    proposal_id: str
    command: Command
    approvers: tuple[str, ...]
    approvals: tuple[Approval, ...]
    state: str
    error: str
    rejections: tuple[tuple[str, str], ...]
    rule: str
    rule_met: bool

    @property
    def is_final(self) -> bool:
        """Whether the state can no longer change."""
        return self.state in FINAL_STATES

    def awaits(self, party: str, agreement: SignedAgreement) -> bool:
        """Whether it is pending and waits for ``party``, whose approval counts for it."""
        answered = set(self.approvers) | {name for name, _ in self.rejections}
        counted = party in agreement.rule_for(self.command.operation).among
        return self.state == "pending" and counted and party not in answered

    def __str__(self) -> str:
        return self.describe()

    def describe_status(self) -> str:
        """Return the proposal's state, verified approvals, rule, rejections and error.

        State, rejections and error are the orchestrator's claims (checked and escaped);
        approvals and the rule come from signatures this party verified.
        """
        lines = [
            f"proposal {self.proposal_id}",
            f"  state:       {self.state} (as the orchestrator reports it)",
            f"  approvals:   {', '.join(self.approvers) or '(none)'} (signatures verified)",
            f"  rule:        {self.rule}",
        ]
        lines.extend(f"  rejected by: {party}: {reason!r}" for party, reason in self.rejections)
        if self.error:
            lines.append(f"  error:       {self.error}")
        return "\n".join(lines)

    def describe(self) -> str:
        """Return the proposal's status, then :data:`COMMAND_SEPARATOR`, then the full command.

        The command comes last and only from the verified
        :class:`~accord.enclave.commands.Command`, so nothing the orchestrator supplies is
        printed after it.
        """
        return "\n".join((self.describe_status(), COMMAND_SEPARATOR, self.command.describe()))


def parse_proposal(
    view: orchestrator_pb2.ProposalView,
    *,
    agreement: SignedAgreement,
    expected_id: str | None = None,
) -> Proposal:
    """Check a ``ProposalView`` from the orchestrator and return what it proves.

    Parameters
    ----------
    view
        The message as received.
    agreement
        The party's signed agreement (keys and rules).
    expected_id
        The proposal id asked for, if any; the command must hash to it.

    Returns
    -------
    Proposal
        The proposal, listing only approvals that verify.

    Raises
    ------
    VerificationError
        If the command is malformed or its digest is not the proposal id (the orchestrator
        served another command than the one asked for), or the state is not one of
        :data:`PROPOSAL_STATES`.
    """
    command = Command.from_bytes(bytes(view.command))
    for claimed in (view.proposal_id, expected_id):
        if claimed is not None and not hmac.compare_digest(command.digest, claimed):
            raise VerificationError(
                f"the orchestrator answered for proposal {claimed[:16]}.. with a command whose "
                f"digest is {command.digest[:16]}..: it is not the proposed command",
                hint="Do not approve it; report the orchestrator to the other parties.",
            )
    if view.state not in PROPOSAL_STATES:
        raise VerificationError(
            f"the orchestrator reports proposal {command.digest[:16]}.. in state "
            f"{_claim(view.state, _MAX_NAME_CHARS)!r}, which is not a proposal state "
            f"({', '.join(PROPOSAL_STATES)})",
            hint="Do not act on what this orchestrator reports; tell the other parties.",
        )
    verified = _verified_approvals(command, view.approvals, agreement.party_keys)
    approvers = sorted(verified)
    rule = agreement.rule_for(command.operation)
    return Proposal(
        proposal_id=command.digest,
        command=command,
        approvers=tuple(approvers),
        approvals=tuple(verified[name] for name in approvers),
        state=view.state,
        error=_claim(view.error, MAX_CLAIM_CHARS),
        rejections=tuple(
            (_claim(r.party, _MAX_NAME_CHARS), _claim(r.reason, MAX_CLAIM_CHARS))
            for r in view.rejections
        ),
        rule=rule.explain(approvers),
        rule_met=rule.is_satisfied_by(approvers),
    )


def _claim(text: str, limit: int) -> str:
    """Return orchestrator-supplied ``text`` escaped and cut to ``limit`` characters."""
    shown = escape_unsafe(text[:limit])
    return shown if len(text) <= limit else f"{shown}... ({len(text) - limit} more characters)"


def _verified_approvals(
    command: Command,
    approvals: Collection[common_pb2.Approval],
    keys: Mapping[str, VerifyKey],
) -> dict[str, Approval]:
    found: dict[str, Approval] = {}
    for message in approvals:
        key = keys.get(message.party)
        if key is None or message.party in found:
            continue  # not a party: counts for nothing
        approval = Approval(message.party, bytes(message.signature))
        try:
            verify_approval(command.digest, approval, key)
        except VerificationError:
            continue
        found[message.party] = approval
    return found


def check_approvable(
    proposal: Proposal,
    *,
    agreement: SignedAgreement,
    attested_sessions: Collection[str],
    now: Callable[[], datetime],
) -> None:
    """Refuse to sign a command this party cannot vouch for.

    Parameters
    ----------
    proposal
        The proposal (its command already checked to hash to its id).
    agreement
        The party's signed agreement.
    attested_sessions
        The enclave session ids this client attested (and still trusts).
    now
        The clock.

    Raises
    ------
    VerificationError
        If the command is for another agreement, or names a session this client did not
        attest.
    ApprovalError
        If it has expired, or its proposer or recipients break the agreement's output policy.
    UsageError
        If the proposal is already final.
    """
    command = proposal.command
    if proposal.is_final:
        raise UsageError(
            f"proposal {proposal.proposal_id[:16]}.. is {proposal.state}; it cannot be approved"
        )
    if not hmac.compare_digest(command.agreement_digest, agreement.digest):
        raise VerificationError(
            f"command {command.digest[:16]}.. is for agreement {command.agreement_digest[:16]}.., "
            f"not for this collaboration's agreement {agreement.digest[:16]}..",
            hint="Do not approve it: it would run under other rules.",
        )
    unknown = [s for s in command.session_ids if s not in attested_sessions]
    if unknown:
        raise VerificationError(
            f"command {command.digest[:16]}.. names enclave session"
            f"{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} that this client has not "
            "attested",
            hint=(
                "Attest the nodes first (client.attest() / accord attest). If the sessions "
                "still differ, the command is for enclaves you have not verified: do not "
                "approve it."
            ),
        )
    moment = now()
    if command.expires_at <= moment:
        raise ApprovalError(
            f"command {command.digest[:16]}.. expired at {format_timestamp(command.expires_at)}",
            hint="Ask the proposer to propose it again.",
        )
    check_recipients(command, agreement)


def common_sequence(statuses: Mapping[str, NodeStatus]) -> int:
    """Return the next sequence number all nodes expect.

    Raises
    ------
    UsageError
        If they expect different numbers: no single command can run on all of them.
    """
    sequences = {status.next_sequence for status in statuses.values()}
    if len(sequences) != 1:
        shown = ", ".join(f"{n} expects {s.next_sequence}" for n, s in statuses.items())
        raise UsageError(
            f"the nodes expect different next sequence numbers ({shown}), so no single "
            "command can run on all of them",
            hint="Propose to nodes that expect the same number (nodes=[...]; CLI: --node).",
        )
    return sequences.pop()


def require_provisioned(party: str, key_id: str, statuses: Mapping[str, NodeStatus]) -> None:
    """Check that every node holds ``party``'s data key (so it can seal outputs for it).

    Raises
    ------
    KeyMaterialError
        Naming the first node without the key.
    """
    for node_id, status in statuses.items():
        if key_id not in status.key_ids:
            raise KeyMaterialError(
                f"{party} is a recipient but has not provisioned its data key "
                f"{key_id[:16]}.. to node {node_id}, which could not seal outputs for it",
                hint="Call client.provision() first (CLI: accord provision).",
            )
