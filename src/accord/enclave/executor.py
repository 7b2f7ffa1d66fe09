"""Running admitted commands: operation dispatch, sealing outputs, logging, receipts.

An :class:`Executor` maps operation names to handlers. A handler receives an
:class:`OperationContext` and returns plaintext :class:`PlainOutput` values; the executor,
not the handler, seals each one with its recipient's provisioned data key, so no handler can
send plaintext out of the enclave or to anyone the command does not name. The table is per
executor (no global registry)::

    executor = Executor(session, blobs, operations={**BUILTIN_OPERATIONS, "train": train})

:class:`CommandRunner` is the node's whole path for one command: admit (the gate's checks,
which change nothing when they refuse), execute, append to the audit log, consume the
sequence number, sign a receipt. It runs one command at a time.

Built-in operation ``echo``: arguments ``{"message": <text, 1 byte to 64 KiB of UTF-8>}``;
one output named ``"echo"`` holding the message bytes for each recipient.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Final, Protocol

from accord.agreement.signing import SignedAgreement
from accord.crypto.sealed import seal_bytes
from accord.enclave._wire import utc_now
from accord.enclave.audit import AuditEntry, AuditLog
from accord.enclave.commands import Approval, Command
from accord.enclave.consensus import AdmittedCommand, CommandGate
from accord.enclave.receipts import (
    EXECUTED,
    FAILED,
    MAX_ERROR_CHARS,
    OutputDigest,
    Receipt,
    sign_receipt,
)
from accord.enclave.session import EnclaveSession
from accord.errors import AccordError, UsageError

__all__ = [
    "BUILTIN_OPERATIONS",
    "MAX_ECHO_BYTES",
    "BlobSource",
    "CommandOutcome",
    "CommandRunner",
    "ExecutionResult",
    "Executor",
    "OperationContext",
    "OperationHandler",
    "PlainOutput",
    "SealedOutput",
    "run_echo",
]

MAX_ECHO_BYTES: Final = 64 * 1024
_LOG: Final = logging.getLogger("accord.enclave")


class BlobSource(Protocol):
    """Where a node keeps the sealed blobs that commands name (ciphertext only)."""

    def path(self, blob_id: str) -> Path:
        """Return the file holding blob ``blob_id`` (its SHA-256, lowercase hex).

        Raises
        ------
        UsageError
            If the node does not hold the blob.
        """
        ...


@dataclass(frozen=True)
class OperationContext:
    """What a handler may use: the command, the session (for data keys) and the blobs.

    Parameters
    ----------
    command
        The admitted command.
    session
        The enclave session (data keys released to it).
    blobs
        The node's blob store.
    """

    command: Command
    session: EnclaveSession
    blobs: BlobSource


@dataclass(frozen=True)
class PlainOutput:
    """A plaintext result for one recipient; the executor seals it before it leaves.

    Parameters
    ----------
    recipient
        A party the command names as recipient.
    name
        The output's name (1 to 128 printable characters), unique per recipient.
    data
        The plaintext (not empty).
    """

    recipient: str
    name: str
    data: bytes = field(repr=False)


OperationHandler = Callable[[OperationContext], Sequence[PlainOutput]]
"""A handler runs one operation; it raises an AccordError to fail the command."""


@dataclass(frozen=True)
class SealedOutput:
    """One output sealed with its recipient's data key (what the node returns).

    Parameters
    ----------
    recipient, name
        As in :class:`PlainOutput`.
    sealed
        The sealed file bytes (content type ``bytes``, metadata ``name``).
    digest
        SHA-256 (hex) of ``sealed``.
    """

    recipient: str
    name: str
    sealed: bytes = field(repr=False)
    digest: str

    def to_digest(self) -> OutputDigest:
        """Return the output as receipts and audit entries list it."""
        return OutputDigest(recipient=self.recipient, name=self.name, digest=self.digest)


@dataclass(frozen=True)
class ExecutionResult:
    """How an admitted command ended.

    Parameters
    ----------
    status
        ``"executed"`` or ``"failed"``.
    outputs
        The sealed outputs (none when failed), sorted by recipient and name.
    error
        Why it failed (``None`` when executed).
    """

    status: str
    outputs: tuple[SealedOutput, ...]
    error: str | None


def run_echo(context: OperationContext) -> list[PlainOutput]:
    """Return the argument ``message`` as an output named ``"echo"`` for each recipient.

    Raises
    ------
    UsageError
        If the arguments are not exactly ``{"message": <1 byte to 64 KiB of text>}``.
    """
    arguments = context.command.arguments
    if set(arguments) != {"message"} or not isinstance(arguments["message"], str):
        raise UsageError("echo takes exactly one argument, 'message', a string")
    data = arguments["message"].encode("utf-8", "surrogatepass")
    if not 0 < len(data) <= MAX_ECHO_BYTES:
        raise UsageError(
            f"the echo message is {len(data)} bytes; it must be 1 to {MAX_ECHO_BYTES} bytes"
        )
    return [PlainOutput(recipient, "echo", data) for recipient in context.command.recipients]


BUILTIN_OPERATIONS: Final[Mapping[str, OperationHandler]] = MappingProxyType({"echo": run_echo})
"""The operations every node has; pass a larger mapping to :class:`Executor` to add more."""


class Executor:
    """Runs admitted commands with a per-executor table of operation handlers.

    Parameters
    ----------
    session
        The enclave session (its data keys seal the outputs).
    blobs
        The node's blob store.
    operations
        Operation name to handler; defaults to :data:`BUILTIN_OPERATIONS`.
    """

    def __init__(
        self,
        session: EnclaveSession,
        blobs: BlobSource,
        *,
        operations: Mapping[str, OperationHandler] = BUILTIN_OPERATIONS,
    ) -> None:
        self._session = session
        self._blobs = blobs
        self._operations = MappingProxyType(dict(operations))

    @property
    def operations(self) -> frozenset[str]:
        """The operations this executor can run."""
        return frozenset(self._operations)

    def execute(self, admitted: AdmittedCommand) -> ExecutionResult:
        """Run an admitted command; a failure is a result, not an exception.

        Before the handler runs, every recipient must have provisioned a data key; after it,
        every output must be for a recipient of the command and be unique per (recipient,
        name). Any :class:`~accord.errors.AccordError` fails the command with its message;
        any other exception fails it naming only the exception class.

        Returns
        -------
        ExecutionResult
            ``executed`` with the sealed outputs, or ``failed`` with the reason.
        """
        command = admitted.command
        try:
            handler = self._operations.get(command.operation)
            if handler is None:
                raise UsageError(f"this node cannot execute operation {command.operation!r}")
            keys = {name: self._session.party_data_key(name) for name in command.recipients}
            context = OperationContext(command=command, session=self._session, blobs=self._blobs)
            plain = list(handler(context))
            outputs = []
            seen: set[tuple[str, str]] = set()
            for output in plain:
                if output.recipient not in keys:
                    raise UsageError(
                        f"operation '{command.operation}' produced output {output.name!r} for "
                        f"{output.recipient!r}, who is not a recipient of the command"
                    )
                if (output.recipient, output.name) in seen:
                    raise UsageError(
                        f"operation '{command.operation}' produced output {output.name!r} for "
                        f"{output.recipient} twice"
                    )
                seen.add((output.recipient, output.name))
                sealed = seal_bytes(output.data, keys[output.recipient], name=output.name)
                outputs.append(
                    SealedOutput(
                        recipient=output.recipient,
                        name=output.name,
                        sealed=sealed,
                        digest=hashlib.sha256(sealed).hexdigest(),
                    )
                )
                OutputDigest(output.recipient, output.name, outputs[-1].digest)  # checks name
        except AccordError as exc:
            return ExecutionResult(status=FAILED, outputs=(), error=_short(exc.message))
        except Exception as exc:
            _LOG.error(
                "command %s (%s) failed with %s",
                command.digest[:16],
                command.operation,
                type(exc).__name__,
            )
            return ExecutionResult(
                status=FAILED,
                outputs=(),
                error=f"internal error ({type(exc).__name__}) while running '{command.operation}'",
            )
        ordered = tuple(sorted(outputs, key=lambda o: (o.recipient, o.name)))
        return ExecutionResult(status=EXECUTED, outputs=ordered, error=None)


@dataclass(frozen=True)
class CommandOutcome:
    """What a node returns for a command that ran (executed or failed).

    Parameters
    ----------
    receipt
        The signed ``accord-receipt/v1`` bytes.
    outputs
        The sealed outputs (none when failed).
    entry
        The audit entry that records the command.
    """

    receipt: bytes = field(repr=False)
    outputs: tuple[SealedOutput, ...]
    entry: AuditEntry = field(repr=False)

    @property
    def status(self) -> str:
        """``"executed"`` or ``"failed"``."""
        return self.entry.status

    @property
    def error(self) -> str | None:
        """Why the command failed, or ``None``."""
        return self.entry.error


class CommandRunner:
    """A node's command path: gate, executor, audit log and receipts, one command at a time.

    Parameters
    ----------
    agreement
        The signed agreement the node runs.
    session
        The node's enclave session.
    blobs
        The node's blob store.
    operations
        Operation handlers; defaults to :data:`BUILTIN_OPERATIONS`.
    now
        The clock (timezone-aware) for expiry and audit times.
    """

    def __init__(
        self,
        agreement: SignedAgreement,
        session: EnclaveSession,
        blobs: BlobSource,
        *,
        operations: Mapping[str, OperationHandler] = BUILTIN_OPERATIONS,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        if agreement.digest != session.agreement_digest:
            raise UsageError("the enclave session was created for another agreement")
        self._session = session
        self.executor = Executor(session, blobs, operations=operations)
        self.gate = CommandGate(
            agreement, session.session_id, now=now, operations=self.executor.operations
        )
        self.audit = AuditLog(session, now=now)
        self._lock = threading.Lock()

    @property
    def operations(self) -> Collection[str]:
        """The operations this node runs."""
        return self.executor.operations

    def run(self, command_bytes: bytes, approvals: Sequence[Approval]) -> CommandOutcome:
        """Admit, execute, log and commit one command; return the signed receipt and outputs.

        A command refused by the gate raises and changes nothing: no sequence number is
        consumed, nothing runs and nothing is logged. An admitted command always ends in
        the audit log, as executed or failed, and consumes its sequence number.

        Raises
        ------
        VerificationError, ApprovalError, UsageError
            As :meth:`CommandGate.admit` raises them.
        """
        with self._lock:
            admitted = self.gate.admit(command_bytes, approvals)
            result = self.executor.execute(admitted)
            entry = self.audit.append(
                admitted,
                status=result.status,
                outputs=[output.to_digest() for output in result.outputs],
                error=result.error,
            )
            self.gate.commit(admitted)
        receipt = Receipt(
            session_id=self._session.session_id,
            command_digest=admitted.digest,
            audit_index=entry.index,
            audit_hash=entry.hash,
            status=entry.status,
            error=entry.error,
            outputs=entry.outputs,
        )
        _LOG.info(
            "command %s sequence %d (%s) %s",
            admitted.digest[:16],
            admitted.command.sequence,
            admitted.command.operation,
            entry.status,
        )
        return CommandOutcome(
            receipt=sign_receipt(receipt, self._session.signing_key),
            outputs=result.outputs,
            entry=entry,
        )


def _short(message: str) -> str:
    return message if len(message) <= MAX_ERROR_CHARS else message[: MAX_ERROR_CHARS - 2] + ".."
