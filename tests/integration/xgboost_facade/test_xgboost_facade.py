"""The XGBoost facade through the real runtime: an orchestrator and a node as processes.

alice drives the facade; bob inspects and approves each proposal as a party would (with
his own client, in a thread or explicitly). Results must be those of plain XGBoost.
"""

import numpy as np
import pytest
import xgboost
from facade_world import PARAMS, approving, make_world, read_libsvm

from accord.client import CommandFailedError
from accord.client.xgboost import (
    AccordXGBClassifier,
    AccordXGBoost,
    Pending,
    RemoteBooster,
    RemoteDMatrix,
)
from accord.cluster import LocalCluster
from accord.errors import ApprovalError, UsageError

pytestmark = pytest.mark.filterwarnings("ignore::accord.attest.AccordSecurityWarning")

ROUNDS = 8


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("facade"))


@pytest.fixture(scope="module")
def cluster(world, tmp_path_factory):
    with LocalCluster(
        tmp_path_factory.mktemp("cluster"),
        world["agreement_path"],
        world["certificates"],
        nodes=1,
        execute_timeout_seconds=30,
        sweep_interval_seconds=0.5,
        stop_grace=3,
    ) as running:
        yield running


def _client(cluster, world, name):
    client = cluster.connect(world["parties"][name], timeout=10)
    client.attest()
    client.provision()
    return client


@pytest.fixture(scope="module")
def alice(cluster, world):
    with _client(cluster, world, "alice") as client:
        yield client


@pytest.fixture(scope="module")
def bob(cluster, world):
    with _client(cluster, world, "bob") as client:
        yield client


@pytest.fixture(scope="module")
def datasets(world, alice, bob):
    """Each party uploads its own sealed train and test files."""
    return {
        (party, kind): AccordXGBoost(client).upload(world["sealed"][party, kind], f"{party}_{kind}")
        for party, client in (("alice", alice), ("bob", bob))
        for kind in ("train", "test")
    }


def approve(pending, *others):
    """Each other party reads the full command, then signs it; return the call's value."""
    assert isinstance(pending, Pending)
    for other in others:
        assert pending.proposal_id in [p.proposal_id for p in other.pending()]
        assert f"command {pending.proposal_id}" in other.show(pending.proposal_id)
        other.approve(pending.proposal_id)
    return pending.wait(timeout=60)


@pytest.fixture(scope="module")
def loaded(alice, bob, datasets):
    xgb = AccordXGBoost(alice)
    dtrain = approve(
        xgb.load("train", [datasets["alice", "train"], datasets["bob", "train"]], wait=False), bob
    )
    dtest = approve(
        xgb.load("test", [datasets["alice", "test"], datasets["bob", "test"]], wait=False), bob
    )
    return dtrain, dtest


@pytest.fixture(scope="module")
def rounds_seen():
    """The training rounds alice's on_round callback received."""
    return []


@pytest.fixture(scope="module")
def booster(alice, bob, loaded, rounds_seen):
    dtrain, dtest = loaded
    pending = AccordXGBoost(alice).train(
        PARAMS,
        dtrain,
        ROUNDS,
        evals=[(dtest, "test")],
        model="m",
        on_round=rounds_seen.append,
        wait=False,
    )
    shown = bob.show(pending.proposal_id)
    assert '"num_boost_round": 8' in shown and '"max_depth": 3' in shown
    assert '"federation"' not in shown  # one node trains alone
    return approve(pending, bob)


def test_training_progress_reaches_the_proposer_round_by_round(booster, rounds_seen):
    assert [r.round for r in rounds_seen] == list(range(ROUNDS))
    assert all(r.model == "m" and r.total == ROUNDS for r in rounds_seen)
    losses = [r.metrics["test-logloss"] for r in rounds_seen]
    assert losses[-1] < losses[0] < 1.0


@pytest.fixture(scope="module")
def reference(world):
    from facade_world import ALICE_TRAIN, BOB_TRAIN

    features, labels = read_libsvm(ALICE_TRAIN, BOB_TRAIN)
    model = xgboost.train(PARAMS, xgboost.DMatrix(features, label=labels), ROUNDS)
    return model, features.shape[1]


def test_load_returns_handles_naming_each_party_dataset(loaded):
    dtrain, dtest = loaded
    assert isinstance(dtrain, RemoteDMatrix) and dtrain.is_group
    assert dtrain.owners == ("alice", "bob")
    assert dtest.owned_by("bob").name == "bob_test"


