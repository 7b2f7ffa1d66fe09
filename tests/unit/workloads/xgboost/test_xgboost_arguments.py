"""Every operation reads its arguments strictly; each refusal names the argument."""

import pytest
from xgboost_world import ALICE_TRAIN, PARAMS, World

from accord.workloads.xgboost import xgboost_state

BLOB = "ab" * 32


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return World(tmp_path_factory.mktemp("xgboost-arguments"))


@pytest.fixture(scope="module")
def node(world):
    node = world.node()
    blob = world.seal(ALICE_TRAIN, world.alice, input_format="libsvm")
    node.ok("load", {"as": "g", "datasets": [{"name": "a", "owner": "alice", "blob": blob}]})
    node.ok("train", {"data": "g", "params": PARAMS, "num_boost_round": 2, "model": "m"})
    return node


def dataset(**changes):
    return {"name": "d", "owner": "alice", "blob": BLOB, **changes}


TRAIN = {"data": "g", "params": PARAMS, "num_boost_round": 2, "model": "new"}
PREDICT = {"model": "m", "data": "a", "data_owner": "alice"}
CASES = [
    ("load", {"datasets": [dataset()]}, "load needs argument 'as'"),
    (
        "load",
        {"as": "x", "datasets": [dataset()], "path": "/etc"},
        "load does not take argument 'path'",
    ),
    (
        "load",
        {"as": "x", "datasets": []},
        "load: argument 'datasets' must hold 1 to 64 items, it holds 0",
    ),
    ("load", {"as": "x", "datasets": "a"}, "load: argument 'datasets' must be a list, got 'a'"),
    (
        "load",
        {"as": "../x", "datasets": [dataset()]},
        "load: argument 'as' must be a name (1 to 64 letters",
    ),
    ("load", {"as": "x", "datasets": [7]}, "load: datasets[0] must be a JSON object, got int"),
    (
        "load",
        {"as": "x", "datasets": [{"name": "d", "blob": BLOB}]},
        "load: datasets[0] needs argument 'owner'",
    ),
    (
        "load",
        {"as": "x", "datasets": [dataset(blob="AB" * 32)]},
        "load: datasets[0]: argument 'blob' must be a blob id (64 lowercase hex digits)",
    ),
    (
        "load",
        {"as": "x", "datasets": [dataset(owner="")]},
        "load: datasets[0]: argument 'owner' must be a party name",
    ),
    ("load", {"as": "x", "datasets": [dataset(features=[])]}, "argument 'features' must hold 1 to"),
    (
        "load",
        {"as": "x", "datasets": [dataset(label=3)]},
        "load: datasets[0]: argument 'label' must be printable text",
    ),
    ("load", {"as": "x", "datasets": [dataset()]}, f"blob {BLOB} is not on this node"),
    (
        "load",
        {"as": "x", "datasets": [dataset(name="x")]},
        "load: dataset 'x' has the name of its group",
    ),
    (
        "train",
        {**TRAIN, "data": "nothing"},
        "train: argument 'data': no dataset 'nothing' is loaded in this session (datasets: a)",
    ),
    (
        "train",
        {**TRAIN, "num_boost_round": 0},
        "train: argument 'num_boost_round' must be an integer from 1 to 100000, got 0",
    ),
    ("train", {**TRAIN, "num_boost_round": "10"}, "must be an integer from 1 to 100000, got '10'"),
    ("train", {**TRAIN, "params": [1]}, "train: argument 'params' must be a JSON object"),
    ("train", {**TRAIN, "params": {"max_depth": {"a": 1}}}, "'max_depth' must be an integer"),
    ("train", {**TRAIN, "model": "m"}, "train: model 'm' already exists; choose another name"),
    (
        "train",
        {**TRAIN, "evals": [["a"]]},
        "train: argument 'evals'[0] must be a pair [dataset name, label]",
    ),
    ("train", {**TRAIN, "evals": [["a", "x"], ["g", "x"]]}, "evaluation label 'x' is used twice"),
    ("train", {**TRAIN, "evals": [["zz", "x"]]}, "no dataset 'zz' is loaded"),
    (
        "train",
        {**TRAIN, "early_stopping_rounds": 2},
        "train: 'early_stopping_rounds' needs at least one evaluation set",
    ),
    ("train", {**TRAIN, "maximize": "yes"}, "train: argument 'maximize' must be true or false"),
    (
        "predict",
        {**PREDICT, "model": "zz"},
        "predict: argument 'model': no model 'zz' is in this session (models: m)",
    ),
    (
        "predict",
        {**PREDICT, "output_margin": 1},
        "predict: argument 'output_margin' must be true or false, got 1",
    ),
    ("predict", {**PREDICT, "iteration_range": [2, 1]}, "must satisfy 0 <= start <= stop"),
    (
        "predict",
        {**PREDICT, "iteration_range": [0]},
        "argument 'iteration_range' must hold 2 to 2 items",
    ),
    (
        "evaluate",
        {"model": "m", "data": "g", "metrics": ["ndcg"]},
        "evaluate: argument 'metrics'[0] must be a metric name",
    ),
    ("evaluate", {"model": "m", "data": "g", "metrics": ["auc", "auc"]}, "names a metric twice"),
    ("evaluate", {"model": "m", "data": "g", "metrics": []}, "must hold 1 to 16 items"),
    (
        "feature_importance",
        {"model": "m", "importance_type": "shap"},
        "argument 'importance_type' must be one of weight, gain, cover",
    ),
    (
        "release_model",
        {"model": "m", "format": "pickle"},
        "argument 'format' must be one of json, ubj, got 'pickle'",
    ),
    (
        "save_model",
        {"model": "m", "as_blob_name": "x"},
        "save_model does not take argument 'as_blob_name'",
    ),
    ("load_model", {"model": "m2", "blob": BLOB}, "load_model needs argument 'owner'"),
    (
        "load_model",
        {"model": "m", "blob": BLOB, "owner": "alice"},
        "load_model: model 'm' already exists",
    ),
]
RECIPIENTS = {
    "predict": ["alice"],
    "evaluate": ["alice"],
    "feature_importance": ["alice"],
    "release_model": ["alice"],
    "save_model": ["alice"],
}


@pytest.mark.parametrize(("operation", "arguments", "message"), CASES)
def test_bad_arguments_fail_the_command_naming_the_argument(node, operation, arguments, message):
    state = xgboost_state(node.runner.executor.workspace)
    before = (set(state.groups), set(state.datasets), set(state.models))
    error = node.fails(operation, arguments, RECIPIENTS.get(operation, ()))
    assert message in error
    assert (set(state.groups), set(state.datasets), set(state.models)) == before
