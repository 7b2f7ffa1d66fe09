"""Mutual TLS as between parties and the orchestrator: only listed client certificates pass."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from transport_helpers import NOW, RunningServer, start_server

from accord.crypto.keys import TlsPrivateKey
from accord.errors import TransportError, UsageError, VerificationError
from accord.transport import (
    TlsIdentity,
    call,
    certificate_server_name,
    fetch_unverified_server_certificate,
    mutual_tls_server_credentials,
    pinned_channel,
    self_signed_server_certificate,
)
from accord.v1 import common_pb2, node_pb2_grpc

SERVER_NAME = "accord-orchestrator"


@pytest.fixture
def orchestrator_identity() -> TlsIdentity:
    key = TlsPrivateKey.generate()
    return TlsIdentity.from_key(
        key, self_signed_server_certificate(key, SERVER_NAME, now=NOW, valid_days=3650)
    )


@pytest.fixture
def orchestrator(orchestrator_identity, alice, bob) -> Iterator[RunningServer]:
    running = start_server(
        mutual_tls_server_credentials(
            orchestrator_identity, [alice.certificate_pem, bob.certificate_pem]
        )
    )
    yield running
    running.stop()


def has_blob(address: str, server_pem: bytes, client: TlsIdentity | None) -> bool:
    with pinned_channel(address, server_pem, client=client) as channel:
        response = call(
            node_pb2_grpc.EnclaveNodeStub(channel).HasBlob,
            common_pb2.BlobRef(blob_id="b"),
            peer=f"orchestrator {address}",
            timeout=5,
        )
    return bool(response.present)


def test_listed_clients_are_accepted_and_identified(
    orchestrator, orchestrator_identity, alice, bob
):
    pem = orchestrator_identity.certificate_pem
    assert has_blob(orchestrator.address, pem, alice)
    assert has_blob(orchestrator.address, pem, bob)
    assert orchestrator.node.callers == [alice.fingerprint, bob.fingerprint]


def test_unlisted_client_is_refused_at_the_handshake(orchestrator, orchestrator_identity, mallory):
    with pytest.raises(TransportError) as caught:
        has_blob(orchestrator.address, orchestrator_identity.certificate_pem, mallory)
    assert caught.value.message.startswith(
        f"orchestrator {orchestrator.address} closed the connection during setup "
        "(a server requiring mutual TLS does this when it does not accept the client "
        "certificate)"
    )
    assert orchestrator.node.callers == []


def test_client_without_certificate_is_refused_at_the_handshake(
    orchestrator, orchestrator_identity
):
    with pytest.raises(TransportError, match="does not accept the client certificate"):
        has_blob(orchestrator.address, orchestrator_identity.certificate_pem, None)
    assert orchestrator.node.callers == []


def test_server_without_client_auth_reports_the_missing_certificate(node, session, alice):
    # On a server-auth-only link the servicer sees no client certificate: its
    # VerificationError reaches the client through the error mapping.
    with pytest.raises(VerificationError) as caught:
        has_blob(node.address, session.tls_certificate_pem, None)
    assert caught.value.message == "the caller presented no TLS client certificate"


def test_orchestrator_certificate_can_be_fetched_and_pinned(orchestrator, orchestrator_identity):
    fetched = fetch_unverified_server_certificate(orchestrator.address, timeout=5)
    assert fetched == orchestrator_identity.certificate_pem
    assert certificate_server_name(fetched) == SERVER_NAME


def test_mutual_tls_needs_a_trusted_client(orchestrator_identity):
    with pytest.raises(UsageError, match="at least one trusted client certificate"):
        mutual_tls_server_credentials(orchestrator_identity, [])
    with pytest.raises(VerificationError, match="trusted client certificate 1"):
        mutual_tls_server_credentials(
            orchestrator_identity, [orchestrator_identity.certificate_pem, b"junk"]
        )


def test_self_signed_server_certificate_checks_its_inputs():
    key = TlsPrivateKey.generate()
    with pytest.raises(UsageError, match="timezone-aware"):
        self_signed_server_certificate(key, SERVER_NAME, now=NOW.replace(tzinfo=None))
    with pytest.raises(UsageError, match="at least 1 day"):
        self_signed_server_certificate(key, SERVER_NAME, now=NOW, valid_days=0)
    with pytest.raises(UsageError, match="non-empty server name"):
        self_signed_server_certificate(key, "", now=NOW)
