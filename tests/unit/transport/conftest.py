"""Fixtures for transport tests: enclave sessions and real TLS servers on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from transport_helpers import (
    AGREEMENT_DIGEST,
    RunningServer,
    enclave_identity,
    party_identity,
    start_server,
)

from accord.enclave import EnclaveSession
from accord.transport import TlsIdentity, server_credentials


@pytest.fixture
def session() -> EnclaveSession:
    """The enclave session whose certificate the node serves."""
    return EnclaveSession.create(AGREEMENT_DIGEST)


@pytest.fixture
def other_session() -> EnclaveSession:
    """Another enclave session: a different certificate and TLS key."""
    return EnclaveSession.create(AGREEMENT_DIGEST)


@pytest.fixture
def node(session: EnclaveSession) -> Iterator[RunningServer]:
    """A running node-like server presenting the session's certificate (server-auth TLS)."""
    running = start_server(
        server_credentials(enclave_identity(session)), session_id=session.session_id
    )
    yield running
    running.stop()


@pytest.fixture
def alice() -> TlsIdentity:
    """Party alice's TLS identity."""
    return party_identity("alice")


@pytest.fixture
def bob() -> TlsIdentity:
    """Party bob's TLS identity."""
    return party_identity("bob")


@pytest.fixture
def mallory() -> TlsIdentity:
    """A party the server does not trust."""
    return party_identity("mallory")
