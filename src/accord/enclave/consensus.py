"""Consensus inside the enclave: a node acts only on a command its parties signed, in order.

:class:`CommandGate` is the node's only way from command bytes to an
:class:`AdmittedCommand`. :meth:`CommandGate.admit` runs every check below, in this order,
and changes nothing; the first failure raises:

1. the bytes are a well-formed, canonical ``accord-command/v1`` (VerificationError);
2. the command is for this node's agreement (VerificationError);
3. this node's session is one of the command's ``session_ids`` (VerificationError);
4. the command has not expired and was not created in the future beyond the clock skew
   allowance (VerificationError);
5. the sequence number is the one this node expects next: lower is a replay, higher a gap
   (VerificationError);
6. the node supports the operation (UsageError);
7. the proposer and every recipient are parties and the output policy lets each recipient
   receive this operation's outputs (ApprovalError);
8. each approval by a party verifies with that party's key (VerificationError naming the
   party); approvals by names that are not parties are ignored and never counted, and a
   party approving twice counts once;
9. the parties whose approvals verified satisfy the agreement's rule for the operation
   (ApprovalError naming what is missing).

:meth:`CommandGate.commit` then consumes the sequence number, once the command has run to a
definitive end: executed *or* failed. A failed command keeps its number (it is in the audit
log as failed); the parties propose a new command to try again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Final

from accord.agreement.model import OutputPolicy
from accord.agreement.signing import SignedAgreement
from accord.enclave._wire import utc_now
from accord.enclave.commands import Approval, Command, format_timestamp, verify_approval
from accord.errors import ApprovalError, UsageError, VerificationError

__all__ = [
    "DEFAULT_CLOCK_SKEW",
    "MAX_APPROVALS",
    "AdmittedCommand",
    "CommandGate",
    "check_recipients",
]

DEFAULT_CLOCK_SKEW: Final = timedelta(minutes=5)
"""How far in the future a command's ``created_at`` may lie (clocks differ)."""
MAX_APPROVALS: Final = 256
"""The most approvals one Execute call may carry; more is refused before any is checked."""

_GATE_TOKEN: Final = object()


class AdmittedCommand:
    """A command that passed every check of a :class:`CommandGate`; only the gate makes one.

    Attributes
    ----------
    command
        The parsed command.
    command_bytes
        Its canonical bytes, exactly as the parties signed their digest.
    approvals
        The approvals that verified, one per party, sorted by party name.
    session_id
        The session of the gate that admitted it.
    """

    __slots__ = ("_gate", "approvals", "command", "command_bytes", "session_id")

    def __init__(
        self,
        token: object,
        *,
        gate: CommandGate,
        command: Command,
        command_bytes: bytes,
        approvals: tuple[Approval, ...],
    ) -> None:
        if token is not _GATE_TOKEN:
            raise UsageError("only CommandGate.admit() admits a command")
        self._gate = gate
        self.command = command
        self.command_bytes = command_bytes
        self.approvals = approvals
        self.session_id = gate.session_id

    @property
    def digest(self) -> str:
        """The command digest (the proposal id)."""
        return self.command.digest

    @property
    def approvers(self) -> frozenset[str]:
        """The parties whose approvals verified."""
        return frozenset(approval.party for approval in self.approvals)

    def __repr__(self) -> str:
        return (
            f"AdmittedCommand(digest={self.digest[:16]!r}, sequence={self.command.sequence}, "
            f"operation={self.command.operation!r})"
        )


