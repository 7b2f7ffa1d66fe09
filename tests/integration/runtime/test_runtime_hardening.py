"""Attacks on availability and on what a party sees, against real processes on loopback.

* A compromised orchestrator (serving with the orchestrator's own TLS identity) puts
  terminal control sequences in what it reports: ``accord approve`` shows the real command.
* Idle upload streams to a node (anyone may open them) or to the orchestrator (any party)
  do not stop either from answering everyone else.
* A party cannot register nodes, so it cannot list bogus nodes to everyone.
"""

import datetime as dt
import hashlib
import os
import subprocess
import threading
import time

import pytest

from accord.client.proposals import COMMAND_SEPARATOR
from accord.client.session import open_orchestrator_channel
from accord.cluster import processes
from accord.enclave.commands import Approval, Command, sign_command, verify_approval
from accord.errors import TransportError, VerificationError
from accord.orchestrator.server import load_or_create_identity
from accord.transport import (
    bind_server,
    call,
    create_server,
    fetch_unverified_server_certificate,
    mutual_tls_server_credentials,
    pinned_channel,
)
from accord.v1 import common_pb2, node_pb2, node_pb2_grpc, orchestrator_pb2, orchestrator_pb2_grpc

pytestmark = pytest.mark.filterwarnings("ignore::accord.attest.AccordSecurityWarning")

ESC = "\x1b"


def up(lines):
    return f"{ESC}[{lines}A{ESC}[1G{ESC}[2K"


class FakeOrchestrator(orchestrator_pb2_grpc.OrchestratorServicer):
    """Serves one real command, with whatever state and error the attacker likes."""

    def __init__(self, cluster, command, approvals, *, state, error):
        self.cluster = cluster
        self.command = command
        self.approvals = approvals
        self.state = state
        self.error = error
        self.captured = []

    def view(self):
        return orchestrator_pb2.ProposalView(
            proposal_id=self.command.digest,
            command=self.command.to_bytes(),
            approvals=self.approvals,
            state=self.state,
            error=self.error,
            rejections=[orchestrator_pb2.Rejection(party=f"bob{up(9)}", reason=up(4))],
        )

    def ListNodes(self, request, context):  # noqa: N802 - gRPC method name
        return orchestrator_pb2.ListNodesResponse(
            nodes=[
                orchestrator_pb2.NodeInfo(node_id=n, address=a, state="ready")
                for n, a in self.cluster.node_addresses.items()
            ]
        )

    def GetProposal(self, request, context):  # noqa: N802 - gRPC method name
        return self.view()

    def Approve(self, request, context):  # noqa: N802 - gRPC method name
        self.captured.append(request.approval)
        self.approvals = [*self.approvals, request.approval]
        return self.view()


