"""A restarted node has a new session: the SDK refuses it until the party attests again."""

import pytest

from accord.client import SessionChangedError
from accord.errors import KeyMaterialError, UsageError

pytestmark = pytest.mark.filterwarnings("ignore::accord.attest.AccordSecurityWarning")


def test_a_restarted_node_is_refused_until_attested_and_provisioned_again(runtime, alice, bob):
    first = alice.propose("echo", {"message": "before"}, recipients=["alice"])
    bob.approve(first)
    alice.wait(first, timeout=20)
    old_session = alice.sessions["node-2"]
    runtime.restart_node("node-2")

    with pytest.raises(SessionChangedError, match="node node-2") as caught:
        alice.propose("echo", {"message": "x"}, recipients=["alice"])
    assert caught.value.node_id == "node-2"
    assert "attest()" in caught.value.hint and "provision()" in caught.value.hint
    with pytest.raises(SessionChangedError):
        alice.provision(["node-2"])
    with pytest.raises(SessionChangedError):
        alice.audit(node_ids=["node-2"])

    alice.attest(["node-2"])
    assert alice.sessions["node-2"] not in (old_session, "")
    with pytest.raises(KeyMaterialError, match="has not provisioned"):
        alice.propose("echo", {"message": "x"}, recipients=["alice"], nodes=["node-2"])
    alice.provision(["node-2"])
    # node-1 ran one command, the new node-2 session none: no single command fits both.
    with pytest.raises(UsageError, match="node-1 expects 2, node-2 expects 1"):
        alice.propose("echo", {"message": "x"}, recipients=["alice"])

    again = alice.propose("echo", {"message": "after"}, recipients=["alice"], nodes=["node-2"])
    with pytest.raises(SessionChangedError):
        bob.approve(again)  # bob has not re-attested node-2 yet: not even a check passes
    bob.attest(["node-2"])
    bob.approve(again)
    result = alice.wait(again, timeout=20)
    assert result.open("echo") == b"after"
    assert [node.node_id for node in result.nodes] == ["node-2"]
