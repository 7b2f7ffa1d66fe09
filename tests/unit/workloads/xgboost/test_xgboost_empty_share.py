"""A node whose share of a file is empty predicts nothing, without failing."""

import numpy as np
import pytest
import xgboost

from accord.workloads.xgboost.matrices import FeatureTable
from accord.workloads.xgboost.prediction import encode_predictions, join_predictions, predict_table

NAMES = ("a", "b", "c")


def dense_table(rows: int, names=NAMES) -> FeatureTable:
    rng = np.random.default_rng(0)
    return FeatureTable(
        features=rng.random((rows, len(NAMES)), dtype=np.float32),
        labels=(rng.random(rows) > 0.5).astype(np.float32),
        weights=None,
        feature_names=names,
    )


@pytest.mark.parametrize(
    ("params", "shape"),
    [
        ({"objective": "binary:logistic"}, (0,)),
        ({"objective": "multi:softprob", "num_class": 3}, (0, 3)),
        ({"objective": "multi:softmax", "num_class": 3}, (0,)),
    ],
)
def test_an_empty_share_yields_empty_predictions_of_the_right_shape(params, shape):
    table = dense_table(60)
    if params["objective"].startswith("multi"):
        table = FeatureTable(
            features=table.features,
            labels=np.arange(60, dtype=np.float32) % 3,
            weights=None,
            feature_names=NAMES,
        )
    booster = xgboost.train({**params, "nthread": 1}, table.dmatrix(nthread=1), 2)
    unnamed_empty = dense_table(0, names=("x", "y", "z"))
    result = predict_table(booster, unnamed_empty, nthread=1)
    assert result.shape == shape
    assert result.dtype == np.float32


def test_an_empty_share_joins_with_the_other_nodes_shares():
    table = dense_table(40)
    booster = xgboost.train(
        {"objective": "binary:logistic", "nthread": 1}, table.dmatrix(nthread=1), 2
    )
    full = predict_table(booster, table, nthread=1)
    empty = predict_table(booster, dense_table(0), nthread=1)
    joined = join_predictions(
        {"a" * 32: encode_predictions(empty), "b" * 32: encode_predictions(full)}
    )
    np.testing.assert_array_equal(joined, full)
