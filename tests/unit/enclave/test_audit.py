"""The audit log and receipts as a party checks them with the attested session keys."""

import base64
import hashlib
import json

import pytest
from consensus_helpers import Clock, NoBlobs, World, approve, make_command, provision

from accord._internal.canonical import canonical_json
from accord.enclave import EnclaveSession
from accord.enclave.audit import GENESIS_HASH, verify_audit_log
from accord.enclave.executor import CommandRunner
from accord.enclave.receipts import OutputDigest, Receipt, sign_receipt, verify_receipt
from accord.errors import IntegrityError, UsageError, VerificationError


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return World(tmp_path_factory.mktemp("parties"))


@pytest.fixture(scope="module")
def node(world):
    """A node that ran three commands: executed, failed (carol has no key), executed."""
    session = EnclaveSession.create(world.agreement.digest)
    provision(session, world.agreement, world.alice, world.bob)
    clock = Clock()
    runner = CommandRunner(world.agreement, session, NoBlobs(), now=clock)
    outcomes = []
    for sequence, recipients in enumerate((["alice", "bob"], ["carol"], ["bob"]), start=1):
        command = make_command(
            world.agreement,
            [session.session_id],
            sequence=sequence,
            clock=clock,
            recipients=recipients,
            arguments={"message": f"message {sequence}"},
        )
        outcomes.append(runner.run(command.to_bytes(), approve(command, world.alice, world.bob)))
    return session, runner, outcomes


@pytest.fixture
def entries(node):
    return node[1].audit.entries()


def verify(entries, node, world):
    return verify_audit_log(entries, session=node[0].public_keys, agreement=world.agreement)


def edit(data, change, *, rehash=False, signer=None):
    """Change an entry's content; optionally recompute its hash and re-sign it."""
    wrapper = json.loads(data)
    change(wrapper["entry"])
    if rehash or signer is not None:
        wrapper["hash"] = hashlib.sha256(canonical_json(wrapper["entry"])).hexdigest()
    if signer is not None:
        signature = signer.sign(bytes.fromhex(wrapper["hash"]), context="audit-entry")
        wrapper["signature"] = base64.b64encode(signature).decode()
    return canonical_json(wrapper)


def test_a_genuine_log_verifies(node, world, entries):
    log = verify(entries, node, world)
    assert len(log) == 3
    assert [e.status for e in log.entries] == ["executed", "failed", "executed"]
    assert [e.command.sequence for e in log.entries] == [1, 2, 3]
    assert log.entries[0].previous == GENESIS_HASH
    assert log.entries[1].previous == log.entries[0].hash
    assert log.head_hash == node[1].audit.head_hash
    assert "carol has not provisioned" in log.entries[1].error
    assert [o.recipient for o in log.entries[0].outputs] == ["alice", "bob"]
    assert [a.party for a in log.entries[2].approvals] == ["alice", "bob"]


def test_entries_from_an_index_are_a_suffix(node, entries):
    assert node[1].audit.entries(1) == entries[1:]
    with pytest.raises(UsageError):
        node[1].audit.entries(-1)


def test_tampered_entry_is_refused_naming_its_index(node, world, entries):
    def change(entry):
        entry["command"]["arguments"]["message"] = "forged"

    tampered = [entries[0], edit(entries[1], change), entries[2]]
    with pytest.raises(VerificationError, match="entry 1 has a hash that does not match"):
        verify(tampered, node, world)


def test_tampered_entry_with_a_recomputed_hash_is_refused(node, world, entries):
    def change(entry):
        entry["status"] = "executed"

    tampered = [entries[0], edit(entries[1], change, rehash=True), entries[2]]
    with pytest.raises(VerificationError, match="entry 1 is not signed by session"):
        verify(tampered, node, world)


def test_reordered_entries_are_refused(node, world, entries):
    with pytest.raises(VerificationError, match="entry 1 carries index 2"):
        verify([entries[0], entries[2], entries[1]], node, world)


def test_dropped_middle_entry_is_refused(node, world, entries):
    with pytest.raises(VerificationError, match="entry 1 carries index 2: an entry is missing"):
        verify([entries[0], entries[2]], node, world)


def test_log_that_does_not_start_at_zero_is_refused(node, world, entries):
    with pytest.raises(VerificationError, match="entry 0 carries index 1"):
        verify(entries[1:], node, world)


def test_entry_signed_by_another_session_key_is_refused(node, world, entries):
    other = EnclaveSession.create(world.agreement.digest)
    resigned = edit(entries[0], lambda entry: None, signer=other.signing_key)
    with pytest.raises(VerificationError, match="entry 0 is not signed by session"):
        verify([resigned, *entries[1:]], node, world)


def test_log_checked_against_another_attested_session_is_refused(node, world, entries):
    other = EnclaveSession.create(world.agreement.digest)
    with pytest.raises(VerificationError, match="entry 0 is not signed by session"):
        verify_audit_log(entries, session=other.public_keys, agreement=world.agreement)


def test_entry_whose_approvals_do_not_satisfy_the_rule_is_refused(node, world, entries):
    """A node that ran a command on alice's word alone is caught, even if it signs the entry."""

    def drop_bob(entry):
        entry["approvals"] = [a for a in entry["approvals"] if a["party"] == "alice"]

    session = node[0]
    forged = edit(entries[0], drop_bob, signer=session.signing_key)
    with pytest.raises(VerificationError, match=r"entry 0 ran sequence 1 .* needs 2 of alice"):
        verify([forged], node, world)


