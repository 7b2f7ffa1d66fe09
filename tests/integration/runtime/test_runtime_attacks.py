"""Attacks by the untrusted cloud, against real node and orchestrator processes.

A malicious orchestrator (a test double that speaks the real EnclaveNode protocol to the
nodes) relays commands with a missing signature, a forged one, arguments changed after
signing, a stranger's signature, or replays an executed command: every node refuses with
the right error and nothing executes (the audit logs and sequence numbers do not move).
Clients without a party certificate are refused by the orchestrator during the TLS handshake.
"""

import grpc
import pytest
from runtime_helpers import TIMEOUT, MaliciousOrchestrator, approvals

from accord.enclave.commands import Command
from accord.errors import ApprovalError, TransportError, VerificationError
from accord.transport import TlsIdentity, call, pinned_channel
from accord.v1 import common_pb2, orchestrator_pb2, orchestrator_pb2_grpc

pytestmark = pytest.mark.filterwarnings("ignore::accord.attest.AccordSecurityWarning")


@pytest.fixture(scope="module")
def attacker(agreement, cluster, alice, bob):
    double = MaliciousOrchestrator(agreement, cluster.node_addresses)
    yield double
    double.close()


@pytest.fixture
def unchanged(attacker):
    """Assert, after the test, that no node executed anything."""
    before = attacker.audit_logs()
    sequence = attacker.next_sequence()
    yield
    assert attacker.audit_logs() == before
    assert attacker.next_sequence() == sequence


def refused_everywhere(attacker, command, signed, error, match):
    for node_id in attacker.nodes:
        with pytest.raises(error, match=match):
            attacker.execute(node_id, command.to_bytes(), signed)


def test_a_missing_signature_is_refused_by_every_node(attacker, world, unchanged):
    command = attacker.command()
    signed = approvals(command, world["parties"]["alice"])
    refused_everywhere(attacker, command, signed, ApprovalError, "has alice; missing bob")


def test_a_forged_signature_is_refused_by_every_node(attacker, world, unchanged):
    command = attacker.command()
    forged = approvals(command, world["parties"]["alice"])
    # mallory signs and claims to be bob
    forged += [("bob", approvals(command, world["parties"]["mallory"])[0][1])]
    refused_everywhere(attacker, command, forged, VerificationError, "approval by party bob")


def test_arguments_changed_after_signing_are_refused_by_every_node(attacker, world, unchanged):
    parties = world["parties"]
    signed_command = attacker.command(message="pay 10")
    signatures = approvals(signed_command, parties["alice"], parties["bob"])
    altered = Command.create(
        agreement_digest=signed_command.agreement_digest,
        session_ids=signed_command.session_ids,
        sequence=signed_command.sequence,
        operation="echo",
        arguments={"message": "pay 10000"},
        recipients=["alice", "bob"],
        proposer="alice",
        ttl=signed_command.expires_at - signed_command.created_at,
    )
    refused_everywhere(attacker, altered, signatures, VerificationError, "does not verify")


def test_a_strangers_signature_counts_for_nothing(attacker, world, unchanged):
    command = attacker.command()
    signed = approvals(command, world["parties"]["alice"], world["parties"]["mallory"])
    refused_everywhere(attacker, command, signed, ApprovalError, "has alice; missing bob")


def test_a_replayed_command_is_refused_by_every_node(attacker, alice, bob):
    proposal_id = alice.propose("echo", {"message": "once"}, recipients=["alice"])
    bob.approve(proposal_id)
    alice.wait(proposal_id, timeout=30)
    executed = alice.proposal(proposal_id)
    signed = [(approval.party, approval.signature) for approval in executed.approvals]
    assert [party for party, _ in signed] == ["alice", "bob"]
    before = attacker.audit_logs()
    refused_everywhere(
        attacker,
        executed.command,
        signed,
        VerificationError,
        f"sequence {executed.command.sequence} already executed",
    )
    assert attacker.audit_logs() == before


def test_the_orchestrator_refuses_a_client_without_a_party_certificate(cluster):
    certificate = cluster.orchestrator_certificate.read_bytes()
    with pinned_channel(cluster.orchestrator_address, certificate) as channel:
        stub = orchestrator_pb2_grpc.OrchestratorStub(channel)
        with pytest.raises(TransportError) as caught:
            call(stub.ListNodes, orchestrator_pb2.ListNodesRequest(), peer="orch", timeout=5)
    assert "closed the connection" in caught.value.message or "TLS" in caught.value.message


def test_the_orchestrator_refuses_a_stranger_at_the_tls_handshake(world, cluster):
    mallory = world["parties"]["mallory"]
    identity = TlsIdentity.from_key(mallory.tls_key, mallory.tls_certificate_pem)
    certificate = cluster.orchestrator_certificate.read_bytes()
    with pinned_channel(cluster.orchestrator_address, certificate, client=identity) as channel:
        stub = orchestrator_pb2_grpc.OrchestratorStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.ListNodes(orchestrator_pb2.ListNodesRequest(), timeout=5)
    # refused during the handshake: no call ever reached the service (that would be
    # PERMISSION_DENIED with an Accord error)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_party_cannot_approve_in_another_partys_name(world, cluster, alice):
    proposal_id = alice.propose("echo", {"message": "x"}, recipients=["alice"])
    command = alice.proposal(proposal_id).command
    (_, signature) = approvals(command, world["parties"]["bob"])[0]  # even a valid one
    request = orchestrator_pb2.ApproveRequest(
        proposal_id=proposal_id, approval=common_pb2.Approval(party="bob", signature=signature)
    )
    me = world["parties"]["alice"]
    identity = TlsIdentity.from_key(me.tls_key, me.tls_certificate_pem)
    certificate = cluster.orchestrator_certificate.read_bytes()
    with pinned_channel(cluster.orchestrator_address, certificate, client=identity) as channel:
        stub = orchestrator_pb2_grpc.OrchestratorStub(channel)
        with pytest.raises(VerificationError):
            call(stub.Approve, request, peer="orch", timeout=TIMEOUT)
    assert alice.proposal(proposal_id).approvers == ("alice",)
    alice.reject(proposal_id, "test over")
