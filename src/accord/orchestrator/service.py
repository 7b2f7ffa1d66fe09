"""The Orchestrator gRPC service (``accord.v1.Orchestrator``): the parties' side of the relay.

Every call arrives over mutual TLS whose client certificates are exactly the parties'. The
servicer names the caller by the SHA-256 fingerprint of the certificate it presented,
matched against the agreement, and lets a party propose, approve and reject only as itself.
Failures end the call through :func:`accord.transport.abort_with`, so the party's client
raises the same :class:`~accord.errors.AccordError` class with the same message.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable, Iterator
from typing import Final

import grpc

from accord.agreement import SignedAgreement
from accord.enclave.commands import Approval, Command
from accord.errors import UsageError, VerificationError
from accord.orchestrator.blobs import CHUNK_BYTES, BlobStore, check_blob_id, referenced_blobs
from accord.orchestrator.nodes import NodeRegistry, SessionGoneError
from accord.orchestrator.proposals import MAX_WAIT_SECONDS, ProposalBook
from accord.orchestrator.records import PROPOSAL_STATES, NodeRecord, ProposalRecord
from accord.transport import abort_on_accord_error, peer_certificate_fingerprint
from accord.v1 import common_pb2, orchestrator_pb2, orchestrator_pb2_grpc

__all__ = ["LIST_NODES_REFRESH_SECONDS", "OrchestratorServicer", "node_info", "proposal_view"]

LIST_NODES_REFRESH_SECONDS: Final = 5.0
"""How long ListNodes may spend refreshing the nodes' status before it answers."""

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
    """

    def __init__(
        self,
        agreement: SignedAgreement,
        book: ProposalBook,
        registry: NodeRegistry,
        blobs: BlobStore,
    ) -> None:
        self._agreement = agreement
        self._book = book
        self._registry = registry
        self._blobs = blobs
        self._parties_by_fingerprint = {
            party.tls_certificate_fingerprint: party.name for party in agreement.parties
        }

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

    # -- blobs -----------------------------------------------------------------------------

    @abort_on_accord_error
    def UploadBlob(  # noqa: N802 (gRPC's name)
        self, request_iterator: Iterator[common_pb2.BlobChunk], context: grpc.ServicerContext
    ) -> common_pb2.BlobRef:
        """Store a streamed blob if it hashes to the id its first chunk names."""
        party = self.caller(context)
        first = next(request_iterator, None)
        if first is None:
            raise UsageError("the upload sent no chunk; the first chunk must name the blob id")
        blob_id = check_blob_id(first.blob_id)
        info = self._blobs.write(blob_id, _chunk_data(first, request_iterator, blob_id))
        _log.info("%s uploaded blob %s (%d bytes)", party, blob_id, info.size)
        return common_pb2.BlobRef(blob_id=info.blob_id, size=info.size)

    @abort_on_accord_error
    def DownloadBlob(  # noqa: N802 (gRPC's name)
        self, request: common_pb2.BlobRef, context: grpc.ServicerContext
    ) -> Iterator[common_pb2.BlobChunk]:
        """Stream a stored blob in chunks of 1 MiB."""
        self.caller(context)
        chunks = self._blobs.read(request.blob_id, chunk_bytes=CHUNK_BYTES)
        first = True
        for data in chunks:
            yield common_pb2.BlobChunk(blob_id=request.blob_id if first else "", data=data)
            first = False
        if first:
            yield common_pb2.BlobChunk(blob_id=request.blob_id, data=b"")

    # -- nodes -----------------------------------------------------------------------------

    @abort_on_accord_error
    def ListNodes(  # noqa: N802 (gRPC's name)
        self, request: orchestrator_pb2.ListNodesRequest, context: grpc.ServicerContext
    ) -> orchestrator_pb2.ListNodesResponse:
        """Return the nodes with their current sessions, refreshed first."""
        self.caller(context)
        records = self._registry.refresh_all(timeout=LIST_NODES_REFRESH_SECONDS)
        return orchestrator_pb2.ListNodesResponse(nodes=[node_info(r) for r in records])

    @abort_on_accord_error
    def RegisterNode(  # noqa: N802 (gRPC's name)
        self, request: orchestrator_pb2.RegisterNodeRequest, context: grpc.ServicerContext
    ) -> orchestrator_pb2.NodeInfo:
        """Add a node at run time and attest it."""
        party = self.caller(context)
        record = self._registry.register(request.node_id, request.address)
        _log.info("%s registered node %s at %s", party, record.node_id, record.address)
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
        self.caller(context)
        timeout = min(request.timeout_ms / 1000.0, MAX_WAIT_SECONDS)
        remaining = context.time_remaining()
        if remaining is not None:
            timeout = min(timeout, max(remaining - 0.5, 0.0))
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
