"""A node that dies while the nodes train together fails the command on the other node too.

Two ``accord node`` processes train a model with many rounds; once training is under way one
node is killed. The other must fail the command within a bounded time, with an error that
names the node that went away, and record it in its audit log: rank 0 (which hosts the
federated server, and whose XGBoost would otherwise wait for rank 1 forever) notices through
its watchdog, rank 1 through its broken connection to rank 0's server.
"""

import time

import pytest
from federation_world import PARAMS, TIMEOUT, audit_entries, federation, make_world, run

from accord.agreement import load_signed_agreement
from accord.client.nodes import attest_node
from accord.cluster import LocalCluster
from accord.errors import AccordError
from accord.v1 import node_pb2
from accord.workloads.xgboost import decode_progress

pytestmark = [
    pytest.mark.filterwarnings("ignore::accord.attest.AccordSecurityWarning"),
    pytest.mark.slow,
]

PEER_TIMEOUT = 3
BOUND = PEER_TIMEOUT + 10


@pytest.fixture
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("federation-failures"))


@pytest.fixture
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


@pytest.mark.parametrize("killed_rank", [1, 0])
def test_killing_a_node_mid_training_fails_the_command_on_the_other_node(
    world, cluster, killed_rank
):
    alice = cluster.connect(world["parties"]["alice"], timeout=10)
    bob = cluster.connect(world["parties"]["bob"], timeout=10)
    for client in (alice, bob):
        client.attest()
        client.provision()
    datasets = [
        {
            "name": f"{name}_train",
            "owner": name,
            "blob": client.upload(world["sealed"][name, "train"]),
        }
        for name, client in (("alice", alice), ("bob", bob))
    ]
    run(alice, bob, "load", {"as": "train", "datasets": datasets})

    agreement = load_signed_agreement(world["agreement_path"])
    by_rank = sorted(cluster.node_sessions, key=lambda node_id: cluster.node_sessions[node_id])
    other_id = by_rank[killed_rank]
    survivor_id = by_rank[1 - killed_rank]  # the survivor
    survivor = attest_node(
        survivor_id, cluster.node_addresses[survivor_id], agreement=agreement, timeout=10
    )
    proposal_id = alice.propose(
        "train",
        {
            "data": "train",
            "params": PARAMS,
            "num_boost_round": 5000,
            "model": "long",
            "evals": [["alice_train", "alice"]],
            "federation": federation(cluster, peer_timeout_seconds=PEER_TIMEOUT),
        },
        recipients=[],
    )
    bob.approve(proposal_id)

    deadline = time.monotonic() + TIMEOUT
    while True:  # wait until the nodes train together
        answer = survivor.stub.GetProgress(node_pb2.ProgressRequest(model="long"), timeout=10)
        if len(decode_progress(answer.rounds)) >= 3:
            break
        assert time.monotonic() < deadline, "training did not start"
        time.sleep(0.1)
    cluster.kill_node(other_id)
    killed_at = time.monotonic()

    with pytest.raises(AccordError):
        alice.wait(proposal_id, timeout=TIMEOUT)

    while True:  # the surviving node records the failure within the bound
        entries = [e for e in audit_entries(survivor) if e["command"]["operation"] == "train"]
        if entries:
            break
        assert time.monotonic() - killed_at < BOUND, "the surviving node did not fail in time"
        time.sleep(0.2)
    assert time.monotonic() - killed_at < BOUND
    (entry,) = entries
    assert entry["status"] == "failed"
    assert "train across 2 nodes failed" in entry["error"]
    assert f"{cluster.node_sessions[other_id][:8]}.. (rank {killed_rank}" in entry["error"]
    if killed_rank == 1:
        assert "stopped answering for more than 3 s" in entry["error"]
    else:
        assert "the connection to the federated server of node" in entry["error"]

    # The surviving node is not stuck: it still answers and runs the next command alone.
    result = run(
        alice, bob, "echo", {"message": "still here"}, recipients=["alice"], nodes=[survivor_id]
    )
    assert result.open("echo") == b"still here"
    survivor.close()
    alice.close()
    bob.close()
