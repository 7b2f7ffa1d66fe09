"""The relay against real enclave nodes (accord.enclave.server) running in this process."""

import threading
import time
import warnings

import pytest
from orchestrator_helpers import approval, blob_id_of, make_command, write_config

from accord.attest import AccordSecurityWarning
from accord.attest.backends import SimulatedQuoter
from accord.client import new_nonce, release_data_key, verify_enclave
from accord.crypto.keys import SECRET_KEY_ACCESS
from accord.crypto.sealed import unseal_bytes
from accord.enclave import EnclaveSession
from accord.enclave.attestation import attest_session
from accord.enclave.blobs import BlobStore as NodeBlobStore
from accord.enclave.receipts import verify_receipt
from accord.enclave.server import EnclaveNodeServicer, start_node
from accord.orchestrator import load_config, start_orchestrator
from accord.transport import TlsIdentity, bind_server, create_server, server_credentials
from accord.v1 import node_pb2_grpc

pytestmark = pytest.mark.filterwarnings("ignore::accord.attest.AccordSecurityWarning")


def provision(node, agreement, *parties):
    """Each party attests the node's session and releases its data key to it."""
    for party in parties:
        nonce = new_nonce()
        bundle = attest_session(node.session, SimulatedQuoter(), nonce).to_bytes()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AccordSecurityWarning)
            verified = verify_enclave(bundle, agreement=agreement, nonce=nonce)
        message = release_data_key(party, verified, agreement=agreement)
        node.session.accept_key_release(message, parties=agreement.party_keys)


@pytest.fixture
def node_blobs(tmp_path):
    return {name: NodeBlobStore(tmp_path / f"{name}-blobs") for name in ("n1", "n2")}


@pytest.fixture
def nodes(agreement, node_blobs):
    started = {
        name: start_node(agreement, listen="127.0.0.1:0", blobs=blobs, backend="simulated")
        for name, blobs in node_blobs.items()
    }
    yield started
    for node in started.values():
        node.stop(grace=0.1)


def start(tmp_path, agreement_path, parties, nodes, **options):
    addresses = [(name, node.address) for name, node in nodes.items()]
    path = write_config(tmp_path, agreement_path, parties.values(), nodes=addresses, **options)
    return start_orchestrator(load_config(path))


@pytest.fixture
def orchestrator(tmp_path, agreement_path, parties, nodes):
    running = start(tmp_path, agreement_path, parties, nodes)
    yield running
    running.stop(grace=1.0)


def sessions(nodes):
    return [node.session_id for node in nodes.values()]


def test_an_approved_echo_runs_on_every_node_and_each_recipient_gets_its_output(
    orchestrator, nodes, agreement, alice, bob
):
    for node in nodes.values():
        provision(node, agreement, alice, bob)
    command = make_command(agreement, session_ids=sessions(nodes))
    book = orchestrator.book
    book.propose(command.to_bytes(), approval(command, alice), caller="alice")
    book.approve(command.digest, approval(command, bob), caller="bob")
    record = book.wait(command.digest, timeout=20)
    assert record.state == "executed", record.error
    assert [r.node_id for r in record.results] == ["n1", "n2"]
    for result in record.results:
        node = nodes[result.node_id]
        receipt = verify_receipt(result.receipt, session=node.session.public_keys)
        assert (receipt.command_digest, receipt.status) == (command.digest, "executed")
        by_recipient = {output.recipient: output for output in result.outputs}
        assert sorted(by_recipient) == ["alice", "bob"]
        for party in (alice, bob):
            sealed = by_recipient[party.name].sealed
            assert unseal_bytes(sealed, party.data_key) == b"hello from alice"
    states = {n.node_id: (n.state, n.next_sequence) for n in orchestrator.registry.nodes()}
    assert states == {"n1": ("ready", 2), "n2": ("ready", 2)}


def test_a_command_that_fails_in_the_enclave_fails_the_proposal_naming_the_node(
    orchestrator, nodes, agreement, alice, bob
):
    provision(nodes["n1"], agreement, alice)  # bob never provisioned a key to n1
    command = make_command(agreement, session_ids=[nodes["n1"].session_id])
    book = orchestrator.book
    book.propose(command.to_bytes(), approval(command, alice), caller="alice")
    book.approve(command.digest, approval(command, bob), caller="bob")
    record = book.wait(command.digest, timeout=20)
    assert record.state == "failed"
    assert "node n1" in record.error
    assert "bob has not provisioned a data key" in record.error
    assert record.results[0].receipt  # the node's signed statement of the failure is kept


