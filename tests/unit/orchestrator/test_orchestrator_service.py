"""The Orchestrator service over real gRPC with mutual TLS on 127.0.0.1."""

import os
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from orchestrator_helpers import approval, blob_id_of, make_command, rejection, write_config

from accord.errors import (
    ApprovalError,
    IntegrityError,
    TransportError,
    UsageError,
    VerificationError,
)
from accord.orchestrator import load_config, start_orchestrator
from accord.transport import TlsIdentity, call, call_stream, pinned_channel
from accord.v1 import common_pb2, orchestrator_pb2, orchestrator_pb2_grpc

TIMEOUT = 10.0


@pytest.fixture
def orchestrator(tmp_path, agreement_path, parties):
    config = load_config(write_config(tmp_path, agreement_path, parties.values()))
    running = start_orchestrator(config)
    yield running
    running.stop(grace=1.0)


def connect(orchestrator, party=None):
    identity = (
        None if party is None else TlsIdentity.from_key(party.tls_key, party.tls_certificate_pem)
    )
    channel = pinned_channel(orchestrator.address, orchestrator.certificate_pem, client=identity)
    return channel, orchestrator_pb2_grpc.OrchestratorStub(channel)


@pytest.fixture
def as_alice(orchestrator, alice):
    channel, stub = connect(orchestrator, alice)
    yield stub
    channel.close()


@pytest.fixture
def as_bob(orchestrator, bob):
    channel, stub = connect(orchestrator, bob)
    yield stub
    channel.close()


def rpc(stub_method, request):
    return call(stub_method, request, peer="orchestrator", timeout=TIMEOUT)


def propose(stub, command, party):
    signed = approval(command, party)
    request = orchestrator_pb2.ProposeRequest(
        command=command.to_bytes(),
        approval=common_pb2.Approval(party=signed.party, signature=signed.signature),
    )
    return rpc(stub.Propose, request)


def approve(stub, command, party, *, as_party=None):
    signed = approval(command, party)
    request = orchestrator_pb2.ApproveRequest(
        proposal_id=command.digest,
        approval=common_pb2.Approval(party=as_party or signed.party, signature=signed.signature),
    )
    return rpc(stub.Approve, request)


def test_a_party_proposes_and_reads_the_proposal_back(
    orchestrator, as_alice, as_bob, agreement, alice
):
    command = make_command(agreement)
    view = propose(as_alice, command, alice)
    assert (view.proposal_id, view.state) == (command.digest, "pending")
    assert view.command == command.to_bytes()
    assert [a.party for a in view.approvals] == ["alice"]
    seen_by_bob = rpc(
        as_bob.GetProposal, orchestrator_pb2.GetProposalRequest(proposal_id=command.digest)
    )
    assert seen_by_bob == view
    listed = rpc(as_bob.ListProposals, orchestrator_pb2.ListProposalsRequest(state="pending"))
    assert [p.proposal_id for p in listed.proposals] == [command.digest]
    assert (
        rpc(as_bob.ListProposals, orchestrator_pb2.ListProposalsRequest(state="executed")).proposals
        == []
    )


