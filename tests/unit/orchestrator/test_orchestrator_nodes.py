"""The node registry's membership: configured nodes, registered nodes, unreachable nodes."""

import pytest

from accord.errors import UsageError
from accord.orchestrator import NodeConfig, NodeRegistry, ProposalStore, SessionGoneError


@pytest.fixture
def store(tmp_path):
    store = ProposalStore(tmp_path / "db")
    yield store
    store.close()


def test_configured_nodes_are_kept_and_dropped_nodes_forgotten(store, agreement):
    first = NodeRegistry(store, agreement)
    first.configure([NodeConfig("n1", "127.0.0.1:5001"), NodeConfig("n2", "127.0.0.1:5002")])
    assert [n.node_id for n in first.nodes()] == ["n1", "n2"]
    second = NodeRegistry(store, agreement)
    second.configure([NodeConfig("n1", "127.0.0.1:5001")])
    assert [(n.node_id, n.state) for n in second.nodes()] == [("n1", "unknown")]
    assert [n.node_id for n in NodeRegistry(store, agreement).nodes()] == ["n1"]


def test_a_node_that_cannot_be_reached_is_marked_unreachable(store, agreement):
    registry = NodeRegistry(store, agreement, call_timeout=2.0)
    record = registry.register("n9", "127.0.0.1:1")
    assert (record.node_id, record.state, record.session_id) == ("n9", "unreachable", "")
    assert registry.link("n9") is None
    assert NodeRegistry(store, agreement).get("n9").source == "registered"


def test_registration_cannot_move_a_configured_node(store, agreement):
    registry = NodeRegistry(store, agreement)
    registry.configure([NodeConfig("n1", "127.0.0.1:5001")])
    with pytest.raises(UsageError, match=r"node n1 is configured at 127\.0\.0\.1:5001"):
        registry.register("n1", "10.0.0.9:5001")
    with pytest.raises(UsageError, match="must be 1 to 63 lower-case"):
        registry.register("Node One", "127.0.0.1:5003")
    with pytest.raises(UsageError, match="HOST:PORT"):
        registry.register("n3", "no-port")
    assert [n.node_id for n in registry.nodes()] == ["n1"]


def test_a_session_no_node_has_is_named(store, agreement):
    registry = NodeRegistry(store, agreement)
    with pytest.raises(SessionGoneError, match="is not the session of any node"):
        registry.resolve_sessions(["ab" * 16])
