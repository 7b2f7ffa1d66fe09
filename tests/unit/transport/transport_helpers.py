"""A tiny EnclaveNode servicer and server builders for transport tests (real gRPC, loopback)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import grpc
from cryptography.hazmat.primitives import serialization

from accord.crypto.keys import SECRET_KEY_ACCESS, TlsPrivateKey
from accord.enclave import EnclaveSession
from accord.errors import AccordError, IntegrityError
from accord.party.certificate import issue_party_certificate
from accord.transport import (
    TlsIdentity,
    abort_on_accord_error,
    abort_with,
    add_health_service,
    bind_server,
    create_server,
    peer_certificate_fingerprint,
)
from accord.v1 import common_pb2, node_pb2, node_pb2_grpc, orchestrator_pb2_grpc

AGREEMENT_DIGEST = "ab" * 32
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def enclave_identity(session: EnclaveSession) -> TlsIdentity:
    """The TLS identity an enclave node serves with."""
    return TlsIdentity.from_pem(
        session.tls_private_key_pem(SECRET_KEY_ACCESS),
        session.tls_certificate_pem,
        SECRET_KEY_ACCESS,
    )


def party_identity(name: str) -> TlsIdentity:
    """A party's TLS identity with the self-signed certificate Accord issues to parties."""
    key = TlsPrivateKey.generate()
    certificate = issue_party_certificate(
        name, key, now=dt.datetime.now(dt.UTC), valid_days=30
    ).public_bytes(serialization.Encoding.PEM)
    return TlsIdentity.from_key(key, certificate)


@dataclass
class StubNode(node_pb2_grpc.EnclaveNodeServicer):
    """A node stand-in: reports a status, fails on demand, records its callers' certificates."""

    session_id: str
    error: AccordError | None = None
    delay: float = 0.0
    callers: list[str] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)

    def GetStatus(self, request, context):  # noqa: N802 - gRPC method name
        if self.delay:
            self.released.wait(self.delay)
        return node_pb2.NodeStatus(session_id=self.session_id, agreement_digest=AGREEMENT_DIGEST)

    def Execute(self, request, context):  # noqa: N802
        if self.error is not None:
            abort_with(context, self.error)
        return node_pb2.ExecuteResponse(receipt=request.command * 2)

    @abort_on_accord_error
    def ProvisionKey(self, request, context):  # noqa: N802
        if self.error is not None:
            raise self.error
        return node_pb2.ProvisionKeyResponse(key_id="k", session_id=self.session_id)

    @abort_on_accord_error
    def HasBlob(self, request, context):  # noqa: N802
        """Answers with the caller's certificate fingerprint checked (mutual TLS tests)."""
        self.callers.append(peer_certificate_fingerprint(context))
        return node_pb2.HasBlobResponse(present=True)

    @abort_on_accord_error
    def PutBlob(self, request_iterator, context):  # noqa: N802
        total = 0
        for chunk in request_iterator:
            total += len(chunk.data)
        if self.error is not None:
            raise self.error
        return common_pb2.BlobRef(blob_id="b", size=total)


class StubOrchestrator(orchestrator_pb2_grpc.OrchestratorServicer):
    """Streams a blob download and fails after the first chunk when the blob is "damaged"."""

    @abort_on_accord_error
    def DownloadBlob(self, request, context):  # noqa: N802
        yield common_pb2.BlobChunk(blob_id=request.blob_id, data=b"first")
        if request.blob_id == "damaged":
            raise IntegrityError("blob damaged: chunk 1 does not match its digest")
        yield common_pb2.BlobChunk(blob_id=request.blob_id, data=b"second")


@dataclass
class RunningServer:
    """A started server, its address and its servicer."""

    server: grpc.Server
    address: str
    node: StubNode
    health: object

    def stop(self) -> None:
        self.released_all()
        self.server.stop(grace=None)

    def released_all(self) -> None:
        self.node.released.set()


def start_server(
    credentials: grpc.ServerCredentials, *, session_id: str = "00" * 16
) -> RunningServer:
    """Start a real TLS server on 127.0.0.1:0 with the stub node and health checking."""
    server = create_server(max_workers=4)
    node = StubNode(session_id=session_id)
    node_pb2_grpc.add_EnclaveNodeServicer_to_server(node, server)
    orchestrator_pb2_grpc.add_OrchestratorServicer_to_server(StubOrchestrator(), server)
    health = add_health_service(server, services=["accord.v1.EnclaveNode"])
    address = bind_server(server, "127.0.0.1:0", credentials)
    server.start()
    return RunningServer(server=server, address=address, node=node, health=health)


def streaming_chunks(count: int, size: int) -> Callable[[], Iterator[common_pb2.BlobChunk]]:
    """A factory of client-streamed blob chunks."""

    def chunks() -> Iterator[common_pb2.BlobChunk]:
        for _ in range(count):
            yield common_pb2.BlobChunk(blob_id="b", data=b"x" * size)

    return chunks
