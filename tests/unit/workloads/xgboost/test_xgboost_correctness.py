"""One node gives exactly plain XGBoost's model: load -> train -> predict through CommandRunner.

Real parties seal the shipped agaricus halves with their own keys, release the keys to a
real enclave session, approve real commands; each party unseals its predictions with its
own key. Plain ``xgboost.train`` on the same rows (parsed here by an independent reader),
in the same order, with the same parameters must predict the same values within 1e-6.
"""

import numpy as np
import pytest
import scipy.sparse
import xgboost
from xgboost_world import ALICE_TRAIN, BOB_TRAIN, PARAMS, TEST, World

from accord.workloads.xgboost import decode_predictions, xgboost_state

ROUNDS = 10


def read_libsvm(*paths):
    """A plain LibSVM reader, independent of Accord's: CSR features and labels."""
    labels, indptr, indices, values = [], [0], [], []
    for path in paths:
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            label, *pairs = line.split()
            labels.append(float(label))
            for pair in pairs:
                index, value = pair.split(":")
                indices.append(int(index))
                values.append(float(value))
            indptr.append(len(indices))
    matrix = scipy.sparse.csr_matrix(
        (np.array(values, np.float32), np.array(indices), np.array(indptr)),
        shape=(len(labels), max(indices) + 1),
    )
    return matrix, np.array(labels, np.float32)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return World(tmp_path_factory.mktemp("xgboost-correctness"))


@pytest.fixture(scope="module")
def trained(world):
    """A node that loaded both halves and alice's copy of the test set, and trained."""
    alice_blob = world.seal(ALICE_TRAIN, world.alice, input_format="libsvm")
    bob_blob = world.seal(BOB_TRAIN, world.bob, input_format="libsvm", chunk_size=64 * 1024)
    test_blob = world.seal(TEST, world.alice, input_format="libsvm")
    node = world.node()
    node.ok(
        "load",
        {
            "as": "train",
            "datasets": [
                {"name": "alice_train", "owner": "alice", "blob": alice_blob},
                {"name": "bob_train", "owner": "bob", "blob": bob_blob},
            ],
        },
    )
    node.ok(
        "load",
        {"as": "test", "datasets": [{"name": "alice_test", "owner": "alice", "blob": test_blob}]},
    )
    node.ok(
        "train",
        {
            "data": "train",
            "params": PARAMS,
            "num_boost_round": ROUNDS,
            "model": "agaricus",
            "evals": [["alice_test", "test"]],
        },
    )
    return node


@pytest.fixture(scope="module")
def plain():
    features, labels = read_libsvm(ALICE_TRAIN, BOB_TRAIN)
    booster = xgboost.train(PARAMS, xgboost.DMatrix(features, label=labels), ROUNDS)
    return booster, features


def predictions(node, party, dataset):
    outputs = node.ok(
        "predict",
        {"model": "agaricus", "data": dataset, "data_owner": party},
        recipients=[party],
    )
    assert list(outputs) == [(party, "predictions")]
    return decode_predictions(outputs[(party, "predictions")])


def test_each_party_gets_plain_xgboost_predictions_on_its_rows(trained, plain):
    booster, features = plain
    expected = booster.predict(xgboost.DMatrix(features))
    alice_rows = read_libsvm(ALICE_TRAIN)[0].shape[0]
    alice = predictions(trained, "alice", "alice_train")
    bob = predictions(trained, "bob", "bob_train")
    assert alice.shape == (alice_rows,)
    assert bob.shape == (features.shape[0] - alice_rows,)
    assert np.abs(alice - expected[:alice_rows]).max() <= 1e-6
    assert np.abs(bob - expected[alice_rows:]).max() <= 1e-6
    assert not np.allclose(alice[:100], alice[100:200])  # real, varied predictions


def test_predictions_on_a_separate_test_set_equal_plain_xgboost(trained, plain):
    booster, features = plain
    test_features, test_labels = read_libsvm(TEST)
    padded = scipy.sparse.csr_matrix(
        test_features, shape=(test_features.shape[0], features.shape[1])
    )
    expected = booster.predict(xgboost.DMatrix(padded))
    got = predictions(trained, "alice", "alice_test")
    assert np.abs(got - expected).max() <= 1e-6
    accuracy = float(((got > 0.5) == (test_labels > 0.5)).mean())
    assert accuracy > 0.95


def test_the_same_model_as_plain_xgboost(trained, plain):
    booster, _ = plain
    model = xgboost_state(trained.runner.executor.workspace).models["agaricus"].booster
    assert model.num_boosted_rounds() == booster.num_boosted_rounds() == ROUNDS
    assert model.get_dump() == booster.get_dump()


def test_progress_has_one_round_per_boosting_round_with_metric_values(trained):
    rounds = xgboost_state(trained.runner.executor.workspace).progress("agaricus")
    assert [r.round for r in rounds] == list(range(ROUNDS))
    assert all(set(r.metrics) == {"test-logloss"} for r in rounds)
    losses = [r.metrics["test-logloss"] for r in rounds]
    assert losses[-1] < losses[0] < 1.0


def test_early_stopping_matches_xgboost_train(trained, plain):
    _, features = plain
    labels = read_libsvm(ALICE_TRAIN, BOB_TRAIN)[1]
    test_features, test_labels = read_libsvm(TEST)
    padded = scipy.sparse.csr_matrix(
        test_features, shape=(test_features.shape[0], features.shape[1])
    )
    params = {**PARAMS, "eval_metric": "error", "eta": 1.0}
    expected = xgboost.train(
        params,
        xgboost.DMatrix(features, label=labels),
        50,
        evals=[(xgboost.DMatrix(padded, label=test_labels), "test")],
        early_stopping_rounds=2,
        verbose_eval=False,
    )
    trained.ok(
        "train",
        {
            "data": "train",
            "params": params,
            "num_boost_round": 50,
            "model": "early",
            "evals": [["alice_test", "test"]],
            "early_stopping_rounds": 2,
        },
    )
    model = xgboost_state(trained.runner.executor.workspace).models["early"].booster
    assert expected.num_boosted_rounds() < 50  # it did stop early
    assert model.num_boosted_rounds() == expected.num_boosted_rounds()
    assert model.best_iteration == expected.best_iteration
    assert model.get_dump() == expected.get_dump()
