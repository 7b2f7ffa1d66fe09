"""The enclave node's gRPC service, served in-process on loopback over the session's TLS key.

Parties call it as they would a remote node: through a channel pinned to the certificate the
node presents, with Accord errors carried across the wire by accord.transport.
"""

import datetime as dt
import hashlib
import warnings

import pytest
from consensus_helpers import MEASUREMENT, World, approve, make_command, replace

from accord.attest import AccordSecurityWarning
from accord.attest.backends import SimulatedQuoter
from accord.client import new_nonce, release_data_key, verify_enclave
from accord.crypto.sealed import unseal_bytes
from accord.enclave.audit import verify_audit_log
from accord.enclave.blobs import BlobStore
from accord.enclave.commands import Approval, sign_command
from accord.enclave.receipts import verify_receipt
from accord.enclave.server import (
    MAX_BLOB_CHUNK_BYTES,
    NODE_SERVICE_NAME,
    EnclaveNodeServicer,
    start_node,
)
from accord.errors import (
    ApprovalError,
    IntegrityError,
    KeyMaterialError,
    UsageError,
    VerificationError,
)
from accord.transport import (
    call,
    check_attested_tls_key,
    fetch_unverified_server_certificate,
    pinned_channel,
    wait_until_serving,
)
from accord.v1 import common_pb2, node_pb2, node_pb2_grpc

TIMEOUT = 10.0
BLOB_LIMIT = 256 * 1024


def real_now():
    return dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return World(tmp_path_factory.mktemp("parties"))


@pytest.fixture
def node(world, tmp_path):
    blobs = BlobStore(tmp_path / "blobs", max_blob_bytes=BLOB_LIMIT)
    running = start_node(
        world.agreement,
        listen="127.0.0.1:0",
        blobs=blobs,
        quoter=SimulatedQuoter(measurement=MEASUREMENT),
    )
    yield running
    running.stop(grace=0.5)


class Party:
    """One party's view of the node: a pinned channel and the calls it makes."""

    def __init__(self, address, certificate):
        self.address = address
        self.certificate = certificate
        self.channel = pinned_channel(address, certificate)
        self.stub = node_pb2_grpc.EnclaveNodeStub(self.channel)

    def call(self, method, request):
        return call(
            getattr(self.stub, method), request, peer=f"node {self.address}", timeout=TIMEOUT
        )

    def attest(self, agreement):
        nonce = new_nonce()
        bundle = self.call("Attest", node_pb2.AttestRequest(nonce=nonce)).bundle
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AccordSecurityWarning)
            verified = verify_enclave(bundle, agreement=agreement, nonce=nonce)
        check_attested_tls_key(
            self.certificate, verified.session_keys.tls_public_key, peer=self.address
        )
        return verified

    def provision(self, identity, verified, agreement):
        message = release_data_key(identity, verified, agreement=agreement)
        return self.call("ProvisionKey", node_pb2.ProvisionKeyRequest(key_release=message))

    def execute(self, command, approvals):
        request = node_pb2.ExecuteRequest(
            command=command.to_bytes(),
            approvals=[
                common_pb2.Approval(party=a.party, signature=a.signature) for a in approvals
            ],
        )
        return self.call("Execute", request)

    def status(self):
        return self.call("GetStatus", node_pb2.NodeStatusRequest())

    def audit(self, from_index=0):
        return list(
            self.call("GetAuditLog", node_pb2.AuditLogRequest(from_index=from_index)).entries
        )

    def put_blob(self, chunks):
        return self.call("PutBlob", iter(chunks))

    def has_blob(self, blob_id):
        return self.call("HasBlob", common_pb2.BlobRef(blob_id=blob_id)).present

    def close(self):
        self.channel.close()


@pytest.fixture
def party(node):
    connection = Party(node.address, fetch_unverified_server_certificate(node.address))
    yield connection
    connection.close()


@pytest.fixture
def verified(party, world):
    return party.attest(world.agreement)


