"""XGBoost across two enclave nodes through the real runtime: load -> train -> predict.

An orchestrator and two ``accord node`` processes on loopback; alice and bob seal their
halves of agaricus (training and test data), attest both nodes, release their keys, and
approve each other's commands. Every file's chunks are split over the two nodes; the nodes
attest each other and train together with XGBoost's federated communicator over mutual TLS.
The AUC on the test set must be within 0.005 of plain single-process XGBoost on the same
data; with one node the predictions must equal plain XGBoost's within 1e-6.
"""

import json

import numpy as np
import pytest
import xgboost
from federation_world import (
    ALICE_TRAIN,
    BOB_TRAIN,
    PARAMS,
    TEST,
    TIMEOUT,
    auc,
    federation,
    make_world,
    read_libsvm,
    run,
)

from accord.agreement import load_signed_agreement
from accord.client.nodes import attest_node
from accord.cluster import LocalCluster
from accord.errors import AccordError
from accord.v1 import node_pb2
from accord.workloads.xgboost import decode_predictions, decode_progress, join_predictions

pytestmark = [
    pytest.mark.filterwarnings("ignore::accord.attest.AccordSecurityWarning"),
    pytest.mark.slow,
]

ROUNDS = 8


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("federation"))


@pytest.fixture(scope="module")
def cluster(world, tmp_path_factory):
    with LocalCluster(
        tmp_path_factory.mktemp("cluster"),
        world["agreement_path"],
        world["certificates"],
        nodes=2,
        execute_timeout_seconds=TIMEOUT,
        sweep_interval_seconds=0.5,
        stop_grace=3,
    ) as running:
        yield running


@pytest.fixture(scope="module")
def parties(cluster, world):
    clients = {
        name: cluster.connect(world["parties"][name], timeout=10) for name in ("alice", "bob")
    }
    for client in clients.values():
        client.attest()
        client.provision()
    blobs = {
        (name, kind): clients[name].upload(path) for (name, kind), path in world["sealed"].items()
    }
    yield clients["alice"], clients["bob"], blobs
    for client in clients.values():
        client.close()


def _datasets(blobs, kind):
    return [
        {"name": f"{name}_{kind}", "owner": name, "blob": blobs[name, kind]}
        for name in ("alice", "bob")
    ]


@pytest.fixture(scope="module")
def trained(cluster, parties):
    """Both groups loaded across the two nodes and model ``m`` trained by both together."""
    alice, bob, blobs = parties
    run(alice, bob, "load", {"as": "train", "datasets": _datasets(blobs, "train")})
    run(bob, alice, "load", {"as": "test", "datasets": _datasets(blobs, "test")})
    result = run(
        alice,
        bob,
        "train",
        {
            "data": "train",
            "params": PARAMS,
            "num_boost_round": ROUNDS,
            "model": "m",
            "evals": [["test", "test"]],
            "federation": federation(cluster),
        },
    )
    assert {node.receipt.status for node in result.nodes} == {"executed"}
    return alice, bob


@pytest.fixture(scope="module")
def plain():
    """Plain single-process XGBoost on the concatenated training halves, and the test set."""
    features, labels = read_libsvm(ALICE_TRAIN, BOB_TRAIN)
    test_features, test_labels = read_libsvm(TEST, width=features.shape[1])
    booster = xgboost.train(
        PARAMS, xgboost.DMatrix(features, labels, missing=np.nan), num_boost_round=ROUNDS
    )
    predictions = booster.predict(xgboost.DMatrix(test_features, missing=np.nan))
    return predictions, test_labels


def _joined(result):
    """Join each node's share of the predictions in rank (session id) order."""
    shares = {
        node.session_id: result.open("predictions", node_id=node.node_id) for node in result.nodes
    }
    return shares, join_predictions(shares)


def test_each_node_loads_a_share_and_the_shares_are_every_row_once(trained, world):
    alice, bob = trained
    result = run(
        alice,
        bob,
        "predict",
        {"model": "m", "data": "alice_test", "data_owner": "alice"},
        recipients=["alice"],
    )
    shares, joined = _joined(result)
    sizes = [decode_predictions(shares[session]).shape[0] for session in sorted(shares)]
    rows = len(world["tests"]["alice"].read_text().splitlines())
    assert len(sizes) == 2 and all(size > 0 for size in sizes)  # both nodes hold rows
    assert sum(sizes) == rows == joined.shape[0]


