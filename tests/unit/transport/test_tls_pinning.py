"""Pinned TLS to enclave nodes: fetch the certificate, pin it, bind it to the attested key."""

from __future__ import annotations

import copy
import hashlib
import pickle
import socket

import pytest
from cryptography.hazmat.primitives import serialization
from transport_helpers import enclave_identity

from accord.crypto.keys import SECRET_KEY_ACCESS, TlsPrivateKey
from accord.enclave import tls_server_name
from accord.errors import KeyMaterialError, TransportError, UsageError, VerificationError
from accord.transport import (
    DEFAULT_CALL_TIMEOUT,
    TlsIdentity,
    call,
    certificate_server_name,
    check_attested_tls_key,
    fetch_unverified_server_certificate,
    load_certificate,
    pem_fingerprint,
    pinned_channel,
    split_address,
)
from accord.v1 import node_pb2, node_pb2_grpc


def status(address: str, certificate_pem: bytes) -> node_pb2.NodeStatus:
    with pinned_channel(address, certificate_pem) as channel:
        return call(
            node_pb2_grpc.EnclaveNodeStub(channel).GetStatus,
            node_pb2.NodeStatusRequest(),
            peer=f"node {address}",
            timeout=DEFAULT_CALL_TIMEOUT,
        )


def test_fetched_certificate_is_the_served_one(node, session):
    fetched = fetch_unverified_server_certificate(node.address, timeout=5)
    assert fetched == session.tls_certificate_pem
    assert certificate_server_name(fetched) == tls_server_name(session.session_id)


def test_pinned_channel_to_the_served_certificate_succeeds(node, session):
    pem = fetch_unverified_server_certificate(node.address, timeout=5)
    check_attested_tls_key(pem, session.public_keys.tls_public_key, peer=f"node {node.address}")
    assert status(node.address, pem).session_id == session.session_id


def test_server_presenting_another_certificate_fails_at_tls(node, other_session):
    with pytest.raises(TransportError) as caught:
        status(node.address, other_session.tls_certificate_pem)
    message = caught.value.message
    assert message.startswith(f"TLS handshake with node {node.address} failed")
    assert "not the pinned one" in message
    assert "CERTIFICATE_VERIFY_FAILED" in message


def test_attested_key_mismatch_is_refused(node, session, other_session):
    pem = fetch_unverified_server_certificate(node.address, timeout=5)
    with pytest.raises(VerificationError) as caught:
        check_attested_tls_key(
            pem, other_session.public_keys.tls_public_key, peer=f"node {node.address}"
        )
    assert f"node {node.address} serves a TLS key" in caught.value.message
    assert "not the attested session TLS key" in caught.value.message
    assert "Send nothing" in caught.value.hint


def test_fetch_times_out_on_a_silent_server():
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never speaks TLS
        port = silent.getsockname()[1]
        with pytest.raises(TransportError) as caught:
            fetch_unverified_server_certificate(f"127.0.0.1:{port}", timeout=0.3)
    assert caught.value.message == (
        f"127.0.0.1:{port} did not complete a TLS handshake within 0.3 s"
    )


def test_fetch_from_a_closed_port_names_the_address():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
    with pytest.raises(TransportError, match=rf"could not connect to 127\.0\.0\.1:{port}"):
        fetch_unverified_server_certificate(f"127.0.0.1:{port}", timeout=2)


def test_fetch_refuses_bad_arguments():
    with pytest.raises(UsageError, match="HOST:PORT"):
        fetch_unverified_server_certificate("localhost", timeout=1)
    with pytest.raises(UsageError, match="positive"):
        fetch_unverified_server_certificate("127.0.0.1:1", timeout=0)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:5001", ("127.0.0.1", 5001)),
        ("[::1]:0", ("::1", 0)),
        ("n.example:443", ("n.example", 443)),
    ],
)
def test_split_address(address, expected):
    assert split_address(address) == expected


@pytest.mark.parametrize("address", ["", ":80", "host:", "host:port", "host:70000", "host"])
def test_split_address_refuses_malformed(address):
    with pytest.raises(UsageError):
        split_address(address)


def test_a_pin_is_exactly_one_certificate(session, other_session):
    bundle = session.tls_certificate_pem + other_session.tls_certificate_pem
    with pytest.raises(VerificationError, match="holds 2 certificates"):
        pinned_channel("127.0.0.1:1", bundle)
    with pytest.raises(VerificationError, match=r"not a PEM X\.509 certificate"):
        load_certificate(
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", where="x"
        )
    with pytest.raises(VerificationError, match=r"pin\.pem: not a PEM X\.509 certificate"):
        load_certificate(b"nothing here", where="pin.pem")


def test_fingerprint_is_sha256_of_der(session):
    certificate = load_certificate(session.tls_certificate_pem, where="test")
    der = certificate.public_bytes(serialization.Encoding.DER)
    assert pem_fingerprint(session.tls_certificate_pem) == hashlib.sha256(der).hexdigest()


def test_identity_refuses_a_certificate_for_another_key(session, other_session):
    with pytest.raises(KeyMaterialError, match="does not belong to the TLS private key"):
        TlsIdentity.from_pem(
            session.tls_private_key_pem(SECRET_KEY_ACCESS),
            other_session.tls_certificate_pem,
            SECRET_KEY_ACCESS,
        )
    with pytest.raises(KeyMaterialError):
        TlsIdentity.from_key(TlsPrivateKey.generate(), session.tls_certificate_pem)


def test_identity_does_not_leak_its_key(session):
    identity = enclave_identity(session)
    assert "PRIVATE" not in repr(identity)
    assert identity.fingerprint == pem_fingerprint(session.tls_certificate_pem)
    assert repr(identity) == f"TlsIdentity(fingerprint={identity.fingerprint[:16]!r})"
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(identity)
    with pytest.raises(TypeError, match="cannot be copied"):
        copy.deepcopy(identity)
    with pytest.raises(TypeError, match="cannot be copied"):
        copy.copy(identity)
