"""Scikit-learn style estimators over the enclaves: ``AccordXGBClassifier``, ``AccordXGBRegressor``.

They mirror ``xgboost.XGBClassifier`` / ``XGBRegressor`` where the multi-party flow allows:
``fit`` takes a loaded :class:`RemoteDMatrix` (labels are inside the sealed data, so there
is no ``y``), ``eval_set`` a list of loaded data (reported as ``validation_0``,
``validation_1``... as in XGBoost), and ``predict`` works on this party's own dataset only.
Each ``fit`` and ``predict`` is a command the other parties approve (see
:class:`~accord.client.xgboost.AccordXGBoost`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

from accord.client.sdk import Client
from accord.client.xgboost.booster import RemoteBooster
from accord.client.xgboost.facade import AccordXGBoost
from accord.client.xgboost.handles import RemoteDMatrix
from accord.errors import UsageError

__all__ = ["AccordXGBClassifier", "AccordXGBRegressor"]

# scikit-learn names -> the names of xgboost.train's parameters (both accepted by XGBoost;
# the enclave allowlist uses these).
_RENAMED = {"random_state": "seed", "n_jobs": "nthread"}


class _AccordXGBModel:
    default_objective: ClassVar[str]

    def __init__(
        self,
        xgb: AccordXGBoost | Client,
        *,
        n_estimators: int = 100,
        early_stopping_rounds: int | None = None,
        model: str = "model",
        **params: Any,
    ) -> None:
        self.xgb = xgb if isinstance(xgb, AccordXGBoost) else AccordXGBoost(xgb)
        self.n_estimators = n_estimators
        self.early_stopping_rounds = early_stopping_rounds
        self.model = model
        self.params = {_RENAMED.get(k, k): v for k, v in params.items() if v is not None}
        self.params.setdefault("objective", self.default_objective)
        self._booster: RemoteBooster | None = None

    def get_params(self) -> dict[str, Any]:
        """Return the estimator's parameters (the XGBoost parameters and the rounds)."""
        return {
            **self.params,
            "n_estimators": self.n_estimators,
            "early_stopping_rounds": self.early_stopping_rounds,
            "model": self.model,
        }

    def fit(self, X: RemoteDMatrix, *, eval_set: Sequence[RemoteDMatrix] = ()) -> Self:  # noqa: N803
        """Train on loaded data (a ``train`` command) and return the estimator.

        Parameters
        ----------
        X
            The loaded group (labels come from the sealed data).
        eval_set
            Loaded data to evaluate after every round (``validation_<i>``); the last one
            drives ``early_stopping_rounds``.
        """
        if self.early_stopping_rounds is not None and not eval_set:
            raise UsageError("early_stopping_rounds needs an eval_set")
        evals = [(data, f"validation_{i}") for i, data in enumerate(eval_set)]
        self._booster = self.xgb.train(
            self.params,
            X,
            num_boost_round=self.n_estimators,
            evals=evals,
            early_stopping_rounds=self.early_stopping_rounds,
            model=self.model,
        )
        return self

    def get_booster(self) -> RemoteBooster:
        """Return the trained model.

        Raises
        ------
        UsageError
            If :meth:`fit` has not run.
        """
        if self._booster is None:
            raise UsageError(
                f"this {type(self).__name__} is not fitted yet; call fit(...) first, or "
                "use xgb.booster(name) for a model trained by another party's proposal"
            )
        return self._booster

    def evaluate(self, X: RemoteDMatrix, metrics: Sequence[str]) -> Mapping[str, float | None]:  # noqa: N803
        """Return XGBoost's metrics of the model on loaded data (an ``evaluate`` command)."""
        return self.get_booster().evaluate(X, metrics)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({shown})"


class AccordXGBClassifier(_AccordXGBModel):
    """A classifier like ``xgboost.XGBClassifier`` whose data and model stay in the enclaves.

    Parameters
    ----------
    xgb
        The party's :class:`AccordXGBoost` (or its client).
    n_estimators
        Boosting rounds.
    early_stopping_rounds
        As in XGBoost; needs an ``eval_set`` in :meth:`fit`.
    model
        The model's name in the enclave session.
    **params
        XGBoost parameters (``max_depth``, ``learning_rate``, ``tree_method``,
        ``random_state``, ``n_jobs``, ``objective``, ``num_class``, ...). The objective
        defaults to ``binary:logistic``; for several classes pass
        ``objective="multi:softprob", num_class=K``.
    """

    default_objective = "binary:logistic"

    def predict_proba(self, X: RemoteDMatrix) -> npt.NDArray[np.float32]:  # noqa: N803
        """Return class probabilities on this party's own dataset, shape ``(rows, classes)``."""
        objective = str(self.params["objective"])
        if objective not in ("binary:logistic", "multi:softprob"):
            raise UsageError(
                f"predict_proba needs objective binary:logistic or multi:softprob, not {objective}"
            )
        values = self.get_booster().predict(X)
        if values.ndim == 1:
            return np.column_stack([1.0 - values, values]).astype(np.float32)
        return values

    def predict(self, X: RemoteDMatrix) -> npt.NDArray[np.int64]:  # noqa: N803
        """Return the predicted class of each row of this party's own dataset."""
        values = self.get_booster().predict(X)
        objective = str(self.params["objective"])
        if values.ndim == 2:
            return np.asarray(np.argmax(values, axis=1), dtype=np.int64)
        if objective in ("binary:logitraw",):
            return (values > 0.0).astype(np.int64)
        if objective in ("multi:softmax", "binary:hinge"):
            return np.rint(values).astype(np.int64)
        return (values > 0.5).astype(np.int64)


class AccordXGBRegressor(_AccordXGBModel):
    """A regressor like ``xgboost.XGBRegressor`` whose data and model stay in the enclaves.

    Parameters are those of :class:`AccordXGBClassifier`; the objective defaults to
    ``reg:squarederror``.
    """

    default_objective = "reg:squarederror"

    def predict(self, X: RemoteDMatrix) -> npt.NDArray[np.float32]:  # noqa: N803
        """Return the predictions on this party's own dataset."""
        return self.get_booster().predict(X)