class CommandGate:
    """The enclave's check of commands and their approvals, and its sequence counter.

    Parameters
    ----------
    agreement
        The signed agreement the node runs.
    session_id
        This node's enclave session id.
    now
        The clock (timezone-aware) for expiry.
    clock_skew
        How far in the future ``created_at`` may lie.
    operations
        The operations this node can execute; ``None`` accepts every known operation.

    The gate starts at sequence 1. It is safe to call from several threads; the node still
    runs one command at a time (admit, execute, log, commit).
    """

    def __init__(
        self,
        agreement: SignedAgreement,
        session_id: str,
        *,
        now: Callable[[], datetime] = utc_now,
        clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
        operations: Collection[str] | None = None,
    ) -> None:
        if clock_skew < timedelta(0):
            raise UsageError(f"the clock skew allowance must not be negative, got {clock_skew}")
        self._agreement = agreement
        self._session_id = session_id
        self._now = now
        self._clock_skew = clock_skew
        self._operations = None if operations is None else frozenset(operations)
        self._next_sequence = 1
        self._lock = threading.Lock()

    @property
    def session_id(self) -> str:
        """The session id of this node."""
        return self._session_id

    @property
    def agreement(self) -> SignedAgreement:
        """The agreement the gate enforces."""
        return self._agreement

    @property
    def next_sequence(self) -> int:
        """The sequence number the next command must carry."""
        return self._next_sequence

    def admit(self, command_bytes: bytes, approvals: Sequence[Approval]) -> AdmittedCommand:
        """Check a command and its approvals; change nothing.

        Parameters
        ----------
        command_bytes
            The canonical command bytes as relayed (untrusted).
        approvals
            The approvals as relayed (untrusted).

        Returns
        -------
        AdmittedCommand
            The command with the approvals that verified.

        Raises
        ------
        VerificationError
            Malformed command, another agreement or session, expired or from the future,
            replayed or out-of-order sequence, or a party's signature that does not verify.
        UsageError
            An operation this node does not support.
        ApprovalError
            A recipient the output policy does not allow, or approvals short of the rule.
        """
        command = Command.from_bytes(command_bytes)
        digest = command.digest
        agreement_digest = self._agreement.digest
        if command.agreement_digest != agreement_digest:
            raise VerificationError(
                f"command {digest[:16]}.. is for agreement {command.agreement_digest[:16]}..; "
                f"this node runs agreement {agreement_digest[:16]}..",
                hint="Propose the command under the agreement this node was started with.",
            )
        if self._session_id not in command.session_ids:
            raise VerificationError(
                f"command {digest[:16]}.. is for sessions {', '.join(command.session_ids)}; "
                f"this node's session is {self._session_id}",
                hint="Attest this node and propose a command that names its current session.",
            )
        self._check_times(command)
        self._check_sequence(command)
        if self._operations is not None and command.operation not in self._operations:
            raise UsageError(
                f"this node cannot execute operation {command.operation!r}; it supports "
                f"{', '.join(sorted(self._operations)) or 'nothing'}"
            )
        check_recipients(command, self._agreement)
        valid = self._valid_approvals(digest, approvals)
        rule = self._agreement.rule_for(command.operation)
        signers = frozenset(approval.party for approval in valid)
        if not rule.is_satisfied_by(signers):
            raise ApprovalError(
                f"command {digest[:16]}.. (sequence {command.sequence}): operation "
                f"'{command.operation}' {rule.explain(signers)}",
                hint="Collect the missing approvals before relaying the command.",
            )
        return AdmittedCommand(
            _GATE_TOKEN, gate=self, command=command, command_bytes=command_bytes, approvals=valid
        )

    def commit(self, admitted: AdmittedCommand) -> None:
        """Consume the admitted command's sequence number after it executed or failed.

        Raises
        ------
        UsageError
            If another gate admitted the command.
        VerificationError
            If its sequence number was consumed already (a second commit).
        """
        if admitted._gate is not self:
            raise UsageError("this command was admitted by another gate")
        with self._lock:
            sequence = admitted.command.sequence
            if sequence != self._next_sequence:
                raise VerificationError(
                    f"sequence {sequence} already executed; next is {self._next_sequence}"
                )
            self._next_sequence = sequence + 1

    def _check_times(self, command: Command) -> None:
        now = self._now()
        if now.utcoffset() is None:
            raise UsageError("the command gate clock must return timezone-aware datetimes")
        if command.expires_at <= now:
            raise VerificationError(
                f"command {command.digest[:16]}.. expired at "
                f"{format_timestamp(command.expires_at)}",
                hint="Propose the command again and collect the approvals in time.",
            )
        if command.created_at > now + self._clock_skew:
            raise VerificationError(
                f"command {command.digest[:16]}.. was created at "
                f"{format_timestamp(command.created_at)}, in the future for this node "
                f"(more than {int(self._clock_skew.total_seconds())} s ahead)",
                hint="Check the proposer's clock.",
            )

    def _check_sequence(self, command: Command) -> None:
        expected = self._next_sequence
        sequence = command.sequence
        if sequence < expected:
            raise VerificationError(
                f"sequence {sequence} already executed; next is {expected}",
                hint="A command runs once; propose a new command with the next sequence.",
            )
        if sequence > expected:
            raise VerificationError(
                f"sequence {sequence} skips ahead; this node expects {expected} next",
                hint="Ask the node for its next sequence (GetStatus) and propose with it.",
            )

    def _valid_approvals(self, digest: str, approvals: Sequence[Approval]) -> tuple[Approval, ...]:
        if len(approvals) > MAX_APPROVALS:
            raise VerificationError(
                f"command {digest[:16]}.. carries {len(approvals)} approvals; at most "
                f"{MAX_APPROVALS} are accepted"
            )
        keys = self._agreement.party_keys
        valid: dict[str, Approval] = {}
        for approval in approvals:
            if not isinstance(approval, Approval):
                raise VerificationError("an approval is not an Approval(party, signature)")
            key = keys.get(approval.party) if isinstance(approval.party, str) else None
            if key is None:
                continue  # not a party: counts for nothing
            verify_approval(digest, approval, key)
            valid.setdefault(approval.party, approval)
        return tuple(valid[party] for party in sorted(valid))


