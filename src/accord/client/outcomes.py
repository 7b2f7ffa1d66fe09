"""Turning a final proposal that did not execute into the error a waiting party gets.

=========  =========================================================================
state      error
=========  =========================================================================
executed   none: the result is verified by :func:`accord.client.results.verify_results`
failed     :class:`~accord.client.errors.CommandFailedError` naming every node that
           failed and why (the enclave's own words where its signed receipt verifies)
rejected   :class:`~accord.errors.ApprovalError` naming who rejected and the reason
expired    :class:`~accord.errors.ApprovalError` saying what the rule still lacked
=========  =========================================================================
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from accord.client.errors import CommandFailedError
from accord.client.nodes import AttestedNode
from accord.client.proposals import Proposal
from accord.enclave.commands import format_timestamp
from accord.enclave.receipts import FAILED, verify_receipt
from accord.errors import AccordError, ApprovalError, TransportError, UsageError
from accord.v1 import orchestrator_pb2

__all__ = ["WAIT_SLICE_SECONDS", "raise_for_final_state", "wait_until_final"]

WAIT_SLICE_SECONDS: Final = 30.0
"""The longest one WaitProposal call blocks; a longer wait asks again."""


def wait_until_final(
    first: orchestrator_pb2.ProposalView,
    wait_once: Callable[[float], orchestrator_pb2.ProposalView],
    parse: Callable[[orchestrator_pb2.ProposalView], Proposal],
    *,
    timeout: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[Proposal, orchestrator_pb2.ProposalView]:
    """Ask the orchestrator until a proposal is final, within ``timeout`` seconds in all.

    Parameters
    ----------
    first
        The proposal's current view.
    wait_once
        Calls WaitProposal blocking at most the given seconds; returns the view.
    parse
        Checks a view (command against id, approvals) and returns the proposal.
    timeout
        Seconds to wait in all.
    clock, sleep
        Monotonic clock and sleep, injectable for tests.

    Returns
    -------
    tuple[Proposal, orchestrator_pb2.ProposalView]
        The final proposal and the view it came from.

    Raises
    ------
    UsageError
        If ``timeout`` is not positive.
    TransportError
        If the proposal is not final within ``timeout``, naming its state and what its rule
        still lacks.
    """
    if not timeout > 0:
        raise UsageError(f"the wait timeout must be a positive number of seconds, not {timeout}")
    deadline = clock() + timeout
    view = first
    proposal = parse(view)
    while not proposal.is_final:
        remaining = deadline - clock()
        if remaining <= 0:
            raise TransportError(
                f"proposal {proposal.proposal_id[:16]}.. is still {proposal.state} after "
                f"{timeout:g} s ({proposal.rule})",
                hint="Wait again later; the proposal keeps its state at the orchestrator.",
            )
        piece = min(remaining, WAIT_SLICE_SECONDS)
        started = clock()
        view = wait_once(piece)
        proposal = parse(view)
        if not proposal.is_final and clock() - started < piece / 2:
            sleep(min(0.2, max(0.0, deadline - clock())))  # an early answer: do not spin
    return proposal, view


def raise_for_final_state(
    proposal: Proposal,
    results: Sequence[orchestrator_pb2.NodeResult],
    *,
    attested: Mapping[str, AttestedNode],
) -> None:
    """Raise the error for a final proposal that did not execute; return if it executed.

    Parameters
    ----------
    proposal
        The final proposal.
    results
        The orchestrator's per-node results.
    attested
        This client's attested nodes by session id (to check signed failure receipts).

    Raises
    ------
    CommandFailedError
        For ``failed``.
    ApprovalError
        For ``rejected`` and ``expired``.
    """
    short = f"{proposal.proposal_id[:16]}.. ({proposal.command.operation})"
    if proposal.state == "executed":
        return
    if proposal.state == "rejected":
        reasons = "; ".join(f"{party}: {reason!r}" for party, reason in proposal.rejections)
        raise ApprovalError(
            f"proposal {short} was rejected ({reasons or 'no reason given'})",
            hint="Talk to the party that rejected it; propose a changed command if you agree.",
        )
    if proposal.state == "expired":
        raise ApprovalError(
            f"proposal {short} expired at {format_timestamp(proposal.command.expires_at)} "
            f"before its rule was met ({proposal.rule})",
            hint="Propose it again and ask the missing parties to approve in time.",
        )
    errors = _node_errors(proposal, results, attested)
    details = "; ".join(f"node {node}: {text}" for node, text in errors.items())
    if proposal.error and proposal.error not in details:
        details = f"{proposal.error}; {details}" if details else proposal.error
    raise CommandFailedError(
        proposal.proposal_id,
        f"command {short} {proposal.state}: {details or 'the orchestrator gave no reason'}",
        node_errors=errors,
    )


def _node_errors(
    proposal: Proposal,
    results: Sequence[orchestrator_pb2.NodeResult],
    attested: Mapping[str, AttestedNode],
) -> dict[str, str]:
    errors: dict[str, str] = {}
    for result in results:
        node_id = result.node_id or result.session_id[:16]
        text = result.error
        node = attested.get(result.session_id)
        if result.receipt and node is not None:
            try:
                receipt = verify_receipt(bytes(result.receipt), session=node.evidence.session_keys)
            except AccordError:
                pass  # keep the orchestrator's words
            else:
                if receipt.command_digest == proposal.proposal_id and receipt.status == FAILED:
                    text = f"{receipt.error} (signed by the enclave)"
        if text:
            errors[node_id] = text
    return errors
