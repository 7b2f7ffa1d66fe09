"""Health checking: servers report SERVING; clients wait with a bounded timeout."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from grpc_health.v1 import health_pb2
from transport_helpers import enclave_identity

from accord.errors import TransportError, UsageError
from accord.transport import (
    add_health_service,
    bind_server,
    create_server,
    pinned_channel,
    server_credentials,
    wait_until_serving,
)


def test_serving_server_is_seen_at_once(node, session):
    with pinned_channel(node.address, session.tls_certificate_pem) as channel:
        started = time.monotonic()
        wait_until_serving(channel, 5, peer=f"node {node.address}")
        wait_until_serving(channel, 5, service="accord.v1.EnclaveNode")
        assert time.monotonic() - started < 2


def test_not_serving_times_out_naming_the_status(node, session):
    node.health.enter_graceful_shutdown()
    with pinned_channel(node.address, session.tls_certificate_pem) as channel:
        started = time.monotonic()
        with pytest.raises(TransportError) as caught:
            wait_until_serving(channel, 0.5, peer=f"node {node.address}")
        elapsed = time.monotonic() - started
    assert caught.value.message == (
        f"node {node.address} was not serving within 0.5 s (last seen: NOT_SERVING)"
    )
    assert 0.4 < elapsed < 2


def test_unknown_service_times_out(node, session):
    with (
        pinned_channel(node.address, session.tls_certificate_pem) as channel,
        pytest.raises(TransportError, match=r"last seen: NOT_FOUND"),
    ):
        wait_until_serving(channel, 0.3, peer="node", service="accord.v1.Nothing")


def test_closed_port_times_out_naming_the_peer(session):
    with socket.create_server(("127.0.0.1", 0)) as listener:
        address = f"127.0.0.1:{listener.getsockname()[1]}"
    with (
        pinned_channel(address, session.tls_certificate_pem) as channel,
        pytest.raises(TransportError) as caught,
    ):
        wait_until_serving(channel, 0.5, peer=f"node {address}")
    assert caught.value.message.startswith(f"node {address} was not serving within 0.5 s")
    assert "UNAVAILABLE" in caught.value.message


def test_wrong_pin_times_out_with_the_tls_failure(node, other_session):
    with (
        pinned_channel(node.address, other_session.tls_certificate_pem) as channel,
        pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        wait_until_serving(channel, 0.5, peer=f"node {node.address}")


def test_server_that_starts_later_is_awaited(session):
    server = create_server(max_workers=2)
    address = bind_server(server, "127.0.0.1:0", server_credentials(enclave_identity(session)))
    add_health_service(server)
    timer = threading.Timer(0.3, server.start)
    timer.start()
    try:
        with pinned_channel(address, session.tls_certificate_pem) as channel:
            wait_until_serving(channel, 5, peer=f"node {address}")
    finally:
        timer.join()
        server.stop(grace=None)


def test_server_without_health_service_is_reported(session):
    server = create_server(max_workers=2)
    address = bind_server(server, "127.0.0.1:0", server_credentials(enclave_identity(session)))
    server.start()
    try:
        with (
            pinned_channel(address, session.tls_certificate_pem) as channel,
            pytest.raises(TransportError, match="has no health service"),
        ):
            wait_until_serving(channel, 5, peer=f"node {address}")
    finally:
        server.stop(grace=None)


def test_health_status_can_be_changed(node, session):
    node.health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    with (
        pinned_channel(node.address, session.tls_certificate_pem) as channel,
        pytest.raises(TransportError, match="NOT_SERVING"),
    ):
        wait_until_serving(channel, 0.2)
        node.health.set("", health_pb2.HealthCheckResponse.SERVING)
        wait_until_serving(channel, 2)


def test_timeout_must_be_positive(node, session):
    with (
        pinned_channel(node.address, session.tls_certificate_pem) as channel,
        pytest.raises(UsageError, match="positive"),
    ):
        wait_until_serving(channel, 0)