def check_recipients(command: Command, agreement: SignedAgreement) -> None:
    """Check that the proposer and recipients are parties and the output policy allows them.

    Which recipients an operation may have:

    * ``echo``: any party;
    * ``release_model``, ``save_model``: the output policy's ``models``;
    * ``evaluate``: ``metrics``; ``feature_importance``: ``feature_importance``;
    * ``predict``: the prediction recipients of the party named by the argument
      ``data_owner``;
    * ``load``, ``load_model``, ``train``: none (their results stay in the enclave).

    Raises
    ------
    ApprovalError
        Naming the recipient and what the policy allows.
    """
    parties = agreement.party_keys
    for name in (command.proposer, *command.recipients):
        if name not in parties:
            raise ApprovalError(
                f"command {command.digest[:16]}.. names {name!r}, who is not a party of the "
                f"agreement (its parties: {', '.join(sorted(parties))})",
                hint="Only parties may propose commands or receive their outputs.",
            )
    allowed, source = _allowed_recipients(command, agreement.outputs, frozenset(parties))
    for recipient in command.recipients:
        if recipient not in allowed:
            raise ApprovalError(
                f"the agreement's output policy does not let {recipient} receive the output "
                f"of '{command.operation}' ({source}: {', '.join(sorted(allowed)) or 'nobody'})",
                hint="Propose the command with recipients the output policy allows.",
            )


def _allowed_recipients(
    command: Command, outputs: OutputPolicy, parties: frozenset[str]
) -> tuple[frozenset[str], str]:
    operation = command.operation
    by_policy: Mapping[str, tuple[frozenset[str], str]] = {
        "echo": (parties, "echo may go to"),
        "release_model": (outputs.models, "models go to"),
        "save_model": (outputs.models, "models go to"),
        "evaluate": (outputs.metrics, "metrics go to"),
        "feature_importance": (outputs.feature_importance, "feature importance goes to"),
    }
    if operation in by_policy:
        return by_policy[operation]
    if operation == "predict":
        owner = command.arguments.get("data_owner")
        if not isinstance(owner, str) or owner not in parties:
            if not command.recipients:
                return frozenset(), "predictions go to"
            raise ApprovalError(
                f"command {command.digest[:16]}.. (predict) must name the party whose data it "
                "predicts on in the argument 'data_owner', so that the output policy can be "
                "applied"
            )
        return outputs.prediction_recipients(owner), f"predictions on {owner}'s data go to"
    return frozenset(), f"'{operation}' has no outputs for parties; recipients allowed"
