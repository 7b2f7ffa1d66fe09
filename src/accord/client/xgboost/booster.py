"""A model kept inside the enclaves, used with ``xgboost.Booster``'s names: :class:`RemoteBooster`.

The model never leaves the enclaves unless the agreement's output policy names the party
(``release``, ``save_model``). What a party gets back is sealed to it alone: predictions
on its own data, metrics and feature scores where the policy allows them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
import numpy.typing as npt

from accord._internal.files import write_atomically
from accord.client.xgboost.facade import AccordXGBoost, open_json
from accord.client.xgboost.handles import RemoteDMatrix
from accord.client.xgboost.pending import Pending
from accord.errors import UsageError

if TYPE_CHECKING:
    import xgboost

    from accord.client.results import Result

__all__ = ["RemoteBooster"]

Predictions = npt.NDArray[np.float32]


class RemoteBooster:
    """A model in the enclave sessions, by name; made by ``train``, ``load_model``, ``booster``.

    Every method is a command the agreement's rule must be met for (see
    :class:`~accord.client.xgboost.AccordXGBoost`); each takes ``wait=False`` to return a
    :class:`Pending` instead of waiting.

    Attributes
    ----------
    name
        The model's name in the session.
    """

    def __init__(self, xgb: AccordXGBoost, name: str) -> None:
        self._xgb = xgb
        self.name = name

    def __repr__(self) -> str:
        return f"RemoteBooster({self.name!r}, party={self._xgb.party!r})"

    def _recipients(self, recipients: Iterable[str] | None) -> list[str]:
        return [self._xgb.party] if recipients is None else list(recipients)

    @overload
    def predict(
        self,
        data: RemoteDMatrix,
        *,
        output_margin: bool = ...,
        iteration_range: tuple[int, int] = ...,
        wait: Literal[True] = ...,
    ) -> Predictions: ...
    @overload
    def predict(
        self,
        data: RemoteDMatrix,
        *,
        output_margin: bool = ...,
        iteration_range: tuple[int, int] = ...,
        wait: Literal[False],
    ) -> Pending[Predictions]: ...
    def predict(
        self,
        data: RemoteDMatrix,
        *,
        output_margin: bool = False,
        iteration_range: tuple[int, int] = (0, 0),
        wait: bool = True,
    ) -> Predictions | Pending[Predictions]:
        """Predict on this party's own dataset, as ``Booster.predict``; only this party sees it.

        Parameters
        ----------
        data
            A dataset of this party, or a group holding exactly one dataset of this party
            (that one is used).
        output_margin, iteration_range
            As in ``xgboost.Booster.predict``.
        wait
            Wait (True), or return a :class:`Pending` at once.

        Returns
        -------
        numpy.ndarray
            float32 predictions, one row per row of the dataset in the order of its sealed
            file: shape ``(rows,)``, or ``(rows, k)`` for several outputs per row.

        Raises
        ------
        UsageError
            If ``data`` holds no dataset of this party (predictions on another party's data
            go only where the output policy sends them; propose ``predict`` with
            ``Client.propose`` for that).
        """
        mine = data.owned_by(self._xgb.party)
        arguments: dict[str, Any] = {
            "model": self.name,
            "data": mine.name,
            "data_owner": self._xgb.party,
        }
        if output_margin:
            arguments["output_margin"] = True
        if tuple(iteration_range) != (0, 0):
            arguments["iteration_range"] = list(iteration_range)
        pending = self._xgb.propose(
            "predict", arguments, recipients=[self._xgb.party], finish=_open_predictions
        )
        return pending.wait() if wait else pending

    @overload
    def evaluate(
        self,
        data: RemoteDMatrix,
        metrics: Sequence[str] = ...,
        *,
        recipients: Iterable[str] | None = ...,
        wait: Literal[True] = ...,
    ) -> dict[str, float | None]: ...
    @overload
    def evaluate(
        self,
        data: RemoteDMatrix,
        metrics: Sequence[str] = ...,
        *,
        recipients: Iterable[str] | None = ...,
        wait: Literal[False],
    ) -> Pending[dict[str, float | None]]: ...
    def evaluate(
        self,
        data: RemoteDMatrix,
        metrics: Sequence[str] = ("logloss",),
        *,
        recipients: Iterable[str] | None = None,
        wait: bool = True,
    ) -> dict[str, float | None] | Pending[dict[str, float | None]]:
        """Evaluate the model on a dataset or group (an ``evaluate`` command).

        Parameters
        ----------
        data
            Loaded data (any parties').
        metrics
            XGBoost metric names (``auc``, ``logloss``, ``error``, ``error@0.7``, ...).
        recipients
            Who receives the metrics (the policy's ``metrics`` parties); this party by default.
        wait
            Wait (True), or return a :class:`Pending` at once.

        Returns
        -------
        dict
            Metric name to value (``None`` where XGBoost cannot compute it on the data).
        """
        if isinstance(metrics, str):
            metrics = [metrics]
        arguments: dict[str, Any] = {
            "model": self.name,
            "data": data.name,
            "metrics": list(metrics),
        }
        federation = self._xgb.federation_argument()
        if federation is not None:
            arguments["federation"] = federation

        def finish(result: Result) -> dict[str, float | None]:
            document = open_json(result, "metrics")
            return dict(document["metrics"])

        pending = self._xgb.propose(
            "evaluate", arguments, recipients=self._recipients(recipients), finish=finish
        )
        return pending.wait() if wait else pending

    @overload
    def feature_importance(
        self,
        importance_type: str = ...,
        *,
        recipients: Iterable[str] | None = ...,
        wait: Literal[True] = ...,
    ) -> dict[str, Any]: ...
    @overload
    def feature_importance(
        self,
        importance_type: str = ...,
        *,
        recipients: Iterable[str] | None = ...,
        wait: Literal[False],
    ) -> Pending[dict[str, Any]]: ...
    def feature_importance(
        self,
        importance_type: str = "weight",
        *,
        recipients: Iterable[str] | None = None,
        wait: bool = True,
    ) -> dict[str, Any] | Pending[dict[str, Any]]:
        """Return the feature scores, as ``Booster.get_score`` (a ``feature_importance`` command).

        Parameters
        ----------
        importance_type
            ``weight``, ``gain``, ``cover``, ``total_gain`` or ``total_cover``.
        recipients
            Who receives them (the policy's ``feature_importance`` parties); this party by
            default.
        wait
            Wait (True), or return a :class:`Pending` at once.

        Returns
        -------
        dict
            Feature name (``f<index>`` for LibSVM) to score; unused features are absent.
        """
        arguments = {"model": self.name, "importance_type": importance_type}

        def finish(result: Result) -> dict[str, Any]:
            return dict(open_json(result, "feature_importance")["scores"])

        pending = self._xgb.propose(
            "feature_importance",
            arguments,
            recipients=self._recipients(recipients),
            finish=finish,
        )
        return pending.wait() if wait else pending

    get_score = feature_importance
    """``xgboost.Booster``'s name for :meth:`feature_importance`."""

    @overload
    def release(self, *, format: str = ..., wait: Literal[True] = ...) -> xgboost.Booster: ...
    @overload
    def release(self, *, format: str = ..., wait: Literal[False]) -> Pending[xgboost.Booster]: ...
    def release(
        self, *, format: str = "json", wait: bool = True
    ) -> xgboost.Booster | Pending[xgboost.Booster]:
        """Release the model to this party as a local ``xgboost.Booster`` (``release_model``).

        Only parties in the agreement's ``outputs.models`` may receive a model; for anyone
        else the command is refused before it runs (:class:`~accord.errors.ApprovalError`).

        Parameters
        ----------
        format
            ``json`` (default) or ``ubj``: XGBoost's own formats, never pickle.
        wait
            Wait (True), or return a :class:`Pending` at once.
        """
        if format not in ("json", "ubj"):
            raise UsageError(f"the model format must be 'json' or 'ubj', not {format!r}")
        output = f"{self.name}.{format}"

        def finish(result: Result) -> xgboost.Booster:
            import xgboost

            booster = xgboost.Booster()
            booster.load_model(bytearray(result.open(output)))
            return booster

        pending = self._xgb.propose(
            "release_model",
            {"model": self.name, "format": format},
            recipients=[self._xgb.party],
            finish=finish,
        )
        return pending.wait() if wait else pending

    @overload
    def save_model(self, path: Path, *, wait: Literal[True] = ...) -> Path: ...
    @overload
    def save_model(self, path: Path, *, wait: Literal[False]) -> Pending[Path]: ...
    def save_model(self, path: Path, *, wait: bool = True) -> Path | Pending[Path]:
        """Save the model sealed under this party's key, for a later session (``save_model``).

        The file is an Accord sealed file (UBJSON inside) that only this party's data key
        opens; :meth:`AccordXGBoost.load_model` loads it into a session again. Saving is a
        release, so the policy is that of ``release``.

        Parameters
        ----------
        path
            Where to write the sealed model (refused if it exists).
        wait
            Wait (True), or return a :class:`Pending` at once.
        """
        path = Path(path)
        if path.exists():
            raise UsageError(f"{path} exists; choose a new file for the sealed model")
        output = f"{self.name}.ubj"

        def finish(result: Result) -> Path:
            result.open(output)  # every node's copy authenticates under this party's key
            sealed = next(
                o.sealed for _, o in result.outputs(recipient=self._xgb.party) if o.name == output
            )
            write_atomically(path, sealed, mode=0o600, overwrite=False)
            return path

        pending = self._xgb.propose(
            "save_model", {"model": self.name}, recipients=[self._xgb.party], finish=finish
        )
        return pending.wait() if wait else pending


def _open_predictions(result: Result) -> Predictions:
    """Open every node's share of the predictions and join them in rank order."""
    from accord.workloads.xgboost import join_predictions

    shares = {
        node.session_id: result.open("predictions", node_id=node.node_id) for node in result.nodes
    }
    return join_predictions(shares)
