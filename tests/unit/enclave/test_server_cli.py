"""``accord node`` as a real process: ready line, health, status, clean stop; refusals at start."""

import datetime as dt
import os
import selectors
import signal
import subprocess
import sys
import time

import pytest

from accord.agreement import AgreementDocument, party_from_card, render_template, sign_agreement
from accord.party import Argon2Parameters, PartyIdentity
from accord.transport import (
    call,
    fetch_unverified_server_certificate,
    pinned_channel,
    wait_until_serving,
)
from accord.v1 import node_pb2, node_pb2_grpc

FAST = Argon2Parameters(iterations=1, lanes=1, memory_cost_kib=8)
CREATED = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
MEASUREMENT = "ab" * 32
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0

# `accord node`, registered on the app here if app.py does not add it yet.
LAUNCH = (
    "from accord.cli import app, node\n"
    "if not any(c.name == 'node' for c in app.app.registered_commands):\n"
    "    node.register(app.app)\n"
    "app.main()\n"
)


def write_agreement(directory, *, signers, backends):
    parties = [
        PartyIdentity.create(name, directory / name, passphrase=None, argon2=FAST)
        for name in ("alice", "bob")
    ]
    text = render_template("study", created=CREATED, measurements=backends)
    document = AgreementDocument.parse(text, source="agreement.toml")
    for party in parties:
        document = document.with_party(party_from_card(party.card))
    for party in parties:
        if party.name in signers:
            signature = sign_agreement(document.agreement, party.signing_key, party=party.name)
            document = document.with_signature(party.name, signature)
    path = directory / "agreement.toml"
    path.write_text(document.text)
    return path


def accord_node(*arguments, env_changes=None):
    env = {**os.environ, "COLUMNS": "200", **(env_changes or {})}
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCH, "node", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def read_line(process, timeout):
    """Return the first line the process writes on stdout, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while (remaining := deadline - time.monotonic()) > 0:
            if selector.select(remaining):
                return process.stdout.readline().decode()
    process.kill()
    pytest.fail(f"no ready line within {timeout} s; stderr: {process.stderr.read().decode()}")


@pytest.fixture
def signed(tmp_path):
    return write_agreement(
        tmp_path, signers={"alice", "bob"}, backends={"simulated": [MEASUREMENT]}
    )


def test_node_prints_ready_serves_health_and_stops_on_sigterm(signed, tmp_path):
    blob_dir = tmp_path / "blobs"
    process = accord_node(
        "--agreement", str(signed), "--listen", "127.0.0.1:0", "--blob-dir", str(blob_dir)
    )
    try:
        line = read_line(process, STARTUP_TIMEOUT)
        assert line.startswith("node ready session="), line
        fields = dict(item.split("=", 1) for item in line.split()[2:])
        session_id, address = fields["session"], fields["address"]
        assert address.startswith("127.0.0.1:") and not address.endswith(":0")

        certificate = fetch_unverified_server_certificate(address)
        with pinned_channel(address, certificate) as channel:
            wait_until_serving(channel, STARTUP_TIMEOUT, service="accord.v1.EnclaveNode")
            stub = node_pb2_grpc.EnclaveNodeStub(channel)
            status = call(stub.GetStatus, node_pb2.NodeStatusRequest(), peer=address, timeout=10.0)
        assert status.session_id == session_id
        assert status.next_sequence == 1
        assert status.backend == "simulated"
        assert blob_dir.is_dir()

        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=STOP_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr.decode()
    assert stdout == b""  # exactly one line on stdout: the ready line read above
    assert b"SIMULATED" in stderr


def test_node_stops_on_sigint_and_removes_its_temporary_blob_folder(signed, tmp_path):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    process = accord_node("--agreement", str(signed), env_changes={"TMPDIR": str(temporary)})
    try:
        assert read_line(process, STARTUP_TIMEOUT).startswith("node ready ")
        assert [entry.name[:13] for entry in temporary.iterdir()] == ["accord-blobs-"]
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=STOP_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr.decode()
    assert list(temporary.iterdir()) == []


def run_to_end(*arguments):
    process = accord_node(*arguments)
    stdout, stderr = process.communicate(timeout=STARTUP_TIMEOUT)
    return process.returncode, stdout.decode(), " ".join(stderr.decode().split())


def test_node_refuses_an_agreement_not_signed_by_every_party(tmp_path):
    unsigned = write_agreement(tmp_path, signers={"alice"}, backends={"simulated": [MEASUREMENT]})
    code, stdout, stderr = run_to_end("--agreement", str(unsigned))
    assert code == 1
    assert stdout == ""
    assert "VerificationError" in stderr
    assert "unsigned by bob" in stderr


def test_node_refuses_a_backend_the_agreement_does_not_accept(tmp_path):
    hardware = write_agreement(
        tmp_path, signers={"alice", "bob"}, backends={"sgx-dcap": [MEASUREMENT]}
    )
    code, stdout, stderr = run_to_end("--agreement", str(hardware), "--backend", "simulated")
    assert code == 1
    assert stdout == ""
    assert "does not accept 'simulated' evidence; it accepts sgx-dcap" in stderr


def test_node_refuses_an_address_without_a_port(signed):
    code, stdout, stderr = run_to_end("--agreement", str(signed), "--listen", "127.0.0.1")
    assert code == 1
    assert stdout == ""
    assert "not of the form HOST:PORT" in stderr
