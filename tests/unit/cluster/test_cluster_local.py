"""LocalCluster's process management, with a stand-in console script (real subprocesses).

The full cluster with the real ``accord node`` and ``accord orchestrator`` is exercised in
tests/integration/runtime.
"""

import os
import sys
import time
from pathlib import Path

import pytest

from accord.cluster import LocalCluster
from accord.cluster.processes import ManagedProcess, accord_command
from accord.errors import TransportError, UsageError
from accord.orchestrator.config import load_config

FAKE = [sys.executable, str(Path(__file__).with_name("fake_accord.py"))]


@pytest.fixture
def files(tmp_path):
    agreement = tmp_path / "agreement.toml"
    agreement.write_text("# the fake processes do not read it\n")
    certificates = []
    for name in ("alice", "bob"):
        path = tmp_path / f"{name}-cert.pem"
        path.write_text("-----BEGIN CERTIFICATE-----\n")
        certificates.append(path)
    return agreement, certificates


def cluster(tmp_path, files, **options):
    agreement, certificates = files
    return LocalCluster(
        tmp_path / "cluster", agreement, certificates, command=FAKE, stop_grace=1, **options
    )


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_starts_nodes_then_an_orchestrator_configured_with_their_addresses(tmp_path, files):
    with cluster(tmp_path, files, nodes=3, execute_timeout_seconds=7) as running:
        assert running.node_ids == ("node-1", "node-2", "node-3")
        assert running.orchestrator_address == "127.0.0.1:7777"
        config = load_config(running.config_path)
        assert {n.node_id: n.address for n in config.nodes} == running.node_addresses
        assert config.execute_timeout_seconds == 7
        assert config.party_certificates == running.party_cert_paths
        assert running.orchestrator_certificate == config.data_dir / "tls-cert.pem"
        assert all(len(s) == 32 for s in running.node_sessions.values())
        pids = [running.node_pid(n) for n in running.node_ids]
    assert not any(alive(pid) for pid in pids)
    assert "node ready" in (tmp_path / "cluster/logs/node-1.stdout.log").read_text()


def test_a_restarted_node_keeps_its_address_and_gets_a_new_session(tmp_path, files):
    with cluster(tmp_path, files) as running:
        before = running.node_sessions["node-2"]
        old_pid = running.node_pid("node-2")
        new_session = running.restart_node("node-2")
        assert new_session != before
        assert running.node_sessions["node-2"] == new_session
        assert not alive(old_pid) and alive(running.node_pid("node-2"))


def test_a_process_that_dies_at_start_is_reported_with_its_stderr(tmp_path, files, monkeypatch):
    monkeypatch.setenv("FAKE_ACCORD_MODE", "die")
    with pytest.raises(TransportError, match="node-1 exited with status 3") as caught:
        cluster(tmp_path, files).start()
    assert "cannot start: the agreement is not signed" in caught.value.message
    assert "node-1.stderr.log" in caught.value.hint


def test_a_silent_process_times_out_and_everything_is_stopped(tmp_path, files, monkeypatch):
    monkeypatch.setenv("FAKE_ACCORD_MODE", "silent")
    local = cluster(tmp_path, files, startup_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(TransportError, match=r"did not print its ready line within 0\.5 s"):
        local.start()
    assert time.monotonic() - started < 10
    with pytest.raises(UsageError, match="not running"):
        local.orchestrator_address  # noqa: B018 (the property raises)


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_ACCORD_MODE", "stubborn")
    process = ManagedProcess(
        "node-9",
        [*FAKE, "node", "--listen", "127.0.0.1:0"],
        log_dir=tmp_path,
        ready_pattern="node ready",
    )
    process.wait_ready(10)
    started = time.monotonic()
    assert process.stop(grace=0.3) == -9
    assert time.monotonic() - started < 5


def test_killing_a_node_is_immediate(tmp_path, files):
    with cluster(tmp_path, files) as running:
        pid = running.node_pid("node-1")
        running.kill_node("node-1")
        assert not alive(pid)


def test_bad_arguments_are_refused(tmp_path, files):
    agreement, certificates = files
    with pytest.raises(UsageError, match="at least one node"):
        LocalCluster(tmp_path, agreement, certificates, nodes=0)
    with pytest.raises(UsageError, match=r"missing\.pem does not exist"):
        LocalCluster(tmp_path, agreement, [tmp_path / "missing.pem"])
    with pytest.raises(UsageError, match="no running node 'node-7'"):
        cluster(tmp_path, files).kill_node("node-7")


def test_the_console_script_next_to_the_interpreter_is_preferred():
    script = Path(sys.executable).with_name("accord")
    expected = [str(script)] if script.is_file() else [sys.executable, "-c"]
    assert accord_command()[: len(expected)] == expected
