"""The enclave node's gRPC service: evidence, key release, blobs, commands, audit log.

:class:`EnclaveNodeServicer` implements ``accord.v1.EnclaveNode`` (proto/accord/v1/node.proto)
over one :class:`~accord.enclave.session.EnclaveSession`. Every input is bounded before it is
parsed, every refusal ends the call through :func:`accord.transport.abort_with` (the client
raises the same :class:`~accord.errors.AccordError` class with the same message), and a
failure that is not an Accord error is reported as "internal error" naming only its class.

=============  ========================================================================
RPC            what the node does
=============  ========================================================================
Attest         evidence binding the session's public keys to the caller's nonce
               (16 to 64 bytes)
ProvisionKey   checks a party's signed key release (at most 16 KiB) and keeps the data
               key in memory for the session
PutBlob        streams a ciphertext blob (chunks of at most 1 MiB) into the blob store,
               refused unless it hashes to the blob id of the first chunk; a few
               uploads at once, each ended when it pauses too long, within a per-session
               quota (:mod:`accord.enclave.uploads`)
HasBlob        whether the node holds a blob
Execute        one command at a time: the command gate (approvals, sequence, expiry,
               recipients), the executor, the audit log, a signed receipt. A refused
               command changes nothing and the call fails with the reason; a command that
               was admitted and then failed consumes its sequence number and returns a
               receipt with status "failed" and the reason
GetAuditLog    signed entries from an index, at most 1,000 or 4 MiB per call (ask again
               from the next index for more)
GetStatus      session id, agreement digest, next sequence, provisioned key ids, backend
GetFederation  node to node: this node's signed offer and state for a command it runs with
               other nodes (:mod:`accord.workloads.xgboost.federation`)
GetProgress    the training rounds of a model from a start round on (canonical JSON)
=============  ========================================================================

:func:`start_node` creates a session for a signed agreement and serves it on a TLS port whose
key is the session's attested TLS key, with gRPC health checking; :func:`serve` runs a node
until an event is set (``accord node`` sets it on SIGTERM or SIGINT). Keys live only in this
process's memory; the blob folder on the host holds ciphertext only.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import tempfile
import threading
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TypeVar, cast

import grpc

from accord.agreement import SignedAgreement
from accord.attest.backends import quoter_for
from accord.attest.binding import NONCE_MAX_BYTES, NONCE_MIN_BYTES
from accord.attest.claims import SIMULATED
from accord.attest.quoter import Quoter
from accord.crypto.keyrelease import MAX_KEY_RELEASE_BYTES
from accord.crypto.keys import SECRET_KEY_ACCESS
from accord.enclave.attestation import attest_session
from accord.enclave.blobs import DEFAULT_MAX_BLOB_BYTES, BlobStore
from accord.enclave.commands import MAX_COMMAND_BYTES, Approval
from accord.enclave.consensus import MAX_APPROVALS
from accord.enclave.executor import BUILTIN_OPERATIONS, CommandRunner
from accord.enclave.session import EnclaveSession
from accord.enclave.uploads import MAX_BLOB_CHUNK_BYTES, BlobReceiver, UploadLimits
from accord.errors import AccordError, ConfigurationError, UsageError
from accord.transport import (
    TlsIdentity,
    abort_with,
    add_health_service,
    bind_server,
    create_server,
    server_credentials,
)
from accord.v1 import common_pb2, node_pb2, node_pb2_grpc

__all__ = [
    "DEFAULT_GRACE_SECONDS",
    "MAX_AUDIT_ENTRIES_PER_CALL",
    "MAX_AUDIT_RESPONSE_BYTES",
    "MAX_BLOB_CHUNK_BYTES",
    "NODE_SERVICE_NAME",
    "EnclaveNodeServicer",
    "RunningNode",
    "resolve_backend",
    "serve",
    "start_node",
]

logger: Final = logging.getLogger("accord.node")

NODE_SERVICE_NAME: Final = "accord.v1.EnclaveNode"
"""The fully qualified gRPC service name (also reported by the health service)."""

MAX_AUDIT_ENTRIES_PER_CALL: Final = 1000
"""The most audit entries one ``GetAuditLog`` answer carries."""

MAX_AUDIT_RESPONSE_BYTES: Final = 4 * 1024 * 1024
"""The most bytes of entries one ``GetAuditLog`` answer carries (at least one entry)."""

DEFAULT_GRACE_SECONDS: Final = 5.0
"""How long a stopping node lets calls in progress finish."""

_STOP_POLL_SECONDS: Final = 0.2
_MAX_SIGNATURE_BYTES: Final = 128
_MAX_PARTY_NAME_CHARS: Final = 256

_MethodT = TypeVar("_MethodT", bound=Callable[..., Any])


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _rpc(method: _MethodT) -> _MethodT:
    """End the call with the Accord error a servicer method raised, or with "internal error"."""

    @functools.wraps(method)
    def handled(self: EnclaveNodeServicer, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except AccordError as error:
            abort_with(context, error)
        except Exception as error:
            # The exception's message may quote data; log only its class and where it was.
            logger.error(
                "%s failed with %s at\n%s",
                method.__name__,
                type(error).__name__,
                "".join(traceback.format_tb(error.__traceback__)),
            )
            abort_with(
                context,
                AccordError(
                    f"the node failed {method.__name__} with an internal error "
                    f"({type(error).__name__})",
                    hint="Report this to the node operator; the node's log shows where it failed.",
                ),
            )

    return cast(_MethodT, handled)


def _too_large(what: str, size: int, limit: int) -> UsageError:
    return UsageError(f"{what} is {size} bytes; this node accepts at most {limit}")


def node_operations() -> dict[str, Any]:
    """Return the operations an Accord node runs: the built-ins and the XGBoost workload."""
    from accord.workloads.xgboost import XGBOOST_OPERATIONS

    return {**BUILTIN_OPERATIONS, **XGBOOST_OPERATIONS}


class EnclaveNodeServicer(node_pb2_grpc.EnclaveNodeServicer):
    """The ``accord.v1.EnclaveNode`` service of one enclave session.

    Parameters
    ----------
    agreement
        The signed agreement the node enforces.
    session
        The node's enclave session (created for ``agreement``).
    quoter
        The attestation backend that produces the session's evidence.
    blobs
        The node's ciphertext blob store.
    runner
        The command path (gate, executor, audit log); by default a
        :class:`~accord.enclave.executor.CommandRunner` with the built-in operations.
    now
        The clock (timezone-aware) for command expiry and audit times of the default runner.
    upload_limits
        The limits of ``PutBlob`` (uploads at once, idle timeout, per-session quota).

    Raises
    ------
    UsageError
        If the session was created for another agreement.
    """

    def __init__(
        self,
        *,
        agreement: SignedAgreement,
        session: EnclaveSession,
        quoter: Quoter,
        blobs: BlobStore,
        runner: CommandRunner | None = None,
        now: Callable[[], datetime] = _utc_now,
        upload_limits: UploadLimits | None = None,
    ) -> None:
        if session.agreement_digest != agreement.digest:
            raise UsageError("the enclave session was created for another agreement")
        self._agreement = agreement
        self._session = session
        self._quoter = quoter
        self._blobs = blobs
        self._uploads = BlobReceiver(blobs, upload_limits)
        if runner is None:
            from accord.workloads.xgboost.federation import enable_federation

            runner = CommandRunner(agreement, session, blobs, operations=node_operations(), now=now)
            # Lets commands for several nodes attest peers and exchange offers (GetFederation).
            enable_federation(runner.executor.workspace, agreement=agreement, session=session)
        self._runner = runner

    @property
    def runner(self) -> CommandRunner:
        """The node's command path (gate, executor and audit log)."""
        return self._runner

    @property
    def blobs(self) -> BlobStore:
        """The node's ciphertext blob store."""
        return self._blobs

    @_rpc
    def Attest(  # noqa: N802 (gRPC method name)
        self, request: node_pb2.AttestRequest, context: grpc.ServicerContext
    ) -> node_pb2.AttestResponse:
        """Return evidence binding the session's public keys to the caller's nonce."""
        nonce = bytes(request.nonce)
        if not NONCE_MIN_BYTES <= len(nonce) <= NONCE_MAX_BYTES:
            raise UsageError(
                f"an attestation nonce must be {NONCE_MIN_BYTES} to {NONCE_MAX_BYTES} bytes, "
                f"got {len(nonce)}",
                hint="Use accord.client.new_nonce() for a fresh nonce.",
            )
        bundle = attest_session(self._session, self._quoter, nonce)
        logger.debug("attested session %s", self._session.session_id)
        return node_pb2.AttestResponse(bundle=bundle.to_bytes())

    @_rpc
    def ProvisionKey(  # noqa: N802 (gRPC method name)
        self, request: node_pb2.ProvisionKeyRequest, context: grpc.ServicerContext
    ) -> node_pb2.ProvisionKeyResponse:
        """Check a party's key release and keep its data key in the session's memory."""
        message = bytes(request.key_release)
        if len(message) > MAX_KEY_RELEASE_BYTES:
            raise _too_large("the key release", len(message), MAX_KEY_RELEASE_BYTES)
        key_id = self._session.accept_key_release(message, parties=self._agreement.party_keys)
        party = self._session.released_keys.get(key_id, "?")
        logger.info("party %s provisioned data key %s", party, key_id)
        return node_pb2.ProvisionKeyResponse(key_id=key_id, session_id=self._session.session_id)

    @_rpc
    def PutBlob(  # noqa: N802 (gRPC method name)
        self, request_iterator: Iterable[common_pb2.BlobChunk], context: grpc.ServicerContext
    ) -> common_pb2.BlobRef:
        """Store a streamed ciphertext blob if it hashes to the id its first chunk names."""
        stored = self._uploads.receive(request_iterator)
        return common_pb2.BlobRef(blob_id=stored.blob_id, size=stored.size)

    @_rpc
    def HasBlob(  # noqa: N802 (gRPC method name)
        self, request: common_pb2.BlobRef, context: grpc.ServicerContext
    ) -> node_pb2.HasBlobResponse:
        """Tell whether the node holds a blob."""
        return node_pb2.HasBlobResponse(present=self._blobs.has(request.blob_id))

    @_rpc
    def Execute(  # noqa: N802 (gRPC method name)
        self, request: node_pb2.ExecuteRequest, context: grpc.ServicerContext
    ) -> node_pb2.ExecuteResponse:
        """Run a command if its approvals satisfy the agreement; return receipt and outputs."""
        command = bytes(request.command)
        if len(command) > MAX_COMMAND_BYTES:
            raise _too_large("the command", len(command), MAX_COMMAND_BYTES)
        if len(request.approvals) > MAX_APPROVALS:
            raise UsageError(
                f"the command carries {len(request.approvals)} approvals; this node accepts "
                f"at most {MAX_APPROVALS}"
            )
        approvals = [_approval(item) for item in request.approvals]
        outcome = self._runner.run(command, approvals)
        return node_pb2.ExecuteResponse(
            receipt=outcome.receipt,
            outputs=[
                common_pb2.Output(
                    recipient=output.recipient,
                    name=output.name,
                    sealed=output.sealed,
                    digest=output.digest,
                )
                for output in outcome.outputs
            ],
        )

    @_rpc
    def GetAuditLog(  # noqa: N802 (gRPC method name)
        self, request: node_pb2.AuditLogRequest, context: grpc.ServicerContext
    ) -> node_pb2.AuditLogResponse:
        """Return signed audit entries from ``from_index`` on, as many as fit one answer."""
        entries: list[bytes] = []
        size = 0
        for entry in self._runner.audit.entries(request.from_index):
            if len(entries) >= MAX_AUDIT_ENTRIES_PER_CALL:
                break
            if entries and size + len(entry) > MAX_AUDIT_RESPONSE_BYTES:
                break
            entries.append(entry)
            size += len(entry)
        return node_pb2.AuditLogResponse(entries=entries)

    @_rpc
    def GetStatus(  # noqa: N802 (gRPC method name)
        self, request: node_pb2.NodeStatusRequest, context: grpc.ServicerContext
    ) -> node_pb2.NodeStatus:
        """Report the session, its agreement, the next sequence and the provisioned keys."""
        return node_pb2.NodeStatus(
            session_id=self._session.session_id,
            agreement_digest=self._agreement.digest,
            next_sequence=self._runner.gate.next_sequence,
            key_ids=sorted(self._session.released_keys),
            backend=self._quoter.backend,
        )

    @_rpc
    def GetFederation(  # noqa: N802 (gRPC method name)
        self, request: node_pb2.FederationRequest, context: grpc.ServicerContext
    ) -> node_pb2.FederationResponse:
        """Report this node's offer and state for a command it runs with other nodes."""
        from accord.workloads.xgboost.federation import federation_response

        return federation_response(self._runner.executor.workspace, request.command_digest)

    @_rpc
    def GetProgress(  # noqa: N802 (gRPC method name)
        self, request: node_pb2.ProgressRequest, context: grpc.ServicerContext
    ) -> node_pb2.ProgressResponse:
        """Report the training rounds of a model from a start round on."""
        from accord.workloads.xgboost import progress_response

        return progress_response(
            self._runner.executor.workspace, request.model, int(request.start_round)
        )


