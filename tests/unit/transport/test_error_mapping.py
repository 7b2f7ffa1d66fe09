"""Accord errors cross the wire intact; gRPC failures become TransportError naming the peer."""

from __future__ import annotations

import socket

import grpc
import pytest
from transport_helpers import streaming_chunks

from accord.errors import (
    AccordError,
    ApprovalError,
    ConfigurationError,
    IntegrityError,
    KeyMaterialError,
    TransportError,
    UsageError,
    VerificationError,
)
from accord.transport import (
    ERROR_CLASS_KEY,
    ERROR_HINT_KEY,
    ERROR_MESSAGE_KEY,
    call,
    call_stream,
    error_from_rpc,
    pinned_channel,
    status_code_for,
    translate_rpc_errors,
)
from accord.v1 import common_pb2, node_pb2, node_pb2_grpc, orchestrator_pb2_grpc


class StaleSessionError(VerificationError):
    """An Accord error subclass the client does not know by name."""


def stub_for(node, session):
    channel = pinned_channel(node.address, session.tls_certificate_pem)
    return channel, node_pb2_grpc.EnclaveNodeStub(channel)


def execute(node, session):
    channel, stub = stub_for(node, session)
    with channel:
        return call(
            stub.Execute,
            node_pb2.ExecuteRequest(command=b"{}"),
            peer=f"node {node.address}",
            timeout=5,
        )


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (UsageError("u"), grpc.StatusCode.INVALID_ARGUMENT),
        (ConfigurationError("c"), grpc.StatusCode.INVALID_ARGUMENT),
        (VerificationError("v"), grpc.StatusCode.PERMISSION_DENIED),
        (ApprovalError("a"), grpc.StatusCode.PERMISSION_DENIED),
        (KeyMaterialError("k"), grpc.StatusCode.FAILED_PRECONDITION),
        (IntegrityError("i"), grpc.StatusCode.DATA_LOSS),
        (TransportError("t"), grpc.StatusCode.UNAVAILABLE),
        (AccordError("x"), grpc.StatusCode.UNKNOWN),
    ],
)
def test_each_error_class_round_trips_with_its_status(node, session, error, code):
    node.node.error = error
    with pytest.raises(AccordError) as caught:
        execute(node, session)
    assert type(caught.value) is type(error)
    assert caught.value.message == error.message
    assert caught.value.hint == error.hint
    cause = caught.value.__cause__
    assert isinstance(cause, grpc.RpcError)
    assert cause.code() == code
    assert dict(cause.trailing_metadata())[ERROR_CLASS_KEY] == type(error).__name__
    assert status_code_for(error) == code


def test_integrity_error_keeps_message_and_hint(node, session):
    node.node.error = IntegrityError(
        "blob 3f2a.. does not match its SHA-256", hint="Upload the blob again."
    )
    with pytest.raises(IntegrityError) as caught:
        execute(node, session)
    assert caught.value.message == "blob 3f2a.. does not match its SHA-256"
    assert caught.value.hint == "Upload the blob again."


def test_unicode_and_control_characters_survive(node, session):
    message = "recipient “Zoë” 患者\nsecond line 100% sure"
    node.node.error = ApprovalError(message)
    with pytest.raises(ApprovalError) as caught:
        execute(node, session)
    assert caught.value.message == message


def test_long_messages_are_cut_to_fit_in_metadata(node, session):
    node.node.error = UsageError("é" * 5000)
    with pytest.raises(UsageError) as caught:
        execute(node, session)
    assert caught.value.message.endswith("...")
    assert caught.value.message.startswith("é" * 100)
    assert len(caught.value.message) < 1000


def test_an_unknown_subclass_arrives_as_its_nearest_known_class(node, session):
    node.node.error = StaleSessionError("session 12ab.. ended")
    with pytest.raises(VerificationError) as caught:
        execute(node, session)
    assert type(caught.value) is VerificationError
    assert caught.value.message == "session 12ab.. ended"


def test_decorated_servicer_method_signals_raised_errors(node, session):
    node.node.error = KeyMaterialError("bob has not provisioned a data key")
    channel, stub = stub_for(node, session)
    with channel, pytest.raises(KeyMaterialError, match="bob has not provisioned"):
        call(
            stub.ProvisionKey,
            node_pb2.ProvisionKeyRequest(),
            peer=f"node {node.address}",
            timeout=5,
        )


def test_client_streaming_call_maps_errors(node, session):
    channel, stub = stub_for(node, session)
    with channel:
        reference = call(
            stub.PutBlob, streaming_chunks(3, 10)(), peer=f"node {node.address}", timeout=5
        )
        assert reference.size == 30
        node.node.error = IntegrityError("blob b does not match its SHA-256")
        with pytest.raises(IntegrityError, match="blob b does not match"):
            call(stub.PutBlob, streaming_chunks(2, 10)(), peer=f"node {node.address}", timeout=5)


