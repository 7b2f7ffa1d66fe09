"""Running XGBoost across the nodes of one command: setup, communicator, bounded failure.

:class:`FederatedRun` is a context manager around the XGBoost work of one command (``train``,
``evaluate``) on a node; every node of the command enters it at about the same time:

1. The node makes a fresh per-command TLS key (:class:`~.offers.FederationKey`). Ranks other
   than 0 publish their signed offer at once (``GetFederation``).
2. It attests every peer (:func:`~.peers.attest_peers`) before anything else is exchanged.
3. Rank 0 waits for every peer's offer, starts XGBoost's federated server
   (``xgboost.federated``) with its own key, trusting as clients exactly the N attested
   certificates (PEM bundle), on a port the system picks, then publishes its offer with
   that port. The other ranks wait for rank 0's offer.
4. Each node starts its :class:`~.proxy.CollectiveProxy` (mutual TLS to rank 0's server,
   pinned to rank 0's attested certificate), checks that the connection comes up, starts a
   :class:`~.peers.Watchdog` on its peers, and joins XGBoost's collective communicator
   (``dmlc_communicator="federated"``) through the proxy.

Steps 1 to 4 must finish within the plan's ``setup_timeout``. Keys reach XGBoost, which reads
them from paths, only as anonymous memory files (:func:`~.memory_files.memory_files`), closed
as soon as XGBoost has read them. If a peer fails or stops answering, or a collective call
outlasts ``collective_timeout``, the proxy fails XGBoost's calls and the command fails on this
node with a :class:`~accord.errors.TransportError` naming the peer; the node's state tells the
other nodes, which fail the same way.

XGBoost offers no way to stop its federated server from the process that runs it: rank 0's
server stays listening (accepting no one, since the command's client keys are gone) until the
node exits. It costs a port and a few threads per command run across nodes.
"""

from __future__ import annotations

import logging
import time
from types import TracebackType
from typing import Any, Final

import numpy as np
import xgboost
import xgboost.collective
import xgboost.federated

from accord.crypto.keys import SECRET_KEY_ACCESS
from accord.enclave.commands import Command
from accord.errors import AccordError, TransportError
from accord.workloads.xgboost.federation.memory_files import memory_files
from accord.workloads.xgboost.federation.offers import FederationKey, FederationOffer, sign_offer
from accord.workloads.xgboost.federation.peers import Peer, Watchdog, attest_peers, await_offer
from accord.workloads.xgboost.federation.plan import FederationPlan
from accord.workloads.xgboost.federation.proxy import CollectiveProxy
from accord.workloads.xgboost.federation.registry import FederationEntry, NodeFederation

__all__ = ["FederatedRun"]

_LOG: Final = logging.getLogger("accord.workloads.xgboost")
_CHECK_SECONDS: Final = 1.0


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__


