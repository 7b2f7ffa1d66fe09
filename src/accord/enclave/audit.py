"""The audit log: a hash chain of every command a node ran, signed by the enclave session.

Entry (RFC 8785 canonical JSON)::

    {"format": "accord-audit/v1", "index": <int from 0>,
     "previous": <64 hex: hash of entry index-1; 64 zeros for entry 0>,
     "agreement_digest": <64 hex>, "session_id": <32 hex>,
     "command": <the command object>, "command_digest": <64 hex>,
     "approvals": [{"party": <name>, "signature": <b64>}, ...]   valid ones, sorted by party,
     "outputs": [{"recipient", "name", "digest"}, ...]           sorted,
     "status": "executed" | "failed", "error": <text> | null,
     "executed_at": "YYYY-MM-DDTHH:MM:SSZ"}

Its hash is SHA-256 (hex) of the canonical entry. On the wire each entry travels signed::

    {"entry": {...}, "hash": <64 hex>,
     "signature": <b64 of Ed25519, context "audit-entry", over the 32 raw hash bytes>}

:class:`AuditLog` keeps the chain in the node's memory. A party checks a fetched log with
:func:`verify_audit_log` and the session keys it verified by attestation; the checks and what
each one catches are in docs/consensus.md.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from accord._internal.canonical import canonical_json
from accord.agreement.signing import SignedAgreement
from accord.attest._fields import load_json_object, require_keys
from accord.attest.binding import SessionPublicKeys
from accord.crypto.keys import VerifyKey
from accord.enclave._wire import (
    check_hex,
    decode_signature,
    encode_b64,
    format_timestamp,
    parse_timestamp,
    utc_now,
)
from accord.enclave.commands import (
    MAX_COMMAND_BYTES,
    Approval,
    Command,
    verify_approval,
)
from accord.enclave.consensus import AdmittedCommand, check_recipients
from accord.enclave.receipts import (
    FAILED,
    MAX_ERROR_CHARS,
    OutputDigest,
    check_status,
    parse_outputs,
)
from accord.enclave.session import EnclaveSession
from accord.errors import AccordError, ApprovalError, UsageError, VerificationError

__all__ = [
    "AUDIT_ENTRY_FORMAT",
    "AUDIT_SIGNATURE_CONTEXT",
    "GENESIS_HASH",
    "AuditEntry",
    "AuditLog",
    "VerifiedAuditLog",
    "verify_audit_log",
]

AUDIT_ENTRY_FORMAT: Final = "accord-audit/v1"
AUDIT_SIGNATURE_CONTEXT: Final = "audit-entry"
GENESIS_HASH: Final = "0" * 64
"""The ``previous`` of entry 0."""
MAX_ENTRY_BYTES: Final = 2 * MAX_COMMAND_BYTES

_ENTRY_FIELDS: Final = frozenset(
    {
        "format",
        "index",
        "previous",
        "agreement_digest",
        "session_id",
        "command",
        "command_digest",
        "approvals",
        "outputs",
        "status",
        "error",
        "executed_at",
    }
)
_VERIFIED_TOKEN: Final = object()


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the audit log, as written by :class:`AuditLog` or read back.

    Parameters
    ----------
    index
        Position in the chain, from 0.
    previous
        Hash of the entry before (:data:`GENESIS_HASH` for entry 0).
    hash
        SHA-256 (hex) of the canonical entry.
    command
        The command that ran.
    approvals
        The approvals that verified when the node admitted it, sorted by party.
    outputs
        The digests of its sealed outputs, sorted.
    status
        ``"executed"`` or ``"failed"``.
    error
        Why it failed, or ``None``.
    executed_at
        When the node finished it (UTC, whole seconds).
    signed_bytes
        The signed wire form, as stored or received.
    """

    index: int
    previous: str
    hash: str
    command: Command
    approvals: tuple[Approval, ...]
    outputs: tuple[OutputDigest, ...]
    status: str
    error: str | None
    executed_at: datetime
    signed_bytes: bytes

    @property
    def command_digest(self) -> str:
        """The digest of :attr:`command`."""
        return self.command.digest


