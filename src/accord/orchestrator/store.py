"""The orchestrator's durable state: proposals, approvals, rejections, results and nodes.

One SQLite database (``<data_dir>/orchestrator.sqlite3``, schema in
:mod:`accord.orchestrator.schema`): every state change is one transaction that is on disk
when the call returns, so a restart (or a crash) loses no proposal, approval, rejection or
result.

The store keeps what it is given and makes the transitions it is asked to make only from
the states the caller names (:meth:`ProposalStore.transition`): the rules of the proposal
lifecycle live in :mod:`accord.orchestrator.proposals`.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from accord.orchestrator.records import (
    PROPOSAL_STATES,
    ApprovalRecord,
    NodeRecord,
    NodeResultRecord,
    OutputRecord,
    ProposalRecord,
    RejectionRecord,
)
from accord.orchestrator.schema import open_database

__all__ = ["DATABASE_FILE_NAME", "ProposalStore"]

DATABASE_FILE_NAME: Final = "orchestrator.sqlite3"
"""The database's file name inside the orchestrator's data folder."""


def _seconds(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def _moment(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


class ProposalStore:
    """The SQLite database of one orchestrator; safe to use from several threads.

    Parameters
    ----------
    path
        The database file (created with the current schema if missing).

    Raises
    ------
    ConfigurationError
        If the file is not a database of this kind, or has a newer schema.
    """

    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._lock = threading.RLock()
        self._db = open_database(self._path)

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    def close(self) -> None:
        """Close the database (later calls fail)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> ProposalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the block as one write transaction (``BEGIN IMMEDIATE``), atomically.

        Yields
        ------
        sqlite3.Connection
            The connection, for statements inside the transaction.
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- proposals -------------------------------------------------------------------------

    def insert_proposal(
        self,
        *,
        proposal_id: str,
        command: bytes,
        operation: str,
        proposer: str,
        session_ids: Sequence[str],
        expires_at: dt.datetime,
        approval: ApprovalRecord,
        now: dt.datetime,
    ) -> bool:
        """Store a new pending proposal with its proposer's approval.

        Returns
        -------
        bool
            False (and nothing changed) if a proposal with this id already exists.
        """
        with self.transaction() as db:
            if db.execute(
                "SELECT 1 FROM proposals WHERE proposal_id = ?", (proposal_id,)
            ).fetchone():
                return False
            db.execute(
                "INSERT INTO proposals (proposal_id, command, operation, proposer, session_ids,"
                " state, received_at, expires_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
                (
                    proposal_id,
                    command,
                    operation,
                    proposer,
                    ",".join(session_ids),
                    _seconds(now),
                    _seconds(expires_at),
                    _seconds(now),
                ),
            )
            self._insert_approval(db, proposal_id, approval, now)
            return True

    @staticmethod
    def _insert_approval(
        db: sqlite3.Connection, proposal_id: str, approval: ApprovalRecord, now: dt.datetime
    ) -> bool:
        cursor = db.execute(
            "INSERT OR IGNORE INTO approvals (proposal_id, party, signature, received_at)"
            " VALUES (?, ?, ?, ?)",
            (proposal_id, approval.party, approval.signature, _seconds(now)),
        )
        return cursor.rowcount == 1

    def add_approval(
        self,
        proposal_id: str,
        approval: ApprovalRecord,
        *,
        now: dt.datetime,
        then_state: str | None = None,
    ) -> bool:
        """Record an approval of a pending proposal, optionally moving it on, atomically.

        Parameters
        ----------
        proposal_id
            The proposal.
        approval
            The approval (a party's second approval is ignored).
        now
            The current time.
        then_state
            A state to move the proposal to in the same transaction (``"executing"`` when
            this approval meets the rule), or ``None``.

        Returns
        -------
        bool
            Whether the approval was recorded (False when the proposal is no longer pending
            or the party had approved already).
        """
        with self.transaction() as db:
            if self._state(db, proposal_id) != "pending":
                return False
            added = self._insert_approval(db, proposal_id, approval, now)
            if then_state is not None:
                self._set_state(db, proposal_id, then_state, "", now)
            return added

    def add_rejection(
        self, proposal_id: str, rejection: RejectionRecord, *, error: str, now: dt.datetime
    ) -> bool:
        """Record a rejection of a pending proposal and mark it rejected, atomically.

        Returns
        -------
        bool
            False (nothing changed) if the proposal is not pending.
        """
        with self.transaction() as db:
            if self._state(db, proposal_id) != "pending":
                return False
            db.execute(
                "INSERT OR REPLACE INTO rejections"
                " (proposal_id, party, reason, signature, received_at) VALUES (?, ?, ?, ?, ?)",
                (
                    proposal_id,
                    rejection.party,
                    rejection.reason,
                    rejection.signature,
                    _seconds(now),
                ),
            )
            self._set_state(db, proposal_id, "rejected", error, now)
            return True

    def transition(
        self,
        proposal_id: str,
        *,
        from_states: Iterable[str],
        to_state: str,
        error: str = "",
        now: dt.datetime,
    ) -> bool:
        """Move a proposal to ``to_state`` if it is in one of ``from_states``.

        Returns
        -------
        bool
            Whether the proposal moved.
        """
        with self.transaction() as db:
            if self._state(db, proposal_id) not in set(from_states):
                return False
            self._set_state(db, proposal_id, to_state, error, now)
            return True

    def mark_dispatched(self, proposal_id: str, *, now: dt.datetime) -> None:
        """Note that Execute is about to be sent for an executing proposal."""
        with self.transaction() as db:
            db.execute(
                "UPDATE proposals SET dispatched_at = ? WHERE proposal_id = ?",
                (_seconds(now), proposal_id),
            )

    def finish(
        self,
        proposal_id: str,
        *,
        results: Sequence[NodeResultRecord],
        state: str,
        error: str,
        now: dt.datetime,
    ) -> bool:
        """Record the nodes' results of an executing proposal and its final state, atomically.

        Returns
        -------
        bool
            False (nothing changed) if the proposal was not executing.
        """
        with self.transaction() as db:
            if self._state(db, proposal_id) != "executing":
                return False
            for result in results:
                db.execute(
                    "INSERT INTO node_results (proposal_id, node_id, session_id, receipt, error)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (proposal_id, result.node_id, result.session_id, result.receipt, result.error),
                )
                for position, output in enumerate(result.outputs):
                    db.execute(
                        "INSERT INTO outputs (proposal_id, node_id, position, recipient, name,"
                        " sealed, digest) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            proposal_id,
                            result.node_id,
                            position,
                            output.recipient,
                            output.name,
                            output.sealed,
                            output.digest,
                        ),
                    )
            self._set_state(db, proposal_id, state, error, now)
            return True

    def expire_due(self, now: dt.datetime) -> list[str]:
        """Mark every pending proposal whose ``expires_at`` has passed as expired.

        Returns
        -------
        list[str]
            The ids of the proposals that expired now.
        """
        with self.transaction() as db:
            rows = db.execute(
                "SELECT proposal_id, expires_at FROM proposals"
                " WHERE state = 'pending' AND expires_at <= ?",
                (_seconds(now),),
            ).fetchall()
            for proposal_id, expires_at in rows:
                error = (
                    f"proposal {proposal_id[:16]}.. expired at "
                    f"{_moment(expires_at):%Y-%m-%dT%H:%M:%SZ} before its approvals were complete"
                )
                self._set_state(db, proposal_id, "expired", error, now)
        return [proposal_id for proposal_id, _ in rows]

    @staticmethod
    def _state(db: sqlite3.Connection, proposal_id: str) -> str | None:
        row = db.execute(
            "SELECT state FROM proposals WHERE proposal_id = ?", (proposal_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    @staticmethod
    def _set_state(
        db: sqlite3.Connection, proposal_id: str, state: str, error: str, now: dt.datetime
    ) -> None:
        if state not in PROPOSAL_STATES:
            raise ValueError(f"unknown proposal state {state!r}")
        db.execute(
            "UPDATE proposals SET state = ?, error = ?, updated_at = ? WHERE proposal_id = ?",
            (state, error, _seconds(now), proposal_id),
        )

    def get(self, proposal_id: str) -> ProposalRecord | None:
        """Return the proposal ``proposal_id`` with everything attached, or ``None``."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_PROPOSAL_COLUMNS} FROM proposals WHERE proposal_id = ?",  # noqa: S608
                (proposal_id,),
            ).fetchone()
            return None if row is None else self._assemble(row)

    def proposals(self, state: str | None = None) -> list[ProposalRecord]:
        """Return all proposals (or those in ``state``), oldest first."""
        with self._lock:
            if state is None:
                rows = self._db.execute(
                    f"SELECT {_PROPOSAL_COLUMNS} FROM proposals"  # noqa: S608
                    " ORDER BY received_at, proposal_id"
                ).fetchall()
            else:
                rows = self._db.execute(
                    f"SELECT {_PROPOSAL_COLUMNS} FROM proposals WHERE state = ?"  # noqa: S608
                    " ORDER BY received_at, proposal_id",
                    (state,),
                ).fetchall()
            return [self._assemble(row) for row in rows]

    def _assemble(self, row: tuple[Any, ...]) -> ProposalRecord:
        (pid, command, operation, proposer, sessions, state, error, received, expires, updated,
         dispatched) = row  # fmt: skip
        db = self._db
        approvals = tuple(
            ApprovalRecord(party, bytes(signature))
            for party, signature in db.execute(
                "SELECT party, signature FROM approvals WHERE proposal_id = ? ORDER BY party",
                (pid,),
            )
        )
        rejections = tuple(
            RejectionRecord(party, reason, bytes(signature))
            for party, reason, signature in db.execute(
                "SELECT party, reason, signature FROM rejections WHERE proposal_id = ?"
                " ORDER BY party",
                (pid,),
            )
        )
        results = tuple(
            NodeResultRecord(
                node_id=node_id,
                session_id=session_id,
                receipt=bytes(receipt),
                outputs=self._outputs(str(pid), node_id),
                error=node_error,
            )
            for node_id, session_id, receipt, node_error in db.execute(
                "SELECT node_id, session_id, receipt, error FROM node_results"
                " WHERE proposal_id = ? ORDER BY node_id",
                (pid,),
            ).fetchall()
        )
        return ProposalRecord(
            proposal_id=str(pid),
            command=bytes(command),
            operation=str(operation),
            proposer=str(proposer),
            session_ids=tuple(str(sessions).split(",")) if sessions else (),
            state=str(state),
            error=str(error),
            received_at=_moment(int(received)),
            expires_at=_moment(int(expires)),
            updated_at=_moment(int(updated)),
            dispatched_at=None if dispatched is None else _moment(int(dispatched)),
            approvals=approvals,
            rejections=rejections,
            results=results,
        )

    def _outputs(self, proposal_id: str, node_id: str) -> tuple[OutputRecord, ...]:
        return tuple(
            OutputRecord(recipient, name, bytes(sealed), digest)
            for recipient, name, sealed, digest in self._db.execute(
                "SELECT recipient, name, sealed, digest FROM outputs"
                " WHERE proposal_id = ? AND node_id = ? ORDER BY position",
                (proposal_id, node_id),
            ).fetchall()
        )

    # -- nodes -----------------------------------------------------------------------------

    def save_node(self, node: NodeRecord) -> None:
        """Insert or replace the record of ``node.node_id``."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO nodes (node_id, address, source, session_id, state,"
                " next_sequence, tls_certificate, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    node.node_id,
                    node.address,
                    node.source,
                    node.session_id,
                    node.state,
                    node.next_sequence,
                    node.tls_certificate,
                    _seconds(node.updated_at),
                ),
            )

    def delete_node(self, node_id: str) -> None:
        """Forget the node ``node_id`` (its gone sessions stay known)."""
        with self.transaction() as db:
            db.execute("DELETE FROM nodes WHERE node_id = ?", (node_id,))

    def replace_session(self, node: NodeRecord, *, gone_session: str, now: dt.datetime) -> None:
        """Save ``node`` and remember that its earlier session ``gone_session`` is gone."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO gone_sessions (session_id, node_id, gone_at)"
                " VALUES (?, ?, ?)",
                (gone_session, node.node_id, _seconds(now)),
            )
        self.save_node(node)

    def nodes(self) -> list[NodeRecord]:
        """Return every known node, by id."""
        with self._lock:
            rows = self._db.execute(
                "SELECT node_id, address, source, session_id, state, next_sequence,"
                " tls_certificate, updated_at FROM nodes ORDER BY node_id"
            ).fetchall()
        return [
            NodeRecord(
                node_id=node_id,
                address=address,
                source=source,
                session_id=session_id,
                state=state,
                next_sequence=int(next_sequence),
                tls_certificate=bytes(certificate),
                updated_at=_moment(int(updated)),
            )
            for (
                node_id,
                address,
                source,
                session_id,
                state,
                next_sequence,
                certificate,
                updated,
            ) in rows
        ]

    def gone_session(self, session_id: str) -> str | None:
        """Return the node a gone session belonged to, or ``None`` if it is not known gone."""
        with self._lock:
            row = self._db.execute(
                "SELECT node_id FROM gone_sessions WHERE session_id = ?", (session_id,)
            ).fetchone()
        return None if row is None else str(row[0])


_PROPOSAL_COLUMNS: Final = (
    "proposal_id, command, operation, proposer, session_ids, state, error, received_at,"
    " expires_at, updated_at, dispatched_at"
)
