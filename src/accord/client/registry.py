"""The enclave sessions one client attested: current ones by node, and every one by session.

A client acts only on sessions it attested itself. :class:`AttestedSessions` keeps the
current :class:`~accord.client.nodes.AttestedNode` of each node (re-attesting a node replaces
it and closes the old channel) and remembers every session it ever attested, so that
receipts of commands that ran on an earlier session can still be checked with that
session's attested key. It also remembers the audit entries those receipts name, so that
an audit log shorter than a receipt proves is refused.

:func:`attest_each` attests several nodes at once; a node that cannot be attested does not
stop the others, and :func:`combined_failure` names every node that failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent import futures
from types import MappingProxyType
from typing import Final

from accord.client.attestation import VerifiedEnclave
from accord.client.nodes import AttestedNode, NodeInfo
from accord.errors import AccordError, TransportError, UsageError, VerificationError

__all__ = ["AttestedSessions", "attest_each", "combined_failure"]

_MAX_PARALLEL_ATTESTATIONS: Final = 8
_log = logging.getLogger("accord.client")

_ATTEST_FIRST = "Call client.attest() first (CLI: accord attest)."


class AttestedSessions:
    """The attested nodes of one client."""

    def __init__(self) -> None:
        self._current: dict[str, AttestedNode] = {}
        self._every: dict[str, AttestedNode] = {}
        self._receipts: dict[str, dict[int, str]] = {}
        self._failures: Mapping[str, AccordError] = MappingProxyType({})

    def attest(
        self,
        nodes: Sequence[NodeInfo],
        attest: Callable[[NodeInfo], AttestedNode],
        *,
        strict: bool,
    ) -> dict[str, VerifiedEnclave]:
        """Attest ``nodes`` with ``attest`` (see :func:`attest_each`); keep the attested ones.

        Parameters
        ----------
        nodes
            The nodes as the orchestrator lists them.
        attest
            Attests one node.
        strict
            Whether every node must be attested; otherwise only one.

        Returns
        -------
        dict[str, VerifiedEnclave]
            The evidence of each attested node, by node id.

        Raises
        ------
        AccordError
            :func:`combined_failure` of the nodes that failed, if any did and ``strict``,
            or if none was attested.
        UsageError
            If ``nodes`` is empty.
        """
        if not nodes:
            raise UsageError("the orchestrator lists no enclave nodes to attest")
        attested, failures = attest_each(nodes, attest)
        for node in attested:
            self.replace(node)
        self._failures = MappingProxyType(failures)
        if failures and (strict or not attested):
            raise combined_failure(failures)
        for node_id, error in failures.items():
            _log.warning("node %s was not attested: %s", node_id, error.message)
        return {node.node_id: node.evidence for node in attested}

    @property
    def failures(self) -> Mapping[str, AccordError]:
        """Why each node the last :meth:`attest` could not attest failed, by node id."""
        return self._failures

    def replace(self, node: AttestedNode) -> None:
        """Make ``node`` the current attestation of its node id (closing the previous one)."""
        previous = self._current.pop(node.node_id, None)
        if previous is not None:
            previous.close()
        self._current[node.node_id] = node
        self._every[node.session_id] = node

    @property
    def current_sessions(self) -> Mapping[str, str]:
        """The current attested session id of each node, by node id."""
        return {node_id: node.session_id for node_id, node in self._current.items()}

    @property
    def current_nodes(self) -> list[AttestedNode]:
        """The current attested nodes (possibly none)."""
        return list(self._current.values())

    @property
    def by_session(self) -> Mapping[str, AttestedNode]:
        """Every session this client attested (current or earlier), by session id."""
        return dict(self._every)

    def current(self, session_id: str) -> AttestedNode | None:
        """Return the node whose current attested session is ``session_id``, if any."""
        node = self._every.get(session_id)
        if node is None or self._current.get(node.node_id) is not node:
            return None
        return node

    def select(self, node_ids: Iterable[str] | None) -> list[AttestedNode]:
        """Return the current attested nodes named (all of them for None).

        Raises
        ------
        UsageError
            If nothing was attested, or a named node was not.
        """
        if not self._current:
            raise UsageError(
                "this client has not attested any enclave node yet", hint=_ATTEST_FIRST
            )
        if node_ids is None:
            return list(self._current.values())
        chosen = []
        for node_id in node_ids:
            if node_id not in self._current:
                raise UsageError(
                    f"node {node_id!r} has not been attested by this client; attested: "
                    f"{', '.join(sorted(self._current))}",
                    hint=_ATTEST_FIRST,
                )
            chosen.append(self._current[node_id])
        return chosen

    def note_receipt(self, session_id: str, audit_index: int, audit_hash: str) -> None:
        """Remember that a verified receipt of ``session_id`` names this audit entry."""
        self._receipts.setdefault(session_id, {})[audit_index] = audit_hash

    def receipts(self, session_id: str) -> Mapping[int, str]:
        """Return the audit entries (index to hash) that verified receipts of the session name."""
        return MappingProxyType(dict(self._receipts.get(session_id, {})))

    def close(self) -> None:
        """Close the channels of the current nodes."""
        for node in self._current.values():
            node.close()
        self._current.clear()


def attest_each(
    nodes: Sequence[NodeInfo], attest: Callable[[NodeInfo], AttestedNode]
) -> tuple[list[AttestedNode], dict[str, AccordError]]:
    """Attest ``nodes`` in parallel with ``attest``; one failure does not stop the others.

    Returns
    -------
    tuple[list[AttestedNode], dict[str, AccordError]]
        The attested nodes (in the order given) and the error of each node that could not
        be attested, by node id.
    """
    if not nodes:
        return [], {}
    workers = min(len(nodes), _MAX_PARALLEL_ATTESTATIONS)
    with futures.ThreadPoolExecutor(workers, thread_name_prefix="accord-attest") as pool:
        running = [(node.node_id, pool.submit(attest, node)) for node in nodes]
    attested: list[AttestedNode] = []
    failures: dict[str, AccordError] = {}
    for node_id, future in running:
        try:
            attested.append(future.result())
        except AccordError as error:
            failures[node_id] = error
    return attested, failures


def combined_failure(failures: Mapping[str, AccordError]) -> AccordError:
    """Return one error for the nodes that could not be attested (at least one).

    A single failure is returned as it is. Several become one error naming every node: a
    :class:`~accord.errors.VerificationError` if any node's evidence failed, a
    :class:`~accord.errors.TransportError` if every node was out of reach.
    """
    if len(failures) == 1:
        return next(iter(failures.values()))
    errors = list(failures.values())
    message = "no enclave node could be attested: " + "; ".join(
        f"node {node_id}: {error.message}" for node_id, error in failures.items()
    )
    if any(isinstance(error, VerificationError) for error in errors):
        return VerificationError(message, hint=errors[0].hint)
    if all(isinstance(error, TransportError) for error in errors):
        return TransportError(message, hint="Check that the nodes run and can be reached.")
    return AccordError(message)
