"""What a party checks in a proposal before trusting or signing it, without any server."""

import datetime as dt

import pytest

from accord.agreement import load_signed_agreement
from accord.client.errors import CommandFailedError
from accord.client.nodes import NodeStatus
from accord.client.outcomes import raise_for_final_state, wait_until_final
from accord.client.proposals import (
    check_approvable,
    common_sequence,
    parse_proposal,
    require_provisioned,
)
from accord.crypto.keys import SigningKey
from accord.enclave.commands import Command, sign_command
from accord.errors import (
    ApprovalError,
    KeyMaterialError,
    TransportError,
    UsageError,
    VerificationError,
)
from accord.v1 import common_pb2, orchestrator_pb2

SESSIONS = ["11" * 16, "22" * 16]


@pytest.fixture(scope="module")
def agreement(world):
    return load_signed_agreement(world["agreement_path"])


@pytest.fixture(scope="module")
def parties(world):
    return world["parties"]


def make_command(agreement, *, digest=None, recipients=("alice",), ttl=300, now=None, **changes):
    fields = {
        "agreement_digest": digest or agreement.digest,
        "session_ids": SESSIONS,
        "sequence": 1,
        "operation": "echo",
        "arguments": {"message": "hi"},
        "recipients": list(recipients),
        "proposer": "alice",
        "ttl": dt.timedelta(seconds=ttl),
    }
    fields.update(changes)
    return Command.create(**fields, **({"now": now} if now else {}))


def view(command, approvals=(), state="pending", **fields):
    return orchestrator_pb2.ProposalView(
        proposal_id=command.digest,
        command=command.to_bytes(),
        approvals=[common_pb2.Approval(party=p, signature=s) for p, s in approvals],
        state=state,
        **fields,
    )


def now():
    return dt.datetime.now(dt.UTC)


def test_only_approvals_that_verify_with_the_agreement_keys_count(agreement, parties):
    command = make_command(agreement)
    approvals = [
        ("alice", sign_command(command, parties["alice"].signing_key)),
        ("bob", sign_command(command, SigningKey.generate())),  # forged
        ("mallory", sign_command(command, parties["mallory"].signing_key)),  # not a party
    ]
    proposal = parse_proposal(view(command, approvals), agreement=agreement)
    assert proposal.approvers == ("alice",)
    assert not proposal.rule_met
    assert proposal.rule == "needs all of alice, bob; has alice; missing bob"
    assert proposal.awaits("bob", agreement) and not proposal.awaits("alice", agreement)
    assert not proposal.awaits("mallory", agreement)


def test_a_command_that_is_not_the_proposal_id_is_refused(agreement):
    command = make_command(agreement)
    other = make_command(agreement, arguments={"message": "changed"})
    with pytest.raises(VerificationError, match="not the proposed command"):
        parse_proposal(view(other), agreement=agreement, expected_id=command.digest)
    forged = view(other)
    forged.proposal_id = command.digest
    with pytest.raises(VerificationError, match="not the proposed command"):
        parse_proposal(forged, agreement=agreement)


def test_describe_shows_the_whole_command_and_the_state(agreement, parties):
    command = make_command(agreement, recipients=("alice", "bob"))
    proposal = parse_proposal(
        view(command, [("alice", sign_command(command, parties["alice"].signing_key))]),
        agreement=agreement,
    )
    text = proposal.describe()
    for expected in (command.digest, *SESSIONS, "alice, bob", '"message": "hi"', "pending"):
        assert expected in text


def test_check_approvable_accepts_a_sound_command(agreement):
    proposal = parse_proposal(view(make_command(agreement)), agreement=agreement)
    check_approvable(proposal, agreement=agreement, attested_sessions=SESSIONS, now=now)


def test_a_command_for_another_agreement_is_not_signed(agreement):
    proposal = parse_proposal(view(make_command(agreement, digest="ee" * 32)), agreement=agreement)
    with pytest.raises(VerificationError, match="not for this collaboration's agreement"):
        check_approvable(proposal, agreement=agreement, attested_sessions=SESSIONS, now=now)


def test_a_command_for_unattested_sessions_is_not_signed(agreement):
    proposal = parse_proposal(view(make_command(agreement)), agreement=agreement)
    with pytest.raises(VerificationError, match=f"session {SESSIONS[1]} that this client"):
        check_approvable(proposal, agreement=agreement, attested_sessions=SESSIONS[:1], now=now)


