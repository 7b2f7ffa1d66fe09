"""A party cannot freeze the orchestrator or fill it with nodes.

Attacks over real gRPC with mutual TLS on 127.0.0.1: idle upload streams that would hold
every worker, a party registering a bogus node, more nodes than the limit.
"""

import datetime as dt
import threading
import time

import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from orchestrator_helpers import approval, blob_id_of, make_command, write_config

from accord.crypto.keys import TlsPrivateKey
from accord.enclave.blobs import BlobStore as NodeBlobStore
from accord.enclave.server import start_node
from accord.enclave.uploads import UploadLimits
from accord.errors import ConfigurationError, TransportError, UsageError, VerificationError
from accord.orchestrator import (
    load_config,
    load_operator_certificates,
    register_node,
    start_orchestrator,
)
from accord.party.certificate import issue_party_certificate
from accord.transport import (
    TlsIdentity,
    call,
    fetch_unverified_server_certificate,
    pinned_channel,
)
from accord.v1 import node_pb2_grpc, orchestrator_pb2, orchestrator_pb2_grpc

pytestmark = pytest.mark.filterwarnings("ignore::accord.attest.AccordSecurityWarning")

IDLE = 0.6


def make_identity(name):
    key = TlsPrivateKey.generate()
    certificate = issue_party_certificate(
        name, key, now=dt.datetime.now(dt.UTC), valid_days=30
    ).public_bytes(serialization.Encoding.PEM)
    return TlsIdentity.from_key(key, certificate)


@pytest.fixture(scope="module")
def operator_identity():
    return make_identity("operator")


@pytest.fixture
def orchestrator(tmp_path, agreement_path, parties, operator_identity):
    (tmp_path / "operator-cert.pem").write_bytes(operator_identity.certificate_pem)
    extra = (
        f"stream_idle_seconds = {IDLE}\nmax_nodes = 2\n"
        'operator_certificates = ["operator-cert.pem"]\n'
    )
    config = load_config(write_config(tmp_path, agreement_path, parties.values(), extra=extra))
    running = start_orchestrator(config)
    yield running
    running.stop(grace=1.0)


def stub_for(orchestrator, party):
    identity = TlsIdentity.from_key(party.tls_key, party.tls_certificate_pem)
    channel = pinned_channel(orchestrator.address, orchestrator.certificate_pem, client=identity)
    return channel, orchestrator_pb2_grpc.OrchestratorStub(channel)


def rpc(method, request, timeout=10.0):
    return call(method, request, peer="orchestrator", timeout=timeout)


def idle_stream(stop):
    stop.wait(30)
    yield from ()


def test_idle_uploads_of_one_party_neither_freeze_listnodes_nor_take_more_than_two_places(
    orchestrator, alice, bob
):
    bob_channel, as_bob = stub_for(orchestrator, bob)
    alice_channel, as_alice = stub_for(orchestrator, alice)
    stop = threading.Event()
    held = [as_bob.UploadBlob.future(idle_stream(stop), timeout=20) for _ in range(32)]
    try:
        time.sleep(0.3)
        started = time.monotonic()
        rpc(as_alice.ListNodes, orchestrator_pb2.ListNodesRequest(), timeout=3)
        rpc(as_alice.ListProposals, orchestrator_pb2.ListProposalsRequest(), timeout=3)
        assert time.monotonic() - started < 1.5
        assert sum(1 for future in held if future.done()) >= 30
        with pytest.raises(TransportError, match="bob already has 2 blob uploads in progress"):
            rpc(as_bob.UploadBlob, idle_stream(stop))
        # The idle ones are ended after the idle timeout, and bob may upload again.
        time.sleep(IDLE + 0.5)
        assert all(future.done() for future in held)
    finally:
        stop.set()
        for future in held:
            future.cancel()
        bob_channel.close()
        alice_channel.close()


def test_an_upload_that_sends_nothing_is_ended_naming_the_timeout(orchestrator, bob):
    channel, as_bob = stub_for(orchestrator, bob)
    stop = threading.Event()
    started = time.monotonic()
    try:
        with pytest.raises(TransportError, match=rf"bob's blob upload sent nothing for {IDLE:g} s"):
            rpc(as_bob.UploadBlob, idle_stream(stop))
    finally:
        stop.set()
        channel.close()
    assert time.monotonic() - started < IDLE + 2.0


def test_one_party_may_wait_on_at_most_four_proposals_at_once(orchestrator, agreement, alice, bob):
    command = make_command(agreement)
    orchestrator.book.propose(command.to_bytes(), approval(command, alice), caller="alice")
    channel, as_bob = stub_for(orchestrator, bob)
    request = orchestrator_pb2.WaitProposalRequest(proposal_id=command.digest, timeout_ms=3000)
    waits = [as_bob.WaitProposal.future(request, timeout=10) for _ in range(4)]
    try:
        time.sleep(0.3)
        with pytest.raises(TransportError, match="bob already has 4 proposal waits"):
            rpc(as_bob.WaitProposal, request)
    finally:
        for future in waits:
            future.cancel()
        channel.close()


