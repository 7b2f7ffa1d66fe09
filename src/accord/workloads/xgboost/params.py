"""The XGBoost parameters a ``train`` command may pass, each with its allowed values.

XGBoost has parameters that read or write files (``model_in``, ``model_out``,
``save_period``, ``fmap``...), choose devices or plug in updaters. Inside an enclave only
parameters that change the arithmetic of training are safe, so ``params`` is checked against
an allowlist: every key must be listed in :data:`PARAMETERS` and its value must be a JSON
scalar of the listed kind and range (``eval_metric`` alone may also be a list of metric
names). Anything else is refused naming the key. docs/xgboost.md reproduces the table.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from accord.errors import UsageError
from accord.workloads.xgboost.arguments import shown

__all__ = [
    "METRICS",
    "OBJECTIVES",
    "PARAMETERS",
    "Parameter",
    "check_metric",
    "check_params",
]

OBJECTIVES: Final = (
    "binary:hinge",
    "binary:logistic",
    "binary:logitraw",
    "count:poisson",
    "multi:softmax",
    "multi:softprob",
    "reg:absoluteerror",
    "reg:gamma",
    "reg:logistic",
    "reg:pseudohubererror",
    "reg:quantileerror",
    "reg:squarederror",
    "reg:squaredlogerror",
    "reg:tweedie",
    "survival:cox",
)
"""Objectives that learn from one label (and weight) per row."""

METRICS: Final = (
    "auc",
    "aucpr",
    "cox-nloglik",
    "error",
    "gamma-deviance",
    "gamma-nloglik",
    "logloss",
    "mae",
    "mape",
    "merror",
    "mlogloss",
    "mphe",
    "poisson-nloglik",
    "rmse",
    "rmsle",
)
"""Metric names; ``error@<threshold>`` and ``tweedie-nloglik@<rho>`` are accepted too."""

_PARAMETERISED_METRIC: Final = re.compile(r"(error|tweedie-nloglik)@[0-9](\.[0-9]{1,6})?")
_MONOTONE: Final = re.compile(r"\(\s*-?[01](\s*,\s*-?[01])*\s*\)")
_INTERACTION: Final = re.compile(r"\[\s*\[[0-9,\s]*\](\s*,\s*\[[0-9,\s]*\])*\s*\]")
_MAX_METRICS: Final = 16
_INF: Final = math.inf


@dataclass(frozen=True)
class Parameter:
    """What one XGBoost parameter may hold.

    Parameters
    ----------
    kind
        ``"number"`` (finite), ``"integer"``, ``"boolean"`` (passed as 0 or 1), ``"choice"``,
        ``"pattern"`` (text matching ``pattern``) or ``"metric"`` (a metric name or a list
        of them, see :func:`check_metric`).
    low, high
        The closed range of numbers and integers.
    choices
        The allowed texts of a choice.
    pattern
        The regular expression of a pattern.
    """

    kind: str
    low: float = -_INF
    high: float = _INF
    choices: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None

    def describe(self) -> str:
        """Say what the parameter may hold (for messages and docs)."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "boolean":
            return "true or false"
        if self.kind == "pattern":
            return "text of the form XGBoost documents for it"
        if self.kind == "metric":
            return "a metric name or a list of metric names"
        what = "an integer" if self.kind == "integer" else "a number"
        return f"{what} from {_bound(self.low)} to {_bound(self.high)}"


def _bound(value: float) -> str:
    if math.isinf(value):
        return "-inf" if value < 0 else "inf"
    return str(int(value)) if value == int(value) else str(value)


def _number(low: float = 0.0, high: float = _INF) -> Parameter:
    return Parameter("number", low, high)


def _integer(low: float, high: float) -> Parameter:
    return Parameter("integer", low, high)


def _choice(*choices: str) -> Parameter:
    return Parameter("choice", choices=choices)


_BOOLEAN: Final = Parameter("boolean")
_FRACTION: Final = _number(0.0, 1.0)