def _approval(item: common_pb2.Approval) -> Approval:
    if len(item.party) > _MAX_PARTY_NAME_CHARS or len(item.signature) > _MAX_SIGNATURE_BYTES:
        raise UsageError(
            f"an approval's party name or signature is too long (at most "
            f"{_MAX_PARTY_NAME_CHARS} characters and {_MAX_SIGNATURE_BYTES} bytes)"
        )
    return Approval(party=item.party, signature=bytes(item.signature))


def resolve_backend(agreement: SignedAgreement, backend: str | None) -> str:
    """Return the attestation backend a node for ``agreement`` uses.

    Parameters
    ----------
    agreement
        The signed agreement.
    backend
        The backend asked for, or ``None`` for the agreement's only accepted backend.

    Returns
    -------
    str
        The backend name.

    Raises
    ------
    ConfigurationError
        If the agreement does not accept ``backend``, or accepts several and none was chosen.
    """
    accepted = sorted(agreement.enclave.backends)
    where = f"agreement {agreement.name!r} ({agreement.digest[:16]}..)"
    if backend is None:
        if len(accepted) == 1:
            return accepted[0]
        raise ConfigurationError(
            f"{where} accepts evidence from {', '.join(accepted)}; choose one",
            hint="Start the node with --backend set to the platform it runs on.",
        )
    if backend not in accepted:
        raise ConfigurationError(
            f"{where} does not accept {backend!r} evidence; it accepts {', '.join(accepted)}",
            hint="Parties would refuse this node's evidence: start it with a backend the "
            "agreement accepts, on a platform that provides it.",
        )
    return backend


