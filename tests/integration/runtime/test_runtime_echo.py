"""Two parties, an orchestrator and two enclave nodes as separate processes on loopback.

alice works through the SDK in this process; bob inspects and approves with the ``accord``
command line in subprocesses, as a person at another machine would.
"""

import hashlib

import pytest
from runtime_helpers import run_cli

from accord.crypto.sealed import seal_file
from accord.errors import ApprovalError

pytestmark = pytest.mark.filterwarnings("ignore::accord.attest.AccordSecurityWarning")


def test_echo_from_proposal_to_an_encrypted_result_for_each_recipient(world, cluster, alice, bob):
    bob_dir = world["parties"]["bob"].directory
    proposal_id = alice.propose("echo", {"message": "hello, bob"}, recipients=["alice", "bob"])

    pending = run_cli(cluster, bob_dir, "pending")
    assert pending.returncode == 0, pending.stderr
    assert proposal_id in pending.stdout

    shown = run_cli(cluster, bob_dir, "status", proposal_id)
    assert shown.returncode == 0, shown.stderr
    assert '"message": "hello, bob"' in shown.stdout and "missing bob" in shown.stdout

    approved = run_cli(cluster, bob_dir, "approve", proposal_id, "--yes")
    assert approved.returncode == 0, approved.stderr
    # the full command is printed before anything is signed
    printed = approved.stdout
    assert printed.index(f"command {proposal_id}") < printed.index("bob approved")
    for field in ("operation:   echo", "recipients:  alice, bob", "sessions:", "sequence:"):
        assert field in printed

    result = alice.wait(proposal_id, timeout=30)
    assert result.open("echo") == b"hello, bob"
    assert {node.node_id for node in result.nodes} == {"node-1", "node-2"}

    waited = run_cli(cluster, bob_dir, "wait", proposal_id, "--open", "echo")
    assert waited.returncode == 0, waited.stderr
    assert waited.stdout == "hello, bob"
    assert bob.wait(proposal_id, timeout=30).open("echo") == b"hello, bob"


def test_audit_verify_on_the_command_line(world, cluster, alice, bob):
    proposal_id = alice.propose("echo", {"message": "for the log"}, recipients=["alice"])
    bob.approve(proposal_id)
    alice.wait(proposal_id, timeout=30)
    audited = run_cli(cluster, world["parties"]["bob"].directory, "audit", "--verify")
    assert audited.returncode == 0, audited.stderr
    assert audited.stdout.count("entries, verified") == 2
    assert "echo" in audited.stdout and "alice, bob" in audited.stdout
    assert "executed" in audited.stdout and "FAILED" not in audited.stderr


def test_approve_without_a_terminal_needs_yes_and_signs_nothing(world, cluster, alice):
    proposal_id = alice.propose("echo", {"message": "unseen"}, recipients=["alice"])
    refused = run_cli(cluster, world["parties"]["bob"].directory, "approve", proposal_id)
    assert refused.returncode == 1
    assert f"command {proposal_id}" in refused.stdout  # shown all the same
    assert "pass --yes" in refused.stderr
    assert alice.proposal(proposal_id).approvers == ("alice",)
    alice.reject(proposal_id, "clean up")


def test_a_party_that_never_approves_leaves_the_proposal_pending_until_it_expires(
    world, cluster, alice, bob
):
    proposal_id = alice.propose("echo", {"message": "ignored"}, recipients=["alice"], ttl=2)
    assert bob.proposal(proposal_id).state == "pending"
    assert proposal_id in [p.proposal_id for p in bob.pending()]
    with pytest.raises(ApprovalError, match=r"expired at .* missing bob"):
        alice.wait(proposal_id, timeout=15)
    assert bob.proposal(proposal_id).state == "expired"
    assert proposal_id not in [p.proposal_id for p in bob.pending()]
    late = run_cli(cluster, world["parties"]["bob"].directory, "approve", proposal_id, "--yes")
    assert late.returncode == 1 and "expired" in late.stderr


def test_a_partys_whole_workflow_on_the_command_line(world, cluster, tmp_path):
    alice_dir = world["parties"]["alice"].directory
    bob_dir = world["parties"]["bob"].directory

    attested = run_cli(cluster, alice_dir, "attest", "nodes")
    assert attested.returncode == 0, attested.stderr
    assert "node-1" in attested.stdout and "node-2" in attested.stdout
    assert "simulated" in attested.stdout

    provisioned = run_cli(cluster, alice_dir, "provision", "--node", "node-1")
    assert provisioned.returncode == 0, provisioned.stderr
    key_id = world["parties"]["alice"].data_key.key_id
    assert f"data key {key_id} provisioned to node-1" in provisioned.stdout

    plain = tmp_path / "rows.csv"
    plain.write_text("a,b\n1,2\n")
    refused = run_cli(cluster, alice_dir, "upload", str(plain))
    assert refused.returncode == 1 and "not an Accord sealed file" in refused.stderr
    seal_file(plain, tmp_path / "rows.sealed", world["parties"]["alice"].data_key)
    uploaded = run_cli(cluster, alice_dir, "upload", str(tmp_path / "rows.sealed"))
    assert uploaded.returncode == 0, uploaded.stderr
    assert (
        uploaded.stdout.strip()
        == hashlib.sha256((tmp_path / "rows.sealed").read_bytes()).hexdigest()
    )

    proposed = run_cli(
        cluster, alice_dir, "propose", "echo", "--arg", "message=hi", "--to", "alice", "--to", "bob"
    )
    assert proposed.returncode == 0, proposed.stderr
    proposal_id = proposed.stdout.strip()
    rejected = run_cli(cluster, bob_dir, "reject", proposal_id, "--reason", "not now")
    assert rejected.returncode == 0, rejected.stderr
    waited = run_cli(cluster, alice_dir, "wait", proposal_id, "--wait-timeout", "10")
    assert waited.returncode == 1
    assert "rejected (bob: 'not now')" in waited.stderr
    listed = run_cli(cluster, alice_dir, "status")
    assert proposal_id in listed.stdout and "rejected" in listed.stdout
