"""Commands: the canonical JSON document that parties sign before an enclave acts.

Wire form (UTF-8, RFC 8785 canonical JSON; the bytes must already be canonical)::

    {"format": "accord-command/v1",
     "agreement_digest": <64 hex>,        the agreement the command runs under
     "session_ids": [<32 hex>, ...],      sorted, unique, non-empty: the node sessions that
                                          may execute it
     "sequence": <int >= 1>,              the number every listed node must expect next
     "operation": <one of accord.agreement.OPERATIONS>,
     "arguments": {...},                  operation-specific JSON object
     "recipients": [<party>, ...],        sorted, unique: who receives outputs
     "proposer": <party>,
     "created_at": "YYYY-MM-DDTHH:MM:SSZ",
     "expires_at": "YYYY-MM-DDTHH:MM:SSZ"}

The digest is the SHA-256 (lowercase hex) of those bytes; it is also the proposal id. A party
approves by signing the 32 raw digest bytes with Ed25519 and context ``"command"``
(:func:`sign_command`); it rejects with context ``"reject"`` (:func:`sign_rejection`). The
contexts keep an approval from ever passing for a rejection, an agreement signature or any
other document. docs/consensus.md specifies the format and the node's checks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from accord._internal.canonical import canonical_json
from accord.agreement.rules import OPERATIONS
from accord.attest._fields import load_json_object, require_keys
from accord.crypto.keys import SigningKey, VerifyKey
from accord.enclave._wire import (
    MAX_JSON_INT,
    check_hex,
    clip,
    format_timestamp,
    freeze,
    parse_timestamp,
    plain_json,
    printable,
    utc_now,
)
from accord.errors import AccordError, UsageError, VerificationError

__all__ = [
    "COMMAND_FORMAT",
    "COMMAND_SIGNATURE_CONTEXT",
    "MAX_COMMAND_BYTES",
    "MAX_COMMAND_LIFETIME",
    "REJECTION_SIGNATURE_CONTEXT",
    "SIGNATURE_BYTES",
    "Approval",
    "Command",
    "format_timestamp",
    "parse_timestamp",
    "sign_command",
    "sign_rejection",
    "verify_approval",
    "verify_rejection",
]

COMMAND_FORMAT: Final = "accord-command/v1"
COMMAND_SIGNATURE_CONTEXT: Final = "command"
REJECTION_SIGNATURE_CONTEXT: Final = "reject"
MAX_COMMAND_BYTES: Final = 1024 * 1024
"""The largest command accepted on the wire (an echo message is at most 64 KiB)."""
MAX_COMMAND_LIFETIME: Final = timedelta(days=30)
"""The longest time from ``created_at`` to ``expires_at``."""
SIGNATURE_BYTES: Final = 64
MAX_SESSIONS: Final = 64
MAX_RECIPIENTS: Final = 256
MAX_PARTY_NAME_BYTES: Final = 256
MAX_SEQUENCE: Final = MAX_JSON_INT

_FIELDS: Final = frozenset(
    {
        "format",
        "agreement_digest",
        "session_ids",
        "sequence",
        "operation",
        "arguments",
        "recipients",
        "proposer",
        "created_at",
        "expires_at",
    }
)


@dataclass(frozen=True)
class Approval:
    """One party's signature over a command digest, as relayed to a node.

    Nothing about an approval is trusted because it was constructed: a node checks the party
    and the signature itself (:class:`accord.enclave.consensus.CommandGate`).

    Parameters
    ----------
    party
        The name of the party said to have signed.
    signature
        The Ed25519 signature, context ``"command"``, over the raw digest bytes.
    """

    party: str
    signature: bytes

    def __repr__(self) -> str:
        return f"Approval(party={self.party!r}, signature={self.signature[:8].hex()}..)"


@dataclass(frozen=True)
class Command:
    """A command for the enclave nodes of one agreement, as parties see and sign it.

    Build one in code (values are checked; ``session_ids`` and ``recipients`` are sorted)
    or with :meth:`create`; read one with :meth:`from_bytes`. The ``arguments`` are held
    read-only.

    Parameters
    ----------
    agreement_digest
        The agreement's digest, 64 lowercase hex characters.
    session_ids
        The node sessions that may execute the command (32 lowercase hex characters each).
    sequence
        The sequence number the nodes must expect next (1 to 2**53 - 1).
    operation
        One of :data:`accord.agreement.OPERATIONS`.
    arguments
        The operation's arguments: a JSON object (strings, integers, finite floats, booleans,
        null, lists, objects).
    recipients
        Parties that receive outputs.
    proposer
        The party that proposed the command.
    created_at, expires_at
        Aware datetimes, whole seconds; ``expires_at`` is later than ``created_at`` by at
        most :data:`MAX_COMMAND_LIFETIME`.

    Raises
    ------
    UsageError
        If any value is malformed, naming the field.
    """

    agreement_digest: str
    session_ids: tuple[str, ...]
    sequence: int
    operation: str
    arguments: Mapping[str, Any]
    recipients: tuple[str, ...]
    proposer: str
    created_at: datetime
    expires_at: datetime
    _canonical: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _validate(self, UsageError)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Command) and self._canonical == other._canonical

    def __hash__(self) -> int:
        return hash(self._canonical)

    @classmethod
    def create(
        cls,
        *,
        agreement_digest: str,
        session_ids: Iterable[str],
        sequence: int,
        operation: str,
        arguments: Mapping[str, Any],
        recipients: Iterable[str],
        proposer: str,
        ttl: timedelta,
        now: Callable[[], datetime] = utc_now,
    ) -> Command:
        """Build a command created now (to the second) that expires ``ttl`` later.

        Parameters
        ----------
        agreement_digest, session_ids, sequence, operation, arguments, recipients, proposer
            As for the class.
        ttl
            How long the command may wait for approvals and execution.
        now
            The clock (timezone-aware).

        Returns
        -------
        Command
            The command.

        Raises
        ------
        UsageError
            If a value is malformed or ``ttl`` is not positive or longer than
            :data:`MAX_COMMAND_LIFETIME`.
        """
        current = now()
        if current.utcoffset() is None:
            raise UsageError("the command clock must return timezone-aware datetimes")
        created = current.astimezone(UTC).replace(microsecond=0)
        return cls(
            agreement_digest=agreement_digest,
            session_ids=tuple(session_ids),
            sequence=sequence,
            operation=operation,
            arguments=arguments,
            recipients=tuple(recipients),
            proposer=proposer,
            created_at=created,
            expires_at=created + ttl,
        )

    @property
    def digest(self) -> str:
        """SHA-256 (hex) of :meth:`to_bytes`: what parties sign and the proposal id."""
        return hashlib.sha256(self._canonical).hexdigest()

    def to_bytes(self) -> bytes:
        """Return the canonical JSON wire form."""
        return self._canonical

    def to_object(self) -> dict[str, Any]:
        """Return the wire form as a fresh JSON object (for embedding in other documents)."""
        value: dict[str, Any] = json.loads(self._canonical)
        return value

    @classmethod
    def from_bytes(cls, data: bytes) -> Command:
        """Parse the wire form strictly: exact fields, types, sizes and canonical bytes.

        Raises
        ------
        VerificationError
            If the command is malformed, naming the field.
        """
        obj = load_json_object(data, "command", max_len=MAX_COMMAND_BYTES, error=VerificationError)
        command = cls.from_object(obj)
        if command.to_bytes() != data:
            raise VerificationError(
                "command is not in canonical form (RFC 8785 canonical JSON); its digest "
                "would not be the one the parties signed",
                hint="Relay the command bytes exactly as the proposer produced them.",
            )
        return command

    @classmethod
    def from_object(cls, obj: object) -> Command:
        """Parse a command from an already decoded JSON object (as embedded in audit entries).

        Raises
        ------
        VerificationError
            If the object is malformed, naming the field.
        """
        error = VerificationError
        if not isinstance(obj, dict):
            raise error(f"command must be a JSON object, got {type(obj).__name__}")
        require_keys(obj, _FIELDS, "command", error=error)
        if obj["format"] != COMMAND_FORMAT:
            raise error(
                f"command has format {clip(obj['format'])!r}; this node reads {COMMAND_FORMAT!r}"
            )
        for name in ("session_ids", "recipients"):
            values = obj[name]
            if not isinstance(values, list):
                raise error(f"command field {name!r} must be a list")
            if values != sorted(values, key=str) or len(set(map(str, values))) != len(values):
                raise error(f"command field {name!r} must be sorted and without duplicates")
        try:
            return cls(
                agreement_digest=obj["agreement_digest"],
                session_ids=tuple(obj["session_ids"]),
                sequence=obj["sequence"],
                operation=obj["operation"],
                arguments=obj["arguments"],
                recipients=tuple(obj["recipients"]),
                proposer=obj["proposer"],
                created_at=parse_timestamp(
                    obj["created_at"], "command field 'created_at'", error=error
                ),
                expires_at=parse_timestamp(
                    obj["expires_at"], "command field 'expires_at'", error=error
                ),
            )
        except UsageError as exc:
            raise VerificationError(exc.message) from None

    def describe(self) -> str:
        """Return the full, human-readable command, to be shown before anyone signs it.

        Every field is shown; strings are escaped so that no control or invisible character
        can disguise what is signed.
        """
        arguments = json.dumps(self.to_object()["arguments"], indent=2, sort_keys=True)
        lines = [
            f"command {self.digest}",
            f"  format:      {COMMAND_FORMAT}",
            f"  operation:   {self.operation}",
            f"  agreement:   {self.agreement_digest}",
            f"  sessions:    {', '.join(self.session_ids)}",
            f"  sequence:    {self.sequence}",
            f"  proposer:    {printable(self.proposer)}",
            f"  recipients:  {', '.join(map(printable, self.recipients)) or '(none)'}",
            f"  created at:  {format_timestamp(self.created_at)}",
            f"  expires at:  {format_timestamp(self.expires_at)}",
            "  arguments:",
            *(f"    {line}" for line in arguments.splitlines()),
        ]
        return "\n".join(lines)


def sign_command(command: Command, signing_key: SigningKey) -> bytes:
    """Approve ``command``: sign its raw digest with context ``"command"``.

    Show the signer :meth:`Command.describe` first: the signature approves exactly that.

    Returns
    -------
    bytes
        The 64-byte Ed25519 signature.
    """
    return signing_key.sign(bytes.fromhex(command.digest), context=COMMAND_SIGNATURE_CONTEXT)


def sign_rejection(command: Command, signing_key: SigningKey) -> bytes:
    """Reject ``command``: sign its raw digest with context ``"reject"``.

    Returns
    -------
    bytes
        The 64-byte Ed25519 signature.
    """
    return signing_key.sign(bytes.fromhex(command.digest), context=REJECTION_SIGNATURE_CONTEXT)


def verify_approval(command_digest: str, approval: Approval, verify_key: VerifyKey) -> None:
    """Check that ``approval`` is ``verify_key``'s approval of the command ``command_digest``.

    Parameters
    ----------
    command_digest
        The command digest, 64 lowercase hex characters.
    approval
        The approval to check.
    verify_key
        The key the agreement lists for ``approval.party``.

    Raises
    ------
    VerificationError
        Naming the party, if the signature is malformed or does not verify (another key
        signed it, it signs another command, or it was made for another purpose).
    """
    _verify(command_digest, approval.party, approval.signature, verify_key, "approval")


def verify_rejection(
    command_digest: str, party: str, signature: bytes, verify_key: VerifyKey
) -> None:
    """Check that ``signature`` is ``party``'s rejection of the command ``command_digest``.

    Raises
    ------
    VerificationError
        Naming the party, if the signature is malformed or does not verify.
    """
    _verify(command_digest, party, signature, verify_key, "rejection")


def _verify(digest: str, party: str, signature: bytes, key: VerifyKey, kind: str) -> None:
    context = COMMAND_SIGNATURE_CONTEXT if kind == "approval" else REJECTION_SIGNATURE_CONTEXT
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_BYTES:
        size = len(signature) if isinstance(signature, bytes) else 0
        raise VerificationError(
            f"the {kind} by party {printable(party)} has a {size}-byte signature; an Ed25519 "
            f"signature is {SIGNATURE_BYTES} bytes"
        )
    try:
        key.verify(signature, bytes.fromhex(digest), context=context)
    except VerificationError:
        raise VerificationError(
            f"the {kind} by party {printable(party)} does not verify with that party's key "
            f"{key.fingerprint[:16]} for command {digest[:16]}..: another key made it, it "
            f"signs another command, or it was made for another purpose than a command {kind}",
            hint="Drop this signature and ask the party to sign the command it was shown.",
        ) from None


def _validate(command: Command, error: type[AccordError]) -> None:
    check_hex(command.agreement_digest, "command field 'agreement_digest'", 32, error)
    sessions = _check_names(command.session_ids, "session_ids", MAX_SESSIONS, error)
    for session_id in sessions:
        check_hex(session_id, "command field 'session_ids'", 16, error)
    if not sessions:
        raise error("command field 'session_ids' must name at least one node session")
    sequence = command.sequence
    if isinstance(sequence, bool) or not isinstance(sequence, int):
        raise error(f"command field 'sequence' must be an integer, got {clip(sequence)!r}")
    if not 1 <= sequence <= MAX_SEQUENCE:
        raise error(f"command field 'sequence' must be from 1 to 2**53-1, got {sequence}")
    if command.operation not in OPERATIONS:
        raise error(
            f"command field 'operation' is {clip(command.operation)!r}, not one of "
            f"{', '.join(OPERATIONS)}"
        )
    recipients = _check_names(command.recipients, "recipients", MAX_RECIPIENTS, error)
    for name in (*recipients, command.proposer):
        _check_party_name(name, error)
    created = _check_time(command.created_at, "created_at", error)
    expires = _check_time(command.expires_at, "expires_at", error)
    if not created < expires <= created + MAX_COMMAND_LIFETIME:
        raise error(
            "command field 'expires_at' must be after 'created_at' and at most "
            f"{MAX_COMMAND_LIFETIME.days} days later"
        )
    arguments = command.arguments
    if not isinstance(arguments, Mapping):
        raise error("command field 'arguments' must be a JSON object")
    plain = plain_json(arguments, "command arguments", error)
    object.__setattr__(command, "session_ids", sessions)
    object.__setattr__(command, "recipients", recipients)
    object.__setattr__(command, "created_at", created)
    object.__setattr__(command, "expires_at", expires)
    wire = {
        "format": COMMAND_FORMAT,
        "agreement_digest": command.agreement_digest,
        "session_ids": list(sessions),
        "sequence": sequence,
        "operation": command.operation,
        "arguments": plain,
        "recipients": list(recipients),
        "proposer": command.proposer,
        "created_at": format_timestamp(created),
        "expires_at": format_timestamp(expires),
    }
    try:
        canonical = canonical_json(wire)
    except UsageError as exc:
        raise error(f"command cannot be written as canonical JSON: {exc.message}") from None
    if len(canonical) > MAX_COMMAND_BYTES:
        raise error(f"command is {len(canonical)} bytes; at most {MAX_COMMAND_BYTES} are allowed")
    object.__setattr__(command, "arguments", freeze(plain))
    object.__setattr__(command, "_canonical", canonical)


def _check_names(
    values: object, name: str, limit: int, error: type[AccordError]
) -> tuple[str, ...]:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise error(f"command field {name!r} must be a list of strings")
    items = tuple(values)
    if not all(isinstance(item, str) for item in items):
        raise error(f"command field {name!r} must hold only strings")
    if len(items) > limit:
        raise error(f"command field {name!r} holds {len(items)} entries; at most {limit}")
    if len(set(items)) != len(items):
        raise error(f"command field {name!r} names the same entry twice")
    return tuple(sorted(items))


def _check_party_name(value: object, error: type[AccordError]) -> None:
    if (
        not isinstance(value, str)
        or not 0 < len(value.encode("utf-8", "surrogatepass")) <= MAX_PARTY_NAME_BYTES
        or not value.isprintable()
    ):
        raise error(
            f"party name {clip(value)!r} must be 1 to {MAX_PARTY_NAME_BYTES} bytes of "
            "printable text"
        )


def _check_time(value: object, name: str, error: type[AccordError]) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise error(f"command field {name!r} must be a timezone-aware datetime")
    if value.microsecond:
        raise error(f"command field {name!r} must be a whole second")
    return value.astimezone(UTC)
