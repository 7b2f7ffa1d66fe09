"""The other nodes of a command: attested before anything is exchanged, then watched.

:func:`attest_peers` verifies every peer of the command the way a party verifies a node
(:func:`accord.client.nodes.attest_node`: the served certificate fetched without trust, a
channel pinned to it, evidence for a fresh nonce verified against the agreement with
:func:`accord.client.verify_enclave`, then :func:`accord.transport.check_attested_tls_key`),
and refuses a peer whose attested session is not the one the command lists at that address.
Every later call to a peer (:meth:`Peer.status`) goes over that pinned channel, so its
answers come from the attested enclave.

:func:`await_offer` waits, within the setup deadline, until a peer publishes its signed offer
(:mod:`accord.workloads.xgboost.federation.offers`) and verifies it with the peer's attested
signing key. :class:`Watchdog` polls every peer while XGBoost computes and reports the first
peer that failed or went silent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent import futures
from typing import Final

from accord.client.nodes import AttestedNode, attest_node
from accord.errors import AccordError, TransportError, VerificationError
from accord.transport import call
from accord.v1 import node_pb2
from accord.workloads.xgboost.federation.offers import FederationOffer, verify_offer
from accord.workloads.xgboost.federation.plan import FederationPlan, PeerNode
from accord.workloads.xgboost.federation.registry import FAILED, NodeFederation

__all__ = ["Peer", "Watchdog", "attest_peers", "await_offer"]

_LOG: Final = logging.getLogger("accord.workloads.xgboost")
_RETRY_SECONDS: Final = 0.2
_MAX_CALL_SECONDS: Final = 5.0


class Peer:
    """A peer node of the command, attested, reached over a channel pinned to its key.

    Parameters
    ----------
    node
        Where the command places it.
    attested
        The attested node (evidence and pinned channel).
    """

    def __init__(self, node: PeerNode, attested: AttestedNode) -> None:
        self.node = node
        self.attested = attested

    def status(self, command_digest: str, *, timeout: float) -> tuple[bytes, str, str]:
        """Ask the peer for ``(offer, state, error)`` of a command.

        Raises
        ------
        AccordError
            If the call fails (:class:`~accord.errors.TransportError` when unanswered).
        """
        answer = call(
            self.attested.stub.GetFederation,
            node_pb2.FederationRequest(command_digest=command_digest),
            peer=self.node.describe(),
            timeout=timeout,
        )
        return bytes(answer.offer), str(answer.state), str(answer.error)

    def close(self) -> None:
        """Close the pinned channel."""
        self.attested.close()


def _remaining(deadline: float) -> float:
    return deadline - time.monotonic()


def _attest_one(node: PeerNode, federation: NodeFederation, deadline: float) -> Peer:
    while True:
        timeout = min(_MAX_CALL_SECONDS, max(_remaining(deadline), 0.1))
        try:
            attested = attest_node(
                f"{node.session_id[:8]}.. rank {node.rank}",
                node.address,
                agreement=federation.agreement,
                timeout=timeout,
                backends=federation.backends,
                now=federation.now,
            )
        except TransportError as error:
            if _remaining(deadline) <= 0:
                raise TransportError(
                    f"{node.describe()} could not be attested before the setup deadline: "
                    f"{error.message}"
                ) from None
            time.sleep(_RETRY_SECONDS)
            continue
        except VerificationError as error:
            raise VerificationError(
                f"{node.describe()} is refused as a peer: {error.message}",
                hint="Nothing was exchanged with it. Check that every node of the command runs "
                "the attested code for this agreement.",
            ) from None
        if attested.session_id != node.session_id:
            attested.close()
            raise VerificationError(
                f"the enclave at {node.address} is session {attested.session_id}, not session "
                f"{node.session_id} that the command lists there; it is refused as a peer",
                hint="A node of the command restarted, or the addresses in the command are "
                "wrong; nothing was exchanged with it.",
            )
        return Peer(node, attested)


def attest_peers(
    plan: FederationPlan, federation: NodeFederation, *, deadline: float
) -> dict[int, Peer]:
    """Attest every peer of the plan (in parallel) and return them by rank.

    Parameters
    ----------
    plan
        The command's nodes and this node's rank.
    federation
        The node's federation state (agreement, verifiers, clock).
    deadline
        ``time.monotonic()`` value by which every peer must be attested.

    Returns
    -------
    dict[int, Peer]
        The attested peers by rank.

    Raises
    ------
    VerificationError
        If a peer's evidence fails the agreement's policy, its TLS key is not the attested
        one, or it runs another session than the command lists at its address.
    TransportError
        If a peer cannot be reached before the deadline.
    """
    peers: dict[int, Peer] = {}
    with futures.ThreadPoolExecutor(
        max_workers=max(1, len(plan.peers)), thread_name_prefix="accord-attest"
    ) as pool:
        jobs = {pool.submit(_attest_one, node, federation, deadline): node for node in plan.peers}
        failure: AccordError | None = None
        for job in futures.as_completed(jobs):
            try:
                peer = job.result()
            except AccordError as error:
                failure = failure or error
                continue
            peers[peer.node.rank] = peer
    if failure is not None:
        for peer in peers.values():
            peer.close()
        raise failure
    for peer in peers.values():
        _LOG.info("attested peer %s", peer.node.describe())
    return peers


def await_offer(
    peer: Peer,
    *,
    federation: NodeFederation,
    plan: FederationPlan,
    command_digest: str,
    deadline: float,
) -> FederationOffer:
    """Wait for a peer's signed offer for the command and verify it.

    Raises
    ------
    TransportError
        If the peer reports that it failed, or publishes no offer before the deadline.
    VerificationError
        If the offer does not verify with the peer's attested signing key, or is for
        another agreement, command, session or rank.
    """
    state = "unknown"
    problem = ""
    while _remaining(deadline) > 0:
        timeout = min(_MAX_CALL_SECONDS, max(_remaining(deadline), 0.1))
        try:
            offer, state, error = peer.status(command_digest, timeout=timeout)
        except AccordError as failure:
            problem = f"; last error: {failure.message}"
            time.sleep(_RETRY_SECONDS)
            continue
        if state == FAILED:
            raise TransportError(f"{peer.node.describe()} failed: {error}")
        if offer:
            return verify_offer(
                offer,
                session=peer.attested.evidence.session_keys,
                agreement_digest=federation.agreement.digest,
                command_digest=command_digest,
                rank=peer.node.rank,
                world_size=plan.world_size,
                now=federation.now(),
            )
        time.sleep(_RETRY_SECONDS)
    raise TransportError(
        f"{peer.node.describe()} did not join the command within {plan.setup_timeout} s "
        f"(its state: {state}{problem})",
        hint="Every node the command lists must run it: check that the orchestrator relayed "
        "it to every node and that no node refused it.",
    )


class Watchdog:
    """Polls the peers while XGBoost computes; reports the first one that failed or went silent.

    Parameters
    ----------
    peers
        The attested peers.
    command_digest
        The command they run.
    peer_timeout
        Seconds a peer may go unanswered before it counts as gone.
    on_failure
        Called once, from the watchdog's thread, with the reason.
    interval
        Seconds between two rounds of polls.
    """

    def __init__(
        self,
        peers: Sequence[Peer],
        command_digest: str,
        *,
        peer_timeout: float,
        on_failure: Callable[[str], None],
        interval: float = 0.5,
    ) -> None:
        self._peers = tuple(peers)
        self._digest = command_digest
        self._peer_timeout = peer_timeout
        self._on_failure = on_failure
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="accord-federation-watchdog", daemon=True
        )

    def start(self) -> None:
        """Start polling."""
        self._thread.start()

    def stop(self) -> None:
        """Stop polling (waits for the current round of polls)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=_MAX_CALL_SECONDS + 1.0)

    def check_once(self, *, timeout: float) -> str | None:
        """Ask every peer once; return why one failed or is unreachable, or ``None``."""
        for peer in self._peers:
            try:
                _, state, error = peer.status(self._digest, timeout=timeout)
            except AccordError as failure:
                return f"{peer.node.describe()} does not answer ({failure.message})"
            if state == FAILED:
                return f"{peer.node.describe()} failed: {error}"
        return None

    def _run(self) -> None:
        last_answer = {peer.node.rank: time.monotonic() for peer in self._peers}
        call_timeout = min(_MAX_CALL_SECONDS, max(self._peer_timeout / 2, 0.5))
        while not self._stop.wait(self._interval):
            for peer in self._peers:
                try:
                    _, state, error = peer.status(self._digest, timeout=call_timeout)
                except AccordError:
                    silent = time.monotonic() - last_answer[peer.node.rank]
                    if silent > self._peer_timeout:
                        self._on_failure(
                            f"{peer.node.describe()} stopped answering for more than "
                            f"{self._peer_timeout:g} s"
                        )
                        return
                    continue
                last_answer[peer.node.rank] = time.monotonic()
                if state == FAILED:
                    self._on_failure(f"{peer.node.describe()} failed: {error}")
                    return
