"""Execution: echo outputs sealed per recipient, failures recorded, per-executor dispatch."""

import pytest
from consensus_helpers import Clock, NoBlobs, World, approve, make_command, provision

from accord.crypto.keyrelease import seal_key_release
from accord.crypto.keys import DataKey
from accord.crypto.sealed import unseal_bytes
from accord.enclave import EnclaveSession
from accord.enclave.executor import (
    BUILTIN_OPERATIONS,
    MAX_ECHO_BYTES,
    CommandRunner,
    Executor,
    PlainOutput,
)
from accord.enclave.receipts import verify_receipt
from accord.errors import IntegrityError, KeyMaterialError


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return World(tmp_path_factory.mktemp("parties"))


@pytest.fixture
def session(world):
    session = EnclaveSession.create(world.agreement.digest)
    provision(session, world.agreement, world.alice, world.bob)
    return session


def run(world, session, *, operations=BUILTIN_OPERATIONS, **changes):
    runner = CommandRunner(world.agreement, session, NoBlobs(), operations=operations, now=Clock())
    command = make_command(world.agreement, [session.session_id], **changes)
    outcome = runner.run(command.to_bytes(), approve(command, world.alice, world.bob))
    return runner, outcome


def test_echo_output_opens_only_with_each_recipients_own_key(world, session):
    _, outcome = run(world, session, arguments={"message": "héllo, parties"})
    assert outcome.status == "executed"
    by_recipient = {output.recipient: output for output in outcome.outputs}
    assert sorted(by_recipient) == ["alice", "bob"]
    for party in (world.alice, world.bob):
        output = by_recipient[party.name]
        assert output.name == "echo"
        assert unseal_bytes(output.sealed, party.data_key) == "héllo, parties".encode()
    with pytest.raises((KeyMaterialError, IntegrityError)):
        unseal_bytes(by_recipient["alice"].sealed, world.bob.data_key)
    assert b"parties" not in by_recipient["alice"].sealed


def test_receipt_lists_each_sealed_outputs_digest(world, session):
    _, outcome = run(world, session)
    receipt = verify_receipt(outcome.receipt, session=session.public_keys)
    assert [(o.recipient, o.name, o.digest) for o in receipt.outputs] == [
        (o.recipient, o.name, o.digest) for o in outcome.outputs
    ]


def test_recipient_without_a_provisioned_key_fails_the_command(world, session):
    runner, outcome = run(world, session, recipients=["alice", "carol"])
    assert outcome.status == "failed"
    assert outcome.error == (
        f"recipient carol has not provisioned a data key to session "
        f"{session.session_id[:8]}..; carol must attest this node and provision"
    )
    assert outcome.outputs == ()
    assert runner.gate.next_sequence == 2
    assert len(runner.audit) == 1


def test_outputs_use_the_key_the_recipient_released_last(world, session):
    rotated = DataKey.generate()
    message = seal_key_release(
        data_key=rotated,
        party="bob",
        signing_key=world.bob.signing_key,
        session=session.public_keys,
    )
    session.accept_key_release(message, parties=world.agreement.party_keys)
    _, outcome = run(world, session, recipients=["bob"])
    assert unseal_bytes(outcome.outputs[0].sealed, rotated) == b"hello from alice"


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        ({}, "exactly one argument, 'message'"),
        ({"message": 7}, "exactly one argument, 'message', a string"),
        ({"message": "hi", "extra": 1}, "exactly one argument"),
        ({"message": ""}, "must be 1 to 65536 bytes"),
        ({"message": "x" * (MAX_ECHO_BYTES + 1)}, "is 65537 bytes"),
    ],
)
def test_bad_echo_arguments_fail_the_command(world, session, arguments, match):
    runner, outcome = run(world, session, arguments=arguments)
    assert outcome.status == "failed"
    assert match in outcome.error
    assert runner.gate.next_sequence == 2


def test_largest_echo_message_runs(world, session):
    _, outcome = run(world, session, arguments={"message": "x" * MAX_ECHO_BYTES})
    assert outcome.status == "executed"


def test_a_handler_cannot_send_output_to_someone_the_command_does_not_name(world, session):
    def leaky(context):
        return [PlainOutput("bob", "echo", b"secret for bob")]

    _, outcome = run(world, session, recipients=["alice"], operations={"echo": leaky})
    assert outcome.status == "failed"
    assert "'bob', who is not a recipient" in outcome.error
    assert outcome.outputs == ()


def test_a_handler_cannot_emit_the_same_output_twice(world, session):
    def twice(context):
        return [PlainOutput("alice", "echo", b"1"), PlainOutput("alice", "echo", b"2")]

    _, outcome = run(world, session, recipients=["alice"], operations={"echo": twice})
    assert outcome.status == "failed"
    assert "output 'echo' for alice twice" in outcome.error


def test_an_unexpected_exception_fails_the_command_without_its_message(world, session):
    def broken(context):
        raise RuntimeError("plaintext row 17: alice, 52000")

    runner, outcome = run(world, session, operations={"echo": broken})
    assert outcome.status == "failed"
    assert outcome.error == "internal error (RuntimeError) while running 'echo'"
    assert runner.gate.next_sequence == 2


def test_operation_tables_belong_to_each_executor(world, session):
    def loud(context):
        return [PlainOutput(r, "echo", b"LOUD") for r in context.command.recipients]

    custom = Executor(session, NoBlobs(), operations={**BUILTIN_OPERATIONS, "train": loud})
    plain = Executor(session, NoBlobs())
    assert custom.operations == frozenset({"echo", "train"})
    assert plain.operations == frozenset({"echo"})
    assert set(BUILTIN_OPERATIONS) == {"echo"}
    with pytest.raises(TypeError):
        BUILTIN_OPERATIONS["train"] = loud  # type: ignore[index]


def test_party_data_key_names_the_party_and_session(world, session):
    assert session.party_data_key("alice") == world.alice.data_key
    with pytest.raises(KeyMaterialError, match="recipient carol has not provisioned"):
        session.party_data_key("carol")