def test_a_party_cannot_register_a_node(orchestrator, bob):
    channel, as_bob = stub_for(orchestrator, bob)
    try:
        request = orchestrator_pb2.RegisterNodeRequest(node_id="zz-bogus", address="127.0.0.1:9")
        with pytest.raises(VerificationError, match=r"only an operator .* party bob presented"):
            rpc(as_bob.RegisterNode, request)
        listed = rpc(as_bob.ListNodes, orchestrator_pb2.ListNodesRequest())
    finally:
        channel.close()
    assert [node.node_id for node in listed.nodes] == []
    assert orchestrator.registry.nodes() == []


def test_an_operator_registers_nodes_up_to_the_limit_and_can_do_nothing_else(
    orchestrator, operator_identity
):
    def register(node_id, port):
        return register_node(
            orchestrator.address,
            orchestrator_certificate=orchestrator.certificate_pem,
            operator=operator_identity,
            node_id=node_id,
            address=f"127.0.0.1:{port}",
            timeout=10,
        )

    assert register("n1", 1).state == "unreachable"
    assert register("n2", 2).node_id == "n2"
    with pytest.raises(UsageError, match="already knows 2 nodes, its limit"):
        register("n3", 3)
    assert [n.node_id for n in orchestrator.registry.nodes()] == ["n1", "n2"]
    channel = pinned_channel(
        orchestrator.address, orchestrator.certificate_pem, client=operator_identity
    )
    try:
        stub = orchestrator_pb2_grpc.OrchestratorStub(channel)
        with pytest.raises(VerificationError, match="is not a party's certificate"):
            rpc(stub.ListProposals, orchestrator_pb2.ListProposalsRequest())
    finally:
        channel.close()


def test_without_operators_no_one_may_register(tmp_path, agreement_path, parties, alice):
    config = load_config(write_config(tmp_path, agreement_path, parties.values()))
    assert load_operator_certificates(config) == {}
    with start_orchestrator(config) as running:
        channel, as_alice = stub_for(running, alice)
        try:
            with pytest.raises(VerificationError, match="party alice presented"):
                rpc(
                    as_alice.RegisterNode,
                    orchestrator_pb2.RegisterNodeRequest(node_id="n1", address="127.0.0.1:9"),
                )
        finally:
            channel.close()


def test_the_configuration_checks_operators_and_the_node_limit(tmp_path, agreement_path, parties):
    missing = write_config(
        tmp_path, agreement_path, parties.values(), extra='operator_certificates = ["nope.pem"]\n'
    )
    with pytest.raises(ConfigurationError, match=r"cannot read party certificate .*nope\.pem"):
        load_operator_certificates(load_config(missing))
    too_many = write_config(
        tmp_path,
        agreement_path,
        parties.values(),
        extra="max_nodes = 1\n",
        nodes=[("n1", "127.0.0.1:1"), ("n2", "127.0.0.1:2")],
    )
    with pytest.raises(ConfigurationError, match="lists 2 nodes, more than max_nodes"):
        load_config(too_many)


def test_the_relay_waits_for_a_free_upload_place_at_a_busy_node(
    tmp_path, agreement_path, agreement, parties, alice
):
    # A node that takes one upload at a time, held by an idle stream that it ends after 1 s.
    node = start_node(
        agreement,
        listen="127.0.0.1:0",
        blobs=NodeBlobStore(tmp_path / "node-blobs"),
        backend="simulated",
        upload_limits=UploadLimits(max_concurrent=1, idle_seconds=1.0),
    )
    channel = pinned_channel(node.address, fetch_unverified_server_certificate(node.address))
    stop = threading.Event()
    held = node_pb2_grpc.EnclaveNodeStub(channel).PutBlob.future(idle_stream(stop), timeout=10)
    path = write_config(
        tmp_path, agreement_path, parties.values(), nodes=[("n1", node.address)], execute_timeout=8
    )
    running = start_orchestrator(load_config(path))
    try:
        data = b"sealed bytes the node needs"
        blob_id = running.blobs.write(blob_id_of(data), [data]).blob_id
        command = make_command(
            agreement,
            session_ids=[node.session_id],
            operation="predict",
            arguments={"data_blob": blob_id},
            recipients=["alice"],
        )
        time.sleep(0.2)
        running.book.propose(command.to_bytes(), approval(command, alice), caller="alice")
        record = running.book.wait(command.digest, timeout=20)
        assert node.servicer.blobs.path(blob_id).read_bytes() == data
        assert "could not receive blob" not in record.error
        with pytest.raises(grpc.RpcError):
            held.result()  # the node ended the idle stream
    finally:
        stop.set()
        channel.close()
        running.stop(grace=1.0)
        node.stop(grace=0.1)
