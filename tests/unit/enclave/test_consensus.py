"""The node's consensus check: every attack a relay or a party can make fails and changes nothing.

Each attack goes through the node's whole command path (CommandRunner) and then shows that
the sequence number did not advance, the audit log did not grow and the operation never ran.
"""

import datetime as dt
import os

import pytest
from consensus_helpers import (
    Clock,
    NoBlobs,
    World,
    approve,
    make_command,
    provision,
    replace,
    signed_agreement,
)

from accord.enclave import EnclaveSession
from accord.enclave.commands import Approval
from accord.enclave.consensus import MAX_APPROVALS, CommandGate
from accord.enclave.executor import BUILTIN_OPERATIONS, CommandRunner, run_echo
from accord.errors import ApprovalError, UsageError, VerificationError


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return World(tmp_path_factory.mktemp("parties"))


class Node:
    """A node under test: a real session and runner whose echo records every run."""

    def __init__(self, world, clock):
        self.world = world
        self.clock = clock
        self.session = EnclaveSession.create(world.agreement.digest)
        provision(self.session, world.agreement, world.alice, world.bob)
        self.ran = []

        def recording_echo(context):
            self.ran.append(context.command.digest)
            return run_echo(context)

        self.runner = CommandRunner(
            world.agreement,
            self.session,
            NoBlobs(),
            operations={**BUILTIN_OPERATIONS, "echo": recording_echo},
            now=clock,
        )

    def command(self, **changes):
        changes.setdefault("sequence", self.runner.gate.next_sequence)
        sessions = changes.pop("session_ids", [self.session.session_id])
        return make_command(self.world.agreement, sessions, clock=self.clock, **changes)

    def run(self, command, approvals):
        data = command if isinstance(command, bytes) else command.to_bytes()
        return self.runner.run(data, approvals)

    def assert_unchanged(self, *, next_sequence=1, entries=0, ran=0):
        assert self.runner.gate.next_sequence == next_sequence
        assert len(self.runner.audit) == entries
        assert len(self.ran) == ran


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def node(world, clock):
    return Node(world, clock)


def test_a_command_with_the_required_approvals_runs_and_consumes_its_sequence(node, world):
    command = node.command()
    outcome = node.run(command, approve(command, world.alice, world.bob))
    assert outcome.status == "executed"
    assert [o.recipient for o in outcome.outputs] == ["alice", "bob"]
    assert node.ran == [command.digest]
    node.assert_unchanged(next_sequence=2, entries=1, ran=1)


def test_missing_signature_is_refused(node, world):
    command = node.command()
    with pytest.raises(ApprovalError, match="needs 2 of alice, bob, carol; has alice"):
        node.run(command, approve(command, world.alice))
    node.assert_unchanged()


def test_no_signature_at_all_is_refused(node):
    with pytest.raises(ApprovalError, match="has nobody"):
        node.run(node.command(), [])
    node.assert_unchanged()


def test_forged_signature_of_random_bytes_is_refused_naming_the_party(node, world):
    command = node.command()
    forged = [*approve(command, world.alice), Approval("bob", os.urandom(64))]
    with pytest.raises(VerificationError, match="approval by party bob does not verify"):
        node.run(command, forged)
    node.assert_unchanged()


def test_signature_by_another_key_is_refused(node, world):
    command = node.command()
    impostor = Approval("bob", approve(command, world.mallory)[0].signature)
    with pytest.raises(VerificationError, match="approval by party bob does not verify"):
        node.run(command, [*approve(command, world.alice), impostor])
    node.assert_unchanged()


def test_signature_made_for_another_context_is_refused(node, world):
    command = node.command()
    as_agreement = world.bob.signing_key.sign(bytes.fromhex(command.digest), context="agreement")
    approvals = [*approve(command, world.alice), Approval("bob", as_agreement)]
    with pytest.raises(VerificationError, match="another purpose than a command approval"):
        node.run(command, approvals)
    node.assert_unchanged()


def test_arguments_changed_after_signing_are_refused(node, world):
    signed = node.command()
    approvals = approve(signed, world.alice, world.bob)
    altered = replace(signed, arguments={"message": "hello from mallory"})
    assert altered.digest != signed.digest
    with pytest.raises(VerificationError, match="approval by party alice does not verify"):
        node.run(altered, approvals)
    node.assert_unchanged()


