"""Attacks on the XGBoost operations: other parties' blobs, leaking predictions, bad params."""

import logging
import pickle

import numpy as np
import pytest
from xgboost_world import ALICE_TRAIN, BOB_TRAIN, PARAMS, World

from accord.crypto.sealed import seal_bytes
from accord.errors import ApprovalError
from accord.workloads.xgboost import xgboost_state


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return World(tmp_path_factory.mktemp("xgboost-security"))


@pytest.fixture(scope="module")
def blobs(world):
    return {
        "alice": world.seal(ALICE_TRAIN, world.alice, input_format="libsvm"),
        "bob": world.seal(BOB_TRAIN, world.bob, input_format="libsvm"),
        "mallory": world.seal(BOB_TRAIN, world.mallory, input_format="libsvm"),
    }


@pytest.fixture(scope="module")
def node(world, blobs):
    node = world.node()
    datasets = [
        {"name": "alice_train", "owner": "alice", "blob": blobs["alice"]},
        {"name": "bob_train", "owner": "bob", "blob": blobs["bob"]},
    ]
    node.ok("load", {"as": "train", "datasets": datasets})
    node.ok("train", {"data": "train", "params": PARAMS, "num_boost_round": 3, "model": "m"})
    return node


def load_one(node, owner, blob, name="d"):
    return node.fails(
        "load", {"as": f"g_{name}", "datasets": [{"name": name, "owner": owner, "blob": blob}]}
    )


def test_a_blob_sealed_by_alice_cannot_be_loaded_as_bobs_data(world, blobs):
    node = world.node()
    alice_key = world.alice.data_key.key_id
    error = load_one(node, "bob", blobs["alice"])
    assert error == (
        f"data key {alice_key} was released by party 'alice', not by 'bob'; "
        "party 'bob' must provision the key for its own data"
    )
    assert not xgboost_state(node.runner.executor.workspace).datasets


def test_a_blob_sealed_with_a_key_nobody_released_is_refused(world, blobs):
    error = load_one(world.node(), "alice", blobs["mallory"])
    assert error == (
        f"data key {world.mallory.data_key.key_id} has not been released to this enclave "
        "session; party 'alice' must provision it"
    )


def test_data_of_a_party_that_did_not_provision_is_refused(world, blobs):
    error = load_one(world.node(world.alice), "bob", blobs["bob"])
    assert "party 'bob' must provision it" in error


def test_a_tampered_blob_is_refused_and_nothing_is_loaded(world, blobs):
    data = bytearray(world.blobs.path(blobs["alice"]).read_bytes())
    data[len(data) // 2] ^= 1
    node = world.node()
    error = load_one(node, "alice", world.store(bytes(data)))
    assert "failed authentication" in error
    assert not xgboost_state(node.runner.executor.workspace).groups


def test_predictions_on_bobs_data_for_alice_are_refused_by_the_policy(node):
    sequence = node.runner.gate.next_sequence
    arguments = {"model": "m", "data": "bob_train", "data_owner": "bob"}
    with pytest.raises(ApprovalError, match="does not let alice receive the output of 'predict'"):
        node.run("predict", arguments, ["alice"])
    with pytest.raises(ApprovalError, match="does not let alice receive"):
        node.run("predict", arguments, ["alice", "bob"])
    assert node.runner.gate.next_sequence == sequence


def test_naming_another_data_owner_to_steer_the_policy_is_refused(node):
    arguments = {"model": "m", "data": "bob_train", "data_owner": "alice"}
    error = node.fails("predict", arguments, ["alice"])
    assert error.startswith(
        "predict: dataset 'bob_train' belongs to bob, but the command names alice as 'data_owner'"
    )


def test_predict_without_data_owner_is_refused(node):
    with pytest.raises(ApprovalError, match="in the argument 'data_owner'"):
        node.run("predict", {"model": "m", "data": "bob_train"}, ["bob"])
    error = node.fails("predict", {"model": "m", "data": "bob_train"})
    assert error == "predict needs argument 'data_owner'"


def test_predictions_on_a_group_are_refused(node):
    error = node.fails("predict", {"model": "m", "data": "train", "data_owner": "bob"}, ["bob"])
    assert "'train' is a dataset group; name one of its datasets (alice_train, bob_train)" in error


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"model_out": "/tmp/model.bin"}, "'model_out' is not a parameter Accord passes"),
        ({"save_period": 1}, "'save_period' is not a parameter Accord passes"),
        ({"fmap": "features.txt"}, "'fmap' is not a parameter Accord passes"),
        ({"device": "cuda"}, "'device' must be one of cpu"),
        ({"updater": "grow_colmaker,prune"}, "'updater' must be one of shotgun, coord_descent"),
        ({"objective": "rank:pairwise"}, "'objective' must be one of"),
        ({"eval_metric": "ndcg"}, "'eval_metric' must be a metric name"),
        ({"max_depth": "3"}, "'max_depth' must be an integer from 0 to 128, got '3'"),
        ({"eta": True}, "'eta' must be a number from 0 to inf, got True"),
        ({"nthread": 0}, "'nthread' must be an integer from 1 to 256"),
        ({"subsample": 1.5}, "'subsample' must be a number from 0 to 1"),
        ({"eta": 0.1, "learning_rate": 0.2}, "sets both 'eta' and its alias 'learning_rate'"),
        ({"monotone_constraints": "(1,0)); import os"}, "'monotone_constraints' must be text"),
    ],
)
def test_parameters_outside_the_allowlist_are_refused(node, params, message):
    error = node.fails(
        "train", {"data": "train", "params": params, "num_boost_round": 1, "model": "x"}
    )
    assert message in error
    assert "x" not in xgboost_state(node.runner.executor.workspace).models