@pytest.fixture
def provisioned(party, world, verified):
    """alice and bob released their data keys to the node."""
    for identity in (world.alice, world.bob):
        party.provision(identity, verified, world.agreement)
    return verified


def echo_command(world, session_id, **changes):
    return make_command(world.agreement, [session_id], clock=real_now, **changes)


def test_the_node_serves_its_attested_session_certificate_and_reports_serving(node, party):
    assert party.certificate == node.session.tls_certificate_pem
    wait_until_serving(party.channel, TIMEOUT, service=NODE_SERVICE_NAME)


def test_attest_returns_evidence_the_party_sdk_accepts(node, party, world):
    verified = party.attest(world.agreement)
    assert verified.session_keys.session_id == node.session_id
    assert verified.session_keys.agreement_digest == world.agreement.digest
    assert verified.evidence.claims.measurement == MEASUREMENT


@pytest.mark.parametrize("size", [0, 15, 65])
def test_attest_refuses_a_nonce_of_the_wrong_size(party, size):
    with pytest.raises(UsageError, match="nonce must be 16 to 64 bytes"):
        party.call("Attest", node_pb2.AttestRequest(nonce=b"n" * size))


def test_a_party_provisions_its_key_and_the_node_lists_it(node, party, world, verified):
    response = party.provision(world.alice, verified, world.agreement)
    assert response.key_id == world.alice.data_key.key_id
    assert response.session_id == node.session_id
    assert list(party.status().key_ids) == [world.alice.data_key.key_id]


def test_a_non_partys_key_release_is_refused(party, world, verified):
    from accord.crypto.keyrelease import seal_key_release

    message = seal_key_release(
        data_key=world.mallory.data_key,
        party="mallory",
        signing_key=world.mallory.signing_key,
        session=verified.session_keys,
    )
    with pytest.raises(VerificationError, match="mallory"):
        party.call("ProvisionKey", node_pb2.ProvisionKeyRequest(key_release=message))
    assert list(party.status().key_ids) == []


def test_an_oversized_key_release_is_refused_before_parsing(party):
    with pytest.raises(UsageError, match="key release is 16385 bytes"):
        party.call("ProvisionKey", node_pb2.ProvisionKeyRequest(key_release=b"{" * 16385))


def test_status_reports_the_session_and_the_next_sequence(node, party, world):
    status = party.status()
    assert status.session_id == node.session_id
    assert status.agreement_digest == world.agreement.digest
    assert status.next_sequence == 1
    assert status.backend == "simulated"


def test_an_approved_echo_runs_and_each_recipient_opens_its_output(node, party, world, provisioned):
    command = echo_command(world, node.session_id)
    response = party.execute(command, approve(command, world.alice, world.bob))

    receipt = verify_receipt(response.receipt, session=provisioned.session_keys)
    assert receipt.status == "executed"
    assert receipt.command_digest == command.digest
    assert sorted(output.recipient for output in response.outputs) == ["alice", "bob"]
    for output in response.outputs:
        assert output.digest == hashlib.sha256(output.sealed).hexdigest()
        receipt.check_output(output.recipient, output.name, output.sealed)
        key = getattr(world, output.recipient).data_key
        assert unseal_bytes(output.sealed, key) == b"hello from alice"

    entries = party.audit()
    assert len(entries) == 1
    log = verify_audit_log(entries, session=provisioned.session_keys, agreement=world.agreement)
    assert len(log) == 1
    assert party.status().next_sequence == 2


def test_a_recipient_cannot_open_another_recipients_output(node, party, world, provisioned):
    command = echo_command(world, node.session_id)
    response = party.execute(command, approve(command, world.alice, world.bob))
    for_alice = next(output for output in response.outputs if output.recipient == "alice")
    with pytest.raises((KeyMaterialError, IntegrityError)):
        unseal_bytes(for_alice.sealed, world.bob.data_key)


