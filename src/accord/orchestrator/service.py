"""The Orchestrator gRPC service (``accord.v1.Orchestrator``): the parties' side of the relay.

Every call arrives over mutual TLS whose client certificates are exactly the parties' and
the operators'. The servicer names the caller by the SHA-256 fingerprint of the certificate
it presented, matched against the agreement, and lets a party propose, approve and reject
only as itself. Only an operator (a certificate listed in ``operator_certificates``) may add
nodes (``RegisterNode``); operators that are not parties may do nothing else. Failures end
the call through :func:`accord.transport.abort_with`, so the party's client raises the same
:class:`~accord.errors.AccordError` class with the same message.

Calls that hold a worker thread for long take a place of a
:class:`~accord.transport.ConcurrencyLimit` first, so that a party holding streams open
cannot take the workers that answer everyone's short calls:

================  =====================  ==================  ===========================
call              at once, in all        at once, per party  idle timeout
================  =====================  ==================  ===========================
UploadBlob        :data:`UPLOADS_AT_ONCE`  2                 ``stream_idle_seconds``
DownloadBlob      :data:`DOWNLOADS_AT_ONCE`  2               ``stream_idle_seconds``
WaitProposal      :data:`WAITS_AT_ONCE`  4                   (at most 60 s by design)
================  =====================  ==================  ===========================

A call beyond a limit is refused at once (``RESOURCE_EXHAUSTED``) with a message naming it.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Collection, Iterable, Iterator
from typing import Final

import grpc

from accord.agreement import SignedAgreement
from accord.enclave.commands import Approval, Command
from accord.errors import UsageError, VerificationError
from accord.orchestrator.blobs import CHUNK_BYTES, BlobStore, check_blob_id, referenced_blobs
from accord.orchestrator.nodes import NodeRegistry, SessionGoneError
from accord.orchestrator.proposals import MAX_WAIT_SECONDS, ProposalBook
from accord.orchestrator.records import PROPOSAL_STATES, NodeRecord, ProposalRecord
from accord.transport import (
    DEFAULT_STREAM_IDLE_SECONDS,
    ConcurrencyLimit,
    abort_on_accord_error,
    peer_certificate_fingerprint,
    receive_with_idle_timeout,
    send_with_idle_timeout,
)
from accord.v1 import common_pb2, orchestrator_pb2, orchestrator_pb2_grpc

__all__ = [
    "DOWNLOADS_AT_ONCE",
    "LIST_NODES_ANSWER_SECONDS",
    "LIST_NODES_REFRESH_SECONDS",
    "UPLOADS_AT_ONCE",
    "WAITS_AT_ONCE",
    "OrchestratorServicer",
    "node_info",
    "proposal_view",
]

LIST_NODES_REFRESH_SECONDS: Final = 5.0
"""How long each status call that ListNodes starts may take."""

LIST_NODES_ANSWER_SECONDS: Final = 1.0
"""ListNodes answers within this many seconds; slower nodes are listed as last seen."""

UPLOADS_AT_ONCE: Final = 8
"""The most UploadBlob streams served at once (2 per party)."""

DOWNLOADS_AT_ONCE: Final = 8
"""The most DownloadBlob streams served at once (2 per party)."""

WAITS_AT_ONCE: Final = 16
"""The most WaitProposal calls served at once (4 per party)."""

_log = logging.getLogger("accord.orchestrator")


def proposal_view(record: ProposalRecord) -> orchestrator_pb2.ProposalView:
    """Return the wire view of a stored proposal."""
    return orchestrator_pb2.ProposalView(
        proposal_id=record.proposal_id,
        command=record.command,
        approvals=[
            common_pb2.Approval(party=a.party, signature=a.signature) for a in record.approvals
        ],
        state=record.state,
        error=record.error,
        results=[
            orchestrator_pb2.NodeResult(
                node_id=result.node_id,
                session_id=result.session_id,
                receipt=result.receipt,
                outputs=[
                    common_pb2.Output(
                        recipient=o.recipient, name=o.name, sealed=o.sealed, digest=o.digest
                    )
                    for o in result.outputs
                ],
                error=result.error,
            )
            for result in record.results
        ],
        rejections=[
            orchestrator_pb2.Rejection(party=r.party, reason=r.reason) for r in record.rejections
        ],
    )


def node_info(record: NodeRecord) -> orchestrator_pb2.NodeInfo:
    """Return the wire view of a node record."""
    return orchestrator_pb2.NodeInfo(
        node_id=record.node_id,
        address=record.address,
        session_id=record.session_id,
        state=record.state,
        next_sequence=record.next_sequence,
        tls_certificate=record.tls_certificate,
    )


class OrchestratorServicer(orchestrator_pb2_grpc.OrchestratorServicer):
    """Serves the Orchestrator service over a book of proposals, nodes and blobs.

    Parameters
    ----------
    agreement
        The signed agreement (parties and their certificate fingerprints).
    book
        The proposals.
    registry
        The nodes.
    blobs
        The blob store.
    operators
        The SHA-256 fingerprints of the operators' TLS certificates (who may register
        nodes); none by default, so that no one can.
    stream_idle_seconds
        How long an upload or download may carry no message before it is ended.
    """

    def __init__(
        self,
        agreement: SignedAgreement,
        book: ProposalBook,
        registry: NodeRegistry,
        blobs: BlobStore,
        *,
        operators: Collection[str] = (),
        stream_idle_seconds: float = DEFAULT_STREAM_IDLE_SECONDS,
    ) -> None:
        self._agreement = agreement
        self._book = book
        self._registry = registry
        self._blobs = blobs
        self._parties_by_fingerprint = {
            party.tls_certificate_fingerprint: party.name for party in agreement.parties
        }
        self._operators = tuple(operators)
        self._idle = stream_idle_seconds
        where = "this orchestrator"
        self._uploads = ConcurrencyLimit(
            "blob uploads", total=UPLOADS_AT_ONCE, per_caller=2, server=where
        )
        self._downloads = ConcurrencyLimit(
            "blob downloads", total=DOWNLOADS_AT_ONCE, per_caller=2, server=where
        )
        self._waits = ConcurrencyLimit(
            "proposal waits", total=WAITS_AT_ONCE, per_caller=4, server=where
        )

    def caller(self, context: grpc.ServicerContext) -> str:
        """Return the party the call's TLS client certificate belongs to.

        Raises
        ------
        VerificationError
            If the call carries no client certificate or one that is not a party's.
        """
        fingerprint = peer_certificate_fingerprint(context)
        for known, name in self._parties_by_fingerprint.items():
            if hmac.compare_digest(known, fingerprint):
                return name
        raise VerificationError(
            f"the caller's TLS certificate {fingerprint[:16]}.. is not a party's certificate "
            "in the agreement"
        )

    def operator(self, context: grpc.ServicerContext) -> str:
        """Return how logs name the operator making the call.

        Raises
        ------
        VerificationError
            If the call's TLS client certificate is not an operator's.
        """
        fingerprint = peer_certificate_fingerprint(context)
        if not any(hmac.compare_digest(known, fingerprint) for known in self._operators):
            party = next(
                (n for k, n in self._parties_by_fingerprint.items() if k == fingerprint), None
            )
            who = f"party {party}" if party is not None else "the caller"
            raise VerificationError(
                f"only an operator of this orchestrator may register nodes; {who} presented "
                f"TLS certificate {fingerprint[:16]}.., which is not one of its "
                "operator_certificates",
                hint="Ask the orchestrator's operator to add the node to its configuration "
                "(or to register it with an operator certificate).",
            )
        return f"operator {fingerprint[:16]}.."

    # -- blobs -----------------------------------------------------------------------------

    @abort_on_accord_error
    def UploadBlob(  # noqa: N802 (gRPC's name)
        self, request_iterator: Iterator[common_pb2.BlobChunk], context: grpc.ServicerContext
    ) -> common_pb2.BlobRef:
        """Store a streamed blob if it hashes to the id its first chunk names."""
        party = self.caller(context)
        with self._uploads.hold(party):
            chunks = receive_with_idle_timeout(
                request_iterator, idle_timeout=self._idle, what=f"{party}'s blob upload"
            )
            first = next(chunks, None)
            if first is None:
                raise UsageError("the upload sent no chunk; the first chunk must name the blob id")
            blob_id = check_blob_id(first.blob_id)
            info = self._blobs.write(blob_id, _chunk_data(first, chunks, blob_id))
        _log.info("%s uploaded blob %s (%d bytes)", party, blob_id, info.size)
        return common_pb2.BlobRef(blob_id=info.blob_id, size=info.size)

    @abort_on_accord_error
    def DownloadBlob(  # noqa: N802 (gRPC's name)
        self, request: common_pb2.BlobRef, context: grpc.ServicerContext
    ) -> Iterator[common_pb2.BlobChunk]:
        """Stream a stored blob in chunks of 1 MiB."""
        party = self.caller(context)
        with self._downloads.hold(party):
            yield from send_with_idle_timeout(
                self._blob_chunks(request.blob_id), context, idle_timeout=self._idle
            )

    def _blob_chunks(self, blob_id: str) -> Iterator[common_pb2.BlobChunk]:
        chunks = self._blobs.read(blob_id, chunk_bytes=CHUNK_BYTES)
        first = True
        for data in chunks:
            yield common_pb2.BlobChunk(blob_id=blob_id if first else "", data=data)
            first = False
        if first:
            yield common_pb2.BlobChunk(blob_id=blob_id, data=b"")

    # -- nodes -----------------------------------------------------------------------------

    @abort_on_accord_error
    def ListNodes(  # noqa: N802 (gRPC's name)
        self, request: orchestrator_pb2.ListNodesRequest, context: grpc.ServicerContext
    ) -> orchestrator_pb2.ListNodesResponse:
        """Return the nodes with their current sessions, refreshed first (briefly)."""
        self.caller(context)
        records = self._registry.refresh_all(
            timeout=LIST_NODES_REFRESH_SECONDS, answer_within=LIST_NODES_ANSWER_SECONDS
        )
        return orchestrator_pb2.ListNodesResponse(nodes=[node_info(r) for r in records])

    @abort_on_accord_error
    def RegisterNode(  # noqa: N802 (gRPC's name)
        self, request: orchestrator_pb2.RegisterNodeRequest, context: grpc.ServicerContext
    ) -> orchestrator_pb2.NodeInfo:
        """Add a node at run time and attest it; only an operator may."""
        operator = self.operator(context)
        record = self._registry.register(request.node_id, request.address)
        _log.info("%s registered node %s at %s", operator, record.node_id, record.address)
        return node_info(record)

    # -- proposals -------------------------------------------------------------------------

    @abort_on_accord_error
    def Propose(  # noqa: N802 (gRPC's name)
        self, request: orchestrator_pb2.ProposeRequest, context: grpc.ServicerContext
    ) -> orchestrator_pb2.ProposalView:
        """Store a proposal with its proposer's approval."""
        party = self.caller(context)
        command = Command.from_bytes(request.command)
        for blob_id in referenced_blobs(command.arguments):
            self._blobs.path(blob_id)
        for session_id in command.session_ids:
            gone_from = self._book.store.gone_session(session_id)
            if gone_from is not None:
                raise SessionGoneError(
                    f"session {session_id[:16]}.. is gone (node {gone_from} restarted); "
                    "parties must re-attest and re-provision"
                )
        approval = Approval(request.approval.party, bytes(request.approval.signature))
        record = self._book.propose(request.command, approval, caller=party)
        return proposal_view(record)

    @abort_on_accord_error
    def Approve(  # noqa: N802 (gRPC's name)
        self, request: orchestrator_pb2.ApproveRequest, context: grpc.ServicerContext
    ) -> orchestrator_pb2.ProposalView:
        """Record the caller's approval."""
        party = self.caller(context)
        approval = Approval(request.approval.party, bytes(request.approval.signature))
        return proposal_view(self._book.approve(request.proposal_id, approval, caller=party))

    @abort_on_accord_error
    def Reject(  # noqa: N802 (gRPC's name)
        self, request: orchestrator_pb2.RejectRequest, context: grpc.ServicerContext
    ) -> orchestrator_pb2.ProposalView:
        """Record the caller's signed rejection."""
        party = self.caller(context)
        record = self._book.reject(
            request.proposal_id,
            party=request.party,
            reason=request.reason,
            signature=bytes(request.signature),
            caller=party,
        )
        return proposal_view(record)

    @abort_on_accord_error
    def GetProposal(  # noqa: N802 (gRPC's name)
        self, request: orchestrator_pb2.GetProposalRequest, context: grpc.ServicerContext
    ) -> orchestrator_pb2.ProposalView:
        """Return one proposal."""
        self.caller(context)
        return proposal_view(self._book.get(request.proposal_id))

    @abort_on_accord_error
    def ListProposals(  # noqa: N802 (gRPC's name)
        self, request: orchestrator_pb2.ListProposalsRequest, context: grpc.ServicerContext
    ) -> orchestrator_pb2.ListProposalsResponse:
        """Return every proposal, or those in the requested state."""
        self.caller(context)
        if request.state and request.state not in PROPOSAL_STATES:
            raise UsageError(
                f"{request.state[:40]!r} is not a proposal state; the states are "
                f"{', '.join(PROPOSAL_STATES)}"
            )
        records = self._book.proposals(request.state or None)
        return orchestrator_pb2.ListProposalsResponse(proposals=[proposal_view(r) for r in records])

    @abort_on_accord_error
    def WaitProposal(  # noqa: N802 (gRPC's name)
        self, request: orchestrator_pb2.WaitProposalRequest, context: grpc.ServicerContext
    ) -> orchestrator_pb2.ProposalView:
        """Block until the proposal is final or the timeout (at most 60 s) passes."""
        party = self.caller(context)
        timeout = min(request.timeout_ms / 1000.0, MAX_WAIT_SECONDS)
        remaining = context.time_remaining()
        if remaining is not None:
            timeout = min(timeout, max(remaining - 0.5, 0.0))
        with self._waits.hold(party):
            return proposal_view(self._book.wait(request.proposal_id, timeout))


def _chunk_data(
    first: common_pb2.BlobChunk, rest: Iterable[common_pb2.BlobChunk], blob_id: str
) -> Iterator[bytes]:
    for chunk in _chain(first, rest):
        if chunk.blob_id and chunk.blob_id != blob_id:
            raise UsageError(
                f"an upload of blob {blob_id[:16]}.. carried a chunk of blob "
                f"{chunk.blob_id[:16]}..; one upload carries one blob"
            )
        if len(chunk.data) > CHUNK_BYTES:
            raise UsageError(
                f"a chunk of blob {blob_id[:16]}.. is {len(chunk.data)} bytes; chunks are at "
                f"most {CHUNK_BYTES} bytes"
            )
        yield bytes(chunk.data)


def _chain(
    first: common_pb2.BlobChunk, rest: Iterable[common_pb2.BlobChunk]
) -> Iterator[common_pb2.BlobChunk]:
    yield first
    yield from rest