PARAMETERS: Final[Mapping[str, Parameter]] = {
    "alpha": _number(),
    "base_score": _number(-_INF),
    "booster": _choice("gbtree", "gblinear", "dart"),
    "colsample_bylevel": _FRACTION,
    "colsample_bynode": _FRACTION,
    "colsample_bytree": _FRACTION,
    "device": _choice("cpu"),
    "disable_default_eval_metric": _BOOLEAN,
    "eta": _number(),
    "eval_metric": Parameter("metric"),
    "feature_selector": _choice("cyclic", "shuffle", "random", "greedy", "thrifty"),
    "gamma": _number(),
    "grow_policy": _choice("depthwise", "lossguide"),
    "huber_slope": _number(),
    "interaction_constraints": Parameter("pattern", pattern=_INTERACTION),
    "lambda": _number(),
    "learning_rate": _number(),
    "max_bin": _integer(2, 65536),
    "max_cached_hist_node": _integer(1, 2**31 - 1),
    "max_cat_threshold": _integer(1, 2**31 - 1),
    "max_cat_to_onehot": _integer(1, 2**31 - 1),
    "max_delta_step": _number(),
    "max_depth": _integer(0, 128),
    "max_leaves": _integer(0, 2**31 - 1),
    "min_child_weight": _number(),
    "min_split_loss": _number(),
    "monotone_constraints": Parameter("pattern", pattern=_MONOTONE),
    "multi_strategy": _choice("one_output_per_tree", "multi_output_tree"),
    "normalize_type": _choice("tree", "forest"),
    "nthread": _integer(1, 256),
    "num_class": _integer(1, 100_000),
    "num_parallel_tree": _integer(1, 10_000),
    "objective": _choice(*OBJECTIVES),
    "one_drop": _BOOLEAN,
    "quantile_alpha": _FRACTION,
    "rate_drop": _FRACTION,
    "reg_alpha": _number(),
    "reg_lambda": _number(),
    "sample_type": _choice("uniform", "weighted"),
    "sampling_method": _choice("uniform"),
    "scale_pos_weight": _number(),
    "seed": _integer(0, 2**53 - 1),
    "seed_per_iteration": _BOOLEAN,
    "skip_drop": _FRACTION,
    "subsample": _FRACTION,
    "top_k": _integer(0, 2**31 - 1),
    "tree_method": _choice("auto", "exact", "approx", "hist"),
    "tweedie_variance_power": _number(1.0, 2.0),
    "updater": _choice("shotgun", "coord_descent"),
    "validate_parameters": _BOOLEAN,
    "verbosity": _integer(0, 3),
}
"""Every parameter ``train`` passes to XGBoost, with what it may hold."""


def check_metric(value: object, where: str) -> str:
    """Return ``value`` if it is a metric name :data:`METRICS` (or a parameterised one) allows.

    Raises
    ------
    UsageError
        Naming ``where`` and the metrics allowed.
    """
    if isinstance(value, str) and (
        value in METRICS or _PARAMETERISED_METRIC.fullmatch(value) is not None
    ):
        return value
    raise UsageError(
        f"{where} must be a metric name ({', '.join(METRICS)}, error@<threshold>, "
        f"tweedie-nloglik@<rho>), got {shown(value)}"
    )


def check_params(params: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Check training parameters against :data:`PARAMETERS`; return them ready for XGBoost.

    Parameters
    ----------
    params
        The JSON object of the command.
    where
        How messages name the object (``"train: argument 'params'"``).

    Returns
    -------
    dict
        The parameters, booleans as 0 or 1 and ``eval_metric`` lists as lists.

    Raises
    ------
    UsageError
        Naming the first key that is not allowed or has a value out of its range.
    """
    checked: dict[str, Any] = {}
    for key, value in params.items():
        spec = PARAMETERS.get(key)
        if spec is None:
            raise UsageError(
                f"{where}: {shown(key)} is not a parameter Accord passes to XGBoost",
                hint=(
                    "Only parameters that change how a model is trained are allowed; "
                    "docs/xgboost.md lists them. Parameters that name files, devices or "
                    "plug-ins are refused inside the enclave."
                ),
            )
        checked[key] = _check_value(spec, value, f"{where}: {key!r}")
    for first, second in (
        ("eta", "learning_rate"),
        ("gamma", "min_split_loss"),
        ("lambda", "reg_lambda"),
        ("alpha", "reg_alpha"),
    ):
        if first in checked and second in checked:
            raise UsageError(f"{where} sets both {first!r} and its alias {second!r}")
    return checked


def _check_value(spec: Parameter, value: object, where: str) -> Any:
    if spec.kind == "metric":
        if isinstance(value, str):
            return check_metric(value, where)
        if isinstance(value, list | tuple) and 0 < len(value) <= _MAX_METRICS:
            return [check_metric(item, f"{where}[{i}]") for i, item in enumerate(value)]
        raise UsageError(
            f"{where} must be a metric name or a list of 1 to {_MAX_METRICS} metric names"
        )
    if spec.kind == "boolean":
        if not isinstance(value, bool):
            raise UsageError(f"{where} must be true or false, got {shown(value)}")
        return int(value)
    if spec.kind in ("choice", "pattern"):
        allowed = (
            value in spec.choices
            if spec.kind == "choice"
            else isinstance(value, str)
            and len(value) <= 65536
            and spec.pattern is not None
            and spec.pattern.fullmatch(value) is not None
        )
        if not isinstance(value, str) or not allowed:
            raise UsageError(f"{where} must be {spec.describe()}, got {shown(value)}")
        return value
    integral = spec.kind == "integer"
    if (
        isinstance(value, bool)
        or not isinstance(value, int if integral else int | float)
        or not math.isfinite(value)
        or not spec.low <= value <= spec.high
    ):
        raise UsageError(f"{where} must be {spec.describe()}, got {shown(value)}")
    return value
