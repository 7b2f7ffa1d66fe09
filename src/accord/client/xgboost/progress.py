"""Following a training run: the rounds a node reports while a ``train`` command runs.

:class:`ProgressFollower` is polled by :class:`~accord.client.xgboost.pending.Pending` while
it waits for a ``train`` command, and calls the party's callback once per new round with a
:class:`~accord.workloads.xgboost.TrainingRound` (round from 0, total rounds, the metrics of
the evaluation sets after that round). It asks one node of the command with ``GetProgress``
(docs/xgboost.md) over a channel pinned to that node's session, which it attests itself and
checks to be the session the party's client attested; nodes that train together report the
same rounds. Progress is advisory: a node that cannot be asked is skipped, and the command's
verified result is what counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from accord.errors import AccordError

if TYPE_CHECKING:
    from accord.client.nodes import AttestedNode
    from accord.client.sdk import Client
    from accord.workloads.xgboost.state import TrainingRound

__all__ = ["ProgressFollower", "RoundCallback"]

RoundCallback = Callable[["TrainingRound"], None]
"""Called once per boosting round with the round's report."""

_log: Final = logging.getLogger("accord.client")


class ProgressFollower:
    """Reports each new round of model ``model`` to ``on_round``.

    Parameters
    ----------
    client
        The party's client; its first attested node (of ``node_ids``, if given) is asked.
    model
        The model being trained.
    on_round
        The callback.
    node_ids
        The nodes the command runs on (all attested nodes when None).
    timeout
        Deadline in seconds of each call to the node.
    """

    def __init__(
        self,
        client: Client,
        model: str,
        on_round: RoundCallback,
        *,
        node_ids: list[str] | None = None,
        timeout: float = 5.0,
    ) -> None:
        self._client = client
        self._model = model
        self._on_round = on_round
        self._node_ids = node_ids
        self._timeout = timeout
        self._node: AttestedNode | None = None
        self._unavailable = False
        self._seen = 0

    @property
    def rounds_seen(self) -> int:
        """How many rounds were reported so far."""
        return self._seen

    def poll(self) -> None:
        """Ask for rounds not reported yet and pass each to the callback, in order."""
        if self._unavailable:
            return
        from accord.v1 import node_pb2
        from accord.workloads.xgboost import decode_progress

        try:
            node = self._node or self._attest()
            answer = node.call(
                node.stub.GetProgress,
                node_pb2.ProgressRequest(model=self._model, start_round=self._seen),
                timeout=self._timeout,
            )
            rounds = decode_progress(bytes(answer.rounds))
        except AccordError as error:
            _log.info("training progress of %s is not available: %s", self._model, error)
            self._unavailable = True
            self.close()
            return
        for entry in rounds:
            self._seen += 1
            self._on_round(entry)

    def _attest(self) -> AttestedNode:
        from accord.client.nodes import attest_node
        from accord.errors import VerificationError

        sessions = self._client.sessions
        wanted = sorted(self._node_ids if self._node_ids is not None else sessions)
        listed = {node.node_id: node.address for node in self._client.nodes()}
        node_id = next((n for n in wanted if n in sessions and n in listed), None)
        if node_id is None:
            raise VerificationError("no attested node to ask for training progress")
        node = attest_node(
            node_id, listed[node_id], agreement=self._client.agreement, timeout=self._timeout
        )
        if node.session_id != sessions[node_id]:
            node.close()
            raise VerificationError(
                f"node {node_id} now runs session {node.session_id[:16]}.., not the attested "
                f"{sessions[node_id][:16]}.."
            )
        self._node = node
        return node

    def close(self) -> None:
        """Close the channel to the node asked."""
        if self._node is not None:
            self._node.close()
            self._node = None