def test_a_command_missing_an_approval_is_refused_and_changes_nothing(
    node, party, world, provisioned
):
    command = echo_command(world, node.session_id)
    with pytest.raises(ApprovalError, match="sequence 1"):
        party.execute(command, approve(command, world.alice))
    assert party.audit() == []
    assert party.status().next_sequence == 1


def test_a_forged_approval_is_refused_and_changes_nothing(node, party, world, provisioned):
    command = echo_command(world, node.session_id)
    mallory_key = world.mallory.signing_key
    forged = [*approve(command, world.alice), Approval("bob", sign_command(command, mallory_key))]
    with pytest.raises(VerificationError, match="bob"):
        party.execute(command, forged)
    assert party.audit() == []
    assert party.status().next_sequence == 1


def test_arguments_changed_after_signing_are_refused(node, party, world, provisioned):
    command = echo_command(world, node.session_id)
    approvals = approve(command, world.alice, world.bob)
    altered = replace(command, arguments={"message": "something else"})
    with pytest.raises(VerificationError):
        party.execute(altered, approvals)
    assert party.audit() == []


def test_a_replayed_command_is_refused(node, party, world, provisioned):
    command = echo_command(world, node.session_id)
    approvals = approve(command, world.alice, world.bob)
    party.execute(command, approvals)
    with pytest.raises(VerificationError, match="already executed"):
        party.execute(command, approvals)
    assert len(party.audit()) == 1
    assert party.status().next_sequence == 2


def test_an_admitted_command_that_fails_is_logged_and_consumes_its_sequence(
    node, party, world, provisioned
):
    command = echo_command(world, node.session_id, recipients=["carol"])
    response = party.execute(command, approve(command, world.alice, world.bob))
    receipt = verify_receipt(response.receipt, session=provisioned.session_keys)
    assert receipt.status == "failed"
    assert "carol has not provisioned" in receipt.error
    assert list(response.outputs) == []
    entries = party.audit()
    log = verify_audit_log(entries, session=provisioned.session_keys, agreement=world.agreement)
    assert len(log) == 1
    assert party.status().next_sequence == 2


def test_oversized_commands_and_too_many_approvals_are_refused(node, party, world):
    huge = node_pb2.ExecuteRequest(command=b"{" * (1024 * 1024 + 1))
    with pytest.raises(UsageError, match="the command is 1048577 bytes"):
        party.call("Execute", huge)
    command = echo_command(world, node.session_id)
    many = node_pb2.ExecuteRequest(
        command=command.to_bytes(),
        approvals=[common_pb2.Approval(party="alice", signature=b"s" * 64)] * 257,
    )
    with pytest.raises(UsageError, match="257 approvals"):
        party.call("Execute", many)
    assert party.status().next_sequence == 1


def test_audit_log_from_an_index_past_the_end_is_empty(party):
    assert party.audit(from_index=5) == []


def test_a_blob_is_uploaded_in_chunks_and_found(node, party):
    data = b"c" * 3000
    blob_id = hashlib.sha256(data).hexdigest()
    chunks = [common_pb2.BlobChunk(blob_id=blob_id, data=data[:1000])] + [
        common_pb2.BlobChunk(data=data[i : i + 1000]) for i in (1000, 2000)
    ]
    ref = party.put_blob(chunks)
    assert (ref.blob_id, ref.size) == (blob_id, 3000)
    assert party.has_blob(blob_id)
    assert node.servicer.blobs.path(blob_id).read_bytes() == data


def test_a_blob_with_a_wrong_hash_is_refused_and_leaves_nothing(node, party, tmp_path):
    data = b"ciphertext"
    claimed = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(IntegrityError, match=f"claimed to be blob {claimed}"):
        party.put_blob([common_pb2.BlobChunk(blob_id=claimed, data=data)])
    assert not party.has_blob(claimed)
    assert list((tmp_path / "blobs").iterdir()) == []


