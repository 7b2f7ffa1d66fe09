"""Servers keep answering while callers hold calls open: concurrency limits and idle timeouts."""

from __future__ import annotations

import threading
import time

import grpc
import pytest
from transport_helpers import StubNode, enclave_identity

from accord.errors import TransportError, UsageError
from accord.transport import (
    ConcurrencyLimit,
    ServerBusyError,
    StreamIdleError,
    bind_server,
    call,
    create_server,
    pinned_channel,
    receive_with_idle_timeout,
    send_with_idle_timeout,
    server_credentials,
    status_code_for,
)
from accord.v1 import node_pb2, node_pb2_grpc


def test_a_limit_refuses_beyond_its_total_and_per_caller_and_frees_places():
    limit = ConcurrencyLimit("uploads", total=3, per_caller=2, server="this node")
    with limit.hold("bob"), limit.hold("bob"):
        with (
            pytest.raises(ServerBusyError, match="bob already has 2 uploads in progress"),
            limit.hold("bob"),
        ):
            pass
        with limit.hold("alice"):
            assert limit.in_use == 3
            with (
                pytest.raises(ServerBusyError, match="this node already serves 3 uploads"),
                limit.hold("carol"),
            ):
                pass
    assert limit.in_use == 0
    with pytest.raises(RuntimeError), limit.hold("bob"):
        raise RuntimeError("the call failed")
    assert limit.in_use == 0  # a failed call gives its place back


@pytest.mark.parametrize(("total", "per_caller"), [(0, None), (2, 0), (True, None)])
def test_a_limit_must_be_a_positive_whole_number(total, per_caller):
    with pytest.raises(UsageError, match="uploads limit"):
        ConcurrencyLimit("uploads", total=total, per_caller=per_caller)


def test_the_errors_are_transport_errors_with_their_own_status_codes():
    assert issubclass(ServerBusyError, TransportError)
    assert issubclass(StreamIdleError, TransportError)
    assert status_code_for(ServerBusyError("busy")) == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert status_code_for(StreamIdleError("idle")) == grpc.StatusCode.DEADLINE_EXCEEDED


def test_a_stream_that_pauses_longer_than_the_idle_timeout_is_ended():
    stop = threading.Event()

    def slow():
        yield 1
        yield 2
        stop.wait(5)
        yield 3

    received = []
    started = time.monotonic()
    with pytest.raises(StreamIdleError, match=r"the upload sent nothing for 0\.3 s"):
        for item in receive_with_idle_timeout(slow(), idle_timeout=0.3, what="the upload"):
            received.append(item)
    stop.set()
    assert received == [1, 2]
    assert time.monotonic() - started < 2


def test_a_steady_stream_passes_whole_and_a_broken_one_is_named():
    assert list(receive_with_idle_timeout(iter(range(50)), idle_timeout=1, what="x")) == list(
        range(50)
    )

    def broken():
        yield "a"
        raise ConnectionResetError("peer went away")

    with pytest.raises(TransportError, match="the sender of the upload cancelled it"):
        list(receive_with_idle_timeout(broken(), idle_timeout=1, what="the upload"))
    with pytest.raises(UsageError, match="idle_timeout must be a positive number"):
        receive_with_idle_timeout([], idle_timeout=0, what="x")
    with pytest.raises(UsageError, match="idle_timeout must be a positive number"):
        send_with_idle_timeout([], None, idle_timeout=-1)


def test_a_server_refuses_calls_beyond_its_concurrency_at_once(session):
    with pytest.raises(UsageError, match="must be at least max_workers"):
        create_server(max_workers=4, maximum_concurrent_rpcs=2)
    server = create_server(max_workers=1, maximum_concurrent_rpcs=1)
    node = StubNode(session_id=session.session_id, delay=10)
    node_pb2_grpc.add_EnclaveNodeServicer_to_server(node, server)
    address = bind_server(server, "127.0.0.1:0", server_credentials(enclave_identity(session)))
    server.start()
    channel = pinned_channel(address, session.tls_certificate_pem)
    try:
        stub = node_pb2_grpc.EnclaveNodeStub(channel)
        held = stub.GetStatus.future(node_pb2.NodeStatusRequest(), timeout=10)
        time.sleep(0.3)
        started = time.monotonic()
        with pytest.raises(TransportError, match="is busy: it serves as many calls"):
            call(stub.GetStatus, node_pb2.NodeStatusRequest(), peer="node", timeout=5)
        assert time.monotonic() - started < 1
        node.released.set()
        assert held.result().session_id == session.session_id
    finally:
        node.released.set()
        channel.close()
        server.stop(None)
