"""The SQLite store: everything written is read back after closing and reopening."""

import datetime as dt
import sqlite3

import pytest

from accord.errors import ConfigurationError
from accord.orchestrator.records import (
    ApprovalRecord,
    NodeRecord,
    NodeResultRecord,
    OutputRecord,
    RejectionRecord,
)
from accord.orchestrator.schema import SCHEMA_VERSION
from accord.orchestrator.store import ProposalStore

NOW = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=10)


def insert(store, proposal_id="a" * 64, *, expires_at=LATER):
    return store.insert_proposal(
        proposal_id=proposal_id,
        command=b'{"command":1}',
        operation="echo",
        proposer="alice",
        session_ids=["11" * 16, "22" * 16],
        expires_at=expires_at,
        approval=ApprovalRecord("alice", b"s" * 64),
        now=NOW,
    )


def test_everything_written_survives_close_and_reopen(tmp_path):
    path = tmp_path / "db.sqlite3"
    results = [
        NodeResultRecord(
            node_id="n1",
            session_id="11" * 16,
            receipt=b"receipt-1",
            outputs=(
                OutputRecord("alice", "echo", b"sealed-a", "d" * 64),
                OutputRecord("bob", "echo", b"sealed-b", "e" * 64),
            ),
        ),
        NodeResultRecord(node_id="n2", session_id="22" * 16, error="node n2 did not answer"),
    ]
    with ProposalStore(path) as store:
        assert insert(store)
        assert insert(store, "b" * 64)
        assert insert(store, "c" * 64)
        assert store.add_approval("a" * 64, ApprovalRecord("bob", b"t" * 64), now=NOW)
        assert store.transition("a" * 64, from_states={"pending"}, to_state="executing", now=NOW)
        store.mark_dispatched("a" * 64, now=NOW)
        assert store.finish("a" * 64, results=results, state="failed", error="n2 failed", now=NOW)
        assert store.add_rejection(
            "b" * 64, RejectionRecord("bob", "too broad", b"r" * 64), error="rejected", now=NOW
        )
        store.save_node(NodeRecord("n1", "127.0.0.1:5001", "config", "11" * 16, "ready", 4))
        store.replace_session(
            NodeRecord("n2", "127.0.0.1:5002", "registered", "33" * 16, "restarted", 1),
            gone_session="22" * 16,
            now=NOW,
        )
    with ProposalStore(path) as store:
        executed = store.get("a" * 64)
        assert executed.state == "failed"
        assert executed.error == "n2 failed"
        assert executed.dispatched_at == NOW
        assert executed.session_ids == ("11" * 16, "22" * 16)
        assert executed.approvals == (
            ApprovalRecord("alice", b"s" * 64),
            ApprovalRecord("bob", b"t" * 64),
        )
        assert executed.results == tuple(results)
        rejected = store.get("b" * 64)
        assert rejected.state == "rejected"
        assert rejected.rejections == (RejectionRecord("bob", "too broad", b"r" * 64),)
        pending = store.get("c" * 64)
        assert (pending.state, pending.expires_at, pending.received_at) == ("pending", LATER, NOW)
        assert [p.proposal_id for p in store.proposals("pending")] == ["c" * 64]
        assert len(store.proposals()) == 3
        nodes = {node.node_id: node for node in store.nodes()}
        assert nodes["n1"].next_sequence == 4 and nodes["n1"].state == "ready"
        assert nodes["n2"].session_id == "33" * 16
        assert store.gone_session("22" * 16) == "n2"
        assert store.gone_session("11" * 16) is None


def test_the_same_proposal_is_not_inserted_twice(tmp_path):
    with ProposalStore(tmp_path / "db") as store:
        assert insert(store)
        assert not insert(store)
        assert len(store.proposals()) == 1


def test_a_second_approval_by_the_same_party_is_ignored(tmp_path):
    with ProposalStore(tmp_path / "db") as store:
        insert(store)
        assert not store.add_approval("a" * 64, ApprovalRecord("alice", b"x" * 64), now=NOW)
        assert store.get("a" * 64).approvals == (ApprovalRecord("alice", b"s" * 64),)


def test_transitions_happen_only_from_the_named_states(tmp_path):
    with ProposalStore(tmp_path / "db") as store:
        insert(store)
        assert not store.transition("a" * 64, from_states={"executing"}, to_state="failed", now=NOW)
        assert store.get("a" * 64).state == "pending"
        assert not store.finish("a" * 64, results=[], state="executed", error="", now=NOW)
        assert store.get("a" * 64).state == "pending"
        store.transition("a" * 64, from_states={"pending"}, to_state="executing", now=NOW)
        assert not store.add_approval("a" * 64, ApprovalRecord("bob", b"t" * 64), now=NOW)
        assert not store.add_rejection(
            "a" * 64, RejectionRecord("bob", "", b"r" * 64), error="x", now=NOW
        )
        assert store.get("a" * 64).approvers == {"alice"}


def test_a_failed_transaction_changes_nothing(tmp_path):
    with ProposalStore(tmp_path / "db") as store:
        insert(store)
        with pytest.raises(ValueError, match="unknown proposal state"):
            store.transition("a" * 64, from_states={"pending"}, to_state="bogus", now=NOW)
        assert store.get("a" * 64).state == "pending"
        store.transition("a" * 64, from_states={"pending"}, to_state="executing", now=NOW)
        with pytest.raises(sqlite3.IntegrityError):
            store.finish(
                "a" * 64,
                results=[NodeResultRecord("n1", "1" * 32), NodeResultRecord("n1", "1" * 32)],
                state="executed",
                error="",
                now=NOW,
            )
        record = store.get("a" * 64)
        assert (record.state, record.results) == ("executing", ())


def test_due_proposals_expire_and_others_stay(tmp_path):
    with ProposalStore(tmp_path / "db") as store:
        insert(store, "a" * 64, expires_at=NOW + dt.timedelta(seconds=5))
        insert(store, "b" * 64, expires_at=NOW + dt.timedelta(seconds=50))
        assert store.expire_due(NOW) == []
        assert store.expire_due(NOW + dt.timedelta(seconds=5)) == ["a" * 64]
        expired = store.get("a" * 64)
        assert expired.state == "expired"
        assert "expired at" in expired.error
        assert store.get("b" * 64).state == "pending"


def test_a_database_of_another_schema_version_is_refused(tmp_path):
    path = tmp_path / "db"
    ProposalStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    with pytest.raises(ConfigurationError, match=f"schema version {SCHEMA_VERSION + 1}"):
        ProposalStore(path)


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    path = tmp_path / "db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ConfigurationError, match="not a usable orchestrator database"):
        ProposalStore(path)


def test_the_database_uses_write_ahead_logging(tmp_path):
    with ProposalStore(tmp_path / "db") as store:
        insert(store)
    with sqlite3.connect(tmp_path / "db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
