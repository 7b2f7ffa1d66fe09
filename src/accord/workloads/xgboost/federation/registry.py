"""A node's federations: what each command across nodes has reached, for the node's peers.

One :class:`NodeFederation` lives in the executor's workspace of a node that serves the node
protocol (:func:`enable_federation`, called by :mod:`accord.enclave.server`); it holds the
agreement (to verify peers' evidence) and the session (to sign offers). For each command the
node runs with others it keeps a :class:`FederationEntry`: its state, its signed offer once
ready, and why it failed. Peers read them with the ``GetFederation`` RPC
(:func:`federation_response`); nothing in them is secret.

States: ``preparing`` (attesting peers, exchanging offers), ``running`` (XGBoost computes),
``finished``, ``failed``; ``unknown`` for a command this node has not admitted (or has
forgotten: it keeps the last :data:`MAX_ENTRIES`).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

from accord.agreement.signing import SignedAgreement
from accord.attest import BackendVerifier
from accord.enclave._wire import utc_now
from accord.enclave.executor import Workspace
from accord.enclave.session import EnclaveSession
from accord.errors import UsageError
from accord.v1 import node_pb2

__all__ = [
    "FAILED",
    "FINISHED",
    "MAX_ENTRIES",
    "PREPARING",
    "RUNNING",
    "UNKNOWN",
    "FederationEntry",
    "NodeFederation",
    "enable_federation",
    "federation_response",
]

PREPARING: Final = "preparing"
RUNNING: Final = "running"
FINISHED: Final = "finished"
FAILED: Final = "failed"
UNKNOWN: Final = "unknown"
MAX_ENTRIES: Final = 32
"""How many commands' federation states a node remembers."""
_MAX_ERROR_CHARS: Final = 500
_DIGEST: Final = re.compile(r"[0-9a-f]{64}")


class FederationEntry:
    """How far this node got with one command across nodes (thread-safe)."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self._state = PREPARING
        self._offer = b""
        self._error = ""

    def publish(self, offer: bytes) -> None:
        """Make this node's signed offer available to its peers."""
        with self._lock:
            self._offer = offer

    def running(self) -> None:
        """Record that XGBoost runs across the nodes."""
        with self._lock:
            if self._state == PREPARING:
                self._state = RUNNING

    def finished(self) -> None:
        """Record that this node finished its part."""
        with self._lock:
            if self._state != FAILED:
                self._state = FINISHED

    def failed(self, reason: str) -> None:
        """Record that this node's part failed, and why (no secrets: peers read it)."""
        with self._lock:
            if self._state != FAILED:
                self._state = FAILED
                self._error = reason[:_MAX_ERROR_CHARS]

    def snapshot(self) -> tuple[bytes, str, str]:
        """Return ``(offer, state, error)``."""
        with self._lock:
            return self._offer, self._state, self._error


class NodeFederation:
    """What a node needs to run commands with other nodes, and what it tells them.

    Parameters
    ----------
    agreement
        The agreement the node enforces; peers' evidence is verified against its policy.
    session
        The node's enclave session (its signing key signs the offers).
    backends
        Backend verifiers for peers' evidence (Accord's defaults when ``None``).
    now
        The clock (timezone-aware).
    """

    def __init__(
        self,
        agreement: SignedAgreement,
        session: EnclaveSession,
        *,
        backends: Mapping[str, BackendVerifier] | None = None,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        if agreement.digest != session.agreement_digest:
            raise UsageError("the enclave session was created for another agreement")
        self.agreement = agreement
        self.session = session
        self.backends = backends
        self.now = now
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, FederationEntry] = OrderedDict()

    def begin(self, command_digest: str) -> FederationEntry:
        """Start recording a command's federation (a fresh entry, state ``preparing``)."""
        with self._lock:
            entry = FederationEntry(threading.Lock())
            self._entries[command_digest] = entry
            self._entries.move_to_end(command_digest)
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)
            return entry

    def status(self, command_digest: str) -> tuple[bytes, str, str]:
        """Return ``(offer, state, error)`` of a command (state ``unknown`` if not known)."""
        with self._lock:
            entry = self._entries.get(command_digest)
        if entry is None:
            return b"", UNKNOWN, ""
        return entry.snapshot()

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError("NodeFederation belongs to one enclave session and cannot be pickled")

    def __repr__(self) -> str:
        return f"NodeFederation(session={self.session.session_id[:8]!r}..)"


def enable_federation(
    workspace: Workspace,
    *,
    agreement: SignedAgreement,
    session: EnclaveSession,
    backends: Mapping[str, BackendVerifier] | None = None,
) -> NodeFederation:
    """Let the node's operations run across nodes: keep a :class:`NodeFederation` in it.

    Parameters
    ----------
    workspace
        The node executor's workspace.
    agreement
        The agreement the node enforces.
    session
        The node's enclave session.
    backends
        Backend verifiers for peers' evidence (Accord's defaults when ``None``).

    Returns
    -------
    NodeFederation
        The workspace's federation state.
    """
    return workspace.state(
        NodeFederation, lambda: NodeFederation(agreement, session, backends=backends)
    )


def federation_response(workspace: Workspace, command_digest: str) -> node_pb2.FederationResponse:
    """Answer ``GetFederation``: this node's offer and state for a command.

    Raises
    ------
    UsageError
        If the digest is not 64 lowercase hex characters.
    """
    if _DIGEST.fullmatch(command_digest) is None:
        raise UsageError("a federation request names a command by its digest (64 hex)")
    federation = workspace.find(NodeFederation)
    if federation is None:
        return node_pb2.FederationResponse(state=UNKNOWN)
    offer, state, error = federation.status(command_digest)
    return node_pb2.FederationResponse(offer=offer, state=state, error=error)