def test_a_party_approving_as_another_party_is_refused(as_alice, as_bob, agreement, alice, bob):
    command = make_command(agreement)
    propose(as_alice, command, alice)
    with pytest.raises(
        VerificationError, match="authenticated as party bob cannot approve as party 'alice'"
    ):
        approve(as_bob, command, alice)
    with pytest.raises(grpc.RpcError) as caught:
        as_bob.Approve(
            orchestrator_pb2.ApproveRequest(
                proposal_id=command.digest,
                approval=common_pb2.Approval(
                    party="alice", signature=approval(command, alice).signature
                ),
            ),
            timeout=TIMEOUT,
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    view = rpc(as_bob.GetProposal, orchestrator_pb2.GetProposalRequest(proposal_id=command.digest))
    assert [a.party for a in view.approvals] == ["alice"]


def test_an_approval_with_a_bad_signature_is_refused(as_alice, as_bob, agreement, alice, bob):
    command = make_command(agreement)
    propose(as_alice, command, alice)
    request = orchestrator_pb2.ApproveRequest(
        proposal_id=command.digest,
        approval=common_pb2.Approval(party="bob", signature=approval(command, alice).signature),
    )
    with pytest.raises(VerificationError, match="approval by party bob does not verify"):
        rpc(as_bob.Approve, request)


def test_a_signed_rejection_ends_the_proposal(as_alice, as_bob, agreement, alice, bob):
    command = make_command(agreement)
    propose(as_alice, command, alice)
    view = rpc(
        as_bob.Reject,
        orchestrator_pb2.RejectRequest(
            proposal_id=command.digest,
            party="bob",
            reason="wrong message",
            signature=rejection(command, bob),
        ),
    )
    assert view.state == "rejected"
    assert [(r.party, r.reason) for r in view.rejections] == [("bob", "wrong message")]
    with pytest.raises(ApprovalError, match="rejected"):
        approve(as_bob, command, bob)


def test_wait_returns_the_view_after_its_timeout(as_alice, agreement, alice):
    command = make_command(agreement)
    propose(as_alice, command, alice)
    started = time.monotonic()
    view = rpc(
        as_alice.WaitProposal,
        orchestrator_pb2.WaitProposalRequest(proposal_id=command.digest, timeout_ms=300),
    )
    assert view.state == "pending"
    assert 0.2 < time.monotonic() - started < 5


def test_an_unknown_proposal_and_state_are_usage_errors(as_alice):
    with pytest.raises(UsageError, match="there is no proposal"):
        rpc(as_alice.GetProposal, orchestrator_pb2.GetProposalRequest(proposal_id="0" * 64))
    with pytest.raises(UsageError, match="is not a proposal state"):
        rpc(as_alice.ListProposals, orchestrator_pb2.ListProposalsRequest(state="done"))


def upload(stub, blob_id, data, chunk=100_000):
    def chunks():
        for offset in range(0, max(len(data), 1), chunk):
            yield common_pb2.BlobChunk(
                blob_id=blob_id if offset == 0 else "", data=data[offset : offset + chunk]
            )

    return rpc(stub.UploadBlob, chunks())


def test_blobs_go_up_and_come_down_unchanged(as_alice, as_bob):
    data = os.urandom(1_500_000)
    blob_id = blob_id_of(data)
    ref = upload(as_alice, blob_id, data)
    assert (ref.blob_id, ref.size) == (blob_id, len(data))
    chunks = list(
        call_stream(
            as_bob.DownloadBlob,
            common_pb2.BlobRef(blob_id=blob_id),
            peer="orchestrator",
            timeout=TIMEOUT,
        )
    )
    assert chunks[0].blob_id == blob_id
    assert [len(c.data) for c in chunks] == [1024 * 1024, len(data) - 1024 * 1024]
    assert b"".join(c.data for c in chunks) == data


def test_an_upload_that_does_not_match_its_id_is_refused(as_alice):
    claimed = blob_id_of(b"the original")
    with pytest.raises(IntegrityError, match="nothing was stored"):
        upload(as_alice, claimed, b"a substitute")
    with pytest.raises(UsageError, match="is not stored"):
        list(
            call_stream(
                as_alice.DownloadBlob,
                common_pb2.BlobRef(blob_id=claimed),
                peer="o",
                timeout=TIMEOUT,
            )
        )


def test_a_proposal_naming_a_blob_that_was_not_uploaded_is_refused(as_alice, agreement, alice):
    command = make_command(agreement, operation="load", arguments={"data_blob": "ab" * 32})
    with pytest.raises(UsageError, match="is not stored at the orchestrator"):
        propose(as_alice, command, alice)


def test_a_client_without_a_certificate_is_refused_at_tls(orchestrator):
    channel, stub = connect(orchestrator, None)
    with pytest.raises(TransportError) as caught:
        rpc(stub.ListProposals, orchestrator_pb2.ListProposalsRequest())
    assert "TLS" in caught.value.message
    channel.close()


def test_a_client_with_a_certificate_the_agreement_does_not_list_is_refused_at_tls(
    orchestrator, mallory
):
    channel, stub = connect(orchestrator, mallory)
    with pytest.raises(TransportError) as caught:
        rpc(stub.ListProposals, orchestrator_pb2.ListProposalsRequest())
    assert "TLS" in caught.value.message
    channel.close()


def test_health_reports_serving(orchestrator, alice):
    identity = TlsIdentity.from_key(alice.tls_key, alice.tls_certificate_pem)
    with pinned_channel(
        orchestrator.address, orchestrator.certificate_pem, client=identity
    ) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", "accord.v1.Orchestrator"):
            response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT)
            assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_the_identity_is_made_once_with_a_private_key_file(orchestrator, tmp_path):
    key_file = tmp_path / "data" / "tls-key.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert orchestrator.certificate_path.read_bytes() == orchestrator.certificate_pem
