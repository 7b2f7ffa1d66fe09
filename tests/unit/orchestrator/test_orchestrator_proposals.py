"""The proposal lifecycle: propose, approve, reject, expire, wait, finish, restart."""

import datetime as dt
import threading
import time

import pytest
from orchestrator_helpers import approval, make_command, open_book, rejection

from accord.enclave.commands import Approval
from accord.errors import ApprovalError, UsageError, VerificationError
from accord.orchestrator.records import NodeResultRecord


def test_a_proposal_waits_for_the_rule_then_is_dispatched_once(book, agreement, alice, bob):
    command = make_command(agreement, clock=book._now)
    record = book.propose(command.to_bytes(), approval(command, alice), caller="alice")
    assert record.proposal_id == command.digest
    assert record.state == "pending"
    assert record.approvers == {"alice"}
    assert book.dispatched == []
    record = book.approve(command.digest, approval(command, bob), caller="bob")
    assert record.state == "executing"
    assert record.approvers == {"alice", "bob"}
    assert book.dispatched == [command.digest]


def test_a_rule_the_proposer_meets_alone_starts_at_once(book, agreement, alice):
    command = make_command(agreement, operation="predict", arguments={}, clock=book._now)
    record = book.propose(command.to_bytes(), approval(command, alice), caller="alice")
    assert record.state == "executing"
    assert book.dispatched == [command.digest]


def test_duplicate_approvals_and_proposals_change_nothing(book, agreement, alice, carol):
    command = make_command(agreement, operation="load", arguments={}, clock=book._now)
    first = book.propose(command.to_bytes(), approval(command, alice), caller="alice")
    again = book.propose(command.to_bytes(), approval(command, alice), caller="alice")
    book.approve(command.digest, approval(command, carol), caller="carol")
    record = book.approve(command.digest, approval(command, carol), caller="carol")
    assert first.proposal_id == again.proposal_id
    assert record.state == "pending"  # load needs all three
    assert [a.party for a in record.approvals] == ["alice", "carol"]
    assert len(book.proposals()) == 1
    assert book.dispatched == []


def test_an_approval_whose_signature_does_not_verify_is_refused(book, agreement, alice, bob):
    command = make_command(agreement, clock=book._now)
    other = make_command(agreement, arguments={"message": "something else"}, clock=book._now)
    book.propose(command.to_bytes(), approval(command, alice), caller="alice")
    forged = Approval("bob", approval(other, bob).signature)  # bob signed another command
    with pytest.raises(VerificationError, match="approval by party bob does not verify"):
        book.approve(command.digest, forged, caller="bob")
    by_alice_key = Approval("bob", approval(command, alice).signature)
    with pytest.raises(VerificationError, match="party bob"):
        book.approve(command.digest, by_alice_key, caller="bob")
    record = book.get(command.digest)
    assert record.approvers == {"alice"}
    assert record.state == "pending"


def test_a_party_cannot_approve_as_another_party(book, agreement, alice, bob):
    command = make_command(agreement, clock=book._now)
    book.propose(command.to_bytes(), approval(command, alice), caller="alice")
    genuine_bob = approval(command, bob)  # say alice obtained bob's signature: still not hers
    with pytest.raises(VerificationError, match="authenticated as party alice cannot approve"):
        book.approve(command.digest, genuine_bob, caller="alice")
    assert book.get(command.digest).approvers == {"alice"}


def test_a_party_cannot_propose_as_another_party(book, agreement, alice):
    command = make_command(agreement, clock=book._now)
    with pytest.raises(VerificationError, match="authenticated as party bob cannot propose"):
        book.propose(command.to_bytes(), approval(command, alice), caller="bob")
    assert book.proposals() == []


def test_the_proposers_signature_must_verify(book, agreement, alice, bob):
    command = make_command(agreement, clock=book._now)
    bad = Approval("alice", approval(command, bob).signature)
    with pytest.raises(VerificationError, match="approval by party alice does not verify"):
        book.propose(command.to_bytes(), bad, caller="alice")
    assert book.proposals() == []