def test_blob_uploads_with_bad_framing_are_refused(party, tmp_path):
    data = b"x" * 10
    blob_id = hashlib.sha256(data).hexdigest()
    other = hashlib.sha256(b"other").hexdigest()
    with pytest.raises(UsageError, match="no chunk"):
        party.put_blob([])
    with pytest.raises(UsageError, match="not a SHA-256 digest"):
        party.put_blob([common_pb2.BlobChunk(blob_id="../../etc/passwd", data=data)])
    with pytest.raises(UsageError, match="names another blob"):
        party.put_blob(
            [common_pb2.BlobChunk(blob_id=blob_id, data=data), common_pb2.BlobChunk(blob_id=other)]
        )
    big = b"b" * (MAX_BLOB_CHUNK_BYTES + 1)
    with pytest.raises(UsageError, match="a chunk of blob"):
        party.put_blob([common_pb2.BlobChunk(blob_id=hashlib.sha256(big).hexdigest(), data=big)])
    assert list((tmp_path / "blobs").iterdir()) == []


def test_a_blob_over_the_nodes_limit_is_refused(party, tmp_path):
    data = b"z" * (BLOB_LIMIT + 1)
    blob_id = hashlib.sha256(data).hexdigest()
    chunks = [common_pb2.BlobChunk(blob_id=blob_id, data=data[: BLOB_LIMIT // 2])]
    chunks.append(common_pb2.BlobChunk(data=data[BLOB_LIMIT // 2 :]))
    with pytest.raises(UsageError, match="larger than this node's limit"):
        party.put_blob(chunks)
    assert list((tmp_path / "blobs").iterdir()) == []


def test_has_blob_refuses_a_malformed_id(party):
    with pytest.raises(UsageError, match="not a SHA-256 digest"):
        party.has_blob("nope")


def test_a_servicer_refuses_a_session_of_another_agreement(world, tmp_path):
    from accord.enclave import EnclaveSession

    session = EnclaveSession.create(hashlib.sha256(b"another agreement").hexdigest())
    with pytest.raises(UsageError, match="another agreement"):
        EnclaveNodeServicer(
            agreement=world.agreement,
            session=session,
            quoter=SimulatedQuoter(measurement=MEASUREMENT),
            blobs=BlobStore(tmp_path / "blobs"),
        )


class BrokenRunner:
    """A command path that fails with an unexpected exception carrying a detail."""

    def run(self, command_bytes, approvals):
        raise RuntimeError("detail that must not leave the enclave")


def test_an_unexpected_failure_is_reported_without_its_details(world, tmp_path):
    from accord.crypto.keys import SECRET_KEY_ACCESS
    from accord.enclave import EnclaveSession
    from accord.errors import AccordError
    from accord.transport import (
        TlsIdentity,
        bind_server,
        create_server,
        server_credentials,
    )

    session = EnclaveSession.create(world.agreement.digest)
    servicer = EnclaveNodeServicer(
        agreement=world.agreement,
        session=session,
        quoter=SimulatedQuoter(measurement=MEASUREMENT),
        blobs=BlobStore(tmp_path / "blobs"),
        runner=BrokenRunner(),
    )
    server = create_server(max_workers=2)
    node_pb2_grpc.add_EnclaveNodeServicer_to_server(servicer, server)
    identity = TlsIdentity.from_pem(
        session.tls_private_key_pem(SECRET_KEY_ACCESS),
        session.tls_certificate_pem,
        SECRET_KEY_ACCESS,
    )
    address = bind_server(server, "127.0.0.1:0", server_credentials(identity))
    server.start()
    party = Party(address, session.tls_certificate_pem)
    try:
        command = echo_command(world, session.session_id)
        with pytest.raises(
            AccordError, match=r"Execute with an internal error \(RuntimeError\)"
        ) as caught:
            party.execute(command, approve(command, world.alice, world.bob))
        assert type(caught.value) is AccordError
        assert "detail" not in caught.value.message
    finally:
        party.close()
        server.stop(0)
