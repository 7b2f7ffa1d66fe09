"""Predictions, evaluation metrics and feature importance, and their output formats.

Predictions leave the enclave as a NumPy ``.npy`` document (format version 1.0, written
with ``allow_pickle=False``): little-endian float32 (``<f4``), C order, shape ``(rows,)``
or ``(rows, k)`` (class probabilities, several outputs), one row per row of the dataset in
the order of its sealed file. :func:`decode_predictions` reads exactly that and nothing
else. Metrics and feature importance leave as canonical JSON (RFC 8785); their layouts are
in docs/xgboost.md.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import xgboost

from accord.errors import UsageError
from accord.workloads.xgboost.matrices import FeatureTable
from accord.workloads.xgboost.training import xgboost_refusal

__all__ = [
    "IMPORTANCE_FORMAT",
    "IMPORTANCE_TYPES",
    "METRICS_FORMAT",
    "PREDICTIONS_DTYPE",
    "decode_predictions",
    "encode_predictions",
    "evaluate_table",
    "feature_importance",
    "join_predictions",
    "matrix_for_model",
    "predict_table",
]

PREDICTIONS_DTYPE: Final = np.dtype("<f4")
"""The element type of encoded predictions: little-endian float32."""
METRICS_FORMAT: Final = "accord-xgboost-metrics/v1"
IMPORTANCE_FORMAT: Final = "accord-xgboost-feature-importance/v1"
IMPORTANCE_TYPES: Final = ("weight", "gain", "cover", "total_gain", "total_cover")
_NPY_MAGIC: Final = b"\x93NUMPY\x01\x00"


def encode_predictions(values: npt.ArrayLike) -> bytes:
    """Write predictions as ``.npy`` bytes: version 1.0, ``<f4``, C order, no pickle.

    Raises
    ------
    UsageError
        If ``values`` is not one- or two-dimensional.
    """
    array = np.ascontiguousarray(values, dtype=PREDICTIONS_DTYPE)
    if array.ndim not in (1, 2):
        raise UsageError(f"predictions must have 1 or 2 dimensions, not {array.ndim}")
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, version=(1, 0), allow_pickle=False)
    return buffer.getvalue()


def decode_predictions(data: bytes) -> npt.NDArray[np.float32]:
    """Read predictions that a node encoded (the plaintext of a ``predictions`` output).

    Only the exact encoding of :func:`encode_predictions` is accepted: ``.npy`` version 1.0,
    little-endian float32, C order, one or two dimensions, nothing after the array. The
    reader never unpickles anything.

    Parameters
    ----------
    data
        The unsealed output bytes.

    Returns
    -------
    numpy.ndarray
        float32 predictions, shape ``(rows,)`` or ``(rows, k)``.

    Raises
    ------
    UsageError
        If ``data`` is not predictions in that form.
    """
    if not isinstance(data, bytes | bytearray | memoryview) or not bytes(data[:8]) == _NPY_MAGIC:
        raise UsageError("the data is not predictions (.npy version 1.0) from an Accord node")
    try:
        array = np.load(io.BytesIO(bytes(data)), allow_pickle=False)
    except (ValueError, OSError, EOFError):
        raise UsageError("the predictions are malformed: not a readable .npy array") from None
    if (
        not isinstance(array, np.ndarray)
        or array.dtype != PREDICTIONS_DTYPE
        or array.ndim not in (1, 2)
        or encode_predictions(array) != bytes(data)
    ):
        raise UsageError(
            "the predictions are malformed: expected a C-ordered <f4 array of 1 or 2 "
            "dimensions and nothing after it"
        )
    return array.astype(np.float32, copy=False)


def join_predictions(shares: Mapping[str, bytes]) -> npt.NDArray[np.float32]:
    """Join the ``predictions`` outputs of the nodes of one command (a party's side).

    On several nodes each node predicts its own share of the dataset's rows; concatenated in
    rank order (sorted session id) they are the predictions of every row, in file order.

    Parameters
    ----------
    shares
        Session id to the unsealed ``predictions`` output of that session's node, for every
        session of the command.

    Returns
    -------
    numpy.ndarray
        float32 predictions of every row of the dataset.

    Raises
    ------
    UsageError
        If there is no share, a share is not predictions, or the shares differ in shape.
    """
    if not shares:
        raise UsageError("no predictions to join: give every node's 'predictions' output")
    parts = [decode_predictions(shares[session]) for session in sorted(shares)]
    if len({part.shape[1:] for part in parts}) != 1:
        raise UsageError("the nodes' predictions have different shapes; they are not shares")
    return np.concatenate(parts).astype(PREDICTIONS_DTYPE, copy=False)


def matrix_for_model(
    table: FeatureTable, booster: xgboost.Booster, *, nthread: int, where: str
) -> xgboost.DMatrix:
    """Return ``table`` as a DMatrix that fits ``booster``'s features.

    Dense data must have exactly the model's feature columns in order; sparse data may have
    fewer columns than the model (the missing ones are absent), never more.

    Raises
    ------
    UsageError
        If the data does not fit the model.
    """
    names = booster.feature_names
    if table.feature_names is not None:
        if names is None or tuple(names) != table.feature_names:
            raise UsageError(
                f"{where}: the data's feature columns differ from the model's "
                f"({table.num_features} columns; the model has {booster.num_features()})"
            )
        return table.dmatrix(nthread=nthread)
    if names is not None:
        raise UsageError(f"{where}: the model was trained on named columns, the data is LibSVM")
    width = booster.num_features()
    if table.num_features > width:
        raise UsageError(
            f"{where}: the data has {table.num_features} feature columns; the model has {width}"
        )
    return table.dmatrix(nthread=nthread, num_features=width)


def predict_table(
    booster: xgboost.Booster,
    table: FeatureTable,
    *,
    nthread: int,
    output_margin: bool = False,
    iteration_range: tuple[int, int] = (0, 0),
    where: str = "predict",
) -> npt.NDArray[np.float32]:
    """Return the model's predictions for every row of ``table``, in row order.

    Raises
    ------
    UsageError
        If the data does not fit the model or XGBoost refuses the iteration range.
    """
    if table.num_rows == 0:
        # A node whose share of the file holds no chunk has nothing to predict; building a
        # DMatrix for zero rows would compare feature names its empty training share may lack.
        return np.empty(_empty_prediction_shape(booster, output_margin), dtype=np.float32)
    matrix = matrix_for_model(table, booster, nthread=nthread, where=where)
    try:
        values = booster.predict(
            matrix, output_margin=output_margin, iteration_range=iteration_range
        )
    except xgboost.core.XGBoostError as error:
        raise xgboost_refusal(error, "predict") from None
    return np.asarray(values, dtype=np.float32)


def _empty_prediction_shape(booster: xgboost.Booster, output_margin: bool) -> tuple[int, ...]:
    """Return the shape of zero rows of predictions: one value per row, or one per class."""
    learner = json.loads(booster.save_config())["learner"]
    classes = int(learner["learner_model_param"].get("num_class", "0") or 0)
    objective = str(learner["objective"]["name"])
    per_class = classes > 1 and (output_margin or objective == "multi:softprob")
    return (0, classes) if per_class else (0,)


def evaluate_table(
    booster: xgboost.Booster,
    table: FeatureTable,
    metrics: Sequence[str],
    *,
    nthread: int,
    where: str = "evaluate",
) -> dict[str, float | None]:
    """Return XGBoost's value of each metric for ``booster`` on ``table``.

    A metric XGBoost cannot compute on the data (AUC with one class) is ``None``.

    Raises
    ------
    UsageError
        If the data does not fit the model or XGBoost refuses a metric.
    """
    matrix = matrix_for_model(table, booster, nthread=nthread, where=where)
    evaluator = booster.copy()
    try:
        evaluator.set_param([("eval_metric", metric) for metric in metrics])
        report = evaluator.eval_set([(matrix, "data")], iteration=0)
    except xgboost.core.XGBoostError as error:
        raise xgboost_refusal(error, "evaluate") from None
    values: dict[str, float] = {}
    for field in report.split("\t")[1:]:
        label, _, number = field.strip().rpartition(":")
        values[label.removeprefix("data-")] = float(number)
    results: dict[str, float | None] = {}
    for metric in metrics:
        value = values.get(metric)
        results[metric] = value if value is not None and math.isfinite(value) else None
    return results


def feature_importance(
    booster: xgboost.Booster, importance_type: str
) -> dict[str, float | list[float]]:
    """Return ``booster.get_score(importance_type=...)``: feature name to score.

    Features the model never uses are absent, as in XGBoost; models with several outputs
    per tree give a list of scores per feature.

    Raises
    ------
    UsageError
        For an unknown type, or one the booster does not support (``gblinear``).
    """
    if importance_type not in IMPORTANCE_TYPES:
        raise UsageError(f"importance type must be one of {', '.join(IMPORTANCE_TYPES)}")
    try:
        scores = booster.get_score(importance_type=importance_type)
    except (xgboost.core.XGBoostError, ValueError) as error:
        raise xgboost_refusal(error, "compute feature importance") from None
    return {name: _score(value) for name, value in sorted(scores.items())}


def _score(value: Any) -> float | list[float]:
    if isinstance(value, list):
        return [float(item) if math.isfinite(item) else 0.0 for item in value]
    number = float(value)
    return number if math.isfinite(number) else 0.0
