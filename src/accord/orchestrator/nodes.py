"""The enclave nodes the orchestrator relays to: attested links, sessions and status.

For each node the registry keeps a gRPC channel *pinned* to the TLS certificate the node
served, and trusts that channel only after attestation: it fetches the certificate without
trusting it, calls ``Attest`` with a fresh nonce over a channel that accepts only that
certificate, verifies the evidence against the agreement (:func:`accord.client.verify_enclave`)
and checks that the attested session TLS key is the certificate's key
(:func:`accord.transport.check_attested_tls_key`). The orchestrator is not trusted by the
parties; it attests nodes so that it does not push blobs to, or collect results from, a
host that is not the enclave.

Node states (``NodeInfo.state``):

``unknown``      not contacted yet
``ready``        attested; its status is current
``restarted``    attested with a new session: the earlier session is gone, and parties must
                 attest and provision again before commands can run on it
``unreachable``  the last attempt to reach it failed (it is retried)
``untrusted``    it answered, but its evidence or TLS key failed verification

A node keeps ``restarted`` until a command runs on its new session.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass, replace
from typing import Final

import grpc

from accord.agreement import SignedAgreement
from accord.attest import BackendVerifier
from accord.attest.binding import SessionPublicKeys
from accord.client import new_nonce, verify_enclave
from accord.errors import AccordError, UsageError, VerificationError
from accord.orchestrator.config import DEFAULT_MAX_NODES, NODE_ID_PATTERN, NodeConfig
from accord.orchestrator.proposals import utc_now
from accord.orchestrator.records import NodeRecord
from accord.orchestrator.store import ProposalStore
from accord.transport import (
    call,
    check_attested_tls_key,
    fetch_unverified_server_certificate,
    pinned_channel,
    split_address,
)
from accord.v1 import node_pb2, node_pb2_grpc

__all__ = ["DEFAULT_NODE_CALL_TIMEOUT", "NodeLink", "NodeRegistry", "SessionGoneError"]

DEFAULT_NODE_CALL_TIMEOUT: Final = 10.0
"""Seconds one status or attestation call to a node may take."""

_REFRESH_THREADS: Final = 16

_log = logging.getLogger("accord.orchestrator")


class SessionGoneError(UsageError):
    """A command names an enclave session that no registered node has any more."""

    default_hint = "Parties must attest the nodes again (accord attest), provision their keys "
    "(accord provision) and propose the command again for the new sessions."


@dataclass(frozen=True)
class NodeLink:
    """An attested connection to a node's current session.

    Parameters
    ----------
    node_id, address
        Which node.
    session_id
        The session the node attested.
    session_keys
        That session's attested public keys (its signing key checks receipts).
    certificate_pem
        The certificate the node served, whose key attestation vouched for.
    stub
        The EnclaveNode stub over a channel pinned to that certificate.
    channel
        The channel (closed when the link is dropped).
    """

    node_id: str
    address: str
    session_id: str
    session_keys: SessionPublicKeys
    certificate_pem: bytes
    stub: node_pb2_grpc.EnclaveNodeStub
    channel: grpc.Channel

    @property
    def peer(self) -> str:
        """The node as messages name it: ``node n1 (127.0.0.1:5001)``."""
        return f"node {self.node_id} ({self.address})"


class NodeRegistry:
    """The nodes of one orchestrator, with attested links to their current sessions.

    Parameters
    ----------
    store
        Where node records are kept across restarts.
    agreement
        The agreement whose enclave policy the nodes' evidence must meet.
    backends
        Attestation backend verifiers by name (default: Accord's); the policy is always
        the agreement's.
    now
        The clock (timezone-aware).
    call_timeout
        Seconds each status or attestation call may take.
    max_nodes
        The most nodes the registry holds; registering one more is refused.
    """

    def __init__(
        self,
        store: ProposalStore,
        agreement: SignedAgreement,
        *,
        backends: Mapping[str, BackendVerifier] | None = None,
        now: Callable[[], dt.datetime] = utc_now,
        call_timeout: float = DEFAULT_NODE_CALL_TIMEOUT,
        max_nodes: int = DEFAULT_MAX_NODES,
    ) -> None:
        self._store = store
        self._max_nodes = max_nodes
        self._agreement = agreement
        self._backends = backends
        self._now = now
        self._timeout = call_timeout
        self._lock = threading.Lock()
        self._node_locks: dict[str, threading.Lock] = {}
        self._links: dict[str, NodeLink] = {}
        self._records: dict[str, NodeRecord] = {n.node_id: n for n in store.nodes()}
        self._pool = futures.ThreadPoolExecutor(
            max_workers=_REFRESH_THREADS, thread_name_prefix="accord-refresh"
        )

    # -- membership ------------------------------------------------------------------------

    def configure(self, configured: Iterable[NodeConfig]) -> None:
        """Take the nodes from the configuration, keeping what is known about them.

        Nodes that an earlier configuration listed and this one does not are forgotten;
        nodes registered at run time are kept.
        """
        configured = list(configured)
        wanted = {node.node_id for node in configured}
        for record in self.nodes():
            if record.source == "config" and record.node_id not in wanted:
                with self._lock:
                    self._store.delete_node(record.node_id)
                    del self._records[record.node_id]
        for node in configured:
            known = self._records.get(node.node_id)
            if known is not None and known.address == node.address:
                if known.source != "config":
                    self._save(replace(known, source="config"))
                continue
            self._save(NodeRecord(node.node_id, node.address, "config", updated_at=self._now()))

    def register(self, node_id: str, address: str) -> NodeRecord:
        """Add (or move) a node at run time and attest it.

        Parameters
        ----------
        node_id
            Its name (see :data:`accord.orchestrator.config.NODE_ID_PATTERN`).
        address
            ``host:port`` of its TLS endpoint.

        Returns
        -------
        NodeRecord
            The node after an attempt to attest it (its state says how that went).

        Raises
        ------
        UsageError
            If the id or address is malformed, the id is a configured node at another
            address, or the registry already holds ``max_nodes`` nodes.
        """
        if not isinstance(node_id, str) or not NODE_ID_PATTERN.fullmatch(node_id):
            raise UsageError(
                f"node id {node_id[:64]!r} must be 1 to 63 lower-case letters, digits or '_.-'"
            )
        split_address(address)
        known = self._records.get(node_id)
        if known is None and len(self._records) >= self._max_nodes:
            raise UsageError(
                f"this orchestrator already knows {len(self._records)} nodes, its limit "
                f"(max_nodes); node {node_id} is not registered",
                hint="Raise max_nodes in the orchestrator's configuration, or remove nodes "
                "that are gone from it.",
            )
        if known is not None and known.address != address:
            if known.source == "config":
                raise UsageError(
                    f"node {node_id} is configured at {known.address}; it cannot be "
                    f"registered at {address}",
                    hint="Choose another node id, or change the orchestrator's configuration.",
                )
            self._drop_link(node_id)
        if known is None or known.address != address:
            _log.info("node %s registered at %s", node_id, address)
            self._save(NodeRecord(node_id, address, "registered", updated_at=self._now()))
        return self.refresh(node_id)

    def nodes(self) -> list[NodeRecord]:
        """Return every node as last seen, by id."""
        with self._lock:
            return [self._records[key] for key in sorted(self._records)]

    def get(self, node_id: str) -> NodeRecord:
        """Return the node ``node_id``.

        Raises
        ------
        UsageError
            If there is no such node.
        """
        with self._lock:
            record = self._records.get(node_id)
        if record is None:
            raise UsageError(f"there is no node {node_id!r} at this orchestrator")
        return record

    def _save(self, record: NodeRecord) -> None:
        with self._lock:
            self._store.save_node(record)
            self._records[record.node_id] = record

    # -- status ----------------------------------------------------------------------------

    def refresh_all(
        self, *, timeout: float | None = None, answer_within: float | None = None
    ) -> list[NodeRecord]:
        """Refresh every node in parallel (see :meth:`refresh_many`); never raises for a node."""
        return self.refresh_many(
            [record.node_id for record in self.nodes()],
            timeout=timeout,
            answer_within=answer_within,
        )

    def refresh_many(
        self,
        node_ids: Sequence[str],
        *,
        timeout: float | None = None,
        answer_within: float | None = None,
        skip_if_busy: bool | None = None,
    ) -> list[NodeRecord]:
        """Refresh the nodes ``node_ids`` in parallel and return their records.

        Parameters
        ----------
        node_ids
            The nodes.
        timeout
            Seconds each call to a node may take (default: the registry's).
        answer_within
            If given, return after at most this many seconds: a node whose refresh has not
            ended by then (it goes on in the background), or that another refresh is busy
            with, is returned as last seen. A node that does not answer then delays no one
            (``ListNodes`` answers this way). By default every refresh is waited for.
        skip_if_busy
            Whether a node that another refresh is busy with is returned as last seen at
            once (see :meth:`refresh`); by default only when ``answer_within`` is given.
        """
        if not node_ids:
            return []
        skip = answer_within is not None if skip_if_busy is None else skip_if_busy
        submitted = [
            self._pool.submit(self.refresh, node_id, timeout=timeout, skip_if_busy=skip)
            for node_id in node_ids
        ]
        done, _ = futures.wait(submitted, timeout=answer_within)
        return [
            future.result() if future in done else self.get(node_id)
            for node_id, future in zip(node_ids, submitted, strict=True)
        ]

    def refresh(
        self, node_id: str, *, timeout: float | None = None, skip_if_busy: bool = False
    ) -> NodeRecord:
        """Ask the node for its status, attesting it first if there is no live link.

        A failure is recorded in the node's state (``unreachable`` or ``untrusted``) and
        logged; it is not raised. If another refresh of the same node is in progress, this
        one waits for it at most ``timeout`` seconds (not at all with ``skip_if_busy``) and
        then returns the node's record as last seen, so that callers never queue behind a
        node that does not answer.

        Parameters
        ----------
        node_id
            The node.
        timeout
            Seconds each call may take (default: the registry's).
        skip_if_busy
            Return the record as last seen at once if another refresh is in progress.

        Returns
        -------
        NodeRecord
            The node's record after the refresh.
        """
        timeout = timeout or self._timeout
        node_lock = self._node_lock(node_id)
        if not node_lock.acquire(timeout=0 if skip_if_busy else timeout):
            return self.get(node_id)
        try:
            return self._refresh_locked(node_id, timeout)
        finally:
            node_lock.release()

    def _refresh_locked(self, node_id: str, timeout: float) -> NodeRecord:
        record = self.get(node_id)
        link = self.link(node_id)
        if link is not None:
            try:
                status = self._status(link, timeout)
            except AccordError as error:
                _log.info("%s: status failed (%s); attesting again", link.peer, error.message)
                self._drop_link(node_id)
            else:
                return self._saw(record, link.session_id, status.next_sequence)
        try:
            link, next_sequence = self._attest(record, timeout)
        except VerificationError as error:
            _log.warning("node %s (%s) is not trusted: %s", node_id, record.address, error.message)
            return self._mark(record, "untrusted")
        except AccordError as error:
            _log.info("node %s (%s) is unreachable: %s", node_id, record.address, error.message)
            return self._mark(record, "unreachable")
        with self._lock:
            self._links[node_id] = link
        return self._saw(record, link.session_id, next_sequence, new_link=link)

    def _node_lock(self, node_id: str) -> threading.Lock:
        with self._lock:
            return self._node_locks.setdefault(node_id, threading.Lock())

    def _status(self, link: NodeLink, timeout: float) -> node_pb2.NodeStatus:
        status: node_pb2.NodeStatus = call(
            link.stub.GetStatus, node_pb2.NodeStatusRequest(), peer=link.peer, timeout=timeout
        )
        if status.session_id != link.session_id:
            raise VerificationError(
                f"{link.peer} reports session {status.session_id[:16]}.. on the channel "
                f"attested for session {link.session_id[:16]}.."
            )
        if status.agreement_digest != self._agreement.digest:
            raise VerificationError(
                f"{link.peer} runs agreement {status.agreement_digest[:16]}.., not "
                f"{self._agreement.digest[:16]}.."
            )
        return status

    def _attest(self, record: NodeRecord, timeout: float) -> tuple[NodeLink, int]:
        peer = f"node {record.node_id} ({record.address})"
        certificate = fetch_unverified_server_certificate(record.address, timeout=timeout)
        channel = pinned_channel(record.address, certificate)
        try:
            stub = node_pb2_grpc.EnclaveNodeStub(channel)  # type: ignore[no-untyped-call]
            nonce = new_nonce()
            response = call(
                stub.Attest, node_pb2.AttestRequest(nonce=nonce), peer=peer, timeout=timeout
            )
            verified = verify_enclave(
                response.bundle,
                agreement=self._agreement,
                nonce=nonce,
                backends=self._backends,
                now=self._now,
            )
            check_attested_tls_key(certificate, verified.session_keys.tls_public_key, peer=peer)
            link = NodeLink(
                node_id=record.node_id,
                address=record.address,
                session_id=verified.session_keys.session_id,
                session_keys=verified.session_keys,
                certificate_pem=certificate,
                stub=stub,
                channel=channel,
            )
            status = self._status(link, timeout)
        except BaseException:
            channel.close()
            raise
        _log.info("%s attested: session %s", peer, link.session_id)
        return link, int(status.next_sequence)

    def _saw(
        self,
        record: NodeRecord,
        session_id: str,
        next_sequence: int,
        *,
        new_link: NodeLink | None = None,
    ) -> NodeRecord:
        now = self._now()
        state = "restarted" if record.state == "restarted" else "ready"
        certificate = record.tls_certificate if new_link is None else new_link.certificate_pem
        updated = replace(
            record,
            session_id=session_id,
            state=state,
            next_sequence=next_sequence,
            tls_certificate=certificate,
            updated_at=now,
        )
        if record.session_id and record.session_id != session_id:
            updated = replace(updated, state="restarted")
            _log.warning(
                "node %s restarted: session %s is gone, the new session is %s",
                record.node_id,
                record.session_id,
                session_id,
            )
            with self._lock:
                self._store.replace_session(updated, gone_session=record.session_id, now=now)
                self._records[record.node_id] = updated
            return updated
        if updated != replace(record, updated_at=now):
            self._save(updated)
        else:
            with self._lock:
                self._records[record.node_id] = updated
        return updated

    def _mark(self, record: NodeRecord, state: str) -> NodeRecord:
        updated = replace(record, state=state, updated_at=self._now())
        if record.state != state:
            self._save(updated)
        return updated

    def mark_used(self, node_id: str) -> None:
        """Note that a command ran on the node's current session (ends ``restarted``)."""
        record = self.get(node_id)
        if record.state == "restarted":
            self._save(replace(record, state="ready", updated_at=self._now()))

    def _drop_link(self, node_id: str) -> None:
        with self._lock:
            link = self._links.pop(node_id, None)
        if link is not None:
            link.channel.close()

    # -- sessions --------------------------------------------------------------------------

    def link(self, node_id: str) -> NodeLink | None:
        """Return the attested link to the node, or ``None`` if there is none."""
        with self._lock:
            return self._links.get(node_id)

    def resolve_sessions(self, session_ids: Iterable[str]) -> Mapping[str, NodeLink]:
        """Map each session to the attested link of the node that has it now.

        Raises
        ------
        SessionGoneError
            If a session belonged to a node that restarted, or no node has it.
        """
        by_session: dict[str, NodeLink] = {}
        with self._lock:
            links = {link.session_id: link for link in self._links.values()}
        for session_id in session_ids:
            link = links.get(session_id)
            if link is not None:
                by_session[session_id] = link
                continue
            gone_from = self._store.gone_session(session_id)
            if gone_from is not None:
                raise SessionGoneError(
                    f"session {session_id[:16]}.. is gone (node {gone_from} restarted); "
                    "parties must re-attest and re-provision"
                )
            owner = [r.node_id for r in self.nodes() if r.session_id == session_id]
            if owner:
                raise SessionGoneError(
                    f"session {session_id[:16]}.. of node {owner[0]} cannot be reached now "
                    f"(the node is {self.get(owner[0]).state})",
                    hint="Check that the node is running; the command can be proposed again "
                    "once it is back with the same session.",
                )
            raise SessionGoneError(
                f"session {session_id[:16]}.. is not the session of any node of this orchestrator",
                hint="List the nodes (accord status) and attest them; propose commands for "
                "the sessions you attested.",
            )
        return by_session

    def close(self) -> None:
        """Stop refreshing and close every link."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            links = list(self._links.values())
            self._links.clear()
        for link in links:
            link.channel.close()