def test_recipients_changed_after_signing_are_refused(node, world):
    signed = node.command(recipients=["alice"])
    approvals = approve(signed, world.alice, world.bob)
    with pytest.raises(VerificationError, match="does not verify"):
        node.run(replace(signed, recipients=("alice", "bob")), approvals)
    node.assert_unchanged()


def test_replay_of_an_executed_command_is_refused(node, world):
    command = node.command()
    approvals = approve(command, world.alice, world.bob)
    node.run(command, approvals)
    with pytest.raises(VerificationError, match="sequence 1 already executed; next is 2"):
        node.run(command, approvals)
    node.assert_unchanged(next_sequence=2, entries=1, ran=1)


def test_sequence_gap_is_refused(node, world):
    command = node.command(sequence=3)
    with pytest.raises(VerificationError, match="sequence 3 skips ahead; this node expects 1"):
        node.run(command, approve(command, world.alice, world.bob))
    node.assert_unchanged()


def test_command_for_another_agreement_is_refused(node, world):
    other = signed_agreement([world.alice, world.bob, world.carol], name="other-study")
    command = replace(node.command(), agreement_digest=other.digest)
    with pytest.raises(VerificationError, match=f"is for agreement {other.digest[:16]}"):
        node.run(command, approve(command, world.alice, world.bob))
    node.assert_unchanged()


def test_command_for_another_session_is_refused(node, world):
    elsewhere = EnclaveSession.create(world.agreement.digest)
    command = node.command(session_ids=[elsewhere.session_id])
    with pytest.raises(VerificationError, match="this node's session is"):
        node.run(command, approve(command, world.alice, world.bob))
    node.assert_unchanged()


def test_expired_command_is_refused(node, world, clock):
    command = node.command()
    approvals = approve(command, world.alice, world.bob)
    clock.advance(dt.timedelta(hours=1))
    with pytest.raises(VerificationError, match="expired at 2026-11-02T13:00:00Z"):
        node.run(command, approvals)
    node.assert_unchanged()


def test_command_from_the_future_is_refused(node, world, clock):
    command = node.command(now=Clock(clock.now + dt.timedelta(minutes=10)))
    with pytest.raises(VerificationError, match="in the future for this node"):
        node.run(command, approve(command, world.alice, world.bob))
    node.assert_unchanged()


def test_small_clock_skew_is_tolerated(node, world, clock):
    command = node.command(now=Clock(clock.now + dt.timedelta(minutes=4)))
    assert node.run(command, approve(command, world.alice, world.bob)).status == "executed"


def test_unknown_partys_approval_counts_for_nothing(node, world):
    command = node.command()
    with pytest.raises(ApprovalError, match="has alice"):
        node.run(command, approve(command, world.alice, world.mallory))
    node.assert_unchanged()


def test_unknown_partys_approval_is_ignored_and_not_logged(node, world):
    command = node.command()
    outcome = node.run(command, approve(command, world.mallory, world.alice, world.bob))
    assert [a.party for a in outcome.entry.approvals] == ["alice", "bob"]


def test_duplicate_approvals_by_one_party_count_once(node, world):
    command = node.command()
    with pytest.raises(ApprovalError, match="has alice"):
        node.run(command, approve(command, world.alice, world.alice))
    node.assert_unchanged()


def test_too_many_approvals_are_refused_before_checking(node, world):
    command = node.command()
    with pytest.raises(VerificationError, match=f"at most {MAX_APPROVALS}"):
        node.run(command, approve(command, world.alice) * (MAX_APPROVALS + 1))
    node.assert_unchanged()


def test_recipient_the_output_policy_does_not_allow_is_refused(world):
    gate = CommandGate(world.agreement, "5e" * 16, now=Clock())
    command = make_command(
        world.agreement, ["5e" * 16], operation="release_model", arguments={}, recipients=["bob"]
    )
    approvals = approve(command, world.alice, world.bob, world.carol)
    with pytest.raises(ApprovalError, match="does not let bob receive the output of"):
        gate.admit(command.to_bytes(), approvals)
    assert gate.next_sequence == 1
    allowed = replace(command, recipients=("alice",))
    gate.admit(allowed.to_bytes(), approve(allowed, world.alice, world.bob, world.carol))


