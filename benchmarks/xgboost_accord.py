"""The Accord side of the XGBoost benchmark: two parties, a local cluster, timed commands.

:func:`prepare_parties` creates alice and bob and seals each party's Parquet half with its
own data key; :func:`write_agreement` writes the agreement they both sign (simulated
enclaves of the installed release; every operation needs both; predictions on a party's
data go to that party only). :func:`run_accord` starts a
:class:`~accord.cluster.LocalCluster` of real processes, lets both parties attest every node
and release their keys, uploads the sealed files, and then times each command end to end
as the parties see it: propose (by one party), approve (by the other), wait for the
verified result, and open the outputs.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import statistics
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "AccordRun",
    "NotDistributedError",
    "Parties",
    "cpu_seconds",
    "distribution_missing",
    "find_parties",
    "prepare_parties",
    "proc_status_kib",
    "run_accord",
    "write_agreement",
]

CHUNK_SIZE = 4 * 1024 * 1024
"""The sealed chunk size (``accord seal``'s default)."""


def cpu_seconds(pid: int | str) -> float:
    """Return the CPU time (user + system, all threads) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status_kib(pid: int | str, field_name: str) -> int:
    """Return a ``/proc/<pid>/status`` memory field (``VmHWM``, ``VmRSS``) in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {field_name}")


@dataclass
class Parties:
    """alice and bob: their folders, the signed agreement and their sealed halves."""

    root: Path
    agreement_path: Path
    directories: dict[str, Path]
    sealed: dict[str, Path]
    rows: dict[str, int]
    seal_seconds: float

    @property
    def certificates(self) -> list[Path]:
        """Each party's TLS certificate, for the orchestrator."""
        return [directory / "tls-cert.pem" for directory in self.directories.values()]


def prepare_parties(root: Path, halves: Mapping[str, Path], rows: Mapping[str, int]) -> Parties:
    """Create alice and bob and seal each party's Parquet file with its own data key."""
    from accord.crypto.sealed import seal_file
    from accord.party import Argon2Parameters, PartyIdentity

    fast = Argon2Parameters(iterations=1, lanes=1, memory_cost_kib=8)
    identities = {
        name: PartyIdentity.create(name, root / name, passphrase=None, argon2=fast)
        for name in halves
    }
    sealed = {}
    started = time.perf_counter()
    for name, source in halves.items():
        sealed[name] = root / name / "train.sealed"
        seal_file(
            source,
            sealed[name],
            identities[name].data_key,
            input_format="parquet",
            label_column="label",
            chunk_size=CHUNK_SIZE,
            name="train",
        )
    return Parties(
        root=root,
        agreement_path=root / "agreement.toml",
        directories={name: identity.directory for name, identity in identities.items()},
        sealed=sealed,
        rows=dict(rows),
        seal_seconds=time.perf_counter() - started,
    )


def find_parties(root: Path) -> Parties:
    """The parties :func:`prepare_parties` made in ``root`` (for a child process)."""
    directories = {name: root / name for name in ("alice", "bob")}
    return Parties(
        root=root,
        agreement_path=root / "agreement.toml",
        directories=directories,
        sealed={name: directory / "train.sealed" for name, directory in directories.items()},
        rows={},
        seal_seconds=0.0,
    )


def write_agreement(parties: Parties) -> None:
    """Write the agreement both parties sign, for the enclave code installed now.

    Simulated enclaves of the installed release (its measurement is the hash of the code
    tree, taken now, so that a tree edited between runs still matches); every operation
    needs both parties; predictions on a party's data go to that party only.
    """
    from accord.agreement import (
        AgreementDocument,
        party_from_card,
        render_template,
        sign_agreement,
    )
    from accord.attest import measure_installed_package
    from accord.party import PartyIdentity

    directories = parties.directories.values()
    identities = [PartyIdentity.load(path, passphrase=None) for path in directories]
    text = render_template(
        "xgboost-benchmark",
        created=dt.datetime.now(dt.UTC).replace(microsecond=0),
        measurements={"simulated": [measure_installed_package().digest]},
    )
    document = AgreementDocument.parse(text, source="agreement.toml")
    for identity in identities:
        document = document.with_party(party_from_card(identity.card))
    for identity in identities:
        signature = sign_agreement(document.agreement, identity.signing_key, party=identity.name)
        document = document.with_signature(identity.name, signature)
    document.save(parties.agreement_path)


class NotDistributedError(Exception):
    """Several nodes ran, but each loaded every row: this build does not split rows."""


_LOADED = re.compile(r"load group=train datasets=\d+ rows=(\d+)")


def check_rows_split(logs: Mapping[str, Path], total_rows: int) -> None:
    """Raise :class:`NotDistributedError` if every node says it loaded all ``total_rows``.

    A node logs ``load group=<name> datasets=<n> rows=<rows> ...`` after ``load``; with rows
    split over the nodes, each holds only its share.
    """
    counts = {}
    for node_id, path in logs.items():
        found = _LOADED.findall(path.read_text(errors="replace")) if path.is_file() else []
        if not found:
            return  # the node does not say; assume the rows are split
        counts[node_id] = int(found[-1])
    if counts and all(rows == total_rows for rows in counts.values()):
        raise NotDistributedError(
            f"not available in this build (each of the {len(counts)} nodes loaded all "
            f"{total_rows:,} rows: rows are not split over nodes)"
        )


@dataclass
class AccordRun:
    """What one run through Accord measured (seconds, KiB)."""

    nodes: int
    phases: dict[str, float] = field(default_factory=dict)
    setup: dict[str, float] = field(default_factory=dict)
    command_overhead: float = 0.0
    load_without_push: float = 0.0
    node_peak_kib: dict[str, int] = field(default_factory=dict)
    node_idle_kib: dict[str, int] = field(default_factory=dict)
    orchestrator_peak_kib: int = 0
    predictions: dict[str, npt.NDArray[np.float32]] = field(default_factory=dict)
    cpu: dict[str, dict[str, float]] = field(default_factory=dict)
    memory_after: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    """Per phase, per node: (VmRSS, VmHWM) in KiB right after the phase."""

    @property
    def total(self) -> float:
        """load + train + predict."""
        return sum(self.phases.values())


def _timed_command(
    proposer: Any,
    approver: Any,
    operation: str,
    arguments: Mapping[str, Any],
    *,
    recipients: Sequence[str] = (),
    open_output: str | None = None,
    wait_seconds: float,
) -> tuple[float, Any]:
    """Propose, approve, wait and (optionally) open one output; return the seconds taken."""
    started = time.perf_counter()
    proposal_id = proposer.propose(operation, dict(arguments), recipients=list(recipients))
    approver.approve(proposal_id)
    result = proposer.wait(proposal_id, timeout=wait_seconds)
    opened = _open(result, open_output) if open_output is not None else None
    return time.perf_counter() - started, opened


def _open(result: Any, name: str) -> Any:
    """Open output ``name``; predictions are decoded, several nodes' shares joined."""
    from accord.workloads.xgboost import decode_predictions

    if name != "predictions":
        return result.open(name)
    if len(result.nodes) == 1:
        return decode_predictions(result.open(name))
    from accord.workloads.xgboost import join_predictions  # builds that split rows over nodes

    shares = {node.session_id: result.open(name, node_id=node.node_id) for node in result.nodes}
    return join_predictions(shares)


def distribution_missing() -> str | None:
    """Return why this build cannot train over several nodes, or None when it can."""
    try:
        from accord.workloads.xgboost import federation_argument, join_predictions  # noqa: F401
    except ImportError:
        return "not available in this build (no federated training in accord.workloads.xgboost)"
    return None


def _federation(cluster: Any) -> dict[str, Any]:
    """The ``federation`` argument of a command that runs on every node of ``cluster``."""
    from accord.workloads.xgboost import federation_argument

    sessions, addresses = cluster.node_sessions, cluster.node_addresses
    return dict(federation_argument({sessions[n]: addresses[n] for n in cluster.node_ids}))


def run_accord(
    parties: Parties,
    work: Path,
    *,
    nodes: int,
    params: Mapping[str, Any],
    rounds: int,
    wait_seconds: float = 3600.0,
    on_step: Callable[[str], None] = lambda _: None,
) -> AccordRun:
    """Run load, train and predict through a local cluster of ``nodes`` nodes and time them.

    The nodes are real ``accord node`` processes with simulated attestation; the parties run
    in this process. Only the three workload commands count towards the total; cluster
    start, attestation, key release and upload are reported apart. For each phase the CPU
    time of every process (nodes, orchestrator, the parties' process) is recorded too.
    """
    from accord.attest import AccordSecurityWarning
    from accord.cluster import LocalCluster

    warnings.simplefilter("ignore", AccordSecurityWarning)
    run = AccordRun(nodes=nodes)
    write_agreement(parties)
    started = time.perf_counter()
    cluster = LocalCluster(
        work,
        parties.agreement_path,
        parties.certificates,
        nodes=nodes,
        execute_timeout_seconds=wait_seconds,
        stop_grace=10,
    )
    with cluster:
        run.setup["start cluster"] = time.perf_counter() - started
        clients = {
            name: cluster.connect(path, timeout=120) for name, path in parties.directories.items()
        }
        try:
            started = time.perf_counter()
            for client in clients.values():
                client.attest()  # fails if the code tree changed since write_agreement
                client.provision()
            run.setup["attest + provision"] = time.perf_counter() - started
            started = time.perf_counter()
            blobs = {name: clients[name].upload(path) for name, path in parties.sealed.items()}
            run.setup["upload (to orchestrator)"] = time.perf_counter() - started
            pids = {node_id: cluster.node_pid(node_id) for node_id in cluster.node_ids}
            orchestrator = _orchestrator_pid(cluster)
            if orchestrator is not None:
                pids["orchestrator"] = orchestrator
            pids["parties"] = os.getpid()
            for node_id in cluster.node_ids:
                run.node_idle_kib[node_id] = proc_status_kib(pids[node_id], "VmRSS")
            logs = {n: cluster.log_dir / f"{n}.stderr.log" for n in cluster.node_ids}
            check = (
                (lambda: check_rows_split(logs, sum(parties.rows.values())))
                if nodes > 1
                else (lambda: None)
            )
            train = {"data": "train", "params": dict(params), "num_boost_round": rounds}
            if nodes > 1:
                train["federation"] = _federation(cluster)
            _run_commands(run, clients, blobs, train, wait_seconds, pids, on_step, check)
            for node_id in cluster.node_ids:
                run.node_peak_kib[node_id] = proc_status_kib(pids[node_id], "VmHWM")
            if orchestrator is not None:
                run.orchestrator_peak_kib = proc_status_kib(orchestrator, "VmHWM")
            # The same load once more: the nodes hold the blobs now, so nothing is pushed.
            datasets = [
                {"name": f"{name}_again", "owner": name, "blob": blob}
                for name, blob in blobs.items()
            ]
            run.load_without_push, _ = _timed_command(
                clients["alice"], clients["bob"], "load",
                {"as": "again", "datasets": datasets}, wait_seconds=wait_seconds,
            )  # fmt: skip
        finally:
            for client in clients.values():
                client.close()
    return run


def _run_commands(
    run: AccordRun,
    clients: Mapping[str, Any],
    blobs: Mapping[str, str],
    train: Mapping[str, Any],
    wait_seconds: float,
    pids: Mapping[str, int],
    on_step: Callable[[str], None],
    after_load: Callable[[], None],
) -> None:
    alice, bob = clients["alice"], clients["bob"]
    nodes = run.nodes

    def cpu() -> dict[str, float]:
        return {name: cpu_seconds(pid) for name, pid in pids.items()}

    def memory() -> dict[str, tuple[int, int]]:
        status = {name: pid for name, pid in pids.items() if name.startswith("node-")}
        return {
            name: (proc_status_kib(pid, "VmRSS"), proc_status_kib(pid, "VmHWM"))
            for name, pid in status.items()
        }

    on_step(f"{nodes} node(s): echo round trips (fixed cost per command)")
    echoes = [
        _timed_command(
            alice, bob, "echo", {"message": "ping"}, recipients=["alice"],
            open_output="echo", wait_seconds=wait_seconds,
        )[0]
        for _ in range(5)
    ]  # fmt: skip
    run.command_overhead = statistics.median(echoes)

    on_step(f"{nodes} node(s): load")
    before = cpu()
    datasets = [
        {"name": f"{name}_train", "owner": name, "blob": blob} for name, blob in blobs.items()
    ]
    run.phases["load"], _ = _timed_command(
        alice, bob, "load", {"as": "train", "datasets": datasets}, wait_seconds=wait_seconds
    )
    run.cpu["load"] = _spent(before, cpu())
    run.memory_after["load"] = memory()
    after_load()

    on_step(f"{nodes} node(s): train ({train['num_boost_round']} rounds)")
    before = cpu()
    run.phases["train"], _ = _timed_command(
        alice, bob, "train", {**train, "model": "m"}, wait_seconds=wait_seconds
    )
    run.cpu["train"] = _spent(before, cpu())
    run.memory_after["train"] = memory()

    on_step(f"{nodes} node(s): predict (each party on its own rows)")
    before = cpu()
    run.phases["predict"] = 0.0
    for owner, other in (("alice", "bob"), ("bob", "alice")):
        arguments = {"model": "m", "data": f"{owner}_train", "data_owner": owner}
        seconds, run.predictions[owner] = _timed_command(
            clients[owner], clients[other], "predict", arguments,
            recipients=[owner], open_output="predictions", wait_seconds=wait_seconds,
        )  # fmt: skip
        run.phases["predict"] += seconds
    run.cpu["predict"] = _spent(before, cpu())
    run.memory_after["predict"] = memory()


def _spent(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    return {name: after[name] - before[name] for name in before}


def _orchestrator_pid(cluster: Any) -> int | None:
    """The orchestrator's process id: the child of this process running its configuration."""
    marker = str(cluster.config_path).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == os.getpid() and marker in command:
            return int(entry.name)
    return None
