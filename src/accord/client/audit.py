"""Fetching and verifying a node's audit log over the channel pinned to its attested session.

A party trusts an audit log only after :func:`~accord.enclave.audit.verify_audit_log` checked
it with the session signing key from evidence the party verified itself: the hash chain from
entry 0, every signature, the sequence numbers, and that every executed command's approvals
satisfy the agreement's rule. :func:`fetch_audit` does both steps for one
:class:`~accord.client.nodes.AttestedNode`.

A log that verifies can still be cut short: its last entries dropped by whoever relays or
stores it. Every receipt a party verified names the audit entry that records its command
(index and hash), so :func:`fetch_audit` also refuses a log that does not reach the highest
index such a receipt named, or whose entry there is not the one the receipt named.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from accord.agreement.signing import SignedAgreement
from accord.client.nodes import AttestedNode
from accord.enclave.audit import AuditEntry, VerifiedAuditLog, verify_audit_log
from accord.errors import VerificationError

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
    node: AttestedNode,
    *,
    agreement: SignedAgreement,
    timeout: float,
    verify: bool = True,
    receipts: Mapping[int, str] | None = None,
) -> NodeAudit:
    """Fetch ``node``'s audit log and, unless ``verify`` is false, verify it.

    Parameters
    ----------
    node
        The attested node.
    agreement
        The agreement whose rules executed commands must meet.
    timeout
        Seconds each call may take.
    verify
        Whether to verify the log (the entries are returned untrusted otherwise).
    receipts
        Audit entries (index to hash) that receipts of this session, verified by this
        party, name: the log must hold them (the hashes are compared when verifying).

    Raises
    ------
    VerificationError
        If the log fails verification (the message names the entry index and the
        problem), or is shorter than a receipt proves, naming the missing index.
    SessionChangedError
        If the node no longer runs the attested session.
    TransportError
        If the node does not answer in time.
    """
    entries = tuple(node.audit_entries(timeout=timeout))
    proven = dict(receipts or {})
    if proven and len(entries) <= max(proven):
        raise VerificationError(
            f"the audit log of {node.peer} (session {node.session_id}) has {len(entries)} "
            f"entries, but this client verified the session's signed receipt for entry "
            f"{max(proven)}: the log was cut short (entry {len(entries)} is missing)",
            hint="Do not trust this copy of the log; fetch it again and tell the other parties.",
        )
    log = (
        verify_audit_log(entries, session=node.evidence.session_keys, agreement=agreement)
        if verify
        else None
    )
    if log is not None:
        for index, audit_hash in sorted(proven.items()):
            if not hmac.compare_digest(log.entries[index].hash, audit_hash):
                raise VerificationError(
                    f"entry {index} of the audit log of {node.peer} is not the entry that "
                    f"the session's signed receipt names (hash {audit_hash[:16]}..)",
                    hint="Do not trust this log; tell the other parties.",
                )
    return NodeAudit(
        node_id=node.node_id,
        address=node.address,
        session_id=node.session_id,
        signed_entries=entries,
        log=log,
    )
