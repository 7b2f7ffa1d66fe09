"""The proposal lifecycle: who may propose, approve and reject, and when a proposal moves on.

::

                 Propose (with the proposer's approval)
                        |
                        v
     +----------- pending -----------+---------------------+
     | rule met       | a party of   | expires_at passed   |
     v                | the rule     v                     |
  executing           | rejects    expired                 |
     |                v                                    |
     +--> executed  rejected                               |
     +--> failed    (every node succeeded / any node failed or the relay could not start)

``executed``, ``failed``, ``rejected`` and ``expired`` are final. Every change is one
transaction in the :class:`~accord.orchestrator.store.ProposalStore` and wakes every
:meth:`ProposalBook.wait`.

The orchestrator checks each signature against the agreement so as not to relay junk, but
it is not trusted: every enclave node checks the command, the signatures and the rule again.
A caller is the party whose TLS client certificate it presented (``caller``); a party may
propose, approve and reject only as itself.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Final

from accord.agreement import SignedAgreement
from accord.enclave.commands import Approval, Command, verify_approval, verify_rejection
from accord.errors import ApprovalError, UsageError, VerificationError
from accord.orchestrator.records import (
    ApprovalRecord,
    NodeResultRecord,
    ProposalRecord,
    RejectionRecord,
)
from accord.orchestrator.store import ProposalStore

__all__ = ["CLOCK_SKEW", "MAX_REASON_CHARS", "MAX_WAIT_SECONDS", "ProposalBook", "utc_now"]

MAX_WAIT_SECONDS: Final = 60.0
"""The longest a single :meth:`ProposalBook.wait` blocks; callers wait again if needed."""

MAX_REASON_CHARS: Final = 1000
"""The longest rejection reason accepted."""

CLOCK_SKEW: Final = dt.timedelta(minutes=1)
"""How far a proposer's clock may run ahead when the lifetime limit is checked."""

_log = logging.getLogger("accord.orchestrator")


def utc_now() -> dt.datetime:
    """Return the current time, timezone-aware (UTC)."""
    return dt.datetime.now(dt.UTC)


def _short(proposal_id: str) -> str:
    return f"{proposal_id[:16]}.."