class FederatedRun:
    """XGBoost across the command's nodes, for the duration of a ``with`` block.

    Parameters
    ----------
    federation
        The node's federation state.
    command
        The admitted command.
    plan
        Its nodes and this node's rank.
    what
        The operation, for messages (``"train"``).

    Raises
    ------
    VerificationError
        (on entry) A peer's evidence, session or offer does not verify.
    TransportError
        (on entry) A peer cannot be reached, fails or does not join within the setup
        timeout; (on exit) the computation failed because a peer failed, went silent or
        a collective call timed out.
    """

    def __init__(
        self, federation: NodeFederation, command: Command, plan: FederationPlan, *, what: str
    ) -> None:
        self._federation = federation
        self._command = command
        self._plan = plan
        self._what = what
        self._entry: FederationEntry | None = None
        self._key: FederationKey | None = None
        self._peers: dict[int, Peer] = {}
        self._proxy: CollectiveProxy | None = None
        self._watchdog: Watchdog | None = None
        self._tracker: Any = None
        self._communicator: xgboost.collective.CommunicatorContext | None = None

    # -- entering ----------------------------------------------------------------------

    def __enter__(self) -> FederatedRun:
        digest = self._command.digest
        self._entry = self._federation.begin(digest)
        deadline = time.monotonic() + self._plan.setup_timeout
        try:
            self._setup(deadline)
        except BaseException as error:
            self._entry.failed(error_message(error))  # first, so that the peers stop too
            self._close()
            raise
        self._entry.running()
        _LOG.info(
            "%s: rank %d of %d joined the federation of command %s",
            self._what,
            self._plan.rank,
            self._plan.world_size,
            digest[:16],
        )
        return self

    def _offer(self, port: int | None) -> bytes:
        assert self._key is not None
        session = self._federation.session
        offer = FederationOffer(
            agreement_digest=self._federation.agreement.digest,
            command_digest=self._command.digest,
            session_id=session.session_id,
            rank=self._plan.rank,
            world_size=self._plan.world_size,
            certificate_pem=self._key.certificate_pem,
            server_port=port,
        )
        return sign_offer(offer, session.signing_key)

    def _setup(self, deadline: float) -> None:
        assert self._entry is not None
        plan = self._plan
        self._key = FederationKey(self._federation.session.session_id, now=self._federation.now())
        if plan.rank != 0:
            self._entry.publish(self._offer(None))
        self._peers = attest_peers(plan, self._federation, deadline=deadline)
        if plan.rank == 0:
            offers = {rank: self._await(peer, deadline) for rank, peer in self._peers.items()}
            port = self._start_server(offers, deadline)
            self._entry.publish(self._offer(port))
            upstream, root_certificate = f"127.0.0.1:{port}", self._key.certificate_pem
        else:
            root = self._await(self._peers[0], deadline)
            assert root.server_port is not None
            host = plan.root.host
            shown = f"[{host}]" if ":" in host else host
            upstream, root_certificate = f"{shown}:{root.server_port}", root.certificate_pem
        self._proxy = CollectiveProxy(
            upstream=upstream,
            upstream_certificate_pem=root_certificate,
            identity=self._key,
            call_timeout=plan.collective_timeout,
            upstream_name=plan.root.describe(),
            now=self._federation.now,
        )
        self._proxy.check_upstream(timeout=max(deadline - time.monotonic(), 0.1))
        self._watchdog = Watchdog(
            list(self._peers.values()),
            self._command.digest,
            peer_timeout=plan.peer_timeout,
            on_failure=self._proxy.trip,
        )
        self._watchdog.start()
        self._join_communicator()

    def _await(self, peer: Peer, deadline: float) -> FederationOffer:
        return await_offer(
            peer,
            federation=self._federation,
            plan=self._plan,
            command_digest=self._command.digest,
            deadline=deadline,
        )

    def _start_server(self, offers: dict[int, FederationOffer], deadline: float) -> int:
        assert self._key is not None
        certificates = [self._key.certificate_pem] + [
            offers[rank].certificate_pem for rank in sorted(offers)
        ]
        timeout = max(1, int(deadline - time.monotonic()))
        files = {
            "server-key": self._key.private_key_pem(SECRET_KEY_ACCESS),
            "server-cert": self._key.certificate_pem,
            "client-roots": b"".join(certificates),
        }
        with memory_files(files) as paths:
            try:
                self._tracker = xgboost.federated.FederatedTracker(
                    n_workers=self._plan.world_size,
                    port=0,
                    secure=True,
                    server_key_path=paths["server-key"],
                    server_cert_path=paths["server-cert"],
                    client_cert_path=paths["client-roots"],
                    timeout=timeout,
                )
                self._tracker.start()
                # Waits until the server listens, which is after it read the files.
                port = int(self._tracker.worker_args()["dmlc_tracker_port"])
            except xgboost.core.XGBoostError as error:
                raise TransportError(
                    f"{self._what}: XGBoost's federated server did not start: {_first_line(error)}"
                ) from None
        _LOG.info(
            "%s: federated server for %d nodes on port %d", self._what, self._plan.world_size, port
        )
        return port

    def _join_communicator(self) -> None:
        assert self._proxy is not None
        if xgboost.collective.is_distributed():
            xgboost.collective.finalize()
            if xgboost.collective.is_distributed():
                raise AccordError(
                    "XGBoost's communicator is still joined to an earlier federation",
                    hint="Restart the node (a new session); then attest and provision again.",
                )
        local = self._proxy.local
        files = {
            "server-cert": local.certificate_pem,
            "client-key": local.private_key_pem(),
            "client-cert": local.certificate_pem,
        }
        with memory_files(files) as paths:
            communicator = xgboost.collective.CommunicatorContext(
                dmlc_communicator="federated",
                federated_server_address=self._proxy.address,
                federated_world_size=self._plan.world_size,
                federated_rank=self._plan.rank,
                federated_server_cert_path=paths["server-cert"],
                federated_client_key_path=paths["client-key"],
                federated_client_cert_path=paths["client-cert"],
                dmlc_timeout=self._plan.collective_timeout,
            )
            try:
                communicator.__enter__()  # XGBoost reads the files here
            except xgboost.core.XGBoostError as error:
                raise TransportError(
                    f"{self._what}: XGBoost could not join the federation: {_first_line(error)}"
                ) from None
        self._communicator = communicator

    # -- inside --------------------------------------------------------------------------

    @property
    def rank(self) -> int:
        """The rank of this node."""
        return self._plan.rank

    def sum(self, value: float) -> float:
        """Return the sum of ``value`` over every node (an allreduce of one number)."""
        total = xgboost.collective.allreduce(
            np.array([value], dtype=np.float64), xgboost.collective.Op.SUM
        )
        return float(total[0])

    # -- leaving -------------------------------------------------------------------------

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._entry is not None
        if exc is None:
            self._close()
            self._entry.finished()
            return
        reason = self._proxy.reason if self._proxy is not None else None
        if reason is None and self._watchdog is not None:
            reason = self._watchdog.check_once(timeout=_CHECK_SECONDS)
        message = error_message(exc)
        self._entry.failed(reason or message)
        self._close()
        if reason is not None:
            raise TransportError(
                f"{self._what} across {self._plan.world_size} nodes failed: {reason}",
                hint="Every node of the command fails it; once the nodes run again, attest "
                "them and propose the command again.",
            ) from None

    def _close(self) -> None:
        if self._communicator is not None:
            try:
                self._communicator.__exit__(None, None, None)
            except xgboost.core.XGBoostError as error:
                _LOG.warning("leaving XGBoost's communicator failed: %s", _first_line(error))
            self._communicator = None
        if self._watchdog is not None:
            self._watchdog.stop()
            self._watchdog = None
        if self._proxy is not None:
            self._proxy.close()
            self._proxy = None
        for peer in self._peers.values():
            peer.close()
        self._peers = {}
        if self._tracker is not None:
            # XGBoost cannot stop its federated server: freeing the tracker would wait for
            # it until the tracker's timeout and then fail. Drop the handle instead.
            vars(self._tracker).pop("handle", None)
            self._tracker = None
        self._key = None


def error_message(error: BaseException) -> str:
    """Return what a node tells its peers about an error (Accord messages only)."""
    if isinstance(error, AccordError):
        return error.message
    return f"internal error ({type(error).__name__})"
