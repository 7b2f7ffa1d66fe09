"""PutBlob cannot stall a node: few uploads at once, idle ones ended, a per-session quota.

The attacks are run against a real node on loopback: anyone who reaches the node's TLS port
can open PutBlob streams (no authentication), so the node must keep answering everyone else.
"""

import hashlib
import threading
import time

import pytest
from consensus_helpers import MEASUREMENT, World

from accord.attest.backends import SimulatedQuoter
from accord.enclave.blobs import BlobStore
from accord.enclave.server import start_node
from accord.enclave.uploads import BlobQuota, UploadLimits
from accord.errors import TransportError, UsageError
from accord.transport import (
    ServerBusyError,
    StreamIdleError,
    call,
    fetch_unverified_server_certificate,
    pinned_channel,
)
from accord.v1 import common_pb2, node_pb2, node_pb2_grpc

IDLE = 0.6
LIMITS = UploadLimits(
    max_concurrent=2, idle_seconds=IDLE, max_session_blobs=3, max_session_bytes=3000
)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return World(tmp_path_factory.mktemp("parties"))


@pytest.fixture
def node(world, tmp_path):
    running = start_node(
        world.agreement,
        listen="127.0.0.1:0",
        blobs=BlobStore(tmp_path / "blobs"),
        quoter=SimulatedQuoter(measurement=MEASUREMENT),
        max_workers=4,
        upload_limits=LIMITS,
    )
    yield running
    running.stop(grace=0.5)


@pytest.fixture
def stub(node):
    channel = pinned_channel(node.address, fetch_unverified_server_certificate(node.address))
    yield node_pb2_grpc.EnclaveNodeStub(channel)
    channel.close()


def idle_stream(stop, first=None):
    """A PutBlob stream that sends ``first`` (if any) and then nothing until ``stop``."""
    if first is not None:
        yield first
    stop.wait(30)


def blob(data):
    return [common_pb2.BlobChunk(blob_id=hashlib.sha256(data).hexdigest(), data=data)]


def put(stub, chunks, timeout=10.0):
    return call(stub.PutBlob, iter(chunks), peer="node", timeout=timeout)


def status(stub, timeout=2.0):
    return call(stub.GetStatus, node_pb2.NodeStatusRequest(), peer="node", timeout=timeout)


def test_idle_uploads_neither_block_status_nor_exceed_the_upload_limit(stub, node):
    stop = threading.Event()
    held = [stub.PutBlob.future(idle_stream(stop), timeout=20) for _ in range(8)]
    try:
        time.sleep(0.2)
        started = time.monotonic()
        # 4 workers, 8 idle streams: the node still answers at once.
        assert status(stub).session_id == node.session_id
        assert time.monotonic() - started < 1.0
        # Beyond the limit of two uploads at once, an upload is refused at once, by name.
        refused = [f for f in held if f.done()]
        assert len(refused) >= 6
        with pytest.raises(ServerBusyError, match="already serves 2 blob uploads"):
            put(stub, blob(b"late"))
    finally:
        stop.set()
        for future in held:
            future.cancel()


def test_an_upload_that_sends_nothing_is_ended_after_the_idle_timeout(stub, node):
    stop = threading.Event()
    started = time.monotonic()
    try:
        with pytest.raises(StreamIdleError, match=rf"sent nothing for {IDLE:g} s; the server"):
            put(stub, idle_stream(stop))
    finally:
        stop.set()
    assert time.monotonic() - started < IDLE + 2.0
    # An upload that pauses after its first chunk is ended too, and stores nothing.
    data = b"x" * 100
    first = blob(data)[0]
    first.data = data[:50]
    stop = threading.Event()
    try:
        with pytest.raises(TransportError, match="sent nothing for"):
            put(stub, idle_stream(stop, first))
    finally:
        stop.set()
    assert not node.servicer.blobs.has(first.blob_id)
    assert node.servicer.blobs.directory.exists()
    assert [p for p in node.servicer.blobs.directory.iterdir()] == []
    # Its place is free again: a whole upload goes through.
    assert put(stub, blob(data)).size == 100


def test_the_session_quota_of_blobs_and_bytes_refuses_more_and_stores_nothing(stub, node):
    for index in range(3):
        put(stub, blob(bytes([index]) * 10))
    put(stub, blob(bytes([0]) * 10))  # the same blob again does not count twice
    with pytest.raises(UsageError, match=r"already stores 3 blobs.*its limit of 3"):
        put(stub, blob(b"fourth"))
    assert not node.servicer.blobs.has(hashlib.sha256(b"fourth").hexdigest())


def test_the_byte_quota_counts_what_arrives(world, tmp_path):
    quota = BlobQuota(max_blobs=10, max_bytes=100)
    quota.start("a" * 64)
    quota.take("a" * 64, 80)
    with pytest.raises(UsageError, match="past its limit of 100 stored bytes"):
        quota.take("a" * 64, 30)
    quota.finish("a" * 64, 80, stored=False)  # a failed upload gives its bytes back
    assert quota.used_bytes == 0 and quota.blob_count == 0
    quota.start("b" * 64)
    quota.take("b" * 64, 90)
    quota.finish("b" * 64, 90, stored=True)
    assert quota.used_bytes == 90 and quota.blob_count == 1


def test_a_blob_beyond_the_session_byte_quota_is_refused_over_the_wire(stub, node):
    big = b"q" * 1000
    put(stub, blob(big))
    put(stub, blob(big + b"1"))
    with pytest.raises(UsageError, match="past its limit of 3000 stored bytes"):
        put(stub, blob(big + b"22"))
    assert not node.servicer.blobs.has(hashlib.sha256(big + b"22").hexdigest())


@pytest.mark.parametrize(
    "limits",
    [
        UploadLimits(idle_seconds=0),
        UploadLimits(max_concurrent=0),
        UploadLimits(max_session_blobs=0),
    ],
)
def test_limits_must_be_positive(tmp_path, limits):
    from accord.enclave.uploads import BlobReceiver

    with pytest.raises(UsageError, match="must be"):
        BlobReceiver(BlobStore(tmp_path / "b"), limits)
