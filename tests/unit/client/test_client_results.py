"""Results are accepted only with receipts signed by attested sessions and matching digests."""

import datetime as dt
import hashlib

import grpc
import pytest

from accord.agreement import load_signed_agreement
from accord.attest.backends import SimulatedQuoter
from accord.client import new_nonce, verify_enclave
from accord.client.nodes import AttestedNode
from accord.client.results import verify_results
from accord.crypto.sealed import seal_bytes
from accord.enclave import EnclaveSession
from accord.enclave.attestation import attest_session
from accord.enclave.commands import Command
from accord.enclave.receipts import OutputDigest, Receipt, sign_receipt
from accord.errors import IntegrityError, KeyMaterialError, UsageError, VerificationError
from accord.v1 import common_pb2, orchestrator_pb2

pytestmark = pytest.mark.filterwarnings("ignore::accord.attest.AccordSecurityWarning")


@pytest.fixture(scope="module")
def agreement(world):
    return load_signed_agreement(world["agreement_path"])


@pytest.fixture(scope="module")
def nodes(agreement):
    """Two attested sessions, as a client holds them after attest()."""
    attested = {}
    for node_id in ("node-1", "node-2"):
        session = EnclaveSession.create(agreement.digest)
        nonce = new_nonce()
        bundle = attest_session(session, SimulatedQuoter(), nonce)
        evidence = verify_enclave(bundle.to_bytes(), agreement=agreement, nonce=nonce)
        node = AttestedNode(
            node_id=node_id,
            address="127.0.0.1:1",
            evidence=evidence,
            certificate_pem=session.tls_certificate_pem,
            channel=grpc.insecure_channel("127.0.0.1:1"),
        )
        attested[session.session_id] = (node, session)
    return attested


@pytest.fixture
def command(agreement, nodes):
    return Command.create(
        agreement_digest=agreement.digest,
        session_ids=list(nodes),
        sequence=1,
        operation="echo",
        arguments={"message": "hi"},
        recipients=["alice", "bob"],
        proposer="alice",
        ttl=dt.timedelta(minutes=5),
    )


def node_result(
    command, session, node_id, parties, *, message=b"hi", signer=None, status="executed"
):
    outputs = [
        common_pb2.Output(recipient=name, name="echo", sealed=seal_bytes(message, p.data_key))
        for name, p in sorted(parties.items())
    ]
    for output in outputs:
        output.digest = hashlib.sha256(output.sealed).hexdigest()
    receipt = Receipt(
        session_id=session.session_id,
        command_digest=command.digest,
        audit_index=0,
        audit_hash="ab" * 32,
        status=status,
        error=None if status == "executed" else "it broke",
        outputs=tuple(OutputDigest(o.recipient, o.name, o.digest) for o in outputs)
        if status == "executed"
        else (),
    )
    return orchestrator_pb2.NodeResult(
        node_id=node_id,
        session_id=session.session_id,
        receipt=sign_receipt(receipt, (signer or session).signing_key),
        outputs=outputs if status == "executed" else [],
    )


@pytest.fixture
def parties(world):
    return {name: world["parties"][name] for name in ("alice", "bob")}


def results_for(command, nodes, parties, **options):
    return [
        node_result(command, session, node.node_id, parties, **options)
        for node, session in nodes.values()
    ]


def verify(command, results, nodes, party, parties):
    attested = {session_id: node for session_id, (node, _) in nodes.items()}
    return verify_results(
        command, results, attested=attested, party=party, data_key=parties[party].data_key
    )


def test_verified_results_open_with_the_own_key_only(command, nodes, parties):
    result = verify(command, results_for(command, nodes, parties), nodes, "alice", parties)
    assert result.open("echo") == b"hi"
    assert result.names() == ["echo"]
    assert len(result.outputs()) == 4 and len(result.outputs(recipient="alice")) == 2


def test_a_receipt_signed_by_another_key_is_refused(command, nodes, parties):
    impostor = EnclaveSession.create(command.agreement_digest)
    results = results_for(command, nodes, parties)
    node, session = next(iter(nodes.values()))
    results[0] = node_result(command, session, node.node_id, parties, signer=impostor)
    with pytest.raises(VerificationError, match=r"not signed by session .*attested key"):
        verify(command, results, nodes, "alice", parties)


def test_a_swapped_output_fails_its_receipt_digest(command, nodes, parties):
    results = results_for(command, nodes, parties)
    forged = seal_bytes(b"forged", parties["alice"].data_key)
    results[0].outputs[0].sealed = forged
    results[0].outputs[0].digest = hashlib.sha256(forged).hexdigest()
    with pytest.raises(IntegrityError, match="receipt says"):
        verify(command, results, nodes, "alice", parties)


def test_an_output_whose_bytes_differ_from_its_digest_is_refused(command, nodes, parties):
    results = results_for(command, nodes, parties)
    results[1].outputs[0].digest = "00" * 32
    with pytest.raises(IntegrityError, match=r"not the 0000000000000000.. it was sent with"):
        verify(command, results, nodes, "alice", parties)


def test_a_withheld_own_output_is_detected(command, nodes, parties):
    results = results_for(command, nodes, parties)
    del results[0].outputs[0]  # alice's output from the first node
    with pytest.raises(IntegrityError, match="did not return it"):
        verify(command, results, nodes, "alice", parties)


def test_every_session_of_the_command_must_report(command, nodes, parties):
    results = results_for(command, nodes, parties)[:1]
    with pytest.raises(VerificationError, match="no signed receipt"):
        verify(command, results, nodes, "alice", parties)


def test_a_receipt_for_another_command_is_refused(command, nodes, parties, agreement):
    other = Command.create(
        agreement_digest=agreement.digest,
        session_ids=list(nodes),
        sequence=2,
        operation="echo",
        arguments={"message": "other"},
        recipients=["alice"],
        proposer="alice",
        ttl=dt.timedelta(minutes=5),
    )
    with pytest.raises(VerificationError, match="relayed another command's result"):
        verify(command, results_for(other, nodes, parties), nodes, "alice", parties)


def test_a_failed_receipt_is_not_a_result(command, nodes, parties):
    results = results_for(command, nodes, parties, status="failed")
    with pytest.raises(VerificationError, match="failed: it broke"):
        verify(command, results, nodes, "alice", parties)


def test_unattested_sessions_cannot_be_checked(command, nodes, parties):
    results = results_for(command, nodes, parties)
    with pytest.raises(VerificationError, match="has not attested"):
        verify_results(
            command, results, attested={}, party="alice", data_key=parties["alice"].data_key
        )


def test_nodes_that_disagree_are_reported(command, nodes, parties):
    results = results_for(command, nodes, parties)
    node, session = list(nodes.values())[1]
    results[1] = node_result(command, session, node.node_id, parties, message=b"other")
    result = verify(command, results, nodes, "alice", parties)
    with pytest.raises(IntegrityError, match="different contents"):
        result.open("echo")
    assert result.open("echo", node_id=node.node_id) == b"other"


def test_an_unknown_output_name_says_what_exists(command, nodes, parties):
    result = verify(command, results_for(command, nodes, parties), nodes, "bob", parties)
    with pytest.raises(UsageError, match="no output 'model' for bob; its outputs for bob: echo"):
        result.open("model")


def test_another_partys_output_is_not_openable(command, nodes, parties):
    alone = {"alice": parties["alice"]}
    results = results_for(command, nodes, alone)
    result = verify(command, results, nodes, "bob", parties)
    with pytest.raises(KeyMaterialError, match="sealed for alice, not for bob"):
        result.open("echo")
