"""Datasets and models live only in the session's workspace memory and go with it."""

import copy
import gc
import pickle
import threading
import weakref

import pytest
from xgboost_world import ALICE_TRAIN, PARAMS, World

from accord.enclave.executor import Workspace
from accord.errors import UsageError
from accord.workloads.xgboost import TrainingRound, XGBoostState, xgboost_state


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return World(tmp_path_factory.mktemp("xgboost-state"))


@pytest.fixture(scope="module")
def blob(world):
    return world.seal(ALICE_TRAIN, world.alice, input_format="libsvm")


def loaded(world, blob):
    node = world.node()
    node.ok("load", {"as": "g", "datasets": [{"name": "a", "owner": "alice", "blob": blob}]})
    node.ok("train", {"data": "g", "params": PARAMS, "num_boost_round": 2, "model": "m"})
    return node


def files(directory):
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


def test_nothing_is_written_while_loading_training_and_predicting(
    world, blob, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    before = files(world.directory)
    node = loaded(world, blob)
    node.ok("predict", {"model": "m", "data": "a", "data_owner": "alice"}, ["alice"])
    assert files(world.directory) == before
    assert files(tmp_path) == []


def test_datasets_and_models_are_dropped_with_the_session(world, blob):
    node = loaded(world, blob)
    state = xgboost_state(node.runner.executor.workspace)
    references = [
        weakref.ref(state),
        weakref.ref(state.groups["g"].table.labels),
        weakref.ref(state.models["m"].booster),
    ]
    del state
    del node
    gc.collect()
    assert [reference() for reference in references] == [None, None, None]


def test_clearing_the_workspace_drops_the_state(world, blob):
    node = loaded(world, blob)
    workspace = node.runner.executor.workspace
    reference = weakref.ref(workspace.find(XGBoostState))
    workspace.clear()
    gc.collect()
    assert reference() is None
    assert workspace.find(XGBoostState) is None
    error = node.fails("predict", {"model": "m", "data": "a", "data_owner": "alice"}, ["alice"])
    assert "no model 'm' is in this session (models: none)" in error


def test_each_session_has_its_own_state(world, blob):
    first = loaded(world, blob)
    second = world.node()
    assert xgboost_state(second.runner.executor.workspace).models == {}
    assert set(xgboost_state(first.runner.executor.workspace).models) == {"m"}


@pytest.mark.parametrize("attempt", [pickle.dumps, copy.copy, copy.deepcopy])
def test_state_and_workspace_cannot_be_pickled_or_copied(world, blob, attempt):
    workspace = loaded(world, blob).runner.executor.workspace
    for value in (workspace, workspace.find(XGBoostState)):
        with pytest.raises(TypeError, match="cannot be"):
            attempt(value)


def test_workspace_makes_one_state_per_kind():
    workspace = Workspace()
    made = workspace.state(XGBoostState, lambda: XGBoostState(nthread=1))
    assert made.nthread == 1
    assert workspace.state(XGBoostState) is made
    assert repr(workspace) == "Workspace(XGBoostState)"
    with pytest.raises(UsageError, match="the factory for XGBoostState made another type"):
        Workspace().state(XGBoostState, dict)


def test_progress_can_be_read_while_rounds_are_recorded():
    state = XGBoostState(nthread=1)
    seen = []

    def reader():
        for _ in range(200):
            seen.append(len(state.progress("m")))

    thread = threading.Thread(target=reader)
    thread.start()
    for index in range(500):
        state.record_round(TrainingRound("m", index, 500, {"test-auc": 0.5}))
    thread.join()
    assert seen == sorted(seen)
    assert [r.round for r in state.progress("m", start=498)] == [498, 499]
    assert state.progress("other") == ()
    assert state.progress()[0].to_json() == {
        "model": "m",
        "round": 0,
        "total": 500,
        "metrics": {"test-auc": 0.5},
    }


def test_nthread_must_be_sensible():
    assert XGBoostState().nthread >= 1
    with pytest.raises(UsageError, match="nthread must be from 1 to 256, got 0"):
        XGBoostState(nthread=0)