def test_an_expired_command_is_not_signed(agreement):
    proposal = parse_proposal(view(make_command(agreement, ttl=60)), agreement=agreement)

    def later():
        return now() + dt.timedelta(minutes=2)

    with pytest.raises(ApprovalError, match="expired at"):
        check_approvable(proposal, agreement=agreement, attested_sessions=SESSIONS, now=later)


def test_a_final_proposal_is_not_signed(agreement):
    proposal = parse_proposal(view(make_command(agreement), state="executed"), agreement=agreement)
    with pytest.raises(UsageError, match="is executed; it cannot be approved"):
        check_approvable(proposal, agreement=agreement, attested_sessions=SESSIONS, now=now)


def test_outputs_for_strangers_are_not_signed(agreement):
    proposal = parse_proposal(
        view(make_command(agreement, recipients=("alice", "mallory"))), agreement=agreement
    )
    with pytest.raises(ApprovalError, match="'mallory', who is not a party"):
        check_approvable(proposal, agreement=agreement, attested_sessions=SESSIONS, now=now)


def status(sequence, *key_ids):
    return NodeStatus(session_id="11" * 16, next_sequence=sequence, key_ids=key_ids)


def test_nodes_must_agree_on_the_next_sequence():
    assert common_sequence({"node-1": status(4), "node-2": status(4)}) == 4
    with pytest.raises(UsageError, match="node-1 expects 4, node-2 expects 1"):
        common_sequence({"node-1": status(4), "node-2": status(1)})


def test_a_recipient_must_have_provisioned_every_node():
    require_provisioned("alice", "k1", {"node-1": status(1, "k1")})
    with pytest.raises(KeyMaterialError, match="to node node-2"):
        require_provisioned("alice", "k1", {"node-1": status(1, "k1"), "node-2": status(1)})


def test_final_states_become_errors(agreement):
    command = make_command(agreement)
    rejected = view(command, state="rejected")
    rejected.rejections.add(party="bob", reason="too soon")
    with pytest.raises(ApprovalError, match=r"rejected \(bob: 'too soon'\)"):
        raise_for_final_state(parse_proposal(rejected, agreement=agreement), [], attested={})
    expired = parse_proposal(view(command, state="expired"), agreement=agreement)
    with pytest.raises(ApprovalError, match=r"expired at .*missing alice, bob"):
        raise_for_final_state(expired, [], attested={})
    failed = view(command, state="failed", error="node node-2 did not answer within 3 s")
    failed.results.add(node_id="node-2", session_id=SESSIONS[1], error="UNAVAILABLE: gone")
    with pytest.raises(CommandFailedError, match="node node-2: UNAVAILABLE") as caught:
        proposal = parse_proposal(failed, agreement=agreement)
        raise_for_final_state(proposal, failed.results, attested={})
    assert dict(caught.value.node_errors) == {"node-2": "UNAVAILABLE: gone"}
    assert "did not answer within 3 s" in caught.value.message
    executed = parse_proposal(view(command, state="executed"), agreement=agreement)
    raise_for_final_state(executed, [], attested={})


class FakeTime:
    def __init__(self):
        self.now = 0.0

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_waiting_stops_at_the_deadline(agreement):
    command = make_command(agreement)
    time = FakeTime()
    asked = []

    def wait_once(seconds):
        asked.append(seconds)
        time.now += seconds
        return view(command)

    def parse(message):
        return parse_proposal(message, agreement=agreement)

    with pytest.raises(TransportError, match="still pending after 70 s"):
        wait_until_final(
            view(command), wait_once, parse, timeout=70, clock=time.clock, sleep=time.sleep
        )
    assert asked == [30.0, 30.0, 10.0]


def test_waiting_returns_the_final_view(agreement):
    command = make_command(agreement)
    answers = iter([view(command), view(command, state="executed")])
    time = FakeTime()
    proposal, final = wait_until_final(
        view(command),
        lambda seconds: next(answers),
        lambda message: parse_proposal(message, agreement=agreement),
        timeout=5,
        clock=time.clock,
        sleep=time.sleep,
    )
    assert proposal.state == "executed" and final.state == "executed"
    assert time.now == pytest.approx(0.2)  # an early non-final answer is not spun on


def test_a_non_positive_wait_is_a_usage_error(agreement):
    with pytest.raises(UsageError, match="positive"):
        wait_until_final(view(make_command(agreement)), None, None, timeout=0)