@dataclass
class RunningNode:
    """A node serving one enclave session (from :func:`start_node`); stop it when done.

    Parameters
    ----------
    address
        ``host:port`` the node listens on (the real port when started with port 0).
    session
        The node's enclave session.
    servicer
        The node's service.
    server
        The gRPC server.
    health
        The health servicer (``grpc_health.v1``).
    """

    address: str
    session: EnclaveSession
    servicer: EnclaveNodeServicer
    server: grpc.Server
    health: Any

    @property
    def session_id(self) -> str:
        """The session id the node serves."""
        return self.session.session_id

    def stop(self, grace: float = DEFAULT_GRACE_SECONDS) -> None:
        """Report NOT_SERVING, let calls in progress finish for ``grace`` seconds, stop.

        Parameters
        ----------
        grace
            Seconds calls in progress may still take; later they are cancelled.
        """
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait(grace + 1.0)
        logger.info("node for session %s stopped", self.session_id)

    def __enter__(self) -> RunningNode:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_node(
    agreement: SignedAgreement,
    *,
    listen: str,
    blobs: BlobStore,
    backend: str | None = None,
    quoter: Quoter | None = None,
    now: Callable[[], datetime] = _utc_now,
    max_workers: int = 16,
    upload_limits: UploadLimits | None = None,
) -> RunningNode:
    """Create a session for ``agreement`` and serve it over TLS with the session's key.

    The node checks that it can produce evidence before it listens, so a node that starts
    can be attested.

    Parameters
    ----------
    agreement
        The agreement, verified as signed by every party.
    listen
        ``host:port`` to listen on; port 0 picks a free port.
    blobs
        Where the node keeps ciphertext blobs.
    backend
        The attestation backend (see :func:`resolve_backend`); ignored when ``quoter`` is
        given, whose backend must then be accepted by the agreement.
    quoter
        The quoter to use instead of :func:`accord.attest.backends.quoter_for`.
    now
        The clock (timezone-aware) for the session certificate, expiry and audit times.
    max_workers
        Calls served at once (commands still run one at a time); keep it well above
        ``upload_limits.max_concurrent`` so that uploads never take every worker.
    upload_limits
        The limits of ``PutBlob`` (:class:`~accord.enclave.uploads.UploadLimits`).

    Returns
    -------
    RunningNode
        The serving node.

    Raises
    ------
    ConfigurationError
        If the agreement does not accept the backend.
    UsageError
        If the address is malformed or the backend unknown.
    TransportError
        If the address cannot be bound.
    AccordError
        If the platform cannot produce evidence (e.g. no TEE device for a hardware backend).
    """
    chosen = resolve_backend(agreement, backend if quoter is None else quoter.backend)
    quoter = quoter if quoter is not None else quoter_for(chosen, now=now)
    if chosen == SIMULATED:
        logger.warning(
            "this node uses SIMULATED attestation: it gives NO protection against the host "
            "(development only)"
        )
    session = EnclaveSession.create(agreement.digest, now=now)
    quoter.quote(session.public_keys.report_data(os.urandom(NONCE_MIN_BYTES)))
    servicer = EnclaveNodeServicer(
        agreement=agreement,
        session=session,
        quoter=quoter,
        blobs=blobs,
        now=now,
        upload_limits=upload_limits,
    )
    identity = TlsIdentity.from_pem(
        session.tls_private_key_pem(SECRET_KEY_ACCESS),
        session.tls_certificate_pem,
        SECRET_KEY_ACCESS,
    )
    server = create_server(max_workers=max_workers)
    node_pb2_grpc.add_EnclaveNodeServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    health = add_health_service(server, services=[NODE_SERVICE_NAME])
    address = bind_server(server, listen, server_credentials(identity))
    server.start()
    logger.info(
        "node serving session %s of agreement %s (%s) on %s",
        session.session_id,
        agreement.name,
        agreement.digest[:16],
        address,
    )
    return RunningNode(
        address=address, session=session, servicer=servicer, server=server, health=health
    )