class AuditLog:
    """The node's in-memory audit log; every entry is signed with the session key.

    Parameters
    ----------
    session
        The enclave session whose key signs the entries.
    now
        The clock (timezone-aware) for ``executed_at``.
    """

    def __init__(self, session: EnclaveSession, *, now: Callable[[], datetime] = utc_now) -> None:
        self._session = session
        self._now = now
        self._entries: list[AuditEntry] = []
        self._lock = threading.Lock()

    def append(
        self,
        admitted: AdmittedCommand,
        *,
        status: str,
        outputs: Sequence[OutputDigest] = (),
        error: str | None = None,
    ) -> AuditEntry:
        """Record a command that ran to an end and return the signed entry.

        Parameters
        ----------
        admitted
            The command, as the gate admitted it (with its valid approvals).
        status
            ``"executed"`` or ``"failed"``.
        outputs
            The digests of the sealed outputs (none for a failed command).
        error
            Why it failed; cut to :data:`~accord.enclave.receipts.MAX_ERROR_CHARS`.

        Returns
        -------
        AuditEntry
            The new entry.

        Raises
        ------
        UsageError
            If status, error and outputs disagree, or the command is for another session.
        """
        if admitted.session_id != self._session.session_id:
            raise UsageError("the command was admitted for another session than this log's")
        if status == FAILED and error is not None:
            error = error[:MAX_ERROR_CHARS] or "failed"
        ordered = tuple(sorted(outputs))
        check_status(status, error, ordered, "audit entry", UsageError)
        executed_at = self._now().astimezone(UTC).replace(microsecond=0)
        with self._lock:
            index = len(self._entries)
            previous = self._entries[-1].hash if self._entries else GENESIS_HASH
            body = {
                "format": AUDIT_ENTRY_FORMAT,
                "index": index,
                "previous": previous,
                "agreement_digest": self._session.agreement_digest,
                "session_id": self._session.session_id,
                "command": admitted.command.to_object(),
                "command_digest": admitted.digest,
                "approvals": [
                    {"party": a.party, "signature": encode_b64(a.signature)}
                    for a in admitted.approvals
                ],
                "outputs": [output.to_object() for output in ordered],
                "status": status,
                "error": error,
                "executed_at": format_timestamp(executed_at),
            }
            entry_hash = hashlib.sha256(canonical_json(body)).hexdigest()
            signature = self._session.signing_key.sign(
                bytes.fromhex(entry_hash), context=AUDIT_SIGNATURE_CONTEXT
            )
            signed = canonical_json(
                {"entry": body, "hash": entry_hash, "signature": encode_b64(signature)}
            )
            entry = AuditEntry(
                index=index,
                previous=previous,
                hash=entry_hash,
                command=admitted.command,
                approvals=admitted.approvals,
                outputs=ordered,
                status=status,
                error=error,
                executed_at=executed_at,
                signed_bytes=signed,
            )
            self._entries.append(entry)
            return entry

    def entries(self, from_index: int = 0) -> list[bytes]:
        """Return the signed entries from ``from_index`` on, in index order."""
        if from_index < 0:
            raise UsageError(f"an audit log index is 0 or more, got {from_index}")
        with self._lock:
            return [entry.signed_bytes for entry in self._entries[from_index:]]

    @property
    def head_hash(self) -> str:
        """The hash of the last entry (:data:`GENESIS_HASH` while the log is empty)."""
        with self._lock:
            return self._entries[-1].hash if self._entries else GENESIS_HASH

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __repr__(self) -> str:
        return f"AuditLog(session_id={self._session.session_id!r}, entries={len(self)})"


