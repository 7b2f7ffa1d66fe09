"""A real two-node Ray cluster on loopback, an orchestrator process and the parties' world.

The Ray cluster is a head and a second Ray node, both started with ``ray start`` (one CPU
each, a small object store, no dashboard), offering one ``enclave`` resource each and a
resource naming them, so that two node actors asking for ``enclave: 1`` land one per Ray
node. Everything is module scoped. At the end only the processes this fixture's ``ray start``
created are killed (those whose command line names its temporary folder, and their
descendants), never another Ray cluster on the host (``ray stop`` would stop them all).
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="the Ray tests need the optional 'ray' package (accord[ray])")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "xgboost_facade"))


from facade_world import FAST, make_world

from accord.cluster.local import ORCHESTRATOR_READY_PATTERN
from accord.cluster.processes import ManagedProcess, accord_command
from accord.party import PartyIdentity

RAY = Path(sys.executable).with_name("ray")
LOOPBACK = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def _processes() -> dict[int, tuple[int, bytes]]:
    """Every process's parent id and command line, by process id."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            found[int(entry.name)] = (parent, command)
    return found


def _stop_our_ray(temp_dir: Path) -> None:
    """Kill the processes whose command line names ``temp_dir``, with their descendants."""
    processes = _processes()
    ours = {pid for pid, (_, command) in processes.items() if str(temp_dir).encode() in command}
    ours.discard(os.getpid())
    grown = True
    while grown:
        children = {pid for pid, (parent, _) in processes.items() if parent in ours}
        grown = not children <= ours
        ours |= children
    for signum in (signal.SIGTERM, signal.SIGKILL):
        for pid in ours:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in ours):
            time.sleep(0.2)


def _ray(*arguments: str) -> None:
    subprocess.run([str(RAY), *arguments], check=True, capture_output=True, timeout=120, text=True)


@pytest.fixture(scope="module")
def ray_cluster():
    """The head's address and Ray's temporary folder (its logs are under it)."""
    # Ray's socket paths must stay short: a folder directly under /tmp, not pytest's tmp_path.
    temp_dir = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    port = _free_port()
    address = f"{LOOPBACK}:{port}"
    common = [
        "--node-ip-address",
        LOOPBACK,
        "--num-cpus",
        "1",
        "--object-store-memory",
        "100000000",
        "--disable-usage-stats",
    ]
    try:
        _ray(
            "start",
            "--head",
            "--port",
            str(port),
            "--include-dashboard=false",
            "--temp-dir",
            str(temp_dir),
            "--resources",
            '{"enclave": 1, "head": 1}',
            *common,
        )
        _ray(
            "start",
            "--address",
            address,
            "--temp-dir",
            str(temp_dir),
            "--resources",
            '{"enclave": 1, "second": 1}',
            *common,
        )
        yield {"address": address, "temp_dir": temp_dir}
    finally:
        import ray

        ray.shutdown()
        _stop_our_ray(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def ray_address(ray_cluster):
    return ray_cluster["address"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("ray-world")
    world = make_world(root)
    world["operator"] = PartyIdentity.create("ops", root / "ops", passphrase=None, argon2=FAST)
    return world


@pytest.fixture(scope="module")
def orchestrator(world, tmp_path_factory):
    """An orchestrator process with no configured nodes; ops may register nodes."""
    work = tmp_path_factory.mktemp("orchestrator")
    certificates = ", ".join(f'"{path}"' for path in world["certificates"])
    config = work / "orchestrator.toml"
    config.write_text(
        f'listen = "{LOOPBACK}:0"\n'
        f'agreement = "{world["agreement_path"]}"\n'
        f'data_dir = "{work / "data"}"\n'
        f"party_certificates = [{certificates}]\n"
        f'operator_certificates = ["{world["operator"].directory / "tls-cert.pem"}"]\n'
        "execute_timeout_seconds = 60\n"
        "node_refresh_seconds = 1\n"
        "sweep_interval_seconds = 0.5\n"
    )
    process = ManagedProcess(
        "orchestrator",
        [*accord_command(), "orchestrator", "--config", str(config)],
        log_dir=work / "logs",
        ready_pattern=ORCHESTRATOR_READY_PATTERN,
    )
    try:
        address = process.wait_ready(60).group("address")
        yield {"address": address, "certificate": work / "data" / "tls-cert.pem"}
    finally:
        process.stop(3)
