"""The enclave sessions one client attested: current ones by node, and every one by session.

A client acts only on sessions it attested itself. :class:`AttestedSessions` keeps the
current :class:`~accord.client.nodes.AttestedNode` of each node (re-attesting a node replaces
it and closes the old channel) and remembers every session it ever attested, so that
receipts of commands that ran on an earlier session can still be checked with that
session's attested key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from accord.client.nodes import AttestedNode
from accord.errors import UsageError

__all__ = ["AttestedSessions"]

_ATTEST_FIRST = "Call client.attest() first (CLI: accord attest)."


class AttestedSessions:
    """The attested nodes of one client."""

    def __init__(self) -> None:
        self._current: dict[str, AttestedNode] = {}
        self._every: dict[str, AttestedNode] = {}

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

    def close(self) -> None:
        """Close the channels of the current nodes."""
        for node in self._current.values():
            node.close()
        self._current.clear()