class VerifiedAuditLog:
    """An audit log that passed :func:`verify_audit_log`; user code cannot construct one.

    Attributes
    ----------
    session_id
        The attested session that signed it.
    entries
        Its entries, from index 0.
    """

    __slots__ = ("entries", "session_id")

    def __init__(self, token: object, *, session_id: str, entries: tuple[AuditEntry, ...]) -> None:
        if token is not _VERIFIED_TOKEN:
            raise UsageError("only verify_audit_log() produces a VerifiedAuditLog")
        self.session_id = session_id
        self.entries = entries

    @property
    def head_hash(self) -> str:
        """The hash of the last entry (:data:`GENESIS_HASH` for an empty log)."""
        return self.entries[-1].hash if self.entries else GENESIS_HASH

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"VerifiedAuditLog(session_id={self.session_id!r}, entries={len(self.entries)})"


def verify_audit_log(
    entries: Sequence[bytes], *, session: SessionPublicKeys, agreement: SignedAgreement
) -> VerifiedAuditLog:
    """Check a node's whole audit log (from index 0) as a party.

    Parameters
    ----------
    entries
        The signed entries in index order, as fetched from the node (untrusted).
    session
        The node's session keys, from evidence the caller verified.
    agreement
        The caller's signed agreement.

    Returns
    -------
    VerifiedAuditLog
        The checked entries.

    Raises
    ------
    VerificationError
        At the first entry that fails, naming its index and the problem: malformed, hash not
        matching its content, not signed by the attested session key, out of place in the
        chain (dropped, reordered or replaced entries), for another agreement or session, a
        sequence number out of order, an approval that does not verify, approvals that do
        not satisfy the agreement's rule, or outputs the policy does not allow.
    """
    if session.agreement_digest != agreement.digest:
        raise VerificationError(
            f"the session keys are for agreement {session.agreement_digest[:16]}.., not "
            f"{agreement.digest[:16]}.."
        )
    session_key = VerifyKey(session.signing_public_key)
    checked: list[AuditEntry] = []
    previous = GENESIS_HASH
    last_time: datetime | None = None
    for position, data in enumerate(entries):
        entry = _verify_entry(position, data, session_key, session, agreement)
        if entry.previous != previous:
            before = f"entry {position - 1} has hash" if position else "the first entry needs"
            raise _refuse(
                position,
                f"names previous hash {entry.previous[:16]}.. but {before} {previous[:16]}..: "
                "the chain is broken (an entry was dropped, reordered or replaced)",
            )
        if entry.command.sequence != position + 1:
            raise _refuse(
                position,
                f"runs sequence {entry.command.sequence}, but the node consumes sequence "
                f"numbers one by one from 1, so entry {position} must run {position + 1}",
            )
        if last_time is not None and entry.executed_at < last_time:
            raise _refuse(position, "was executed before the entry preceding it")
        checked.append(entry)
        previous = entry.hash
        last_time = entry.executed_at
    return VerifiedAuditLog(_VERIFIED_TOKEN, session_id=session.session_id, entries=tuple(checked))


def _refuse(index: int, problem: str) -> VerificationError:
    return VerificationError(
        f"audit log entry {index} {problem}",
        hint="Do not trust this node's log; report it to the other parties.",
    )


def _verify_entry(
    position: int,
    data: bytes,
    session_key: VerifyKey,
    session: SessionPublicKeys,
    agreement: SignedAgreement,
) -> AuditEntry:
    error = VerificationError
    what = f"audit log entry {position}"
    wrapper = load_json_object(data, what, max_len=MAX_ENTRY_BYTES, error=error)
    require_keys(wrapper, frozenset({"entry", "hash", "signature"}), what, error=error)
    body = wrapper["entry"]
    if not isinstance(body, dict):
        raise _refuse(position, "has no entry object")
    entry_hash = check_hex(wrapper["hash"], f"{what} hash", 32, error)
    if hashlib.sha256(canonical_json(body)).hexdigest() != entry_hash:
        raise _refuse(position, "has a hash that does not match its content: it was altered")
    signature = decode_signature(wrapper["signature"], f"{what} signature", error)
    try:
        session_key.verify(signature, bytes.fromhex(entry_hash), context=AUDIT_SIGNATURE_CONTEXT)
    except VerificationError:
        raise _refuse(
            position, f"is not signed by session {session.session_id}'s attested key"
        ) from None
    if canonical_json(wrapper) != data:
        raise _refuse(position, "is not canonical JSON")
    require_keys(body, _ENTRY_FIELDS, what, error=error)
    try:
        return _entry_content(position, body, entry_hash, data, session, agreement)
    except (VerificationError, ApprovalError) as exc:
        if isinstance(exc, VerificationError) and exc.message.startswith(what):
            raise
        raise _refuse(position, f"is invalid: {exc.message}") from None