def test_an_admitted_command_that_fails_still_consumes_its_sequence(node, world):
    command = node.command(recipients=["alice", "bob", "carol"])
    outcome = node.run(command, approve(command, world.alice, world.bob))
    assert outcome.status == "failed"  # carol may receive echo but has provisioned no key
    assert "recipient carol has not provisioned a data key" in outcome.error
    node.assert_unchanged(next_sequence=2, entries=1, ran=0)
    with pytest.raises(VerificationError, match="sequence 1 already executed; next is 2"):
        node.run(command, approve(command, world.alice, world.bob))


def test_recipient_who_is_not_a_party_is_refused(node, world):
    command = node.command(recipients=["alice", "mallory"])
    with pytest.raises(ApprovalError, match="names 'mallory', who is not a party"):
        node.run(command, approve(command, world.alice, world.bob))
    node.assert_unchanged()


def test_proposer_who_is_not_a_party_is_refused(node, world):
    command = node.command(proposer="mallory")
    with pytest.raises(ApprovalError, match="names 'mallory', who is not a party"):
        node.run(command, approve(command, world.alice, world.bob))
    node.assert_unchanged()


def test_operation_the_node_does_not_run_is_refused(node, world):
    command = node.command(operation="train", arguments={}, recipients=[])
    with pytest.raises(UsageError, match="cannot execute operation 'train'; it supports echo"):
        node.run(command, approve(command, world.alice, world.bob, world.carol))
    node.assert_unchanged()


def test_malformed_command_bytes_are_refused(node, world):
    with pytest.raises(VerificationError, match="command is not valid JSON"):
        node.run(b"{not json", [])
    node.assert_unchanged()


def test_predictions_go_only_where_the_policy_sends_the_owners_data(world):
    gate = CommandGate(world.agreement, "5e" * 16, now=Clock())
    own = make_command(
        world.agreement,
        ["5e" * 16],
        operation="predict",
        arguments={"data_owner": "bob"},
        recipients=["bob"],
    )
    stranger = replace(own, recipients=("alice",))
    gate.admit(own.to_bytes(), approve(own, world.alice, world.bob, world.carol))
    with pytest.raises(ApprovalError, match="predictions on bob's data go to: bob"):
        gate.admit(stranger.to_bytes(), approve(stranger, world.alice, world.bob, world.carol))
    unnamed = replace(own, arguments={})
    with pytest.raises(ApprovalError, match="'data_owner'"):
        gate.admit(unnamed.to_bytes(), approve(unnamed, world.alice, world.bob, world.carol))


def test_admitting_changes_nothing_and_commit_consumes_once(world):
    gate = CommandGate(world.agreement, "5e" * 16, now=Clock())
    command = make_command(world.agreement, ["5e" * 16])
    approvals = approve(command, world.alice, world.bob)
    first = gate.admit(command.to_bytes(), approvals)
    second = gate.admit(command.to_bytes(), approvals)
    assert gate.next_sequence == 1
    assert first.approvers == frozenset({"alice", "bob"})
    gate.commit(first)
    assert gate.next_sequence == 2
    with pytest.raises(VerificationError, match="sequence 1 already executed; next is 2"):
        gate.commit(second)
    assert gate.next_sequence == 2


def test_a_gate_commits_only_what_it_admitted(world):
    command = make_command(world.agreement, ["5e" * 16])
    approvals = approve(command, world.alice, world.bob)
    one = CommandGate(world.agreement, "5e" * 16, now=Clock())
    other = CommandGate(world.agreement, "5e" * 16, now=Clock())
    with pytest.raises(UsageError, match="admitted by another gate"):
        other.commit(one.admit(command.to_bytes(), approvals))
    assert other.next_sequence == 1


def test_user_code_cannot_construct_an_admitted_command(world):
    from accord.enclave.consensus import AdmittedCommand

    command = make_command(world.agreement, ["5e" * 16])
    gate = CommandGate(world.agreement, "5e" * 16, now=Clock())
    with pytest.raises(UsageError, match=r"only CommandGate\.admit"):
        AdmittedCommand(
            object(), gate=gate, command=command, command_bytes=command.to_bytes(), approvals=()
        )
