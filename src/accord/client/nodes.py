"""Enclave nodes as a party sees them: listed by the orchestrator, then attested directly.

The orchestrator's list of nodes (:class:`NodeInfo`) is a hint only: it says where the nodes
are. Trust comes from :func:`attest_node`, which talks to the node itself:

1. fetch the certificate the node serves, without trusting it;
2. open a channel that trusts exactly that certificate;
3. send a fresh nonce (``Attest``) and verify the evidence against the agreement;
4. check that the attested session TLS key is the key of that certificate.

The resulting :class:`AttestedNode` keeps the pinned channel, so every later call
(``ProvisionKey``, ``GetStatus``, ``GetAuditLog``) reaches the attested enclave session and
nothing else. A restarted node has a new TLS key; the pinned channel then fails, and
:meth:`AttestedNode.call` reports a :class:`~accord.client.errors.SessionChangedError`.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final, TypeVar

import grpc

from accord.agreement.display import escape_unsafe
from accord.agreement.signing import SignedAgreement
from accord.attest import BackendVerifier
from accord.client.attestation import VerifiedEnclave, new_nonce, verify_enclave
from accord.client.errors import SessionChangedError
from accord.errors import AccordError, TransportError, VerificationError
from accord.transport import (
    call,
    check_attested_tls_key,
    fetch_unverified_server_certificate,
    pinned_channel,
    split_address,
)
from accord.v1 import node_pb2, node_pb2_grpc, orchestrator_pb2

__all__ = ["AttestedNode", "NodeInfo", "NodeStatus", "attest_node"]

_log = logging.getLogger("accord.client")

_Response = TypeVar("_Response")

_NODE_ID: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
_MAX_STATE_CHARS: Final = 32


@dataclass(frozen=True)
class NodeInfo:
    """A node as the (untrusted) orchestrator lists it.

    Attributes
    ----------
    node_id
        The node's stable name in the orchestrator's configuration.
    address
        ``host:port`` of the node's TLS endpoint.
    session_id
        The session the orchestrator last saw there ("" while unknown).
    state
        ``"ready"``, ``"unreachable"`` or ``"restarted"``.
    next_sequence
        The sequence number the orchestrator believes the node expects next.
    """

    node_id: str
    address: str
    session_id: str
    state: str
    next_sequence: int

    @classmethod
    def from_message(cls, message: orchestrator_pb2.NodeInfo) -> NodeInfo:
        """Read a ``NodeInfo`` message from the (untrusted) orchestrator.

        Raises
        ------
        VerificationError
            If the node id is not a node id (lower-case letters, digits, ``_.-``; at most
            63 characters) or the address is not ``host:port``: such a listing is not used.
        """
        node_id, address = message.node_id, message.address
        if not _NODE_ID.fullmatch(node_id):
            raise VerificationError(
                f"the orchestrator lists a node with id {escape_unsafe(node_id[:80])!r}, which "
                "is not a node id (lower-case letters, digits, '_.-'; at most 63 characters)",
                hint="Do not rely on this orchestrator's node list; tell its operator.",
            )
        if not _is_address(address):
            raise VerificationError(
                f"the orchestrator lists node {node_id} at {escape_unsafe(address[:80])!r}, "
                "which is not HOST:PORT",
                hint="Do not rely on this orchestrator's node list; tell its operator.",
            )
        return cls(
            node_id=node_id,
            address=address,
            session_id=escape_unsafe(message.session_id[:64]),
            state=escape_unsafe(message.state[:_MAX_STATE_CHARS]),
            next_sequence=message.next_sequence,
        )


def _is_address(address: str) -> bool:
    if not (address.isascii() and address.isprintable()) or " " in address:
        return False
    try:
        split_address(address)
    except AccordError:
        return False
    return True


@dataclass(frozen=True)
class NodeStatus:
    """A node's status, as the attested session itself reports it over the pinned channel.

    Attributes
    ----------
    session_id
        The session that answered (always the attested one).
    next_sequence
        The sequence number the next command must carry.
    key_ids
        The data keys provisioned to the session.
    """

    session_id: str
    next_sequence: int
    key_ids: tuple[str, ...]


class AttestedNode:
    """A node whose evidence this client verified, reached over TLS pinned to its session key.

    Made only by :func:`attest_node`. Close it with :meth:`close`.
    """

    def __init__(
        self,
        *,
        node_id: str,
        address: str,
        evidence: VerifiedEnclave,
        certificate_pem: bytes,
        channel: grpc.Channel,
    ) -> None:
        self.node_id = node_id
        self.address = address
        self.evidence = evidence
        self.certificate_pem = certificate_pem
        self._channel = channel
        self._stub = node_pb2_grpc.EnclaveNodeStub(channel)  # type: ignore[no-untyped-call]

    @property
    def session_id(self) -> str:
        """The attested session id."""
        return self.evidence.session_keys.session_id

    @property
    def peer(self) -> str:
        """How messages name this node: ``"node node-1 (127.0.0.1:5001)"``."""
        return f"node {self.node_id} ({self.address})"

    @property
    def stub(self) -> node_pb2_grpc.EnclaveNodeStub:
        """The stub on the pinned channel."""
        return self._stub

    def call(
        self, method: Callable[..., _Response], request: object, *, timeout: float
    ) -> _Response:
        """Call ``method`` of this node's stub with a deadline, as the attested session.

        Raises
        ------
        SessionChangedError
            If the node now presents another certificate (it restarted: a new session).
        AccordError
            What the node signalled, or :class:`~accord.errors.TransportError`.
        """
        try:
            return call(method, request, peer=self.peer, timeout=timeout)
        except TransportError as error:
            self._raise_if_session_changed(error, timeout=timeout)
            raise

    def _raise_if_session_changed(self, error: TransportError, *, timeout: float) -> None:
        try:
            served = fetch_unverified_server_certificate(self.address, timeout=min(timeout, 5.0))
        except TransportError:
            return  # the node is down or unreachable: the original error says so
        if not hmac.compare_digest(served, self.certificate_pem):
            raise SessionChangedError(
                self.node_id,
                f"{self.peer} no longer serves the TLS certificate of session "
                f"{self.session_id} that this client attested: the node restarted with a new "
                "session, or someone intercepts the link",
            ) from error

    def status(self, *, timeout: float) -> NodeStatus:
        """Ask the attested session for its status.

        Raises
        ------
        SessionChangedError
            If the node runs another session now.
        """
        answer = self.call(self._stub.GetStatus, node_pb2.NodeStatusRequest(), timeout=timeout)
        if answer.session_id != self.session_id:
            raise SessionChangedError(
                self.node_id,
                f"{self.peer} reports session {answer.session_id or '(none)'}, not the attested "
                f"session {self.session_id}",
            )
        return NodeStatus(
            session_id=answer.session_id,
            next_sequence=int(answer.next_sequence),
            key_ids=tuple(answer.key_ids),
        )

    def provision(self, key_release: bytes, *, timeout: float) -> str:
        """Hand a key release message to the attested session; return the key id it took."""
        answer = self.call(
            self._stub.ProvisionKey,
            node_pb2.ProvisionKeyRequest(key_release=key_release),
            timeout=timeout,
        )
        if answer.session_id and answer.session_id != self.session_id:
            raise SessionChangedError(
                self.node_id,
                f"{self.peer} accepted the key in session {answer.session_id}, not in the "
                f"attested session {self.session_id}",
            )
        return str(answer.key_id)

    def audit_entries(self, *, timeout: float) -> list[bytes]:
        """Fetch the session's signed audit log entries from index 0 (unverified).

        A node answers with a bounded page of entries; pages are fetched until one is empty.
        """
        entries: list[bytes] = []
        while True:
            answer = self.call(
                self._stub.GetAuditLog,
                node_pb2.AuditLogRequest(from_index=len(entries)),
                timeout=timeout,
            )
            if not answer.entries:
                return entries
            entries.extend(bytes(entry) for entry in answer.entries)

    def close(self) -> None:
        """Close the pinned channel."""
        self._channel.close()

    def __repr__(self) -> str:
        return f"AttestedNode({self.node_id!r}, session={self.session_id!r})"


def attest_node(
    node_id: str,
    address: str,
    *,
    agreement: SignedAgreement,
    timeout: float,
    backends: Mapping[str, BackendVerifier] | None = None,
    now: Callable[[], datetime] | None = None,
) -> AttestedNode:
    """Attest the enclave node at ``address`` and return it behind a pinned channel.

    Parameters
    ----------
    node_id
        The node's name (for messages).
    address
        ``host:port`` of its TLS endpoint.
    agreement
        The collaboration's signed agreement; its enclave policy decides.
    timeout
        Deadline in seconds for each network step.
    backends
        Backend verifiers by name (hardware quote verifiers); Accord's defaults when None.
        The policy is always the agreement's own.
    now
        The clock for evidence age and certificate validity.

    Returns
    -------
    AttestedNode
        The node, its verified evidence, and a channel pinned to its attested TLS key.

    Raises
    ------
    VerificationError
        If the evidence does not verify, or the served TLS key is not the attested one.
    TransportError
        If the node cannot be reached in time.
    """
    peer = f"node {node_id} ({address})"
    try:
        certificate = fetch_unverified_server_certificate(address, timeout=timeout)
    except TransportError as error:
        raise TransportError(
            f"{peer} cannot be attested: {error.message}", hint=error.hint
        ) from None
    channel = pinned_channel(address, certificate)
    try:
        nonce = new_nonce()
        answer = call(
            node_pb2_grpc.EnclaveNodeStub(channel).Attest,  # type: ignore[no-untyped-call]
            node_pb2.AttestRequest(nonce=nonce),
            peer=peer,
            timeout=timeout,
        )
        evidence = verify_enclave(
            bytes(answer.bundle),
            agreement=agreement,
            nonce=nonce,
            backends=backends,
            **({"now": now} if now is not None else {}),
        )
        check_attested_tls_key(certificate, evidence.session_keys.tls_public_key, peer=peer)
    except BaseException:
        channel.close()
        raise
    _log.info("attested %s: session %s", peer, evidence.session_keys.session_id)
    return AttestedNode(
        node_id=node_id,
        address=address,
        evidence=evidence,
        certificate_pem=certificate,
        channel=channel,
    )