def _entry_content(
    position: int,
    body: dict[str, Any],
    entry_hash: str,
    data: bytes,
    session: SessionPublicKeys,
    agreement: SignedAgreement,
) -> AuditEntry:
    error: type[AccordError] = VerificationError
    if body["format"] != AUDIT_ENTRY_FORMAT:
        raise _refuse(position, f"has format {str(body['format'])[:40]!r}")
    index = body["index"]
    if index != position or isinstance(index, bool):
        raise _refuse(
            position,
            f"carries index {str(index)[:20]}: an entry is missing, duplicated or out of order",
        )
    previous = check_hex(body["previous"], "field 'previous'", 32, error)
    if body["agreement_digest"] != agreement.digest:
        raise _refuse(position, "is for another agreement")
    if body["session_id"] != session.session_id:
        raise _refuse(position, f"is from another session than {session.session_id}")
    command = Command.from_object(body["command"])
    if body["command_digest"] != command.digest:
        raise _refuse(position, "has a command digest that does not match its command")
    if command.agreement_digest != agreement.digest:
        raise _refuse(position, "ran a command for another agreement")
    if session.session_id not in command.session_ids:
        raise _refuse(position, "ran a command that does not name this session")
    approvals = _approvals(position, body["approvals"], command, agreement)
    outputs_value = body["outputs"]
    if not isinstance(outputs_value, list):
        raise _refuse(position, "has outputs that are not a list")
    outputs = parse_outputs(outputs_value, f"audit log entry {position}", error)
    if list(outputs) != sorted(outputs):
        raise _refuse(position, "lists its outputs out of order")
    check_status(body["status"], body["error"], outputs, f"audit log entry {position}", error)
    check_recipients(command, agreement)
    for output in outputs:
        if output.recipient not in command.recipients:
            raise _refuse(position, f"has an output for {output.recipient}, not a recipient")
    return AuditEntry(
        index=position,
        previous=previous,
        hash=entry_hash,
        command=command,
        approvals=approvals,
        outputs=outputs,
        status=body["status"],
        error=body["error"],
        executed_at=parse_timestamp(body["executed_at"], "field 'executed_at'", error=error),
        signed_bytes=data,
    )


def _approvals(
    position: int, value: object, command: Command, agreement: SignedAgreement
) -> tuple[Approval, ...]:
    if not isinstance(value, list):
        raise _refuse(position, "has approvals that are not a list")
    keys = agreement.party_keys
    approvals: list[Approval] = []
    for item in value:
        if not isinstance(item, dict):
            raise _refuse(position, "has an approval that is not an object")
        require_keys(item, frozenset({"party", "signature"}), "approval", error=VerificationError)
        party = item["party"]
        key = keys.get(party) if isinstance(party, str) else None
        if key is None:
            raise _refuse(position, f"counts an approval by {str(party)[:40]!r}, not a party")
        approval = Approval(
            party, decode_signature(item["signature"], "approval", VerificationError)
        )
        verify_approval(command.digest, approval, key)
        approvals.append(approval)
    names = [approval.party for approval in approvals]
    if names != sorted(set(names)):
        raise _refuse(position, "lists approvals out of order or twice")
    rule = agreement.rule_for(command.operation)
    if not rule.is_satisfied_by(names):
        raise _refuse(
            position,
            f"ran sequence {command.sequence} ('{command.operation}') without the approvals "
            f"the agreement requires: {rule.explain(names)}",
        )
    return tuple(approvals)