def serve(
    agreement: SignedAgreement,
    *,
    listen: str,
    stop: threading.Event,
    backend: str | None = None,
    blob_dir: Path | None = None,
    max_blob_bytes: int = DEFAULT_MAX_BLOB_BYTES,
    on_ready: Callable[[RunningNode], None] | None = None,
    grace: float = DEFAULT_GRACE_SECONDS,
    upload_limits: UploadLimits | None = None,
) -> None:
    """Run a node until ``stop`` is set, then stop it gracefully.

    Parameters
    ----------
    agreement
        The agreement, verified as signed by every party.
    listen
        ``host:port`` to listen on; port 0 picks a free port.
    stop
        Set it (e.g. from a signal handler) to stop the node.
    backend
        The attestation backend (see :func:`resolve_backend`).
    blob_dir
        Where to keep ciphertext blobs; by default a new temporary folder, removed on stop.
    max_blob_bytes
        The largest blob accepted.
    on_ready
        Called once the node serves (``accord node`` prints its ready line here).
    grace
        Seconds calls in progress may take after ``stop`` is set.
    upload_limits
        The limits of ``PutBlob`` (:class:`~accord.enclave.uploads.UploadLimits`).

    Raises
    ------
    AccordError
        As :func:`start_node` raises it; nothing is left running.
    """
    with contextlib.ExitStack() as cleanup:
        if blob_dir is None:
            blob_dir = Path(
                cleanup.enter_context(tempfile.TemporaryDirectory(prefix="accord-blobs-"))
            )
        blobs = BlobStore(blob_dir, max_blob_bytes=max_blob_bytes)
        node = start_node(
            agreement, listen=listen, blobs=blobs, backend=backend, upload_limits=upload_limits
        )
        try:
            if on_ready is not None:
                on_ready(node)
            while not stop.wait(_STOP_POLL_SECONDS):
                pass
            logger.info("stopping the node for session %s", node.session_id)
        finally:
            node.stop(grace)
