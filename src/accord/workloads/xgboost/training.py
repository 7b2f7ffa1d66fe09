"""Training a booster on the node's rows with ``xgboost.train``, round by round.

:func:`train_booster` is ``xgboost.train`` on a :class:`FeatureTable` with the parameters
checked by :func:`accord.workloads.xgboost.params.check_params`: the same parameters, the
same rounds and the same model as plain XGBoost on the same rows in the same order. Like
``xgboost.train``, the booster of the last round is returned even when early stopping
picked an earlier one (its ``best_iteration`` is recorded in the model).

Distribution over nodes: each node trains on its own row share. Called inside a
:class:`~accord.workloads.xgboost.federation.FederatedRun`, the booster is trained by every
node of the command together through XGBoost's collective communicator, and each node ends
with the same model; outside one, the node trains alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import xgboost
import xgboost.callback

from accord.errors import UsageError
from accord.workloads.xgboost.matrices import FeatureTable

__all__ = ["RoundCallback", "train_booster", "xgboost_refusal"]

RoundCallback = Callable[[int, Mapping[str, float]], None]
"""Called after each round with the round (from 0) and ``{"<eval>-<metric>": value}``."""

_LOCATION: Final = re.compile(r"^\[[0-9:]+\] [^ ]*:[0-9]+: ")
_MAX_REASON: Final = 300


def xgboost_refusal(error: Exception, what: str, *, where: str | None = None) -> UsageError:
    """Turn an ``XGBoostError`` into a :class:`UsageError` with XGBoost's first line only.

    The first line says what XGBoost checked (a parameter, a label range, a shape); the
    source location and the stack trace are dropped. ``where`` prefixes the message.
    """
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    reason = _LOCATION.sub("", first)
    if len(reason) > _MAX_REASON:
        reason = reason[: _MAX_REASON - 3] + "..."
    prefix = f"{where}: " if where is not None else ""
    return UsageError(f"{prefix}XGBoost refused to {what}: {reason}")


class _Progress(xgboost.callback.TrainingCallback):
    """Reports each round's latest evaluation results."""

    def __init__(self, on_round: RoundCallback) -> None:
        super().__init__()
        self._on_round = on_round

    def after_iteration(
        self,
        model: Any,
        epoch: int,
        evals_log: xgboost.callback.TrainingCallback.EvalsLog,
    ) -> bool:
        metrics: dict[str, float] = {}
        for data, results in evals_log.items():
            for metric, history in results.items():
                latest = history[-1]
                value = latest[0] if isinstance(latest, tuple) else latest
                metrics[f"{data}-{metric}"] = float(value)
        self._on_round(epoch, metrics)
        return False


def train_booster(
    table: FeatureTable,
    params: Mapping[str, Any],
    *,
    num_boost_round: int,
    nthread: int,
    evals: Sequence[tuple[FeatureTable, str]] = (),
    early_stopping_rounds: int | None = None,
    maximize: bool | None = None,
    on_round: RoundCallback | None = None,
) -> xgboost.Booster:
    """Train a booster as ``xgboost.train(params, dtrain, num_boost_round, evals, ...)``.

    Parameters
    ----------
    table
        This node's training rows.
    params
        Checked XGBoost parameters; ``nthread`` defaults to ``nthread``.
    num_boost_round
        Boosting rounds.
    nthread
        Threads for building matrices, and for training unless ``params`` set it.
    evals
        Evaluation tables and their names; the last one drives early stopping.
    early_stopping_rounds, maximize
        As in ``xgboost.train``.
    on_round
        Called after every round with its evaluation results.

    Returns
    -------
    xgboost.Booster
        The model after the last round.

    Raises
    ------
    UsageError
        Evaluation data whose features differ from the training data, early stopping
        without evaluation data, or parameters or labels that XGBoost refuses.
    """
    if early_stopping_rounds is not None and not evals:
        raise UsageError("train: 'early_stopping_rounds' needs at least one evaluation set")
    for eval_table, name in evals:
        if eval_table.feature_names != table.feature_names:
            raise UsageError(
                f"train: evaluation set {name!r} has other feature columns than the training data"
            )
    arguments = dict(params)
    threads = int(arguments.setdefault("nthread", nthread))
    callbacks = [_Progress(on_round)] if on_round is not None else []
    width = max([table.num_features] + [t.num_features for t, _ in evals])
    try:
        dtrain = table.dmatrix(nthread=threads, num_features=width)
        watch = [(t.dmatrix(nthread=threads, num_features=width), n) for t, n in evals]
        return xgboost.train(
            arguments,
            dtrain,
            num_boost_round=num_boost_round,
            evals=watch,
            early_stopping_rounds=early_stopping_rounds,
            maximize=maximize,
            verbose_eval=False,
            callbacks=callbacks,
        )
    except xgboost.core.XGBoostError as error:
        raise xgboost_refusal(error, "train") from None
