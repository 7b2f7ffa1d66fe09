"""XGBoost through the enclaves, with XGBoost's own names: :class:`AccordXGBoost`.

::

    xgb = AccordXGBoost(client)
    dtrain = xgb.load("train", [alice_train, bob_train])        # a RemoteDMatrix
    booster = xgb.train({"objective": "binary:logistic"}, dtrain, num_boost_round=10)
    predictions = booster.predict(dtest)                        # numpy, own rows only

Each call is one command (docs/xgboost.md): this party proposes and signs it, the other
parties the agreement's rule names inspect and approve it on their own machines, the
enclaves run it, and the call returns the verified result. By default a call waits for all
of that (``wait=True``); with ``wait=False`` it returns a :class:`Pending` whose
``proposal_id`` the others approve and whose :meth:`Pending.wait` gives the value.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from accord.client.sdk import DEFAULT_TTL, Client
from accord.client.xgboost.handles import Dataset, RemoteDMatrix, check_name
from accord.client.xgboost.pending import Pending, require_positive
from accord.client.xgboost.progress import ProgressFollower, RoundCallback
from accord.errors import UsageError

if TYPE_CHECKING:
    from accord.client.results import Result
    from accord.client.xgboost.booster import RemoteBooster

__all__ = ["DEFAULT_RUN_TIMEOUT", "AccordXGBoost"]

DEFAULT_RUN_TIMEOUT = 600.0
"""Seconds a command may take to run once approved (training included), by default."""

T = TypeVar("T")


class AccordXGBoost:
    """XGBoost on the collaboration's joint sealed data, as one party drives it.

    Parameters
    ----------
    client
        This party's connected client, with the nodes attested and its data key
        provisioned (``client.attest()``, ``client.provision()``).
    approve_timeout
        Seconds the other parties have to approve each proposal (its lifetime); after that
        it expires and the call raises :class:`~accord.errors.ApprovalError`.
    run_timeout
        Seconds a command may take to run once approved.
    nodes
        The attested nodes to run on; all of them by default.
    """

    def __init__(
        self,
        client: Client,
        *,
        approve_timeout: float = DEFAULT_TTL.total_seconds(),
        run_timeout: float = DEFAULT_RUN_TIMEOUT,
        nodes: Sequence[str] | None = None,
    ) -> None:
        self._client = client
        self.approve_timeout = require_positive(approve_timeout, "approve_timeout")
        self.run_timeout = require_positive(run_timeout, "run_timeout")
        self._nodes = list(nodes) if nodes is not None else None

    @property
    def client(self) -> Client:
        """The party's client."""
        return self._client

    @property
    def party(self) -> str:
        """The name of the party this facade acts for."""
        return self._client.party

    def __repr__(self) -> str:
        return f"AccordXGBoost(party={self.party!r})"

    # -- commands ----------------------------------------------------------------------------

    def propose(
        self,
        operation: str,
        arguments: Mapping[str, Any],
        *,
        recipients: Iterable[str],
        finish: Callable[[Result], T],
        follow: ProgressFollower | None = None,
    ) -> Pending[T]:
        """Propose one command and return it as a :class:`Pending` (used by every call).

        Parameters
        ----------
        operation, arguments
            The command (docs/xgboost.md, section 3).
        recipients
            Who receives its outputs (empty for operations without outputs).
        finish
            Turns the verified result into the call's value.
        follow
            Polled while waiting (training progress).
        """
        proposal_id = self._client.propose(
            operation,
            arguments,
            recipients=list(recipients),
            ttl=self.approve_timeout,
            nodes=self._nodes,
        )
        return Pending(
            self._client,
            proposal_id,
            operation,
            finish,
            deadline=time.monotonic() + self.approve_timeout + self.run_timeout,
            follow=follow,
        )

    def node_ids(self) -> list[str]:
        """Return the attested nodes this facade's commands run on."""
        return list(self._nodes) if self._nodes is not None else sorted(self._client.sessions)

    def federation_argument(self) -> dict[str, Any] | None:
        """Return the ``federation`` argument for ``train`` and ``evaluate`` on several nodes.

        It gives each session's address, so that the nodes can attest each other and train
        together (docs/xgboost.md, section 7); ``None`` on one node.
        """
        node_ids = self.node_ids()
        if len(node_ids) < 2:
            return None
        from accord.workloads.xgboost import federation_argument

        sessions = self._client.sessions
        listed = {node.node_id: node.address for node in self._client.nodes()}
        missing = [n for n in node_ids if n not in sessions or n not in listed]
        if missing:
            raise UsageError(
                f"node {missing[0]} is not attested by this client or not listed by the "
                "orchestrator",
                hint="Call client.attest() (and client.provision()) first.",
            )
        return federation_argument({sessions[n]: listed[n] for n in node_ids})

    def upload(
        self,
        sealed_file: Path,
        name: str,
        *,
        label: str | None = None,
        weight: str | None = None,
        features: Sequence[str] | None = None,
    ) -> Dataset:
        """Upload this party's sealed file and return it as a :class:`Dataset` to load.

        Seal the file first with your own data key (``accord seal`` or
        :func:`accord.crypto.sealed.seal_file`); plaintext is refused. Give the returned
        dataset (it holds names and a blob id only) to the party that proposes ``load``.
        """
        check_name(name, "a dataset name")
        blob = self._client.upload(Path(sealed_file))
        return Dataset(
            name,
            self.party,
            blob,
            label=label,
            weight=weight,
            features=tuple(features) if features is not None else None,
        )

    @overload
    def load(
        self, name: str, datasets: Sequence[Dataset], *, wait: Literal[True] = ...
    ) -> RemoteDMatrix: ...
    @overload
    def load(
        self, name: str, datasets: Sequence[Dataset], *, wait: Literal[False]
    ) -> Pending[RemoteDMatrix]: ...
    def load(
        self, name: str, datasets: Sequence[Dataset], *, wait: bool = True
    ) -> RemoteDMatrix | Pending[RemoteDMatrix]:
        """Load parties' sealed datasets into the enclaves as one group (a ``load`` command).

        Parameters
        ----------
        name
            The group's name (new in the session).
        datasets
            The datasets, in the order their rows are concatenated. Each owner must have
            released its data key to the nodes.
        wait
            Wait for approvals and execution (True), or return a :class:`Pending` at once.

        Returns
        -------
        RemoteDMatrix
            The loaded group (or a :class:`Pending` of it).
        """
        group = RemoteDMatrix(name, tuple(datasets))
        arguments = {"as": name, "datasets": [d.to_argument() for d in group.datasets]}
        pending = self.propose("load", arguments, recipients=(), finish=lambda _: group)
        return pending.wait() if wait else pending

    @overload
    def train(
        self,
        params: Mapping[str, Any],
        dtrain: RemoteDMatrix,
        num_boost_round: int = ...,
        evals: Sequence[tuple[RemoteDMatrix, str]] = ...,
        early_stopping_rounds: int | None = ...,
        maximize: bool | None = ...,
        *,
        model: str = ...,
        on_round: RoundCallback | None = ...,
        wait: Literal[True] = ...,
    ) -> RemoteBooster: ...
    @overload
    def train(
        self,
        params: Mapping[str, Any],
        dtrain: RemoteDMatrix,
        num_boost_round: int = ...,
        evals: Sequence[tuple[RemoteDMatrix, str]] = ...,
        early_stopping_rounds: int | None = ...,
        maximize: bool | None = ...,
        *,
        model: str = ...,
        on_round: RoundCallback | None = ...,
        wait: Literal[False],
    ) -> Pending[RemoteBooster]: ...
    def train(
        self,
        params: Mapping[str, Any],
        dtrain: RemoteDMatrix,
        num_boost_round: int = 10,
        evals: Sequence[tuple[RemoteDMatrix, str]] = (),
        early_stopping_rounds: int | None = None,
        maximize: bool | None = None,
        *,
        model: str = "model",
        on_round: RoundCallback | None = None,
        wait: bool = True,
    ) -> RemoteBooster | Pending[RemoteBooster]:
        """Train a model in the enclaves, as ``xgboost.train`` (a ``train`` command).

        Parameters
        ----------
        params
            XGBoost parameters (the enclave accepts those of docs/xgboost.md, 3.2).
        dtrain
            The loaded group (or dataset) to train on.
        num_boost_round, evals, early_stopping_rounds, maximize
            As in ``xgboost.train``; ``evals`` pairs loaded data with a label.
        model
            The model's name in the session (new).
        on_round
            Called with each round's :class:`TrainingRound` (round, total, metrics) as the
            nodes report it, while waiting.
        wait
            Wait for approvals and training (True), or return a :class:`Pending` at once.

        Returns
        -------
        RemoteBooster
            The trained model, kept in the enclaves (or a :class:`Pending` of it).
        """
        from accord.client.xgboost.booster import RemoteBooster

        check_name(model, "the model name")
        arguments: dict[str, Any] = {
            "data": dtrain.name,
            "params": dict(params),
            "num_boost_round": num_boost_round,
            "model": model,
        }
        if evals:
            arguments["evals"] = [[data.name, label] for data, label in evals]
        if early_stopping_rounds is not None:
            arguments["early_stopping_rounds"] = early_stopping_rounds
        if maximize is not None:
            arguments["maximize"] = maximize
        federation = self.federation_argument()
        if federation is not None:
            arguments["federation"] = federation
        follow = (
            ProgressFollower(self._client, model, on_round, node_ids=self._nodes)
            if on_round is not None
            else None
        )
        pending = self.propose(
            "train",
            arguments,
            recipients=(),
            finish=lambda _: RemoteBooster(self, model),
            follow=follow,
        )
        return pending.wait() if wait else pending

    def booster(self, name: str = "model") -> RemoteBooster:
        """Return a handle to a model already in the session (trained or loaded by anyone)."""
        from accord.client.xgboost.booster import RemoteBooster

        return RemoteBooster(self, check_name(name, "the model name"))

    def loaded(self, proposal_id: str) -> RemoteDMatrix:
        """Return the group an executed ``load`` proposal made (e.g. one this party approved).

        Raises
        ------
        UsageError
            If the proposal is not a ``load`` command.
        """
        proposal = self._client.proposal(proposal_id)
        if proposal.command.operation != "load":
            raise UsageError(
                f"proposal {proposal_id[:16]}.. is a {proposal.command.operation} command, "
                "not a load command"
            )
        return RemoteDMatrix.from_load_arguments(proposal.command.arguments)

    @overload
    def load_model(
        self, name: str, sealed_model: Path | str, *, wait: Literal[True] = ...
    ) -> RemoteBooster: ...
    @overload
    def load_model(
        self, name: str, sealed_model: Path | str, *, wait: Literal[False]
    ) -> Pending[RemoteBooster]: ...
    def load_model(
        self, name: str, sealed_model: Path | str, *, wait: bool = True
    ) -> RemoteBooster | Pending[RemoteBooster]:
        """Load a model saved with :meth:`RemoteBooster.save_model` (a ``load_model`` command).

        Parameters
        ----------
        name
            The model's name in this session (new).
        sealed_model
            The sealed model file this party saved, or the blob id of one it uploaded.
        wait
            Wait (True), or return a :class:`Pending` at once.
        """
        from accord.client.xgboost.booster import RemoteBooster

        check_name(name, "the model name")
        blob = self._client.upload(sealed_model) if isinstance(sealed_model, Path) else sealed_model
        arguments = {"model": name, "blob": blob, "owner": self.party}
        pending = self.propose(
            "load_model", arguments, recipients=(), finish=lambda _: RemoteBooster(self, name)
        )
        return pending.wait() if wait else pending


def open_json(result: Result, name: str) -> Any:
    """Open this party's output ``name`` of ``result`` and parse it as JSON."""
    return json.loads(result.open(name))