def approve_through(cluster, world, fake):
    """Run `accord approve --yes` as alice against ``fake`` serving as the orchestrator."""
    identity = load_or_create_identity(cluster.orchestrator_data_dir)
    server = create_server(max_workers=4)
    orchestrator_pb2_grpc.add_OrchestratorServicer_to_server(fake, server)
    certificates = [path.read_bytes() for path in world["certificates"]]
    address = bind_server(
        server, "127.0.0.1:0", mutual_tls_server_credentials(identity, certificates)
    )
    server.start()
    env = {
        **os.environ,
        "ACCORD_ORCHESTRATOR": address,
        "ACCORD_AGREEMENT": str(cluster.agreement_path),
        "ACCORD_PARTY": str(world["parties"]["alice"].directory),
        "ACCORD_ORCHESTRATOR_CERT": str(cluster.orchestrator_certificate),
        "COLUMNS": "250",
    }
    try:
        return subprocess.run(
            [*processes.accord_command(), "approve", fake.command.digest, "--yes"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    finally:
        server.stop(0)


def real_command(cluster, agreement):
    return Command.create(
        agreement_digest=agreement.digest,
        session_ids=sorted(cluster.node_sessions.values()),
        sequence=1,
        operation="echo",
        arguments={"message": "REAL: send to bob too"},
        recipients=["alice", "bob"],
        proposer="bob",
        ttl=dt.timedelta(minutes=10),
    )


def test_approve_shows_the_real_command_whatever_the_orchestrator_reports(
    cluster, world, agreement
):
    command = real_command(cluster, agreement)
    bob_signature = sign_command(command, world["parties"]["bob"].signing_key)
    disguise = (
        f"x{up(12)}  recipients:  alice{up(3)}"
        '      "message": "hello alice"'
        f"{ESC}[5B  error:       (none)"
    )
    fake = FakeOrchestrator(
        cluster,
        command,
        [common_pb2.Approval(party="bob", signature=bob_signature)],
        state="pending",
        error=disguise,
    )
    result = approve_through(cluster, world, fake)
    assert result.returncode == 0, result.stderr
    assert ESC not in result.stdout
    status, separator, rest = result.stdout.partition(COMMAND_SEPARATOR + "\n")
    assert separator, result.stdout
    shown_command, _, after = rest.partition("\nalice approved ")
    assert shown_command == command.describe()
    assert "recipients:  alice, bob" in shown_command
    assert '"message": "REAL: send to bob too"' in shown_command
    assert "\\x1b[" in status  # the sequences are shown as text
    assert after.startswith(command.digest)
    # What alice signed is the command she was shown.
    (approval,) = fake.captured
    verify_approval(
        command.digest, Approval(approval.party, approval.signature), agreement.party_keys["alice"]
    )


def test_approve_refuses_a_state_that_is_not_a_proposal_state(cluster, world, agreement):
    command = real_command(cluster, agreement)
    fake = FakeOrchestrator(cluster, command, [], state=f"pending{up(12)}", error="")
    result = approve_through(cluster, world, fake)
    assert result.returncode == 1
    assert "VerificationError" in result.stderr and "not a proposal state" in result.stderr
    assert ESC not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert fake.captured == []  # nothing was signed


def idle(stop):
    stop.wait(30)
    yield from ()


def test_idle_putblob_streams_do_not_stall_a_node(cluster, alice):
    address = cluster.node_addresses["node-1"]
    channel = pinned_channel(address, fetch_unverified_server_certificate(address))
    stub = node_pb2_grpc.EnclaveNodeStub(channel)
    stop = threading.Event()
    held = [stub.PutBlob.future(idle(stop), timeout=20) for _ in range(8)]
    try:
        time.sleep(0.5)
        started = time.monotonic()
        status = alice._nodes.select(["node-1"])[0].status(timeout=3)
        assert status.session_id == cluster.node_sessions["node-1"]
        assert time.monotonic() - started < 1.5
        refused = [future for future in held if future.done()]
        assert len(refused) >= 4
        with pytest.raises(TransportError, match="this node already serves 4 blob uploads"):
            data = b"late"
            chunk = common_pb2.BlobChunk(blob_id=hashlib.sha256(data).hexdigest(), data=data)
            call(stub.PutBlob, iter([chunk]), peer="node-1", timeout=5)
        call(stub.GetStatus, node_pb2.NodeStatusRequest(), peer="node-1", timeout=2)
    finally:
        stop.set()
        for future in held:
            future.cancel()
        channel.close()


def test_one_partys_idle_uploads_do_not_stall_the_orchestrator(cluster, world, alice):
    channel = open_orchestrator_channel(
        cluster.orchestrator_address, cluster.orchestrator_certificate, world["parties"]["bob"]
    )
    stub = orchestrator_pb2_grpc.OrchestratorStub(channel)
    stop = threading.Event()
    held = [stub.UploadBlob.future(idle(stop), timeout=20) for _ in range(32)]
    try:
        time.sleep(0.5)
        started = time.monotonic()
        assert sorted(node.node_id for node in alice.nodes()) == ["node-1", "node-2"]
        assert time.monotonic() - started < 2.5
        assert sum(1 for future in held if future.done()) >= 30
        with pytest.raises(TransportError, match="bob already has 2 blob uploads in progress"):
            call(stub.UploadBlob, idle(stop), peer="orchestrator", timeout=5)
    finally:
        stop.set()
        for future in held:
            future.cancel()
        channel.close()


def test_a_party_cannot_register_a_node(cluster, bob, alice):
    request = orchestrator_pb2.RegisterNodeRequest(node_id="zz-bogus", address="127.0.0.1:9")
    with pytest.raises(VerificationError, match="only an operator of this orchestrator"):
        bob._call(bob._stub.RegisterNode, request, 10)
    assert sorted(node.node_id for node in alice.nodes()) == ["node-1", "node-2"]
