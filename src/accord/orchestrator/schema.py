"""The orchestrator's SQLite schema, and opening a database with it.

The database runs in write-ahead-log mode with ``synchronous = FULL`` (a committed
transaction survives a crash) and foreign keys on. Table ``schema_version`` holds one row;
a database of another version is refused rather than misread.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final

from accord.errors import ConfigurationError

__all__ = ["SCHEMA_VERSION", "open_database"]

SCHEMA_VERSION: Final = 1
"""The schema version this code writes and reads."""

_SCHEMA: Final = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE proposals (
    proposal_id TEXT PRIMARY KEY,
    command BLOB NOT NULL,
    operation TEXT NOT NULL,
    proposer TEXT NOT NULL,
    session_ids TEXT NOT NULL,
    state TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    received_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    dispatched_at INTEGER
);
CREATE INDEX proposals_by_state ON proposals (state, expires_at);
CREATE TABLE approvals (
    proposal_id TEXT NOT NULL REFERENCES proposals (proposal_id),
    party TEXT NOT NULL,
    signature BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (proposal_id, party)
);
CREATE TABLE rejections (
    proposal_id TEXT NOT NULL REFERENCES proposals (proposal_id),
    party TEXT NOT NULL,
    reason TEXT NOT NULL,
    signature BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (proposal_id, party)
);
CREATE TABLE node_results (
    proposal_id TEXT NOT NULL REFERENCES proposals (proposal_id),
    node_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    receipt BLOB NOT NULL,
    error TEXT NOT NULL,
    PRIMARY KEY (proposal_id, node_id)
);
CREATE TABLE outputs (
    proposal_id TEXT NOT NULL,
    node_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    recipient TEXT NOT NULL,
    name TEXT NOT NULL,
    sealed BLOB NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (proposal_id, node_id, position),
    FOREIGN KEY (proposal_id, node_id) REFERENCES node_results (proposal_id, node_id)
);
CREATE TABLE nodes (
    node_id TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    source TEXT NOT NULL,
    session_id TEXT NOT NULL,
    state TEXT NOT NULL,
    next_sequence INTEGER NOT NULL,
    tls_certificate BLOB NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE gone_sessions (
    session_id TEXT PRIMARY KEY,
    node_id TEXT NOT NULL,
    gone_at INTEGER NOT NULL
);
"""


def open_database(path: Path) -> sqlite3.Connection:
    """Open (or create) an orchestrator database and check its schema version.

    Parameters
    ----------
    path
        The database file.

    Returns
    -------
    sqlite3.Connection
        A connection in autocommit mode (``isolation_level=None``): callers run
        ``BEGIN IMMEDIATE`` / ``COMMIT`` themselves. It may be used from several threads if
        the caller serialises access.

    Raises
    ------
    ConfigurationError
        If the file is not a usable database or has another schema version.
    """
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    except sqlite3.Error as exc:
        raise ConfigurationError(f"cannot open the orchestrator database {path}: {exc}") from None
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA foreign_keys = ON")
        version = _migrate(db)
    except sqlite3.DatabaseError as exc:
        db.close()
        raise ConfigurationError(
            f"{path} is not a usable orchestrator database: {exc}",
            hint="Point data_dir at the orchestrator's own folder, or at an empty one.",
        ) from None
    if version != SCHEMA_VERSION:
        db.close()
        raise ConfigurationError(
            f"{path} has schema version {version}; this Accord reads version {SCHEMA_VERSION}",
            hint="Run the Accord release that wrote it, or start with an empty data_dir.",
        )
    return db


def _migrate(db: sqlite3.Connection) -> int:
    db.execute("BEGIN IMMEDIATE")
    try:
        exists = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()
        if exists:
            row = db.execute("SELECT version FROM schema_version").fetchone()
            version = int(row[0]) if row else -1
        else:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            version = SCHEMA_VERSION
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return version
