"""Nodes that hang, die and restart while parties work with them.

The tests share one cluster and run in order: node-2 hangs during a relay and is then
killed, commands are refused for it while it is down, and it comes back with a new session.
"""

import time

import pytest

from accord.client import CommandFailedError, SessionChangedError
from accord.errors import TransportError, UsageError

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::accord.attest.AccordSecurityWarning"),
]

EXECUTE_TIMEOUT = 3  # conftest.CLUSTER_OPTIONS


def test_a_node_that_hangs_during_a_command_fails_it_for_every_waiting_party(cluster, alice, bob):
    proposal_id = alice.propose("echo", {"message": "doomed"}, recipients=["alice", "bob"])
    cluster.pause_node("node-2")  # the machine hangs: connections stay open, nothing answers
    started = time.monotonic()
    bob.approve(proposal_id)
    for client in (alice, bob):
        with pytest.raises(CommandFailedError, match="node-2") as caught:
            client.wait(proposal_id, timeout=30)
        assert caught.value.proposal_id == proposal_id
    # bounded: the relay's status check and re-attestation each wait at most the deadline
    assert time.monotonic() - started < 2 * EXECUTE_TIMEOUT + 4
    assert alice.proposal(proposal_id).state == "failed"
    cluster.kill_node("node-2")  # and then it dies (SIGKILL)


def test_a_dead_node_is_named_when_a_party_proposes_to_it(cluster, alice, bob):
    started = time.monotonic()
    with pytest.raises(TransportError, match="node node-2"):
        alice.propose("echo", {"message": "x"}, recipients=["alice"])
    assert time.monotonic() - started < 10
    proposal_id = alice.propose("echo", {"message": "node-1 only"}, nodes=["node-1"])
    bob.approve(proposal_id)
    assert alice.wait(proposal_id, timeout=30).open("echo") == b"node-1 only"


def test_a_restarted_node_demands_re_attestation_then_runs_new_commands(cluster, alice, bob):
    new_session = cluster.restart_node("node-2")
    with pytest.raises(SessionChangedError, match="node node-2") as caught:
        alice.propose("echo", {"message": "x"}, recipients=["alice"])
    assert "attest()" in caught.value.hint and "provision()" in caught.value.hint

    for client in (alice, bob):
        client.attest()
        client.provision()
        assert client.sessions["node-2"] == new_session
    # node-1 ran one command; the new session of node-2 none
    with pytest.raises(UsageError, match="node-1 expects 2, node-2 expects 1"):
        alice.propose("echo", {"message": "x"}, recipients=["alice"])

    proposal_id = alice.propose(
        "echo", {"message": "back"}, recipients=["alice", "bob"], nodes=["node-2"]
    )
    bob.approve(proposal_id)
    assert bob.wait(proposal_id, timeout=30).open("echo") == b"back"
    logs = bob.audit()
    assert [entry.command.arguments["message"] for entry in logs["node-1"].entries] == [
        "node-1 only"
    ]
    assert [entry.command.arguments["message"] for entry in logs["node-2"].entries] == ["back"]