def test_deadline_names_the_peer_and_the_timeout(node, session):
    node.node.delay = 5.0
    channel, stub = stub_for(node, session)
    with channel, pytest.raises(TransportError) as caught:
        call(stub.GetStatus, node_pb2.NodeStatusRequest(), peer=f"node {node.address}", timeout=0.3)
    assert caught.value.message == f"node {node.address} did not answer within 0.3 s"


def test_unreachable_peer_names_the_address(session):
    with socket.create_server(("127.0.0.1", 0)) as listener:
        address = f"127.0.0.1:{listener.getsockname()[1]}"
    with pinned_channel(address, session.tls_certificate_pem) as channel:
        stub = node_pb2_grpc.EnclaveNodeStub(channel)
        with pytest.raises(TransportError) as caught:
            call(stub.GetStatus, node_pb2.NodeStatusRequest(), peer=f"node {address}", timeout=5)
    assert caught.value.message.startswith(f"node {address} refused the connection")


def test_unimplemented_method_is_a_transport_error(node, session):
    channel, stub = stub_for(node, session)
    with channel, pytest.raises(TransportError, match="does not offer this call"):
        call(stub.GetAuditLog, node_pb2.AuditLogRequest(), peer=f"node {node.address}", timeout=5)


def test_server_streaming_errors_surface_while_iterating(node, session):
    # A server-streaming method that the server does not implement.
    channel, _ = stub_for(node, session)
    download = channel.unary_stream(
        "/accord.v1.Nothing/DownloadBlob",
        request_serializer=common_pb2.BlobRef.SerializeToString,
        response_deserializer=common_pb2.BlobChunk.FromString,
    )
    with channel:
        responses = call_stream(
            download, common_pb2.BlobRef(blob_id="b"), peer=f"node {node.address}", timeout=5
        )
        with pytest.raises(TransportError, match="does not offer this call"):
            list(responses)


def test_streamed_responses_then_a_decorated_generator_error(node, session):
    channel, _ = stub_for(node, session)
    stub = orchestrator_pb2_grpc.OrchestratorStub(channel)
    with channel:
        intact = call_stream(
            stub.DownloadBlob, common_pb2.BlobRef(blob_id="b"), peer="orchestrator", timeout=5
        )
        assert [chunk.data for chunk in intact] == [b"first", b"second"]
        damaged = call_stream(
            stub.DownloadBlob,
            common_pb2.BlobRef(blob_id="damaged"),
            peer="orchestrator",
            timeout=5,
        )
        assert next(damaged).data == b"first"
        with pytest.raises(IntegrityError, match="chunk 1 does not match its digest"):
            next(damaged)


def test_translate_rpc_errors_works_as_decorator(node, session):
    channel, stub = stub_for(node, session)
    node.node.delay = 5.0

    @translate_rpc_errors(peer=f"node {node.address}", timeout=0.2)
    def status():
        return stub.GetStatus(node_pb2.NodeStatusRequest(), timeout=0.2)

    with channel, pytest.raises(TransportError, match=r"did not answer within 0\.2 s"):
        status()


@pytest.mark.parametrize("timeout", [0, -1, float("inf"), float("nan")])
def test_calls_need_a_finite_positive_timeout(timeout):
    with pytest.raises(UsageError, match="positive number of seconds"):
        call(lambda request, **_: request, object(), peer="node x:1", timeout=timeout)
    with pytest.raises(UsageError, match="positive number of seconds"):
        call_stream(lambda request, **_: [request], object(), peer="node x:1", timeout=timeout)


class FakeRpcError(grpc.RpcError):
    """An RpcError as gRPC reports it, for metadata an untrusted peer may send."""

    def __init__(self, code, details, metadata):
        self._code, self._details, self._metadata = code, details, metadata

    def code(self):
        return self._code

    def details(self):
        return self._details

    def trailing_metadata(self):
        return self._metadata


def test_unknown_error_class_names_are_never_looked_up():
    error = FakeRpcError(
        grpc.StatusCode.INVALID_ARGUMENT,
        "boom",
        ((ERROR_CLASS_KEY, "os.system"), (ERROR_MESSAGE_KEY, "x"), (ERROR_HINT_KEY, "y")),
    )
    mapped = error_from_rpc(error, peer="orchestrator 10.0.0.5:7000")
    assert type(mapped) is TransportError
    assert (
        mapped.message == "orchestrator 10.0.0.5:7000 failed the call with INVALID_ARGUMENT: boom"
    )


def test_missing_message_falls_back_to_status_details():
    error = FakeRpcError(
        grpc.StatusCode.DATA_LOSS, "chunk 4 is damaged", ((ERROR_CLASS_KEY, "IntegrityError"),)
    )
    mapped = error_from_rpc(error, peer="node 127.0.0.1:5001")
    assert type(mapped) is IntegrityError
    assert mapped.message == "chunk 4 is damaged"
    assert mapped.hint == IntegrityError.default_hint


def test_deadline_without_known_timeout():
    error = FakeRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", None)
    assert (
        error_from_rpc(error, peer="node a:1").message
        == "node a:1 did not answer before its deadline"
    )
