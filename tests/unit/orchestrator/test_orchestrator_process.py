"""``accord orchestrator`` as a real process: ready line, SIGTERM, and nothing lost on restart."""

import os
import queue
import signal
import subprocess
import sys
import threading
import time

from orchestrator_helpers import approval, make_command, write_config

from accord.transport import TlsIdentity, call, pinned_channel
from accord.v1 import common_pb2, orchestrator_pb2, orchestrator_pb2_grpc

# The command group as the console script assembles it (accord.cli.app adds it the same way).
LAUNCHER = """
import sys, typer
from accord.cli.orchestrator import register
from accord.errors import AccordError
app = typer.Typer(pretty_exceptions_enable=False)

@app.callback()
def root() -> None:
    pass

register(app)
try:
    app(prog_name="accord")
except AccordError as error:
    print(f"error ({type(error).__name__}): {error.message}", file=sys.stderr)
    sys.exit(1)
"""
READY_TIMEOUT = 30.0


def launch(config_path):
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, "orchestrator", "--config", str(config_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def wait_ready(process):
    """Return the address from the ready line, or fail with what the process printed."""
    lines = queue.Queue()

    def read():
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + READY_TIMEOUT
    seen = []
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if line.startswith("orchestrator ready address="):
            process.stdout_lines = lines
            return line.strip().split("=", 1)[1]
    process.kill()
    raise AssertionError(f"no ready line; stdout={seen!r} stderr={process.stderr.read()!r}")


def stop(process):
    """Send SIGTERM; return the exit status, the rest of standard output, standard error."""
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=20)
    rest = []
    while (line := process.stdout_lines.get(timeout=5)) is not None:
        rest.append(line)
    return process.returncode, "".join(rest), process.stderr.read()


def test_the_orchestrator_keeps_pending_proposals_across_a_restart(
    tmp_path, agreement_path, parties, agreement, alice
):
    config = write_config(tmp_path, agreement_path, parties.values())
    certificate = tmp_path / "data" / "tls-cert.pem"
    identity = TlsIdentity.from_key(alice.tls_key, alice.tls_certificate_pem)
    command = make_command(agreement)
    signed = approval(command, alice)

    first = launch(config)
    try:
        address = wait_ready(first)
        with pinned_channel(address, certificate.read_bytes(), client=identity) as channel:
            stub = orchestrator_pb2_grpc.OrchestratorStub(channel)
            request = orchestrator_pb2.ProposeRequest(
                command=command.to_bytes(),
                approval=common_pb2.Approval(party="alice", signature=signed.signature),
            )
            view = call(stub.Propose, request, peer="orchestrator", timeout=10)
            assert view.state == "pending"
    finally:
        code, out, err = stop(first)
    assert code == 0, err
    assert out.strip() == "orchestrator stopped"

    second = launch(config)
    try:
        address = wait_ready(second)
        with pinned_channel(address, certificate.read_bytes(), client=identity) as channel:
            stub = orchestrator_pb2_grpc.OrchestratorStub(channel)
            request = orchestrator_pb2.GetProposalRequest(proposal_id=command.digest)
            view = call(stub.GetProposal, request, peer="orchestrator", timeout=10)
    finally:
        code, _, err = stop(second)
    assert code == 0, err
    assert (view.state, view.command) == ("pending", command.to_bytes())
    assert [(a.party, a.signature) for a in view.approvals] == [("alice", signed.signature)]


def test_a_bad_configuration_stops_the_process_with_a_clear_error(tmp_path):
    config = tmp_path / "orchestrator.toml"
    config.write_text('listen = "127.0.0.1:0"\n')
    process = launch(config)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 1
    assert "ConfigurationError" in err
    assert "'agreement' is required" in err
    assert "ready" not in out