def test_entry_counting_a_non_party_approval_is_refused(node, world, entries):
    def add_mallory(entry):
        entry["approvals"].append({"party": "mallory", "signature": "AA" * 44})

    forged = edit(entries[0], add_mallory, signer=node[0].signing_key)
    with pytest.raises(VerificationError, match="entry 0 counts an approval by 'mallory'"):
        verify([forged], node, world)


def test_entry_with_a_broken_chain_link_is_refused(node, world, entries):
    def relink(entry):
        entry["previous"] = "11" * 32

    forged = edit(entries[1], relink, signer=node[0].signing_key)
    with pytest.raises(VerificationError, match="entry 1 names previous hash 11111111"):
        verify([entries[0], forged, entries[2]], node, world)


def test_receipt_verifies_with_the_attested_key_and_matches_the_log(node):
    session, runner, outcomes = node
    receipt = verify_receipt(outcomes[0].receipt, session=session.public_keys)
    entry = runner.audit.entries()[0]
    assert receipt.audit_hash == json.loads(entry)["hash"]
    assert receipt.audit_index == 0
    assert receipt.status == "executed"
    assert receipt.error is None
    for output in outcomes[0].outputs:
        receipt.check_output(output.recipient, output.name, output.sealed)
    failed = verify_receipt(outcomes[1].receipt, session=session.public_keys)
    assert failed.status == "failed"
    assert "carol has not provisioned" in failed.error
    assert failed.outputs == ()


def test_altered_output_does_not_match_its_receipt(node):
    session, _, outcomes = node
    receipt = verify_receipt(outcomes[0].receipt, session=session.public_keys)
    output = outcomes[0].outputs[0]
    with pytest.raises(IntegrityError, match="altered after the enclave produced it"):
        receipt.check_output(output.recipient, output.name, output.sealed + b"x")
    with pytest.raises(IntegrityError, match="lists no output 'model'"):
        receipt.check_output(output.recipient, "model", output.sealed)


def test_tampered_receipt_is_refused(node):
    session, _, outcomes = node
    wrapper = json.loads(outcomes[1].receipt)
    wrapper["receipt"]["status"] = "executed"
    wrapper["receipt"]["error"] = None
    with pytest.raises(VerificationError, match="not signed by session"):
        verify_receipt(canonical_json(wrapper), session=session.public_keys)


def test_receipt_signed_by_another_session_is_refused(node, world):
    session, _, outcomes = node
    other = EnclaveSession.create(world.agreement.digest)
    receipt = verify_receipt(outcomes[0].receipt, session=session.public_keys)
    forged = sign_receipt(receipt, other.signing_key)
    with pytest.raises(VerificationError, match="not signed by session"):
        verify_receipt(forged, session=session.public_keys)
    with pytest.raises(VerificationError, match="is from session"):
        verify_receipt(outcomes[0].receipt, session=other.public_keys)


def test_receipt_with_an_audit_signature_context_is_refused(node):
    """An audit-entry signature over the receipt hash is not a receipt signature."""
    session, _, outcomes = node
    wrapper = json.loads(outcomes[0].receipt)
    digest = hashlib.sha256(canonical_json(wrapper["receipt"])).digest()
    signature = session.signing_key.sign(digest, context="audit-entry")
    wrapper["signature"] = base64.b64encode(signature).decode()
    with pytest.raises(VerificationError, match="not signed by session"):
        verify_receipt(canonical_json(wrapper), session=session.public_keys)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"status": "failed", "error": None}, "carries no error text"),
        ({"status": "executed", "error": "boom"}, "executed but carries an error"),
        ({"status": "done"}, "'status' must be"),
        ({"audit_index": -1}, "'audit_index'"),
        ({"session_id": "xyz"}, "'session_id' must be 32"),
    ],
)
def test_inconsistent_receipts_cannot_be_built(fields, match):
    base = {
        "session_id": "5e" * 16,
        "command_digest": "cd" * 32,
        "audit_index": 0,
        "audit_hash": "ab" * 32,
        "status": "executed",
        "error": None,
        "outputs": (),
    }
    with pytest.raises(UsageError, match=match):
        Receipt(**{**base, **fields})


def test_failed_receipt_cannot_list_outputs():
    with pytest.raises(UsageError, match="failed but lists outputs"):
        Receipt(
            session_id="5e" * 16,
            command_digest="cd" * 32,
            audit_index=0,
            audit_hash="ab" * 32,
            status="failed",
            error="boom",
            outputs=(OutputDigest("alice", "echo", "ef" * 32),),
        )


def test_first_entry_must_start_the_chain(node, world, entries):
    def relink(entry):
        entry["previous"] = "22" * 32

    forged = edit(entries[0], relink, signer=node[0].signing_key)
    with pytest.raises(VerificationError, match=r"entry 0 names previous hash 22222222.* first"):
        verify([forged], node, world)


def test_session_keys_for_another_agreement_are_refused(world, entries):
    other = EnclaveSession.create("ee" * 32)
    with pytest.raises(VerificationError, match="session keys are for agreement eeeeeeee"):
        verify_audit_log(entries, session=other.public_keys, agreement=world.agreement)