def test_a_command_for_another_agreement_is_refused(book, agreement, alice):
    command = make_command(agreement, agreement_digest="0" * 64, clock=book._now)
    with pytest.raises(VerificationError, match="this orchestrator serves agreement"):
        book.propose(command.to_bytes(), approval(command, alice), caller="alice")


def test_malformed_command_bytes_are_refused(book, agreement, alice):
    command = make_command(agreement, clock=book._now)
    tampered = command.to_bytes().replace(b"hello", b"HELLO")
    with pytest.raises(VerificationError):
        book.propose(tampered + b" ", approval(command, alice), caller="alice")
    assert book.proposals() == []


def test_an_expired_or_too_long_lived_command_is_refused(book, agreement, alice, clock):
    stale = make_command(agreement, clock=lambda: clock.now - dt.timedelta(hours=1))
    with pytest.raises(UsageError, match="the command expired at"):
        book.propose(stale.to_bytes(), approval(stale, alice), caller="alice")
    lasting = make_command(agreement, ttl=dt.timedelta(days=2), clock=clock)
    with pytest.raises(UsageError, match="at most 3600 s"):
        book.propose(lasting.to_bytes(), approval(lasting, alice), caller="alice")
    assert book.proposals() == []


def test_a_rejection_ends_the_proposal(book, agreement, alice, bob):
    command = make_command(agreement, clock=book._now)
    book.propose(command.to_bytes(), approval(command, alice), caller="alice")
    record = book.reject(
        command.digest,
        party="bob",
        reason="not this message",
        signature=rejection(command, bob),
        caller="bob",
    )
    assert record.state == "rejected"
    assert record.error == "rejected by bob: not this message"
    assert [(r.party, r.reason) for r in record.rejections] == [("bob", "not this message")]
    with pytest.raises(ApprovalError, match="is rejected and can no longer be approved"):
        book.approve(command.digest, approval(command, bob), caller="bob")
    assert book.dispatched == []


def test_a_rejection_must_be_signed_by_the_rejecting_party(book, agreement, alice, bob):
    command = make_command(agreement, clock=book._now)
    book.propose(command.to_bytes(), approval(command, alice), caller="alice")
    with pytest.raises(VerificationError, match="rejection by party bob does not verify"):
        book.reject(
            command.digest,
            party="bob",
            reason="",
            signature=rejection(command, alice),
            caller="bob",
        )
    with pytest.raises(VerificationError, match="rejection by party bob does not verify"):
        # an approval signature cannot pass for a rejection
        book.reject(
            command.digest,
            party="bob",
            reason="",
            signature=approval(command, bob).signature,
            caller="bob",
        )
    with pytest.raises(VerificationError, match="authenticated as party alice cannot reject"):
        book.reject(
            command.digest,
            party="bob",
            reason="",
            signature=rejection(command, bob),
            caller="alice",
        )
    assert book.get(command.digest).state == "pending"


def test_a_party_whose_approval_does_not_count_cannot_reject(book, agreement, alice, carol):
    command = make_command(agreement, clock=book._now)  # echo: alice and bob decide
    book.propose(command.to_bytes(), approval(command, alice), caller="alice")
    with pytest.raises(ApprovalError, match="carol's approval does not count for operation 'echo'"):
        book.reject(
            command.digest,
            party="carol",
            reason="",
            signature=rejection(command, carol),
            caller="carol",
        )
    assert book.get(command.digest).state == "pending"


def test_proposals_expire_on_read_and_by_sweep(book, agreement, alice, bob, clock):
    first = make_command(agreement, clock=clock, ttl=dt.timedelta(seconds=30))
    second = make_command(agreement, clock=clock, ttl=dt.timedelta(seconds=90))
    book.propose(first.to_bytes(), approval(first, alice), caller="alice")
    book.propose(second.to_bytes(), approval(second, alice), caller="alice")
    clock.advance(seconds=30)
    record = book.get(first.digest)
    assert record.state == "expired"
    assert "expired at" in record.error
    with pytest.raises(ApprovalError, match="is expired"):
        book.approve(first.digest, approval(first, bob), caller="bob")
    assert book.sweep() == []
    clock.advance(seconds=60)
    assert book.sweep() == [second.digest]
    assert {p.state for p in book.proposals()} == {"expired"}
    assert book.dispatched == []


