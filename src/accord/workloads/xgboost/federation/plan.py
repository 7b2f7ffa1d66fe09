"""Which nodes run a command together, and where they are: the ``federation`` argument.

A command lists the node sessions that run it (``session_ids``, sorted). A node's **rank** is
the index of its own session id in that list; rank 0 hosts the federated server. Which rows
a node loads follows from its rank alone (:func:`node_share`), so ``load`` needs nothing
more. Commands whose nodes talk to each other (``train`` and ``evaluate`` on two or more
nodes) also carry the argument::

    "federation": {"nodes": [{"session_id": "<32 hex>", "address": "10.0.0.5:7001"}, ...],
                   "timeout_seconds": 60,             (optional)
                   "peer_timeout_seconds": 15,        (optional)
                   "collective_timeout_seconds": 600} (optional)

``nodes`` names every session of the command exactly once with the address at which the
other nodes reach it (the ``host:port`` of its ``accord node`` service). Addresses decide
nothing about trust: a node attests the peer it reaches at an address and refuses it unless
the attested session is the one listed there. The parties sign the addresses with the rest
of the command, and the proposer's SDK fills them in from the nodes it attested
(:func:`federation_argument`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from accord.enclave.commands import Command
from accord.errors import UsageError
from accord.transport import split_address
from accord.workloads.xgboost.arguments import Arguments, shown
from accord.workloads.xgboost.datasets import NodeShare

__all__ = [
    "DEFAULT_COLLECTIVE_TIMEOUT",
    "DEFAULT_PEER_TIMEOUT",
    "DEFAULT_SETUP_TIMEOUT",
    "FEDERATION_ARGUMENT",
    "FederationPlan",
    "PeerNode",
    "federation_argument",
    "node_rank",
    "node_share",
]

FEDERATION_ARGUMENT: Final = "federation"
"""The argument of ``train`` and ``evaluate`` that places the nodes of a multi-node command."""

DEFAULT_SETUP_TIMEOUT: Final = 60
"""Seconds for the whole setup: attesting peers, exchanging offers, starting the server."""
DEFAULT_PEER_TIMEOUT: Final = 15
"""Seconds a peer may stay silent while the nodes compute before the command fails."""
DEFAULT_COLLECTIVE_TIMEOUT: Final = 600
"""Seconds one collective operation (one exchange of histograms) may take."""

_MAX_TIMEOUT: Final = 86_400
_MAX_ADDRESS_CHARS: Final = 262


@dataclass(frozen=True)
class PeerNode:
    """One node of a federation as the command places it.

    Attributes
    ----------
    session_id
        Its enclave session.
    address
        ``host:port`` of its node service, as the command gives it (not trusted).
    rank
        Its index among the command's sorted session ids.
    """

    session_id: str
    address: str
    rank: int

    @property
    def host(self) -> str:
        """The host part of :attr:`address`."""
        return split_address(self.address)[0]

    def describe(self) -> str:
        """Name the node for messages: ``"node 1a2b3c4d.. (rank 1, 10.0.0.6:7001)"``."""
        return f"node {self.session_id[:8]}.. (rank {self.rank}, {self.address})"


@dataclass(frozen=True)
class FederationPlan:
    """The nodes of one command and this node's place among them.

    Attributes
    ----------
    nodes
        Every node of the command, by rank.
    rank
        This node's rank.
    setup_timeout, peer_timeout, collective_timeout
        The bounds of the federation's steps, in seconds (see the module docstring).
    """

    nodes: tuple[PeerNode, ...]
    rank: int
    setup_timeout: int = DEFAULT_SETUP_TIMEOUT
    peer_timeout: int = DEFAULT_PEER_TIMEOUT
    collective_timeout: int = DEFAULT_COLLECTIVE_TIMEOUT

    @property
    def world_size(self) -> int:
        """How many nodes take part."""
        return len(self.nodes)

    @property
    def me(self) -> PeerNode:
        """The node this plan was read for."""
        return self.nodes[self.rank]

    @property
    def root(self) -> PeerNode:
        """The node of rank 0, which hosts the federated server."""
        return self.nodes[0]

    @property
    def peers(self) -> tuple[PeerNode, ...]:
        """Every node but this one."""
        return tuple(node for node in self.nodes if node.rank != self.rank)

    @classmethod
    def from_command(cls, command: Command, session_id: str, operation: str) -> FederationPlan:
        """Read the ``federation`` argument of a command for two or more nodes.

        Parameters
        ----------
        command
            The admitted command.
        session_id
            This node's session (listed in the command: the gate checked it).
        operation
            The operation, for messages.

        Returns
        -------
        FederationPlan
            The plan.

        Raises
        ------
        UsageError
            If the argument is missing or malformed, or does not name exactly the command's
            sessions.
        """
        rank = node_rank(command.session_ids, session_id)
        value = command.arguments.get(FEDERATION_ARGUMENT)
        if value is None:
            raise UsageError(
                f"{operation}: the command runs on {len(command.session_ids)} nodes and needs "
                f"argument {FEDERATION_ARGUMENT!r} with the address of each node",
                hint="The party SDK fills it in from the attested nodes "
                "(accord.workloads.xgboost.federation_argument).",
            )
        where = f"{operation}: argument {FEDERATION_ARGUMENT!r}"
        arguments = Arguments(
            where,
            value,
            required=("nodes",),
            optional=("timeout_seconds", "peer_timeout_seconds", "collective_timeout_seconds"),
        )
        addresses = _addresses(arguments, command.session_ids, where)
        nodes = tuple(
            PeerNode(session, addresses[session], index)
            for index, session in enumerate(command.session_ids)
        )

        def timeout(key: str, default: int) -> int:
            found = arguments.optional_integer(key, minimum=1, maximum=_MAX_TIMEOUT)
            return default if found is None else found

        return cls(
            nodes=nodes,
            rank=rank,
            setup_timeout=timeout("timeout_seconds", DEFAULT_SETUP_TIMEOUT),
            peer_timeout=timeout("peer_timeout_seconds", DEFAULT_PEER_TIMEOUT),
            collective_timeout=timeout("collective_timeout_seconds", DEFAULT_COLLECTIVE_TIMEOUT),
        )


def _addresses(arguments: Arguments, sessions: tuple[str, ...], where: str) -> dict[str, str]:
    items = arguments.sequence("nodes", min_items=1, max_items=len(sessions) + 1)
    found: dict[str, str] = {}
    for position, item in enumerate(items):
        entry = Arguments(f"{where}: nodes[{position}]", item, required=("session_id", "address"))
        session = entry.raw("session_id")
        address = entry.raw("address")
        if session not in sessions:
            raise UsageError(
                f"{where}: nodes[{position}] names session {shown(session)}, which the command "
                "does not list in its session ids"
            )
        if session in found:
            raise UsageError(f"{where}: session {session} is listed twice")
        if not isinstance(address, str) or not 0 < len(address) <= _MAX_ADDRESS_CHARS:
            raise UsageError(
                f"{where}: nodes[{position}] needs an address HOST:PORT, got {shown(address)}"
            )
        host, port = split_address(address)
        if port == 0 or not host.isprintable() or any(c.isspace() for c in host):
            raise UsageError(f"{where}: nodes[{position}] has an unusable address {shown(address)}")
        found[session] = address
    missing = [session for session in sessions if session not in found]
    if missing:
        raise UsageError(f"{where} gives no address for session {missing[0]} of the command")
    return found


def node_rank(session_ids: Iterable[str], session_id: str) -> int:
    """Return the rank of ``session_id``: its index among the sorted ``session_ids``.

    Raises
    ------
    UsageError
        If the session is not listed.
    """
    ordered = sorted(session_ids)
    if session_id not in ordered:
        raise UsageError(f"session {session_id} is not one of the command's sessions")
    return ordered.index(session_id)


def node_share(command: Command, session_id: str) -> NodeShare:
    """Return the part of each sealed file this node loads for ``command``.

    Node of rank ``r`` among ``N`` loads chunks ``[c * r // N, c * (r + 1) // N)`` of a file
    of ``c`` chunks, so the shares of all nodes are exactly the file's chunks, each once.
    """
    return NodeShare(node_rank(command.session_ids, session_id), len(command.session_ids))


def federation_argument(
    nodes: Mapping[str, str] | Iterable[tuple[str, str]],
    *,
    timeout_seconds: int | None = None,
    peer_timeout_seconds: int | None = None,
    collective_timeout_seconds: int | None = None,
) -> dict[str, Any]:
    """Build the ``federation`` argument from attested nodes (for the proposer's SDK).

    Parameters
    ----------
    nodes
        Session id to address (``host:port`` of the node service) of every node the command
        lists, e.g. ``{n.session_id: n.address for n in attested_nodes}``.
    timeout_seconds, peer_timeout_seconds, collective_timeout_seconds
        The bounds of the federation's steps; the node defaults when ``None``.

    Returns
    -------
    dict
        The JSON value of argument ``federation``, nodes sorted by session id.
    """
    pairs = dict(nodes.items() if isinstance(nodes, Mapping) else nodes)
    argument: dict[str, Any] = {
        "nodes": [{"session_id": session, "address": pairs[session]} for session in sorted(pairs)]
    }
    for key, value in (
        ("timeout_seconds", timeout_seconds),
        ("peer_timeout_seconds", peer_timeout_seconds),
        ("collective_timeout_seconds", collective_timeout_seconds),
    ):
        if value is not None:
            argument[key] = value
    return argument
