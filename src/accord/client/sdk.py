"""The party SDK: one :class:`Client` for everything a party does in a collaboration.

Every network call has a deadline and every failure is an :class:`~accord.errors.AccordError`.
Nothing is trusted because the orchestrator said so: commands are checked against their ids,
approvals against the agreement's keys, results against receipts signed by sessions this
client attested. Re-attestation is explicit: a node that restarted raises
:class:`~accord.client.errors.SessionChangedError` until :meth:`Client.attest` and
:meth:`Client.provision` are called again. docs/runtime.md has a complete example.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from accord.agreement.signing import SignedAgreement
from accord.attest import BackendVerifier
from accord.client.attestation import VerifiedEnclave, release_data_key
from accord.client.audit import NodeAudit, fetch_audit
from accord.client.nodes import AttestedNode, NodeInfo, attest_node
from accord.client.outcomes import raise_for_final_state, wait_until_final
from accord.client.proposals import (
    Proposal,
    check_approvable,
    common_sequence,
    parse_proposal,
    require_provisioned,
)
from accord.client.registry import AttestedSessions
from accord.client.results import Result, verify_results
from accord.client.session import CLIENT_TOKEN, connect
from accord.client.uploads import upload_sealed_file
from accord.enclave.commands import Command, sign_command, sign_rejection
from accord.enclave.consensus import check_recipients
from accord.errors import AccordError, UsageError
from accord.party import PartyIdentity
from accord.transport import call
from accord.v1 import common_pb2, orchestrator_pb2, orchestrator_pb2_grpc

__all__ = ["DEFAULT_TTL", "DEFAULT_WAIT_TIMEOUT", "Client", "connect"]  # connect: from .session

DEFAULT_TTL: Final = timedelta(minutes=30)
"""How long a proposal waits for approvals by default."""

DEFAULT_WAIT_TIMEOUT: Final = 300.0
"""Seconds :meth:`Client.wait` waits by default."""


class Client:
    """A party's connection to one collaboration; made by :func:`connect`.

    It remembers the enclave sessions it attested (see :meth:`attest`) and acts only on
    them. Use one client per thread.
    """

    def __init__(
        self,
        *,
        _token: object,
        orchestrator: str,
        channel: Any,
        agreement: SignedAgreement,
        identity: PartyIdentity,
        timeout: float,
        backends: Mapping[str, BackendVerifier] | None,
        now: Callable[[], datetime],
    ) -> None:
        if _token is not CLIENT_TOKEN:
            raise UsageError("make a Client with accord.connect(...)")
        self._address = orchestrator
        self._peer = f"orchestrator {orchestrator}"
        self._channel = channel
        self._stub = orchestrator_pb2_grpc.OrchestratorStub(channel)  # type: ignore[no-untyped-call]
        self._agreement = agreement
        self._identity = identity
        self._timeout = timeout
        self._backends = backends
        self._now = now
        self._nodes = AttestedSessions()

    # -- basics --------------------------------------------------------------------------

    @property
    def party(self) -> str:
        """The name of this client's party."""
        return self._identity.name

    @property
    def agreement(self) -> SignedAgreement:
        """The signed agreement this client works under."""
        return self._agreement

    @property
    def orchestrator(self) -> str:
        """The orchestrator's address."""
        return self._address

    @property
    def sessions(self) -> Mapping[str, str]:
        """The attested session id of each attested node, by node id."""
        return self._nodes.current_sessions

    def _call(
        self, method: Callable[..., Any], request: object, timeout: float | None = None
    ) -> Any:
        return call(method, request, peer=self._peer, timeout=timeout or self._timeout)

    def close(self) -> None:
        """Close the connections to the orchestrator and the nodes."""
        self._nodes.close()
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(party={self.party!r}, orchestrator={self._address!r})"

    # -- nodes ---------------------------------------------------------------------------

    def nodes(self) -> list[NodeInfo]:
        """List the enclave nodes the orchestrator knows (untrusted until attested)."""
        answer = self._call(self._stub.ListNodes, orchestrator_pb2.ListNodesRequest())
        return [NodeInfo.from_message(node) for node in answer.nodes]

    @property
    def attestation_failures(self) -> Mapping[str, AccordError]:
        """Why each node that the last :meth:`attest` could not attest failed, by node id."""
        return self._nodes.failures

    def attest(self, node_ids: Iterable[str] | None = None) -> dict[str, VerifiedEnclave]:
        """Attest nodes directly and pin their TLS keys; replaces earlier attestations.

        Nodes are attested in parallel. With ``node_ids`` every named node must be
        attested. Without, every node the orchestrator lists is tried and the call fails
        only if none can be: the others are logged and listed in
        :attr:`attestation_failures`, and are not used (a command naming their sessions is
        refused by :meth:`approve`).

        Parameters
        ----------
        node_ids
            The nodes to attest; all nodes the orchestrator lists by default.

        Returns
        -------
        dict[str, VerifiedEnclave]
            The verified evidence of each attested node.

        Raises
        ------
        VerificationError
            If a named node's (or, by default, every node's) evidence fails the
            agreement's enclave policy or its TLS key is not the attested one.
        TransportError
            If a named node (or, by default, every node) cannot be reached in time.
        UsageError
            If a requested node is unknown, or the orchestrator lists none.
        """
        listed = {node.node_id: node for node in self.nodes()}
        wanted = list(listed) if node_ids is None else list(node_ids)
        unknown = [node_id for node_id in wanted if node_id not in listed]
        if unknown:
            raise UsageError(
                f"the orchestrator lists no node {unknown[0]!r}; nodes: "
                f"{', '.join(sorted(listed)) or 'none'}"
            )
        chosen = [listed[node_id] for node_id in wanted]
        return self._nodes.attest(chosen, self._attest_one, strict=node_ids is not None)

    def attest_sessions(self, session_ids: Iterable[str]) -> dict[str, VerifiedEnclave]:
        """Attest the nodes that the orchestrator lists with these sessions (what approving needs).

        If the orchestrator lists no node for one of the sessions, every listed node is
        tried instead. Fails only if no node can be attested (see :meth:`attest`).
        """
        wanted = set(session_ids)
        listed = self.nodes()
        chosen = [node for node in listed if node.session_id in wanted]
        if {node.session_id for node in chosen} != wanted:
            chosen = listed
        return self._nodes.attest(chosen, self._attest_one, strict=False)

    def _attest_one(self, node: NodeInfo) -> AttestedNode:
        return attest_node(
            node.node_id,
            node.address,
            agreement=self._agreement,
            timeout=self._timeout,
            backends=self._backends,
            now=self._now,
        )

    def provision(self, node_ids: Iterable[str] | None = None) -> dict[str, str]:
        """Release this party's data key to attested nodes (all attested nodes by default).

        Returns
        -------
        dict[str, str]
            The key id each node accepted, by node id.

        Raises
        ------
        SessionChangedError
            If a node restarted since it was attested.
        """
        accepted = {}
        for node in self._nodes.select(node_ids):
            message = release_data_key(self._identity, node.evidence, agreement=self._agreement)
            accepted[node.node_id] = node.provision(message, timeout=self._timeout)
        return accepted

    # -- blobs ---------------------------------------------------------------------------

    def upload(self, path: Path) -> str:
        """Upload a sealed file to the orchestrator; return its blob id (its SHA-256).

        Raises
        ------
        UsageError
            If the file is not an Accord sealed file (plaintext is never uploaded).
        VerificationError
            If the orchestrator acknowledged something else than what was sent.
        """
        return upload_sealed_file(
            lambda chunks, timeout: self._call(self._stub.UploadBlob, chunks, timeout),
            Path(path),
            timeout=self._timeout,
        )

    # -- proposals -----------------------------------------------------------------------

    def propose(
        self,
        operation: str,
        arguments: Mapping[str, Any],
        *,
        recipients: Iterable[str] | None = None,
        ttl: timedelta | float = DEFAULT_TTL,
        nodes: Iterable[str] | None = None,
    ) -> str:
        """Propose a command to the attested nodes, signed by this party; return its id.

        Parameters
        ----------
        operation
            One of :data:`accord.agreement.OPERATIONS`, e.g. ``"echo"``.
        arguments
            The operation's arguments (JSON values).
        recipients
            The parties that receive outputs; this party by default.
        ttl
            How long the proposal waits for approvals (a timedelta or seconds).
        nodes
            The attested nodes to run it on; all attested nodes by default. They must all
            expect the same next sequence number.

        Returns
        -------
        str
            The proposal id (the command digest).

        Raises
        ------
        SessionChangedError
            If a node restarted since it was attested.
        UsageError
            If nothing was attested, or the nodes expect different sequence numbers.
        ApprovalError
            If the recipients break the agreement's output policy.
        """
        chosen = self._nodes.select(nodes)
        statuses = {node.node_id: node.status(timeout=self._timeout) for node in chosen}
        lifetime = ttl if isinstance(ttl, timedelta) else timedelta(seconds=ttl)
        command = Command.create(
            agreement_digest=self._agreement.digest,
            session_ids=[node.session_id for node in chosen],
            sequence=common_sequence(statuses),
            operation=operation,
            arguments=arguments,
            recipients=[self.party] if recipients is None else list(recipients),
            proposer=self.party,
            ttl=lifetime,
            now=self._now,
        )
        check_recipients(command, self._agreement)
        if self.party in command.recipients:
            require_provisioned(self.party, self._identity.data_key.key_id, statuses)
        approval = common_pb2.Approval(
            party=self.party, signature=sign_command(command, self._identity.signing_key)
        )
        view = self._call(
            self._stub.Propose,
            orchestrator_pb2.ProposeRequest(command=command.to_bytes(), approval=approval),
        )
        parse_proposal(view, agreement=self._agreement, expected_id=command.digest)
        return command.digest

    def proposal(self, proposal_id: str) -> Proposal:
        """Fetch a proposal and check its command against its id."""
        view = self._call(
            self._stub.GetProposal, orchestrator_pb2.GetProposalRequest(proposal_id=proposal_id)
        )
        return parse_proposal(view, agreement=self._agreement, expected_id=proposal_id)

    def proposals(self, *, state: str | None = None) -> list[Proposal]:
        """List proposals (in ``state``, if given), each checked against its id."""
        answer = self._call(
            self._stub.ListProposals, orchestrator_pb2.ListProposalsRequest(state=state or "")
        )
        return [parse_proposal(view, agreement=self._agreement) for view in answer.proposals]

    def pending(self) -> list[Proposal]:
        """List pending proposals whose rule counts this party and that it has not answered."""
        return [
            proposal
            for proposal in self.proposals(state="pending")
            if proposal.awaits(self.party, self._agreement)
        ]

    def show(self, proposal_id: str) -> str:
        """Return the full human-readable proposal: its state (escaped), then the command last.

        See :meth:`Proposal.describe`: nothing the orchestrator supplies follows the command.
        """
        return self.proposal(proposal_id).describe()

    def approve(self, proposal_id: str) -> Proposal:
        """Check and sign a proposal; return it as the orchestrator holds it afterwards.

        Before signing, the command must hash to ``proposal_id``, be for this agreement,
        name only sessions that this client attested, not have expired, and respect the
        output policy. If it names sessions this client does not know, the attested nodes
        are asked first, so that a restarted node is reported as such. Show :meth:`show` (or
        ``proposal.command.describe()``) to the person approving: the signature approves
        exactly that text's command.

        Raises
        ------
        VerificationError
            If the command is for another agreement or names sessions not attested here.
        SessionChangedError
            If it names unknown sessions and an attested node restarted.
        ApprovalError
            If it has expired or breaks the output policy.
        UsageError
            If the proposal is already final.
        """
        proposal = self.proposal(proposal_id)
        command = proposal.command
        if set(command.session_ids) - set(self.sessions.values()):
            for node in self._nodes.current_nodes:  # a restart explains unknown sessions best
                node.status(timeout=self._timeout)
        check_approvable(
            proposal,
            agreement=self._agreement,
            attested_sessions=frozenset(self.sessions.values()),
            now=self._now,
        )
        approval = common_pb2.Approval(
            party=self.party, signature=sign_command(command, self._identity.signing_key)
        )
        view = self._call(
            self._stub.Approve,
            orchestrator_pb2.ApproveRequest(proposal_id=command.digest, approval=approval),
        )
        return parse_proposal(view, agreement=self._agreement, expected_id=command.digest)

    def reject(self, proposal_id: str, reason: str) -> Proposal:
        """Reject a proposal with a signed rejection and a reason the other parties see."""
        proposal = self.proposal(proposal_id)
        signature = sign_rejection(proposal.command, self._identity.signing_key)
        view = self._call(
            self._stub.Reject,
            orchestrator_pb2.RejectRequest(
                proposal_id=proposal.proposal_id,
                party=self.party,
                reason=reason,
                signature=signature,
            ),
        )
        return parse_proposal(view, agreement=self._agreement, expected_id=proposal.proposal_id)

    def wait(self, proposal_id: str, *, timeout: float = DEFAULT_WAIT_TIMEOUT) -> Result:
        """Wait until a proposal is final; return its verified result or raise why it is not.

        Parameters
        ----------
        proposal_id
            The proposal (command digest).
        timeout
            Seconds to wait in all.

        Returns
        -------
        Result
            Every node's signed receipt verified with its attested session key, and every
            output checked against its receipt; :meth:`Result.open` unseals this party's.

        Raises
        ------
        CommandFailedError
            If a node refused or failed the command, or died while running it (naming it).
        ApprovalError
            If the proposal was rejected or expired before its rule was met.
        TransportError
            If it is not final within ``timeout``.
        VerificationError, IntegrityError
            If a receipt or output does not verify.
        """
        first = self._call(
            self._stub.GetProposal, orchestrator_pb2.GetProposalRequest(proposal_id=proposal_id)
        )

        def wait_once(seconds: float) -> Any:
            request = orchestrator_pb2.WaitProposalRequest(
                proposal_id=proposal_id, timeout_ms=max(1, int(seconds * 1000))
            )
            return self._call(self._stub.WaitProposal, request, seconds + self._timeout)

        proposal, view = wait_until_final(
            first,
            wait_once,
            lambda v: parse_proposal(v, agreement=self._agreement, expected_id=proposal_id),
            timeout=timeout,
        )
        raise_for_final_state(proposal, view.results, attested=self._nodes.by_session)
        result = verify_results(
            proposal.command,
            view.results,
            attested=self._nodes.by_session,
            party=self.party,
            data_key=self._identity.data_key,
        )
        for outcome in result.nodes:
            receipt = outcome.receipt
            self._nodes.note_receipt(outcome.session_id, receipt.audit_index, receipt.audit_hash)
        return result

    # -- audit ---------------------------------------------------------------------------

    def audit(
        self, *, verify: bool = True, node_ids: Iterable[str] | None = None
    ) -> dict[str, NodeAudit]:
        """Fetch each attested node's audit log over its pinned channel and verify it.

        A log that does not hold every entry named by a receipt this client verified (in
        :meth:`wait`) is refused, even with ``verify=False``.

        Parameters
        ----------
        verify
            Check the chain, signatures, sequences and approvals (the default). With False
            the entries are returned as received, untrusted.
        node_ids
            The nodes to audit; all attested nodes by default.

        Returns
        -------
        dict[str, NodeAudit]
            Each node's log, by node id.

        Raises
        ------
        VerificationError
            If a log fails verification (naming the entry and the problem), or is shorter
            than a verified receipt proves (naming the missing index).
        SessionChangedError
            If a node restarted since it was attested.
        """
        return {
            node.node_id: fetch_audit(
                node,
                agreement=self._agreement,
                timeout=self._timeout,
                verify=verify,
                receipts=self._nodes.receipts(node.session_id),
            )
            for node in self._nodes.select(node_ids)
        }
