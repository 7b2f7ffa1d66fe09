"""Fetching and verifying a node's audit log over the channel pinned to its attested session.

A party trusts an audit log only after :func:`~accord.enclave.audit.verify_audit_log` checked
it with the session signing key from evidence the party verified itself: the hash chain from
entry 0, every signature, the sequence numbers, and that every executed command's approvals
satisfy the agreement's rule. :func:`fetch_audit` does both steps for one
:class:`~accord.client.nodes.AttestedNode`.
"""

from __future__ import annotations

from dataclasses import dataclass

from accord.agreement.signing import SignedAgreement
from accord.client.nodes import AttestedNode
from accord.enclave.audit import AuditEntry, VerifiedAuditLog, verify_audit_log

__all__ = ["NodeAudit", "fetch_audit"]


@dataclass(frozen=True)
class NodeAudit:
    """One node's audit log as fetched, and verified unless asked otherwise.

    Attributes
    ----------
    node_id
        The node.
    address
        Its address.
    session_id
        The attested session whose log this is.
    signed_entries
        The signed entries as received (untrusted until verified).
    log
        The verified log, or ``None`` when fetched with ``verify=False``.
    """

    node_id: str
    address: str
    session_id: str
    signed_entries: tuple[bytes, ...]
    log: VerifiedAuditLog | None

    @property
    def verified(self) -> bool:
        """Whether :attr:`log` was verified."""
        return self.log is not None

    @property
    def entries(self) -> tuple[AuditEntry, ...]:
        """The verified entries (empty when the log was not verified)."""
        return self.log.entries if self.log is not None else ()


def fetch_audit(
    node: AttestedNode, *, agreement: SignedAgreement, timeout: float, verify: bool = True
) -> NodeAudit:
    """Fetch ``node``'s audit log and, unless ``verify`` is false, verify it.

    Raises
    ------
    VerificationError
        If the log fails verification; the message names the entry index and the problem.
    SessionChangedError
        If the node no longer runs the attested session.
    TransportError
        If the node does not answer in time.
    """
    entries = tuple(node.audit_entries(timeout=timeout))
    log = (
        verify_audit_log(entries, session=node.evidence.session_keys, agreement=agreement)
        if verify
        else None
    )
    return NodeAudit(
        node_id=node.node_id,
        address=node.address,
        session_id=node.session_id,
        signed_entries=entries,
        log=log,
    )