def test_wait_returns_when_the_proposal_becomes_final(book, agreement, alice):
    command = make_command(agreement, operation="predict", arguments={}, clock=book._now)
    book.propose(command.to_bytes(), approval(command, alice), caller="alice")
    timer = threading.Timer(
        0.2, lambda: book.finish(command.digest, [NodeResultRecord("n1", "1" * 32, b"r")])
    )
    started = time.monotonic()
    timer.start()
    record = book.wait(command.digest, timeout=10)
    assert time.monotonic() - started < 5
    assert record.state == "executed"
    assert record.results[0].receipt == b"r"


def test_wait_gives_up_after_its_timeout(book, agreement, alice):
    command = make_command(agreement, clock=book._now)
    book.propose(command.to_bytes(), approval(command, alice), caller="alice")
    started = time.monotonic()
    assert book.wait(command.digest, timeout=0.2).state == "pending"
    assert 0.15 < time.monotonic() - started < 2


def test_an_unknown_proposal_is_named(book):
    with pytest.raises(UsageError, match="there is no proposal 'ffff"):
        book.get("f" * 64)


def test_a_failing_node_makes_the_proposal_failed(book, agreement, alice):
    command = make_command(agreement, operation="predict", arguments={}, clock=book._now)
    book.propose(command.to_bytes(), approval(command, alice), caller="alice")
    result = NodeResultRecord("n1", "1" * 32, error="node n1 did not answer within 10 s")
    record = book.finish(command.digest, [result], error="1 of 1 node(s) failed: n1")
    assert record.state == "failed"
    assert record.results == (result,)


def test_pending_proposals_approvals_and_rejections_survive_a_restart(
    tmp_path, agreement, alice, bob, carol, clock
):
    path = tmp_path / "orchestrator.sqlite3"
    first = open_book(path, agreement, clock)
    pending = make_command(agreement, operation="load", arguments={}, clock=clock)
    rejected = make_command(agreement, clock=clock)
    first.propose(pending.to_bytes(), approval(pending, alice), caller="alice")
    first.approve(pending.digest, approval(pending, carol), caller="carol")
    first.propose(rejected.to_bytes(), approval(rejected, alice), caller="alice")
    first.reject(
        rejected.digest, party="bob", reason="no", signature=rejection(rejected, bob), caller="bob"
    )
    first.store.close()

    second = open_book(path, agreement, clock)
    dispatched = []
    second.set_dispatcher(dispatched.append)
    assert second.get(pending.digest).approvers == {"alice", "carol"}
    assert second.get(rejected.digest).state == "rejected"
    record = second.approve(pending.digest, approval(pending, bob), caller="bob")
    assert record.state == "executing"
    assert dispatched == [pending.digest]
    second.store.close()


def test_recovery_relays_undispatched_proposals_and_fails_dispatched_ones(
    tmp_path, agreement, alice, clock
):
    path = tmp_path / "orchestrator.sqlite3"
    first = open_book(path, agreement, clock)
    waiting = make_command(agreement, operation="predict", arguments={"n": 1}, clock=clock)
    sent = make_command(agreement, operation="predict", arguments={"n": 2}, clock=clock)
    for command in (waiting, sent):
        first.propose(command.to_bytes(), approval(command, alice), caller="alice")
    first.mark_dispatched(sent.digest)
    first.store.close()

    second = open_book(path, agreement, clock)
    dispatched = []
    second.set_dispatcher(dispatched.append)
    assert second.recover() == [waiting.digest]
    assert dispatched == [waiting.digest]
    assert second.get(waiting.digest).state == "executing"
    failed = second.get(sent.digest)
    assert failed.state == "failed"
    assert "restarted while the nodes were executing" in failed.error
    second.store.close()
