"""Channel and server settings: one place for limits and keepalive, applied on both sides."""

from __future__ import annotations

import pytest
from transport_helpers import enclave_identity, streaming_chunks

from accord.errors import TransportError, UsageError
from accord.transport import (
    KEEPALIVE_TIME_MS,
    MAX_MESSAGE_BYTES,
    bind_server,
    call,
    channel_options,
    create_server,
    pinned_channel,
    server_credentials,
    server_options,
)
from accord.v1 import node_pb2, node_pb2_grpc


def test_clients_and_servers_share_limits_and_keepalive():
    client, server = dict(channel_options()), dict(server_options())
    for options in (client, server):
        assert options["grpc.max_send_message_length"] == MAX_MESSAGE_BYTES == 8 * 1024 * 1024
        assert options["grpc.max_receive_message_length"] == MAX_MESSAGE_BYTES
        assert options["grpc.keepalive_time_ms"] == KEEPALIVE_TIME_MS
    # The server accepts the clients' idle pings, so it never sends them away as abusive.
    assert server["grpc.http2.min_ping_interval_without_data_ms"] < KEEPALIVE_TIME_MS
    assert server["grpc.so_reuseport"] == 0
    assert "grpc.ssl_target_name_override" not in client
    named = dict(channel_options(server_name="accord-enclave-00"))
    assert named["grpc.ssl_target_name_override"] == "accord-enclave-00"


def test_oversized_request_is_refused(node, session):
    with pinned_channel(node.address, session.tls_certificate_pem) as channel:
        stub = node_pb2_grpc.EnclaveNodeStub(channel)
        request = node_pb2.ExecuteRequest(command=b"x" * (MAX_MESSAGE_BYTES + 1))
        with pytest.raises(TransportError, match=r"failed the call with RESOURCE_EXHAUSTED"):
            call(stub.Execute, request, peer=f"node {node.address}", timeout=10)
        # Chunked streaming below the limit carries more than the limit in total.
        reference = call(
            stub.PutBlob,
            streaming_chunks(9, 1024 * 1024)(),
            peer=f"node {node.address}",
            timeout=10,
        )
    assert reference.size == 9 * 1024 * 1024


def test_oversized_response_is_refused_by_the_client(node, session):
    # The stub node answers with the command twice: a request of 5 MiB passes, its 10 MiB
    # response does not.
    with pinned_channel(node.address, session.tls_certificate_pem) as channel:
        stub = node_pb2_grpc.EnclaveNodeStub(channel)
        request = node_pb2.ExecuteRequest(command=b"x" * (5 * 1024 * 1024))
        with pytest.raises(TransportError, match="RESOURCE_EXHAUSTED"):
            call(stub.Execute, request, peer=f"node {node.address}", timeout=10)


def test_bound_port_is_reported_and_cannot_be_shared(node, session):
    host, port = node.address.rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0
    second = create_server(max_workers=1)
    try:
        with pytest.raises(TransportError, match=f"cannot listen on {node.address}"):
            bind_server(second, node.address, server_credentials(enclave_identity(session)))
    finally:
        second.stop(grace=None)


def test_server_needs_a_worker():
    with pytest.raises(UsageError, match="at least one worker"):
        create_server(max_workers=0)


def test_channel_refuses_malformed_address(session):
    with pytest.raises(UsageError, match="HOST:PORT"):
        pinned_channel("no-port", session.tls_certificate_pem)