def test_referenced_blobs_are_pushed_to_the_nodes_before_execute(
    orchestrator, nodes, node_blobs, agreement, alice
):
    data = b"sealed bytes the nodes need"
    blob_id = orchestrator.blobs.write(blob_id_of(data), [data]).blob_id
    command = make_command(
        agreement,
        session_ids=sessions(nodes),
        operation="predict",  # alice alone decides; these nodes have no predict handler
        arguments={"data_blob": blob_id},
        recipients=["alice"],
    )
    book = orchestrator.book
    book.propose(command.to_bytes(), approval(command, alice), caller="alice")
    record = book.wait(command.digest, timeout=20)
    for blobs in node_blobs.values():
        assert blobs.path(blob_id).read_bytes() == data
    assert record.state == "failed"
    assert "2 of 2 node(s) failed" in record.error


def test_a_session_of_a_restarted_node_is_gone(orchestrator, nodes, node_blobs, agreement, alice):
    old = nodes["n1"]
    old_session = old.session_id
    orchestrator.registry.refresh_all()
    old.stop(grace=0.1)
    new = start_node(agreement, listen=old.address, blobs=node_blobs["n1"], backend="simulated")
    nodes["n1"] = new
    node = {n.node_id: n for n in orchestrator.registry.refresh_all()}["n1"]
    assert (node.state, node.session_id) == ("restarted", new.session_id)
    command = make_command(agreement, session_ids=[old_session], operation="predict", arguments={})
    record = orchestrator.book.propose(command.to_bytes(), approval(command, alice), caller="alice")
    record = orchestrator.book.wait(command.digest, timeout=20)
    assert record.state == "failed"
    assert record.error == (
        f"session {old_session[:16]}.. is gone (node n1 restarted); parties must re-attest "
        "and re-provision"
    )


def test_a_node_that_does_not_answer_fails_the_proposal_within_the_deadline(
    tmp_path, agreement_path, agreement, parties, node_blobs, monkeypatch, alice
):
    release = threading.Event()

    def hang(self, request, context):
        release.wait(30)
        raise AssertionError("the relay should have given up by now")

    monkeypatch.setattr(EnclaveNodeServicer, "Execute", hang)
    node = start_node(agreement, listen="127.0.0.1:0", blobs=node_blobs["n1"], backend="simulated")
    running = start(tmp_path, agreement_path, parties, {"n1": node}, execute_timeout=1.5)
    try:
        command = make_command(
            agreement, session_ids=[node.session_id], operation="predict", arguments={}
        )
        started = time.monotonic()
        running.book.propose(command.to_bytes(), approval(command, alice), caller="alice")
        record = running.book.wait(command.digest, timeout=20)
        assert time.monotonic() - started < 6
        assert record.state == "failed"
        assert "node n1" in record.error and "did not answer within" in record.error
    finally:
        release.set()
        running.stop(grace=1.0)
        node.stop(grace=0.1)


def test_a_host_whose_tls_key_is_not_the_attested_one_is_not_trusted(
    orchestrator, agreement, tmp_path, alice
):
    """A host that answers Attest from a real session but terminates TLS outside it."""
    inside, outside = (EnclaveSession.create(agreement.digest) for _ in range(2))
    servicer = EnclaveNodeServicer(
        agreement=agreement,
        session=inside,
        quoter=SimulatedQuoter(),
        blobs=NodeBlobStore(tmp_path / "mitm-blobs"),
    )
    identity = TlsIdentity.from_pem(
        outside.tls_private_key_pem(SECRET_KEY_ACCESS),
        outside.tls_certificate_pem,
        SECRET_KEY_ACCESS,
    )
    server = create_server(max_workers=2)
    node_pb2_grpc.add_EnclaveNodeServicer_to_server(servicer, server)
    address = bind_server(server, "127.0.0.1:0", server_credentials(identity))
    server.start()
    try:
        record = orchestrator.registry.register("mitm", address)
        assert record.state == "untrusted"
        assert record.session_id == ""
        command = make_command(
            agreement, session_ids=[inside.session_id], operation="predict", arguments={}
        )
        orchestrator.book.propose(command.to_bytes(), approval(command, alice), caller="alice")
        failed = orchestrator.book.wait(command.digest, timeout=20)
        assert failed.state == "failed"
        assert "is not the session of any node" in failed.error
        assert failed.results == ()
    finally:
        server.stop(0)
