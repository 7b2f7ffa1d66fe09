"""Outputs: evaluate, feature importance, save/load and release of models, per the policy."""

import json

import numpy as np
import pytest
import xgboost
from xgboost_world import ALICE_TRAIN, BOB_TRAIN, PARAMS, TEST, World

from accord.crypto.sealed import unseal_bytes
from accord.errors import ApprovalError
from accord.workloads.xgboost import decode_predictions, xgboost_state


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return World(tmp_path_factory.mktemp("xgboost-outputs"))


@pytest.fixture(scope="module")
def node(world):
    node = world.node()
    datasets = [
        {
            "name": "alice_train",
            "owner": "alice",
            "blob": world.seal(ALICE_TRAIN, world.alice, input_format="libsvm"),
        },
        {
            "name": "bob_train",
            "owner": "bob",
            "blob": world.seal(BOB_TRAIN, world.bob, input_format="libsvm"),
        },
    ]
    node.ok("load", {"as": "train", "datasets": datasets})
    test = [
        {
            "name": "bob_test",
            "owner": "bob",
            "blob": world.seal(TEST, world.bob, input_format="libsvm"),
        }
    ]
    node.ok("load", {"as": "test", "datasets": test})
    node.ok("train", {"data": "train", "params": PARAMS, "num_boost_round": 5, "model": "m"})
    return node


def booster(node, name="m"):
    return xgboost_state(node.runner.executor.workspace).models[name].booster


def predict(node, model, dataset="bob_test", owner="bob"):
    outputs = node.ok("predict", {"model": model, "data": dataset, "data_owner": owner}, [owner])
    return decode_predictions(outputs[(owner, "predictions")])


def test_evaluate_sends_xgboosts_metrics_to_the_metrics_recipients(node):
    arguments = {"model": "m", "data": "test", "metrics": ["auc", "logloss", "error@0.7"]}
    outputs = node.ok("evaluate", arguments, ["alice", "bob"])
    assert sorted(outputs) == [("alice", "metrics"), ("bob", "metrics")]
    assert outputs[("alice", "metrics")] == outputs[("bob", "metrics")]
    document = json.loads(outputs[("alice", "metrics")])
    table = xgboost_state(node.runner.executor.workspace).groups["test"].table
    plain = booster(node).copy()
    plain.set_param([("eval_metric", "auc"), ("eval_metric", "logloss")])
    report = plain.eval_set([(table.dmatrix(nthread=1, num_features=127), "d")])
    expected = {f.split(":")[0][2:]: float(f.split(":")[1]) for f in report.split("\t")[1:]}
    assert document["format"] == "accord-xgboost-metrics/v1"
    assert (document["model"], document["data"], document["rows"]) == ("m", "test", 1611)
    assert document["metrics"]["auc"] == pytest.approx(expected["auc"], abs=1e-12)
    assert document["metrics"]["logloss"] == pytest.approx(expected["logloss"], abs=1e-12)
    assert 0 <= document["metrics"]["error@0.7"] < 0.1


def test_feature_importance_is_xgboosts_score(node):
    outputs = node.ok("feature_importance", {"model": "m", "importance_type": "gain"}, ["bob"])
    document = json.loads(outputs[("bob", "feature_importance")])
    assert document["format"] == "accord-xgboost-feature-importance/v1"
    assert document["importance_type"] == "gain"
    expected = booster(node).get_score(importance_type="gain")
    assert document["scores"].keys() == expected.keys()
    for feature, score in expected.items():
        assert document["scores"][feature] == pytest.approx(score)


def test_saved_model_loads_back_and_predicts_identically(world, node):
    outcome = node.run("save_model", {"model": "m"}, ["alice"])
    assert outcome.status == "executed", outcome.error
    [output] = outcome.outputs
    assert (output.recipient, output.name) == ("alice", "m.ubj")
    assert unseal_bytes(output.sealed, world.alice.data_key).startswith(b"{")
    blob = world.store(output.sealed)  # alice stores the sealed model and uploads it later
    node.ok("load_model", {"model": "m_again", "blob": blob, "owner": "alice"})
    assert booster(node, "m_again").get_dump() == booster(node).get_dump()
    np.testing.assert_array_equal(predict(node, "m_again"), predict(node, "m"))

    fresh = world.node()  # a new session (after a restart) loads the saved model too
    fresh.ok("load_model", {"model": "m", "blob": blob, "owner": "alice"})
    test = [
        {
            "name": "bob_test",
            "owner": "bob",
            "blob": world.seal(TEST, world.bob, input_format="libsvm"),
        }
    ]
    fresh.ok("load", {"as": "test", "datasets": test})
    np.testing.assert_array_equal(predict(fresh, "m"), predict(node, "m"))


def test_released_model_is_xgboost_json_for_the_model_recipients(world, node):
    outputs = node.ok("release_model", {"model": "m"}, ["alice"])
    model = outputs[("alice", "m.json")]
    assert json.loads(model)["learner"]["attributes"] is not None  # plain JSON document
    released = xgboost.Booster()
    released.load_model(bytearray(model))
    test = xgboost_state(node.runner.executor.workspace).datasets["bob_test"].table()
    expected = booster(node).predict(test.dmatrix(nthread=1, num_features=127))
    np.testing.assert_array_equal(
        released.predict(test.dmatrix(nthread=1, num_features=127)), expected
    )
    ubj = node.ok("release_model", {"model": "m", "format": "ubj"}, ["alice"])
    assert list(ubj) == [("alice", "m.ubj")]


@pytest.mark.parametrize("operation", ["release_model", "save_model"])
def test_models_go_only_to_the_parties_the_output_policy_names(node, operation):
    sequence = node.runner.gate.next_sequence
    with pytest.raises(ApprovalError, match="does not let bob receive the output of"):
        node.run(operation, {"model": "m"}, ["alice", "bob"])
    assert node.runner.gate.next_sequence == sequence  # refused before anything ran


def test_outputs_need_a_recipient(node):
    error = node.fails("evaluate", {"model": "m", "data": "test", "metrics": ["auc"]})
    assert error == "evaluate produces outputs but the command names no recipient"


def test_output_margin_gives_raw_scores(node):
    outputs = node.ok(
        "predict",
        {"model": "m", "data": "bob_test", "data_owner": "bob", "output_margin": True},
        ["bob"],
    )
    margins = decode_predictions(outputs[("bob", "predictions")])
    probabilities = predict(node, "m")
    np.testing.assert_allclose(1 / (1 + np.exp(-margins)), probabilities, rtol=1e-5)


def test_iteration_range_predicts_with_the_first_trees(node):
    arguments = {"model": "m", "data": "bob_test", "data_owner": "bob", "iteration_range": [0, 2]}
    outputs = node.ok("predict", arguments, ["bob"])
    test = xgboost_state(node.runner.executor.workspace).datasets["bob_test"].table()
    expected = booster(node).predict(
        test.dmatrix(nthread=1, num_features=127), iteration_range=(0, 2)
    )
    np.testing.assert_array_equal(decode_predictions(outputs[("bob", "predictions")]), expected)
