"""A node that never answers blocks no one; a cut-short audit log is refused.

The orchestrator lists a real node and a "black hole" (a TCP listener that accepts and never
speaks), as a bogus or dead node would look. Parties still list nodes quickly, attest the
real node, and approve commands for it; the black hole is reported, not fatal.
"""

import socket
import threading
import time

import pytest
from client_helpers import make_parties, write_agreement

from accord.agreement import load_signed_agreement
from accord.client import connect
from accord.client.audit import fetch_audit
from accord.client.registry import combined_failure
from accord.enclave.blobs import BlobStore
from accord.enclave.server import start_node
from accord.errors import AccordError, TransportError, UsageError, VerificationError
from accord.orchestrator.config import NodeConfig, OrchestratorConfig
from accord.orchestrator.server import start_orchestrator

pytestmark = pytest.mark.filterwarnings("ignore::accord.attest.AccordSecurityWarning")

TIMEOUT = 2.0


@pytest.fixture(scope="module")
def black_hole():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.2)
    held, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(2)
    listener.close()
    for connection in held:
        connection.close()


@pytest.fixture(scope="module")
def cloud(tmp_path_factory, black_hole):
    root = tmp_path_factory.mktemp("partial")
    parties = make_parties(root, ["alice", "bob"])
    agreement_path = write_agreement(root / "agreement.toml", list(parties.values()))
    agreement = load_signed_agreement(agreement_path)
    node = start_node(
        agreement, listen="127.0.0.1:0", blobs=BlobStore(root / "blobs"), backend="simulated"
    )
    orchestrator = start_orchestrator(
        OrchestratorConfig(
            listen="127.0.0.1:0",
            agreement_path=agreement_path,
            data_dir=root / "orchestrator",
            nodes=(NodeConfig("node-1", node.address), NodeConfig("node-9", black_hole)),
            party_certificates=tuple(p.directory / "tls-cert.pem" for p in parties.values()),
            execute_timeout_seconds=10,
            sweep_interval_seconds=0.2,
        )
    )
    opened = []

    def open_client(name):
        client = connect(
            orchestrator.address,
            agreement_path,
            parties[name],
            orchestrator_certificate=orchestrator.certificate_path,
            timeout=TIMEOUT,
        )
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        client.close()
    orchestrator.stop(grace=0)
    node.stop(grace=0)


def test_listing_nodes_is_not_held_up_by_a_node_that_never_answers(cloud):
    client = cloud("alice")
    for _ in range(3):
        started = time.monotonic()
        assert sorted(n.node_id for n in client.nodes()) == ["node-1", "node-9"]
        assert time.monotonic() - started < TIMEOUT


def test_attest_keeps_the_nodes_it_can_and_names_the_one_it_cannot(cloud):
    client = cloud("alice")
    started = time.monotonic()
    evidence = client.attest()
    assert list(evidence) == ["node-1"]
    assert list(client.sessions) == ["node-1"]
    failure = client.attestation_failures["node-9"]
    assert isinstance(failure, TransportError)
    assert "node node-9" in failure.message
    assert time.monotonic() - started < 3 * TIMEOUT  # in parallel, not one after the other
    # Naming the node asks for it: then its failure is the call's failure.
    with pytest.raises(TransportError, match="node node-9"):
        client.attest(["node-1", "node-9"])


def test_a_command_for_the_reachable_node_is_approved_without_touching_the_other(cloud):
    alice, bob = cloud("alice"), cloud("bob")
    alice.attest(["node-1"])
    alice.provision()
    proposal_id = alice.propose("echo", {"message": "hi"}, recipients=["alice"])
    command = bob.proposal(proposal_id).command
    started = time.monotonic()
    assert list(bob.attest_sessions(command.session_ids)) == ["node-1"]
    assert time.monotonic() - started < TIMEOUT
    assert bob.attestation_failures == {}
    assert bob.approve(proposal_id).rule_met
    assert alice.wait(proposal_id, timeout=20).open("echo") == b"hi"


def test_a_log_shorter_than_a_verified_receipt_proves_is_refused(cloud):
    alice, bob = cloud("alice"), cloud("bob")
    for client in (alice, bob):
        client.attest(["node-1"])
        client.provision()
    proposal_id = alice.propose("echo", {"message": "audit me"}, recipients=["alice"])
    bob.approve(proposal_id)
    result = alice.wait(proposal_id, timeout=20)
    receipt = result.nodes[0].receipt
    node = alice._nodes.select(["node-1"])[0]
    assert alice.audit()["node-1"].verified  # the receipts agree with the whole log
    agreement = alice.agreement
    beyond = {receipt.audit_index + 5: receipt.audit_hash}
    with pytest.raises(VerificationError, match=rf"receipt for entry {receipt.audit_index + 5}"):
        fetch_audit(node, agreement=agreement, timeout=TIMEOUT, receipts=beyond)
    with pytest.raises(VerificationError, match=r"the log was cut short \(entry \d+ is missing\)"):
        fetch_audit(node, agreement=agreement, timeout=TIMEOUT, verify=False, receipts=beyond)
    other = {receipt.audit_index: "0" * 64}
    with pytest.raises(VerificationError, match=f"entry {receipt.audit_index} of the audit log"):
        fetch_audit(node, agreement=agreement, timeout=TIMEOUT, receipts=other)


def test_several_failures_are_named_together():
    failures = {
        "n1": TransportError("node n1 did not answer"),
        "n2": VerificationError("measurement 3f.. is not accepted"),
    }
    combined = combined_failure(failures)
    assert isinstance(combined, VerificationError)
    assert "node n1: node n1 did not answer" in combined.message
    assert "node n2: measurement" in combined.message
    unreachable = combined_failure({"a": TransportError("x"), "b": TransportError("y")})
    assert isinstance(unreachable, TransportError)
    assert type(combined_failure({"a": UsageError("x"), "b": TransportError("y")})) is AccordError
