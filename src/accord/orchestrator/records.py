"""The orchestrator's records: proposals with their approvals, rejections and results; nodes.

These are plain values, as :class:`~accord.orchestrator.store.ProposalStore` reads and writes
them; nothing in them is trusted because it was stored (nodes check every signature).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

__all__ = [
    "EPOCH",
    "FINAL_STATES",
    "NODE_STATES",
    "PROPOSAL_STATES",
    "ApprovalRecord",
    "NodeRecord",
    "NodeResultRecord",
    "OutputRecord",
    "ProposalRecord",
    "RejectionRecord",
]

PROPOSAL_STATES: Final = ("pending", "executing", "executed", "failed", "rejected", "expired")
"""Every state a proposal can be in."""

FINAL_STATES: Final = frozenset({"executed", "failed", "rejected", "expired"})
"""States a proposal never leaves."""

NODE_STATES: Final = ("unknown", "ready", "restarted", "unreachable", "untrusted")
"""Every state a node can be in (see :mod:`accord.orchestrator.nodes`)."""

EPOCH: Final = dt.datetime.fromtimestamp(0, dt.UTC)
"""The time a node record carries before it is first saved."""


@dataclass(frozen=True)
class ApprovalRecord:
    """A party's signature over a proposal's command digest (context ``"command"``)."""

    party: str
    signature: bytes


@dataclass(frozen=True)
class RejectionRecord:
    """A party's signed refusal of a proposal (context ``"reject"``)."""

    party: str
    reason: str
    signature: bytes


@dataclass(frozen=True)
class OutputRecord:
    """One sealed output a node returned, as the node sent it."""

    recipient: str
    name: str
    sealed: bytes
    digest: str


@dataclass(frozen=True)
class NodeResultRecord:
    """What one node answered to a command: a receipt and outputs, or an error."""

    node_id: str
    session_id: str
    receipt: bytes = b""
    outputs: tuple[OutputRecord, ...] = ()
    error: str = ""


@dataclass(frozen=True)
class ProposalRecord:
    """A proposal as stored, with its approvals, rejections and results.

    Parameters
    ----------
    proposal_id
        The command digest.
    command
        The command's canonical JSON, exactly as proposed.
    operation, proposer, session_ids
        Copied from the command for queries.
    state
        One of :data:`PROPOSAL_STATES`.
    error
        Why it failed, was rejected or expired (empty otherwise).
    received_at, expires_at, updated_at
        When it was proposed, when it expires, when it last changed.
    dispatched_at
        When Execute was first sent to a node, or ``None``.
    approvals, rejections, results
        In party order (approvals, rejections) and node order (results).
    """

    proposal_id: str
    command: bytes
    operation: str
    proposer: str
    session_ids: tuple[str, ...]
    state: str
    error: str
    received_at: dt.datetime
    expires_at: dt.datetime
    updated_at: dt.datetime
    dispatched_at: dt.datetime | None
    approvals: tuple[ApprovalRecord, ...] = ()
    rejections: tuple[RejectionRecord, ...] = ()
    results: tuple[NodeResultRecord, ...] = ()

    @property
    def approvers(self) -> frozenset[str]:
        """The parties that approved."""
        return frozenset(approval.party for approval in self.approvals)

    @property
    def is_final(self) -> bool:
        """Whether the proposal can no longer change state."""
        return self.state in FINAL_STATES


@dataclass(frozen=True)
class NodeRecord:
    """An enclave node as the orchestrator last saw it.

    Parameters
    ----------
    node_id, address
        Its name and ``host:port``.
    source
        ``"config"`` or ``"registered"``.
    session_id
        The session it attested last (empty while unknown).
    state
        ``"ready"``, ``"unreachable"``, ``"restarted"`` or ``"unknown"``.
    next_sequence
        The sequence number its next command must carry (0 while unknown).
    tls_certificate
        The PEM certificate it served when last attested (empty while unknown).
    updated_at
        When this record last changed.
    """

    node_id: str
    address: str
    source: str
    session_id: str = ""
    state: str = "unknown"
    next_sequence: int = 0
    tls_certificate: bytes = b""
    updated_at: dt.datetime = EPOCH
