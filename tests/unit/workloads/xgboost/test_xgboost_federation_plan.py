"""Which rows each node loads, and how a command places its nodes (the federation argument).

A ``load`` for N sessions, run by each of the N nodes (real sessions, real approvals), loads
each node's contiguous share of every file's chunks; the shares, in rank order, are exactly
the file's rows. The ``federation`` argument is read strictly and must name exactly the
command's sessions.
"""

import datetime as dt
import re

import numpy as np
import pytest
from federation_nodes import command, fake_session
from xgboost_world import ALICE_TRAIN, BOB_TRAIN, START, World

from accord.enclave.commands import Approval, Command, sign_command
from accord.errors import UsageError
from accord.workloads.xgboost import federation_argument, node_rank, node_share, xgboost_state
from accord.workloads.xgboost.federation import FederationPlan

S1, S2, S3 = sorted(fake_session(label) for label in ("a", "b", "c"))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return World(tmp_path_factory.mktemp("federation-plan"))


def _load_on(nodes, arguments):
    """Run one ``load`` command for all ``nodes`` (each a node of the command) on each node."""
    world = nodes[0].world
    sessions = sorted(node.session.session_id for node in nodes)
    shared = Command.create(
        agreement_digest=world.agreement.digest,
        session_ids=sessions,
        sequence=1,
        operation="load",
        arguments=arguments,
        recipients=[],
        proposer="alice",
        ttl=dt.timedelta(hours=1),
        now=lambda: START,
    )
    approvals = [
        Approval(p.name, sign_command(shared, p.signing_key)) for p in (world.alice, world.bob)
    ]
    ranked = sorted(nodes, key=lambda node: node.session.session_id)
    for node in ranked:
        outcome = node.runner.run(shared.to_bytes(), approvals)
        assert outcome.status == "executed", outcome.error
    return ranked


def test_the_nodes_of_a_load_command_split_every_file_and_together_hold_every_row_once(world):
    alice = world.seal(ALICE_TRAIN, world.alice, input_format="libsvm", chunk_size=16 * 1024)
    bob = world.seal(BOB_TRAIN, world.bob, input_format="libsvm", chunk_size=16 * 1024)
    arguments = {
        "as": "g",
        "datasets": [
            {"name": "a", "owner": "alice", "blob": alice},
            {"name": "b", "owner": "bob", "blob": bob},
        ],
    }
    whole = world.node()
    whole.ok("load", arguments)
    full = xgboost_state(whole.runner.executor.workspace)
    ranked = _load_on([world.node() for _ in range(3)], arguments)
    states = [xgboost_state(node.runner.executor.workspace) for node in ranked]
    for name in ("a", "b"):
        parts = [state.dataset(name, "test").table() for state in states]
        assert all(part.num_rows > 0 for part in parts)
        expected = full.dataset(name, "test").table()
        np.testing.assert_array_equal(np.concatenate([p.labels for p in parts]), expected.labels)
        width = expected.num_features
        stacked = np.vstack([p.features.toarray()[:, :width] for p in parts])
        np.testing.assert_array_equal(stacked, expected.features.toarray()[:, : stacked.shape[1]])
    sessions = tuple(node.session.session_id for node in ranked)
    assert all(state.groups["g"].sessions == sessions for state in states)


def test_a_file_with_fewer_chunks_than_nodes_leaves_a_node_without_its_rows(world):
    blob = world.seal(ALICE_TRAIN, world.alice, input_format="libsvm")  # one chunk
    ranked = _load_on(
        [world.node(), world.node()],
        {"as": "g", "datasets": [{"name": "a", "owner": "alice", "blob": blob}]},
    )
    rows = [xgboost_state(n.runner.executor.workspace).dataset("a", "t").rows for n in ranked]
    assert rows[0] == 0 and rows[1] == len(ALICE_TRAIN.read_text().splitlines())


def test_data_loaded_across_nodes_is_used_only_by_commands_for_those_nodes(world):
    blob = world.seal(ALICE_TRAIN, world.alice, input_format="libsvm", chunk_size=64 * 1024)
    first, _ = _load_on(
        [world.node(), world.node()],
        {"as": "g", "datasets": [{"name": "a", "owner": "alice", "blob": blob}]},
    )
    error = first.fails("train", {"data": "g", "params": {}, "num_boost_round": 1, "model": "m"})
    assert "'g' was loaded across 2 node session(s)" in error
    assert "this command runs on 1" in error


def test_rank_and_share_follow_the_sorted_session_ids(world):
    assert node_rank([S3, S1, S2], S2) == 1
    with pytest.raises(UsageError, match="not one of the command's sessions"):
        node_rank([S1], S2)
    agreement = world.agreement
    shared = command(agreement, [S2, S1, S3], {"message": "x"}, operation="echo")
    assert node_share(shared, S3).index == 2 and node_share(shared, S3).count == 3
    assert [node_share(shared, s).chunks(7) for s in (S1, S2, S3)] == [
        range(0, 2),
        range(2, 4),
        range(4, 7),
    ]


def test_the_federation_argument_places_every_session_of_the_command(world):
    argument = federation_argument(
        {S2: "10.0.0.2:7001", S1: "10.0.0.1:7001"}, peer_timeout_seconds=5
    )
    assert [n["session_id"] for n in argument["nodes"]] == [S1, S2]
    plan = FederationPlan.from_command(
        command(world.agreement, [S1, S2], {"federation": argument}), S2, "train"
    )
    assert plan.rank == 1 and plan.world_size == 2 and plan.peer_timeout == 5
    assert plan.root.address == "10.0.0.1:7001" and plan.root.host == "10.0.0.1"
    assert [peer.session_id for peer in plan.peers] == [S1]
    assert plan.setup_timeout == 60 and plan.collective_timeout == 600


@pytest.mark.parametrize(
    ("federation", "message"),
    [
        (None, "runs on 2 nodes and needs argument 'federation'"),
        ({"nodes": [{"session_id": S1, "address": "h:1"}]}, f"no address for session {S2}"),
        (
            {"nodes": [{"session_id": S1, "address": "h:1"}, {"session_id": S3, "address": "h:2"}]},
            f"names session '{S3}', which the command does not list",
        ),
        (
            {"nodes": [{"session_id": S1, "address": "h:1"}, {"session_id": S1, "address": "h:2"}]},
            f"session {S1} is listed twice",
        ),
        (
            {"nodes": [{"session_id": S1, "address": "h"}, {"session_id": S2, "address": "h:2"}]},
            "is not of the form HOST:PORT",
        ),
        (
            {"nodes": [{"session_id": S1, "address": "h:0"}, {"session_id": S2, "address": "h:2"}]},
            "unusable address",
        ),
        (
            {
                "nodes": [
                    {"session_id": S1, "address": "h:1"},
                    {"session_id": S2, "address": "h:2"},
                ],
                "timeout_seconds": 0,
            },
            "'timeout_seconds' must be an integer from 1",
        ),
        ({"nodes": [], "extra": 1}, "does not take argument 'extra'"),
    ],
)
def test_a_malformed_federation_argument_is_refused_naming_the_problem(world, federation, message):
    arguments = {} if federation is None else {"federation": federation}
    with pytest.raises(UsageError, match=re.escape(message)):
        FederationPlan.from_command(command(world.agreement, [S1, S2], arguments), S1, "train")
