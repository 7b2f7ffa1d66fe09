"""Results of executed commands, checked against the nodes' signed receipts.

:func:`verify_results` turns the orchestrator's (untrusted) report of an executed command
into a :class:`Result`, which user code cannot construct. For every session the command
names, it requires the node's receipt, verifies it with the session signing key from the
evidence this client verified, checks that it is for this command and says "executed", and
checks each sealed output against the digest the receipt lists. Only then can
:meth:`Result.open` unseal this party's outputs with its own data key; outputs sealed for
other recipients stay closed (their data keys are theirs).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from accord.client.nodes import AttestedNode
from accord.crypto.keys import DataKey
from accord.crypto.sealed import unseal_bytes
from accord.enclave.commands import Command
from accord.enclave.receipts import EXECUTED, Receipt, verify_receipt
from accord.errors import IntegrityError, KeyMaterialError, UsageError, VerificationError
from accord.v1 import orchestrator_pb2

__all__ = ["NodeOutcome", "Result", "SealedOutput", "verify_results"]

_RESULT_TOKEN: Final = object()


@dataclass(frozen=True)
class SealedOutput:
    """One sealed output whose digest matches the node's signed receipt.

    Attributes
    ----------
    recipient
        The party it is sealed for.
    name
        The output's name (``"echo"``, ``"model"``, ...).
    digest
        SHA-256 (hex) of ``sealed``.
    sealed
        The sealed bytes (accord sealed format, content type bytes).
    """

    recipient: str
    name: str
    digest: str
    sealed: bytes = b""

    def __repr__(self) -> str:
        return (
            f"SealedOutput(recipient={self.recipient!r}, name={self.name!r}, "
            f"digest={self.digest[:16]!r}.., {len(self.sealed)} bytes)"
        )


@dataclass(frozen=True)
class NodeOutcome:
    """What one node did with the command, as its signed receipt says.

    Attributes
    ----------
    node_id
        The node.
    session_id
        Its attested session, which signed the receipt.
    receipt
        The verified receipt.
    outputs
        The outputs received, each matching the receipt.
    """

    node_id: str
    session_id: str
    receipt: Receipt
    outputs: tuple[SealedOutput, ...]


class Result:
    """An executed command's verified outcome on every node; made by ``Client.wait``.

    Attributes
    ----------
    proposal_id
        The command digest.
    command
        The command that ran.
    party
        The party this result was checked for (whose outputs :meth:`open` opens).
    nodes
        Each node's verified outcome, ordered by node id.
    """

    def __init__(
        self,
        token: object,
        *,
        command: Command,
        party: str,
        data_key: DataKey,
        nodes: Sequence[NodeOutcome],
    ) -> None:
        if token is not _RESULT_TOKEN:
            raise UsageError("a Result is made only by Client.wait(), which verifies it")
        self.proposal_id = command.digest
        self.command = command
        self.party = party
        self.nodes = tuple(nodes)
        self._data_key = data_key

    def outputs(self, *, recipient: str | None = None) -> list[tuple[str, SealedOutput]]:
        """Return ``(node_id, output)`` for every verified output (of ``recipient``, if given)."""
        return [
            (node.node_id, output)
            for node in self.nodes
            for output in node.outputs
            if recipient is None or output.recipient == recipient
        ]

    def names(self) -> list[str]:
        """Return the names of the outputs sealed for this party, sorted."""
        return sorted({output.name for _, output in self.outputs(recipient=self.party)})

    def open(self, name: str, *, node_id: str | None = None) -> bytes:
        """Unseal this party's output ``name`` with its own data key.

        Parameters
        ----------
        name
            The output's name, e.g. ``"echo"``.
        node_id
            The node whose output to open. By default every node's output of that name is
            opened, and they must agree.

        Returns
        -------
        bytes
            The plaintext.

        Raises
        ------
        KeyMaterialError
            If the output is sealed only for other parties: their data keys open it, not
            this party's.
        UsageError
            If there is no output of that name (from that node).
        IntegrityError
            If the sealed bytes fail authentication, or nodes returned different plaintexts.
        """
        mine = [
            (node, output)
            for node, output in self.outputs(recipient=self.party)
            if output.name == name and (node_id is None or node == node_id)
        ]
        if not mine:
            others = sorted(
                {o.recipient for _, o in self.outputs() if o.name == name} - {self.party}
            )
            if others:
                raise KeyMaterialError(
                    f"output {name!r} of command {self.proposal_id[:16]}.. is sealed for "
                    f"{', '.join(others)}, not for {self.party}: only the recipient's data key "
                    "opens it",
                    hint="Only the recipients the command names can open its outputs.",
                )
            where = f" from node {node_id}" if node_id is not None else ""
            raise UsageError(
                f"command {self.proposal_id[:16]}.. has no output {name!r} for "
                f"{self.party}{where}; its outputs for {self.party}: "
                f"{', '.join(self.names()) or 'none'}"
            )
        opened = {node: unseal_bytes(output.sealed, self._data_key) for node, output in mine}
        first_node, first = next(iter(opened.items()))
        for node, plaintext in opened.items():
            if not hmac.compare_digest(plaintext, first):
                raise IntegrityError(
                    f"nodes {first_node} and {node} returned different contents for output "
                    f"{name!r} of command {self.proposal_id[:16]}..",
                    hint="Open one node's output with node_id=..., and tell the other parties.",
                )
        return first

    def __repr__(self) -> str:
        return (
            f"Result(proposal_id={self.proposal_id[:16]!r}.., party={self.party!r}, "
            f"nodes={[node.node_id for node in self.nodes]!r})"
        )


def verify_results(
    command: Command,
    results: Sequence[orchestrator_pb2.NodeResult],
    *,
    attested: Mapping[str, AttestedNode],
    party: str,
    data_key: DataKey,
) -> Result:
    """Check every node's receipt and outputs for an executed command.

    Parameters
    ----------
    command
        The command (checked to hash to the proposal id).
    results
        The orchestrator's ``NodeResult`` messages.
    attested
        This client's attested nodes by session id.
    party
        This party's name.
    data_key
        This party's data key (kept by the result to open its outputs).

    Returns
    -------
    Result
        The verified result.

    Raises
    ------
    VerificationError
        If a session of the command has no result, was not attested by this client, or its
        receipt does not verify, is for another command, or does not say executed.
    IntegrityError
        If an output differs from the digest its receipt lists, or an output the receipt
        lists for this party is missing.
    """
    by_session: dict[str, orchestrator_pb2.NodeResult] = {}
    for reported in results:
        by_session.setdefault(reported.session_id, reported)
    outcomes = []
    for session_id in command.session_ids:
        node = attested.get(session_id)
        if node is None:
            raise VerificationError(
                f"command {command.digest[:16]}.. ran on session {session_id}, which this "
                "client has not attested, so its receipt cannot be checked",
                hint="Attest the nodes (client.attest()) and wait for the result again.",
            )
        message = by_session.get(session_id)
        if message is None or not message.receipt:
            raise VerificationError(
                f"the orchestrator returned no signed receipt from {node.peer} for command "
                f"{command.digest[:16]}..",
                hint="Without the enclave's receipt the result cannot be trusted.",
            )
        outcomes.append(_verify_node(command, message, node, party))
    outcomes.sort(key=lambda outcome: outcome.node_id)
    return Result(_RESULT_TOKEN, command=command, party=party, data_key=data_key, nodes=outcomes)


def _verify_node(
    command: Command, message: orchestrator_pb2.NodeResult, node: AttestedNode, party: str
) -> NodeOutcome:
    receipt = verify_receipt(bytes(message.receipt), session=node.evidence.session_keys)
    if not hmac.compare_digest(receipt.command_digest, command.digest):
        raise VerificationError(
            f"{node.peer}'s receipt is for command {receipt.command_digest[:16]}.., not for "
            f"{command.digest[:16]}..: the orchestrator relayed another command's result"
        )
    if receipt.status != EXECUTED:
        raise VerificationError(
            f"{node.peer}'s signed receipt says command {command.digest[:16]}.. "
            f"{receipt.status}: {receipt.error}"
        )
    outputs = []
    for output in message.outputs:
        sealed = bytes(output.sealed)
        digest = hashlib.sha256(sealed).hexdigest()
        if not hmac.compare_digest(digest, output.digest):
            raise IntegrityError(
                f"output {output.name!r} for {output.recipient} from {node.peer} has digest "
                f"{digest[:16]}.., not the {output.digest[:16]}.. it was sent with",
                hint="Do not use it; wait for the result again.",
            )
        receipt.check_output(output.recipient, output.name, sealed)
        outputs.append(SealedOutput(output.recipient, output.name, digest, sealed))
    received = {(o.recipient, o.name) for o in outputs}
    for listed in receipt.outputs:
        if listed.recipient == party and (listed.recipient, listed.name) not in received:
            raise IntegrityError(
                f"{node.peer}'s receipt lists output {listed.name!r} for {party}, but the "
                "orchestrator did not return it",
                hint="Wait for the result again; report an orchestrator that withholds outputs.",
            )
    return NodeOutcome(
        node_id=node.node_id,
        session_id=node.session_id,
        receipt=receipt,
        outputs=tuple(outputs),
    )