def test_two_nodes_train_together_within_0_005_auc_of_plain_xgboost(trained, plain):
    alice, bob = trained
    predictions = {}
    for party, proposer, approver in (("alice", alice, bob), ("bob", bob, alice)):
        result = run(
            proposer,
            approver,
            "predict",
            {"model": "m", "data": f"{party}_test", "data_owner": party},
            recipients=[party],
        )
        predictions[party] = _joined(result)[1]
        with pytest.raises(AccordError):  # the other party cannot open them
            (approver.wait(result.proposal_id, timeout=TIMEOUT)).open(
                "predictions", node_id=result.nodes[0].node_id
            )
    joined = np.concatenate([predictions["alice"], predictions["bob"]])
    plain_predictions, labels = plain
    assert joined.shape == plain_predictions.shape
    federated_auc, plain_auc = auc(labels, joined), auc(labels, plain_predictions)
    assert abs(federated_auc - plain_auc) <= 0.005, (federated_auc, plain_auc)
    assert federated_auc > 0.95


def test_both_nodes_hold_the_same_model_and_report_the_same_metrics(trained, plain, cluster):
    alice, bob = trained
    released = run(alice, bob, "release_model", {"model": "m"}, recipients=["alice"])
    model = json.loads(released.open("m.json"))  # open() checks both nodes sent the same model
    assert (
        int(model["learner"]["gradient_booster"]["model"]["gbtree_model_param"]["num_trees"])
        == ROUNDS
    )
    evaluated = run(
        bob,
        alice,
        "evaluate",
        {"model": "m", "data": "test", "metrics": ["auc"], "federation": federation(cluster)},
        recipients=["alice", "bob"],
    )
    metrics = json.loads(evaluated.open("metrics"))  # the same on both nodes
    plain_predictions, labels = plain
    assert metrics["rows"] == labels.shape[0]
    assert abs(metrics["metrics"]["auc"] - auc(labels, plain_predictions)) <= 0.005


def test_progress_reports_every_round_on_every_node(trained, cluster, world):
    agreement = load_signed_agreement(world["agreement_path"])
    reports = []
    for node_id, address in cluster.node_addresses.items():
        node = attest_node(node_id, address, agreement=agreement, timeout=10)
        try:
            answer = node.stub.GetProgress(
                node_pb2.ProgressRequest(model="m", start_round=2), timeout=10
            )
        finally:
            node.close()
        reports.append(decode_progress(answer.rounds))
    assert reports[0] == reports[1]
    assert [entry.round for entry in reports[0]] == list(range(2, ROUNDS))
    assert all(entry.total == ROUNDS and "test-logloss" in entry.metrics for entry in reports[0])


def test_a_command_for_two_nodes_without_their_addresses_fails_on_both(trained):
    alice, bob = trained
    with pytest.raises(AccordError, match="needs argument 'federation'"):
        run(
            alice,
            bob,
            "train",
            {"data": "train", "params": PARAMS, "num_boost_round": 2, "model": "m2"},
        )


def test_one_node_through_the_runtime_equals_plain_xgboost(trained, parties, world):
    """Last in this module: it advances node-1's sequence alone."""
    alice, bob, blobs = parties
    node = ["node-1"]
    run(
        alice,
        bob,
        "load",
        {
            "as": "train1",
            "datasets": [
                {"name": "alice_train1", "owner": "alice", "blob": blobs["alice", "train"]},
                {"name": "bob_train1", "owner": "bob", "blob": blobs["bob", "train"]},
            ],
        },
        nodes=node,
    )
    run(
        alice,
        bob,
        "load",
        {
            "as": "test1",
            "datasets": [
                {"name": "alice_test1", "owner": "alice", "blob": blobs["alice", "test"]},
            ],
        },
        nodes=node,
    )
    run(
        alice,
        bob,
        "train",
        {"data": "train1", "params": PARAMS, "num_boost_round": ROUNDS, "model": "one"},
        nodes=node,
    )
    result = run(
        alice,
        bob,
        "predict",
        {"model": "one", "data": "alice_test1", "data_owner": "alice"},
        recipients=["alice"],
        nodes=node,
    )
    ours = decode_predictions(result.open("predictions"))

    features, labels = read_libsvm(ALICE_TRAIN, BOB_TRAIN)
    booster = xgboost.train(PARAMS, xgboost.DMatrix(features, labels, missing=np.nan), ROUNDS)
    test_features, _ = read_libsvm(world["tests"]["alice"], width=features.shape[1])
    expected = booster.predict(xgboost.DMatrix(test_features, missing=np.nan))
    assert ours.shape == expected.shape
    assert float(np.max(np.abs(ours - expected))) <= 1e-6