def test_xgboost_refusals_become_usage_errors_without_internals(node):
    params = {"objective": "multi:softmax", "nthread": 1}  # num_class missing
    error = node.fails(
        "train", {"data": "train", "params": params, "num_boost_round": 1, "model": "x"}
    )
    assert error.startswith("XGBoost refused to train: ")
    assert "num_class" in error
    assert "Stack trace" not in error and ".cc:" not in error


def test_a_pickled_model_is_never_unpickled(world, node):
    class Exploit:
        def __reduce__(self):
            return (print, ("unpickled!",))

    blob = world.store(seal_bytes(pickle.dumps(Exploit()), world.alice.data_key))
    error = node.fails("load_model", {"model": "p", "blob": blob, "owner": "alice"})
    assert error.endswith("is not an XGBoost JSON or UBJSON model")


def test_json_that_is_not_a_model_is_refused(world, node):
    blob = world.store(seal_bytes(b'{"learner": 1}', world.alice.data_key))
    error = node.fails("load_model", {"model": "j", "blob": blob, "owner": "alice"})
    assert error.startswith(f"load_model: blob {blob[:16]}.. (alice): XGBoost refused to read it")


def test_a_dataset_blob_is_not_a_model(blobs, node):
    error = node.fails("load_model", {"model": "d", "blob": blobs["alice"], "owner": "alice"})
    assert error.endswith("holds libsvm records, not a saved model")


def test_a_model_sealed_by_bob_cannot_be_loaded_as_alices(world, node):
    blob = world.store(seal_bytes(b"{}", world.bob.data_key))
    error = node.fails("load_model", {"model": "b", "blob": blob, "owner": "alice"})
    assert "was released by party 'bob', not by 'alice'" in error


def test_progress_is_logged_per_round_with_metric_numbers_only(world, blobs, caplog):
    node = world.node()
    datasets = [{"name": "a", "owner": "alice", "blob": blobs["alice"]}]
    node.ok("load", {"as": "g", "datasets": datasets})
    with caplog.at_level(logging.INFO, logger="accord.workloads.xgboost"):
        node.ok(
            "train",
            {
                "data": "g",
                "params": PARAMS,
                "num_boost_round": 3,
                "model": "m",
                "evals": [["a", "train"]],
            },
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "accord.workloads.xgboost"]
    rounds = [line for line in lines if " round " in line]
    assert [line.split(" train-logloss=")[0] for line in rounds] == [
        f"train model=m round {i}/3" for i in (1, 2, 3)
    ]
    for line in rounds:
        float(line.split("train-logloss=")[1])  # a number, nothing else
    assert np.isfinite(
        xgboost_state(node.runner.executor.workspace).progress()[-1].metrics["train-logloss"]
    )
