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

Handlers keep state between the commands of a session (datasets loaded, models trained) in
the executor's :class:`Workspace`, reachable as :attr:`OperationContext.workspace`: process
memory only, one per executor (so one per session), gone with it.

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
from typing import Any, Final, NoReturn, Protocol, TypeVar, cast

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
    "Workspace",
    "run_echo",
]

MAX_ECHO_BYTES: Final = 64 * 1024
_LOG: Final = logging.getLogger("accord.enclave")
_State = TypeVar("_State")


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


class Workspace:
    """State that operations keep in enclave memory between the commands of one session.

    It holds at most one state object per state class, made on first use; a workload keeps
    its datasets and models in its own class (for example
    :class:`accord.workloads.xgboost.XGBoostState`). Nothing in it is ever written anywhere:
    it lives as long as its :class:`Executor` (one per session) and refuses pickling and
    copying, like the session's keys.
    """

    __slots__ = ("_lock", "_states")

    def __init__(self) -> None:
        self._states: dict[type[Any], Any] = {}
        self._lock = threading.Lock()

    def state(self, kind: type[_State], factory: Callable[[], _State] | None = None) -> _State:
        """Return the workspace's ``kind`` state, making it with ``factory`` (or ``kind()``).

        Parameters
        ----------
        kind
            The state class.
        factory
            Makes the state on first use; ``kind`` itself when omitted.

        Returns
        -------
        _State
            The one ``kind`` object of this workspace.
        """
        with self._lock:
            held = self._states.get(kind)
            if held is None:
                held = (factory or kind)()
                if not isinstance(held, kind):
                    raise UsageError(f"the factory for {kind.__name__} made another type")
                self._states[kind] = held
            return cast(_State, held)

    def find(self, kind: type[_State]) -> _State | None:
        """Return the workspace's ``kind`` state if one was made, without making it."""
        with self._lock:
            return cast(_State | None, self._states.get(kind))

    def clear(self) -> None:
        """Drop every state (their datasets and models go with them)."""
        with self._lock:
            self._states.clear()

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("a Workspace holds enclave data and cannot be pickled")

    def __copy__(self) -> NoReturn:
        raise TypeError("a Workspace cannot be copied")

    def __deepcopy__(self, memo: Any) -> NoReturn:
        raise TypeError("a Workspace cannot be copied")

    def __repr__(self) -> str:
        with self._lock:
            kinds = sorted(kind.__name__ for kind in self._states)
        return f"Workspace({', '.join(kinds) or 'empty'})"


@dataclass(frozen=True)
class OperationContext:
    """What a handler may use: the command, the session, the blobs and the workspace.

    Parameters
    ----------
    command
        The admitted command.
    session
        The enclave session (data keys released to it).
    blobs
        The node's blob store.
    workspace
        The executor's in-memory state, kept between the commands of the session.
    """

    command: Command
    session: EnclaveSession
    blobs: BlobSource
    workspace: Workspace = field(default_factory=Workspace)


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
    workspace
        The state handlers keep between commands; a new, empty one when omitted.
    """

    def __init__(
        self,
        session: EnclaveSession,
        blobs: BlobSource,
        *,
        operations: Mapping[str, OperationHandler] = BUILTIN_OPERATIONS,
        workspace: Workspace | None = None,
    ) -> None:
        self._session = session
        self._blobs = blobs
        self._operations = MappingProxyType(dict(operations))
        self._workspace = workspace if workspace is not None else Workspace()

    @property
    def workspace(self) -> Workspace:
        """The in-memory state handlers keep between the commands of this session."""
        return self._workspace

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
            context = OperationContext(
                command=command,
                session=self._session,
                blobs=self._blobs,
                workspace=self._workspace,
            )
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
