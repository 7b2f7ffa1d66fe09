"""How the XGBoost operations use the nodes of their command.

* ``load`` on ``N`` nodes: each node loads its rank's share of every file
  (:func:`~accord.workloads.xgboost.federation.node_share`) and records the command's
  sessions with the group.
* ``train`` and ``evaluate`` on ``N > 1`` nodes run inside a
  :class:`~accord.workloads.xgboost.federation.FederatedRun` (:func:`across_nodes`); every
  node ends with the same model, the same metrics.
* ``predict`` needs no exchange: each node predicts its own share of the dataset, and the
  party joins the shares in rank order (:func:`~accord.workloads.xgboost.join_predictions`).

Data loaded across some set of sessions is used only by commands for exactly that set
(:func:`check_same_nodes`), so that every row is used exactly once.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

from accord.enclave.commands import Command
from accord.enclave.executor import OperationContext
from accord.errors import UsageError
from accord.workloads.xgboost.federation import (
    FEDERATION_ARGUMENT,
    FederatedRun,
    FederationPlan,
    NodeFederation,
)
from accord.workloads.xgboost.state import XGBoostState

__all__ = ["across_nodes", "check_same_nodes"]


def across_nodes(
    context: OperationContext, what: str
) -> AbstractContextManager[FederatedRun | None]:
    """Return the context in which ``what`` computes: a federation for several nodes.

    For a command of one session it is a no-op (a ``federation`` argument, if given, must
    still name exactly that session).

    Raises
    ------
    UsageError
        If the ``federation`` argument is missing or malformed for several nodes, or the
        node does not serve the node protocol (no federation state).
    """
    command = context.command
    session_id = context.session.session_id
    if len(command.session_ids) == 1:
        if FEDERATION_ARGUMENT in command.arguments:
            FederationPlan.from_command(command, session_id, what)
        return nullcontext(None)
    plan = FederationPlan.from_command(command, session_id, what)
    federation = context.workspace.find(NodeFederation)
    if federation is None:
        raise UsageError(
            f"{what}: this node runs commands alone; a command for "
            f"{len(command.session_ids)} nodes needs a node that serves the node protocol "
            "(accord node)"
        )
    return FederatedRun(federation, command, plan, what=what)


def _shown(sessions: tuple[str, ...]) -> str:
    return ", ".join(f"{session[:8]}.." for session in sessions)


def check_same_nodes(state: XGBoostState, name: str, command: Command, where: str) -> None:
    """Refuse to use data loaded across other node sessions than the command's.

    Raises
    ------
    UsageError
        Naming both sets of sessions.
    """
    sessions = state.sessions_of(name)
    if sessions and tuple(sessions) != tuple(command.session_ids):
        raise UsageError(
            f"{where}: {name!r} was loaded across {len(sessions)} node session(s) "
            f"({_shown(sessions)}), but this command runs on {len(command.session_ids)} "
            f"({_shown(command.session_ids)}); each node holds only its share of the rows",
            hint="Propose the command for the nodes that loaded the data.",
        )