def test_each_party_predicts_on_its_own_rows_exactly_as_plain_xgboost(
    world, alice, bob, loaded, booster, reference
):
    _, dtest = loaded
    model, width = reference
    assert isinstance(booster, RemoteBooster) and booster.name == "m"
    for party, client, other in (("alice", alice, bob), ("bob", bob, alice)):
        pending = AccordXGBoost(client).booster("m").predict(dtest, wait=False)
        predictions = approve(pending, other)
        features, labels = read_libsvm(world["tests"][party], width=width)
        expected = model.predict(xgboost.DMatrix(features))
        assert predictions.dtype == np.float32 and predictions.shape == labels.shape
        assert np.abs(predictions - expected).max() <= 1e-6
        assert ((predictions > 0.5) == (labels > 0.5)).mean() > 0.95


def test_predict_on_another_party_data_is_refused_before_anything_is_proposed(
    alice, loaded, booster
):
    _, dtest = loaded
    before = len(alice.proposals())
    with pytest.raises(UsageError, match="holds 0 datasets of alice"):
        booster.predict(dtest["bob_test"])
    assert len(alice.proposals()) == before


def test_evaluate_and_feature_importance_reach_both_parties(alice, bob, loaded, booster):
    _, dtest = loaded
    with approving(bob, operations={"evaluate", "feature_importance"}) as approved:
        metrics = booster.evaluate(dtest, ["auc", "error"], recipients=["alice", "bob"])
        scores = booster.get_score("gain")
    assert [c.operation for c in approved] == ["evaluate", "feature_importance"]
    assert set(metrics) == {"auc", "error"} and metrics["auc"] > 0.97
    assert scores and all(name.startswith("f") for name in scores)


def test_the_model_is_released_to_alice_only(alice, bob, booster, reference):
    model, _ = reference
    with approving(bob, operations={"release_model"}):
        local = booster.release()
    assert local.get_dump() == model.get_dump()
    before = len(bob.proposals())
    with pytest.raises(ApprovalError, match="output policy does not let bob receive"):
        AccordXGBoost(bob).booster("m").release()
    assert len(bob.proposals()) == before


def test_a_saved_model_loads_again_and_predicts_the_same(tmp_path, alice, bob, loaded, booster):
    _, dtest = loaded
    with approving(bob):
        path = booster.save_model(tmp_path / "m.sealed")
        again = AccordXGBoost(alice).load_model("m_again", path)
        first = booster.predict(dtest)
        second = again.predict(dtest)
    assert path.read_bytes()[:4] != b"{" * 4  # sealed, not the plain model
    assert np.array_equal(first, second)


def test_rejection_and_expiry_are_approval_errors_naming_the_cause(alice, bob, loaded):
    dtrain, _ = loaded
    pending = AccordXGBoost(alice).train(PARAMS, dtrain, 3, model="unwanted", wait=False)
    bob.reject(pending.proposal_id, "not this week")
    with pytest.raises(ApprovalError, match=r"rejected \(bob: 'not this week'\)"):
        pending.wait()
    impatient = AccordXGBoost(alice, approve_timeout=1)
    with pytest.raises(ApprovalError, match=r"expired .* missing bob"):
        impatient.train(PARAMS, dtrain, 3, model="unapproved")


def test_a_command_the_enclave_refuses_is_a_command_failed_error(alice, bob, loaded):
    dtrain, _ = loaded
    with approving(bob), pytest.raises(CommandFailedError, match="no dataset 'nowhere' is loaded"):
        AccordXGBoost(alice).train(PARAMS, RemoteDMatrix("nowhere", dtrain.datasets), 2)


def test_the_classifier_fits_and_predicts_classes(world, alice, bob, loaded):
    dtrain, dtest = loaded
    classifier = AccordXGBClassifier(
        alice, n_estimators=5, max_depth=3, learning_rate=0.3, n_jobs=1, model="clf"
    )
    with approving(bob):
        classifier.fit(dtrain, eval_set=[dtest])
        classes = classifier.predict(dtest)
        probabilities = classifier.predict_proba(dtest)
    _, labels = read_libsvm(world["tests"]["alice"])
    assert classes.dtype == np.int64 and set(np.unique(classes)) <= {0, 1}
    assert (classes == labels.astype(np.int64)).mean() > 0.95
    assert probabilities.shape == (labels.size, 2)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