class ProposalBook:
    """Proposals of one agreement, kept in a store, moved through their lifecycle.

    Parameters
    ----------
    store
        The durable store.
    agreement
        The signed agreement whose parties, keys and rules apply.
    max_ttl
        The longest time from now to a new proposal's ``expires_at``.
    now
        The clock (timezone-aware); injectable so expiry can be tested.
    """

    def __init__(
        self,
        store: ProposalStore,
        agreement: SignedAgreement,
        *,
        max_ttl: dt.timedelta,
        now: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self._store = store
        self._agreement = agreement
        self._max_ttl = max_ttl
        self._now = now
        self._changed = threading.Condition(threading.RLock())
        self._dispatch: Callable[[str], None] | None = None

    def set_dispatcher(self, dispatch: Callable[[str], None]) -> None:
        """Name the function that relays a proposal once it is executing (the relay's)."""
        self._dispatch = dispatch

    @property
    def store(self) -> ProposalStore:
        """The store the proposals live in."""
        return self._store

    # -- reading ---------------------------------------------------------------------------

    def get(self, proposal_id: str) -> ProposalRecord:
        """Return a proposal, expiring it first if its time has passed.

        Raises
        ------
        UsageError
            If no proposal has that id.
        """
        self.sweep()
        record = self._store.get(proposal_id)
        if record is None:
            shown = proposal_id[:64] if isinstance(proposal_id, str) else "?"
            raise UsageError(
                f"there is no proposal {shown!r} at this orchestrator",
                hint="List the proposals (accord pending / accord status) for their ids.",
            )
        return record

    def proposals(self, state: str | None = None) -> list[ProposalRecord]:
        """Return every proposal, or those in ``state``, oldest first (after expiring)."""
        self.sweep()
        return self._store.proposals(state or None)

    def wait(self, proposal_id: str, timeout: float) -> ProposalRecord:
        """Block until the proposal is final or ``timeout`` seconds pass.

        Parameters
        ----------
        proposal_id
            The proposal.
        timeout
            Seconds to wait, capped at :data:`MAX_WAIT_SECONDS`; 0 returns at once.

        Returns
        -------
        ProposalRecord
            The proposal as it is when the wait ends (final or not).
        """
        deadline = time.monotonic() + max(0.0, min(timeout, MAX_WAIT_SECONDS))
        with self._changed:
            while True:
                record = self.get(proposal_id)
                remaining = deadline - time.monotonic()
                if record.is_final or remaining <= 0:
                    return record
                if record.state == "pending":
                    until_expiry = (record.expires_at - self._now()).total_seconds()
                    remaining = min(remaining, max(until_expiry, 0.0) + 0.05)
                self._changed.wait(remaining)

    def sweep(self) -> list[str]:
        """Expire every pending proposal whose ``expires_at`` has passed.

        Returns
        -------
        list[str]
            The ids that expired now.
        """
        with self._changed:
            expired = self._store.expire_due(self._now())
            if expired:
                for proposal_id in expired:
                    _log.info("proposal %s expired", proposal_id)
                self._changed.notify_all()
            return expired

    # -- changing --------------------------------------------------------------------------

    def _check_caller(self, caller: str, party: str, action: str) -> None:
        if party != caller:
            raise VerificationError(
                f"a connection authenticated as party {caller} cannot {action} as party {party!r}",
                hint="Each party signs only as itself, over its own TLS identity.",
            )
        if party not in self._agreement.party_keys:
            raise VerificationError(f"{party!r} is not a party of this agreement")

    def propose(self, command_bytes: bytes, approval: Approval, *, caller: str) -> ProposalRecord:
        """Store a new proposal with its proposer's approval (idempotent for the same command).

        Parameters
        ----------
        command_bytes
            The command's canonical JSON.
        approval
            The proposer's signature over the command digest.
        caller
            The party the connection is authenticated as.

        Returns
        -------
        ProposalRecord
            The proposal (already ``executing`` if the proposer's approval meets the rule).

        Raises
        ------
        VerificationError
            If the command is malformed or for another agreement, the proposer is not the
            caller or not a party, or the signature does not verify.
        UsageError
            If the command has expired or lives longer than this orchestrator allows, or a
            recipient is not a party.
        """
        command = Command.from_bytes(command_bytes)
        if command.agreement_digest != self._agreement.digest:
            raise VerificationError(
                f"the command is for agreement {command.agreement_digest[:16]}.., but this "
                f"orchestrator serves agreement {self._agreement.digest[:16]}..",
                hint="Propose it to the orchestrator of that collaboration.",
            )
        self._check_caller(caller, command.proposer, "propose")
        self._check_caller(caller, approval.party, "approve")
        verify_approval(command.digest, approval, self._agreement.party_keys[approval.party])
        strangers = sorted(set(command.recipients) - set(self._agreement.party_keys))
        if strangers:
            raise UsageError(f"recipient(s) {', '.join(strangers)} are not parties")
        now = self._now()
        if command.expires_at <= now:
            raise UsageError(
                f"the command expired at {command.expires_at:%Y-%m-%dT%H:%M:%SZ}",
                hint="Check the clock, and propose again with a later expiry.",
            )
        if command.expires_at - now > self._max_ttl + CLOCK_SKEW:
            raise UsageError(
                f"the command expires in {(command.expires_at - now).total_seconds():.0f} s; "
                f"this orchestrator keeps proposals for at most "
                f"{self._max_ttl.total_seconds():.0f} s",
                hint="Propose it again with a shorter time to live.",
            )
        record = ApprovalRecord(approval.party, approval.signature)
        with self._changed:
            inserted = self._store.insert_proposal(
                proposal_id=command.digest,
                command=command.to_bytes(),
                operation=command.operation,
                proposer=command.proposer,
                session_ids=command.session_ids,
                expires_at=command.expires_at,
                approval=record,
                now=now,
            )
            if inserted:
                _log.info(
                    "proposal %s: %s by %s", command.digest, command.operation, command.proposer
                )
            return self._record_approval(command.digest, record)

    def approve(self, proposal_id: str, approval: Approval, *, caller: str) -> ProposalRecord:
        """Record a party's approval; move the proposal to ``executing`` if the rule is met.

        A second approval by the same party changes nothing. An approval of a proposal that
        is already executing or executed is not needed and is not recorded.

        Raises
        ------
        UsageError
            If there is no such proposal.
        VerificationError
            If the approval is not the caller's, or its signature does not verify.
        ApprovalError
            If the proposal was rejected, has expired or failed.
        """
        self._check_caller(caller, approval.party, "approve")
        record = self.get(proposal_id)
        verify_approval(proposal_id, approval, self._agreement.party_keys[approval.party])
        if record.state in ("rejected", "expired", "failed"):
            raise ApprovalError(
                f"proposal {_short(proposal_id)} is {record.state} and can no longer be "
                f"approved: {record.error}",
                hint="Propose the command again if it is still wanted.",
            )
        with self._changed:
            return self._record_approval(
                proposal_id, ApprovalRecord(approval.party, approval.signature)
            )

    def _record_approval(self, proposal_id: str, approval: ApprovalRecord) -> ProposalRecord:
        """Add ``approval`` if the proposal is pending and dispatch it if the rule is met."""
        record = self.get(proposal_id)
        if record.state != "pending":
            return record
        approvers = record.approvers | {approval.party}
        rule = self._agreement.rule_for(record.operation)
        ready = rule.is_satisfied_by(approvers)
        added = self._store.add_approval(
            proposal_id, approval, now=self._now(), then_state="executing" if ready else None
        )
        if added:
            _log.info("proposal %s approved by %s", proposal_id, approval.party)
        self._changed.notify_all()
        if ready:
            _log.info("proposal %s: %s; relaying", proposal_id, rule.explain(approvers))
            self._start(proposal_id)
        return self.get(proposal_id)

    def _start(self, proposal_id: str) -> None:
        if self._dispatch is not None:
            self._dispatch(proposal_id)

    def reject(
        self, proposal_id: str, *, party: str, reason: str, signature: bytes, caller: str
    ) -> ProposalRecord:
        """Record a party's signed rejection; the proposal becomes ``rejected``.

        Only a party whose approval the operation's rule counts can reject. Rejecting again
        a proposal one already rejected changes nothing.

        Raises
        ------
        UsageError
            If there is no such proposal or the reason is too long or not printable.
        VerificationError
            If the rejection is not the caller's, or its signature does not verify.
        ApprovalError
            If the party's approval does not count for the operation, or the proposal is no
            longer pending.
        """
        self._check_caller(caller, party, "reject")
        if len(reason) > MAX_REASON_CHARS or not reason.isprintable():
            raise UsageError(
                f"a rejection reason must be printable text of at most {MAX_REASON_CHARS} "
                "characters"
            )
        record = self.get(proposal_id)
        verify_rejection(proposal_id, party, signature, self._agreement.party_keys[party])
        rule = self._agreement.rule_for(record.operation)
        if party not in rule.among:
            raise ApprovalError(
                f"party {party}'s approval does not count for operation '{record.operation}' "
                f"(it needs {rule.describe()}), so {party} cannot reject it"
            )
        with self._changed:
            record = self.get(proposal_id)
            if record.state == "rejected" and party in {r.party for r in record.rejections}:
                return record
            error = f"rejected by {party}" + (f": {reason}" if reason else "")
            changed = self._store.add_rejection(
                proposal_id,
                RejectionRecord(party, reason, signature),
                error=error,
                now=self._now(),
            )
            if not changed:
                raise ApprovalError(
                    f"proposal {_short(proposal_id)} is {record.state} and can no longer be "
                    "rejected"
                )
            _log.info("proposal %s rejected by %s", proposal_id, party)
            self._changed.notify_all()
            return self.get(proposal_id)

    # -- the relay's side ------------------------------------------------------------------

    def mark_dispatched(self, proposal_id: str) -> None:
        """Note that Execute is about to be sent to nodes (see :meth:`recover`)."""
        self._store.mark_dispatched(proposal_id, now=self._now())

    def finish(
        self,
        proposal_id: str,
        results: list[NodeResultRecord],
        *,
        error: str = "",
    ) -> ProposalRecord:
        """Record the nodes' results of an executing proposal and make it final.

        Parameters
        ----------
        proposal_id
            The executing proposal.
        results
            One result per node that was asked to execute it (may be empty if the relay
            could not start).
        error
            Why the proposal failed; empty if every node succeeded.

        Returns
        -------
        ProposalRecord
            The proposal, now ``executed`` (no error) or ``failed``.
        """
        state = "failed" if error else "executed"
        with self._changed:
            self._store.finish(
                proposal_id, results=results, state=state, error=error, now=self._now()
            )
            _log.info("proposal %s %s%s", proposal_id, state, f": {error}" if error else "")
            self._changed.notify_all()
            return self.get(proposal_id)

    def recover(self) -> list[str]:
        """After a restart, resume or fail the proposals that were executing.

        A proposal whose relay had not yet sent Execute to any node is relayed again. One
        whose Execute may have reached nodes is failed: whether it ran is in the nodes'
        signed audit logs, and sending it again would be refused as a replay.

        Returns
        -------
        list[str]
            The ids relayed again.
        """
        resumed = []
        for record in self._store.proposals("executing"):
            if record.dispatched_at is None:
                resumed.append(record.proposal_id)
                continue
            self.finish(
                record.proposal_id,
                [],
                error="the orchestrator restarted while the nodes were executing this "
                "command; whether they ran it is recorded in their audit logs "
                "(accord audit --verify)",
            )
        for proposal_id in resumed:
            _log.info("proposal %s: relaying again after a restart", proposal_id)
            self._start(proposal_id)
        return resumed
