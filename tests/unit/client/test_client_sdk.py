"""The party SDK against real node and orchestrator servers running in this process."""

import hashlib

import pytest
from client_helpers import Clock

from accord.attest import AccordSecurityWarning
from accord.client import Client, Result
from accord.crypto.sealed import seal_file
from accord.errors import (
    ApprovalError,
    KeyMaterialError,
    TransportError,
    UsageError,
    VerificationError,
)

pytestmark = pytest.mark.filterwarnings("ignore::accord.attest.AccordSecurityWarning")


def test_echo_goes_from_proposal_to_an_opened_result_for_both_recipients(alice, bob):
    proposal_id = alice.propose("echo", {"message": "hello bob"}, recipients=["alice", "bob"])
    assert proposal_id in [p.proposal_id for p in bob.pending()]
    assert proposal_id not in [p.proposal_id for p in alice.pending()]  # alice signed already
    shown = bob.show(proposal_id)
    assert f"command {proposal_id}" in shown and '"message": "hello bob"' in shown
    assert "missing bob" in shown
    approved = bob.approve(proposal_id)
    assert approved.approvers == ("alice", "bob")
    for client in (alice, bob):
        result = client.wait(proposal_id, timeout=20)
        assert result.open("echo") == b"hello bob"
        assert [node.node_id for node in result.nodes] == ["node-1", "node-2"]
        assert all(node.receipt.command_digest == proposal_id for node in result.nodes)


def test_an_output_for_another_recipient_cannot_be_opened(alice, bob):
    proposal_id = alice.propose("echo", {"message": "for alice only"}, recipients=["alice"])
    bob.approve(proposal_id)
    result = bob.wait(proposal_id, timeout=20)
    assert result.names() == []
    with pytest.raises(KeyMaterialError, match="sealed for alice, not for bob"):
        result.open("echo")
    assert alice.wait(proposal_id, timeout=20).open("echo") == b"for alice only"


def test_attesting_simulated_enclaves_warns_every_time(open_client):
    client = open_client("alice")
    with pytest.warns(AccordSecurityWarning, match="NO protection"):
        evidence = client.attest(["node-1"])
    assert list(evidence) == ["node-1"]
    assert client.sessions == {"node-1": evidence["node-1"].session_id}


def test_approve_refuses_a_command_for_sessions_this_client_did_not_attest(alice, open_client):
    proposal_id = alice.propose("echo", {"message": "x"}, recipients=["alice"])
    bob_elsewhere = open_client("bob")
    with pytest.raises(VerificationError, match="has not attested"):
        bob_elsewhere.approve(proposal_id)
    bob_elsewhere.attest(["node-1"])  # node-2's session is still unverified here
    with pytest.raises(VerificationError, match="not attested") as caught:
        bob_elsewhere.approve(proposal_id)
    assert bob_elsewhere.sessions["node-1"] not in caught.value.message
    bob_elsewhere.reject(proposal_id, "not needed")


def test_approve_refuses_an_expired_command(alice, open_client):
    proposal_id = alice.propose("echo", {"message": "late"}, recipients=["alice"], ttl=60)
    clock = Clock()
    late_bob = open_client("bob", now=clock)
    late_bob.attest()
    clock.offset = clock.offset.__class__(minutes=2)
    with pytest.raises(ApprovalError, match="expired at"):
        late_bob.approve(proposal_id)
    assert late_bob.proposal(proposal_id).approvers == ("alice",)


def test_a_rejected_proposal_raises_for_the_waiting_party(alice, bob):
    proposal_id = alice.propose("echo", {"message": "no"}, recipients=["alice", "bob"])
    rejected = bob.reject(proposal_id, "not today")
    assert rejected.state == "rejected"
    with pytest.raises(ApprovalError, match=r"rejected \(bob: 'not today'\)"):
        alice.wait(proposal_id, timeout=5)
    with pytest.raises(UsageError, match="rejected; it cannot be approved"):
        bob.approve(proposal_id)


def test_wait_gives_up_at_its_deadline_naming_what_is_missing(alice):
    proposal_id = alice.propose("echo", {"message": "slow"}, recipients=["alice"])
    with pytest.raises(TransportError, match=r"still pending after 0.3 s.*missing bob"):
        alice.wait(proposal_id, timeout=0.3)


def test_recipients_outside_the_agreement_are_refused_before_signing(alice):
    with pytest.raises(ApprovalError, match="'mallory', who is not a party"):
        alice.propose("echo", {"message": "x"}, recipients=["mallory"])


def test_upload_sends_sealed_files_only(world, alice, tmp_path):
    plain = tmp_path / "rows.csv"
    plain.write_text("a,b\n1,2\n")
    with pytest.raises(UsageError, match="not an Accord sealed file"):
        alice.upload(plain)
    sealed = tmp_path / "rows.sealed"
    seal_file(plain, sealed, world["parties"]["alice"].data_key, input_format="csv")
    blob_id = alice.upload(sealed)
    assert blob_id == hashlib.sha256(sealed.read_bytes()).hexdigest()


def test_audit_verifies_every_node_log_with_the_attested_keys(alice, bob):
    proposal_id = alice.propose("echo", {"message": "audited"}, recipients=["alice", "bob"])
    bob.approve(proposal_id)
    alice.wait(proposal_id, timeout=20)
    logs = bob.audit()
    assert set(logs) == {"node-1", "node-2"}
    for log in logs.values():
        assert log.verified
        assert log.entries[-1].command_digest == proposal_id
        assert log.entries[-1].status == "executed"
        assert [a.party for a in log.entries[-1].approvals] == ["alice", "bob"]


def test_a_stranger_cannot_connect_as_a_party(open_client):
    with pytest.raises(KeyMaterialError, match="'mallory' is not a party"):
        open_client("mallory")


def test_results_and_clients_are_made_only_by_the_sdk():
    with pytest.raises(UsageError, match=r"Client.wait"):
        Result(object(), command=None, party="alice", data_key=None, nodes=())
    with pytest.raises(UsageError, match=r"accord.connect"):
        Client(
            _token=object(),
            orchestrator="x:1",
            channel=None,
            agreement=None,
            identity=None,
            timeout=1,
            backends=None,
            now=None,
        )
