"""A whole collaboration's cloud side on this machine: an orchestrator and enclave nodes.

:class:`LocalCluster` is the embedded default deployment (simulated attestation). It starts
``accord node`` N times and ``accord orchestrator`` once as real subprocesses on loopback,
each on a port the system picks, waits for their ready lines, and stops them all on exit.
Parties then connect exactly as they would to a cloud deployment::

    with LocalCluster(work_dir, agreement_path, [alice_dir / "tls-cert.pem", ...]) as cluster:
        alice = cluster.connect(alice_dir)          # accord.connect(...) with the addresses
        alice.attest(); alice.provision()
        ...

Layout of ``work_dir``::

    orchestrator.toml         the orchestrator's configuration (written here)
    orchestrator/             its data directory (SQLite, blobs, its TLS key and certificate)
    nodes/<node-id>/blobs/    each node's ciphertext store
    logs/<name>.stdout.log    every process's output; .stderr.log next to it

Nothing secret is written by the cluster itself; the node processes keep their keys in memory.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Final

import tomlkit

from accord._internal.files import write_atomically
from accord.cluster.processes import ManagedProcess, accord_command
from accord.errors import ConfigurationError, TransportError, UsageError

if TYPE_CHECKING:
    from accord.client.sdk import Client
    from accord.party import PartyIdentity

__all__ = [
    "DEFAULT_STARTUP_TIMEOUT",
    "NODE_READY_PATTERN",
    "ORCHESTRATOR_CERTIFICATE_FILE",
    "ORCHESTRATOR_READY_PATTERN",
    "LocalCluster",
]

_log = logging.getLogger("accord.cluster")

NODE_READY_PATTERN: Final = r"node ready session=(?P<session>[0-9a-f]+) address=(?P<address>\S+)"
"""The line ``accord node`` prints once it serves."""

ORCHESTRATOR_READY_PATTERN: Final = r"orchestrator ready address=(?P<address>\S+)"
"""The line ``accord orchestrator`` prints once it serves."""

ORCHESTRATOR_CERTIFICATE_FILE: Final = "tls-cert.pem"
"""The orchestrator's self-signed certificate, in its data directory."""

DEFAULT_STARTUP_TIMEOUT: Final = 60.0
"""Seconds a process may take to print its ready line."""

_LOOPBACK: Final = "127.0.0.1"


class LocalCluster:
    """An orchestrator and ``nodes`` enclave nodes as local subprocesses (a context manager).

    Parameters
    ----------
    work_dir
        Folder for the configuration, data directories and logs (created if missing).
    agreement_path
        The signed agreement every process is started with.
    party_cert_paths
        Every party's TLS certificate (``<party>/tls-cert.pem``): the only clients the
        orchestrator accepts.
    nodes
        How many enclave nodes to start (``node-1``, ``node-2``, ...).
    backend
        The attestation backend of the nodes (``"simulated"`` on ordinary machines).
    proposal_ttl_seconds
        The orchestrator's default lifetime of a proposal.
    execute_timeout_seconds
        How long the orchestrator waits for a node to execute a command.
    node_refresh_seconds
        How often the orchestrator refreshes the nodes' status (its default if None).
    sweep_interval_seconds
        How often the orchestrator expires overdue proposals (its default if None).
    startup_timeout
        Seconds each process may take to become ready.
    stop_grace
        Seconds each process has to exit after SIGTERM before it is killed.
    command
        The command line that runs ``accord`` (default: :func:`accord_command`).

    Raises
    ------
    UsageError
        If ``nodes`` is not positive or a path does not exist.
    """

    def __init__(
        self,
        work_dir: Path,
        agreement_path: Path,
        party_cert_paths: Sequence[Path],
        *,
        nodes: int = 2,
        backend: str = "simulated",
        proposal_ttl_seconds: int = 3600,
        execute_timeout_seconds: float = 30,
        node_refresh_seconds: float | None = None,
        sweep_interval_seconds: float | None = None,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
        stop_grace: float = 5.0,
        command: Sequence[str] | None = None,
    ) -> None:
        if nodes < 1:
            raise UsageError(f"a local cluster needs at least one node, not {nodes}")
        for path in (agreement_path, *party_cert_paths):
            if not Path(path).is_file():
                raise UsageError(f"{path} does not exist or is not a file")
        self.work_dir = Path(work_dir).resolve()
        self.agreement_path = Path(agreement_path).resolve()
        self.party_cert_paths = tuple(Path(p).resolve() for p in party_cert_paths)
        self.node_ids: tuple[str, ...] = tuple(f"node-{i}" for i in range(1, nodes + 1))
        self._backend = backend
        self._ttl = proposal_ttl_seconds
        self._execute_timeout = execute_timeout_seconds
        self._intervals = {
            "node_refresh_seconds": node_refresh_seconds,
            "sweep_interval_seconds": sweep_interval_seconds,
        }
        self._startup_timeout = startup_timeout
        self._grace = stop_grace
        self._command = list(command) if command is not None else accord_command()
        self._nodes: dict[str, ManagedProcess] = {}
        self._node_addresses: dict[str, str] = {}
        self._node_sessions: dict[str, str] = {}
        self._orchestrator: ManagedProcess | None = None
        self._orchestrator_address: str | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the nodes, then the orchestrator configured with their addresses.

        Raises
        ------
        TransportError
            If a process exits or stays silent; everything started is stopped again.
        """
        if self._orchestrator is not None:
            raise UsageError("this local cluster is already running")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        try:
            for node_id in self.node_ids:
                self._start_node(node_id, f"{_LOOPBACK}:0")
            for node_id in self.node_ids:
                self._await_node(node_id)
            self._write_orchestrator_config()
            self._orchestrator = ManagedProcess(
                "orchestrator",
                [*self._command, "orchestrator", "--config", str(self.config_path)],
                log_dir=self.log_dir,
                ready_pattern=ORCHESTRATOR_READY_PATTERN,
            )
            match = self._orchestrator.wait_ready(self._startup_timeout)
            self._orchestrator_address = match.group("address")
        except BaseException:
            self.stop()
            raise
        _log.info(
            "local cluster ready in %.1f s: orchestrator %s, nodes %s",
            time.monotonic() - started,
            self._orchestrator_address,
            ", ".join(f"{n}={a}" for n, a in self._node_addresses.items()),
        )

    def stop(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL after the grace period)."""
        processes = [*self._nodes.values()]
        if self._orchestrator is not None:
            processes.insert(0, self._orchestrator)
        for process in processes:
            process.send_signal(signal.SIGCONT)
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.stop(self._grace)
        self._orchestrator = None
        self._orchestrator_address = None
        self._nodes.clear()

    # -- nodes -----------------------------------------------------------------------------

    def _start_node(self, node_id: str, listen: str) -> None:
        blob_dir = self.work_dir / "nodes" / node_id / "blobs"
        blob_dir.mkdir(parents=True, exist_ok=True)
        self._nodes[node_id] = ManagedProcess(
            node_id,
            [
                *self._command,
                "node",
                "--agreement",
                str(self.agreement_path),
                "--listen",
                listen,
                "--backend",
                self._backend,
                "--blob-dir",
                str(blob_dir),
            ],
            log_dir=self.log_dir,
            ready_pattern=NODE_READY_PATTERN,
        )

    def _await_node(self, node_id: str) -> None:
        match = self._nodes[node_id].wait_ready(self._startup_timeout)
        self._node_addresses[node_id] = match.group("address")
        self._node_sessions[node_id] = match.group("session")

    def _node(self, node_id: str) -> ManagedProcess:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise UsageError(
                f"no running node {node_id!r}; nodes: {', '.join(self.node_ids)}"
            ) from None

    def kill_node(self, node_id: str) -> None:
        """Kill a node at once (SIGKILL), as a crash would; its session and keys are gone."""
        self._node(node_id).kill()

    def pause_node(self, node_id: str) -> None:
        """Freeze a node (SIGSTOP): it keeps its connections but answers nothing."""
        self._node(node_id).send_signal(signal.SIGSTOP)

    def resume_node(self, node_id: str) -> None:
        """Let a paused node run again (SIGCONT)."""
        self._node(node_id).send_signal(signal.SIGCONT)

    def restart_node(self, node_id: str) -> str:
        """Stop a node (if it runs) and start it again on the same address.

        The new process has a new enclave session: parties must attest and provision it
        again.

        Returns
        -------
        str
            The new session id.
        """
        process = self._node(node_id)
        process.stop(self._grace)
        address = self._node_addresses[node_id]
        deadline = time.monotonic() + self._startup_timeout
        while True:
            self._start_node(node_id, address)
            try:
                self._await_node(node_id)
            except TransportError:
                # The port may linger for a moment after the old process died.
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)
                continue
            return self._node_sessions[node_id]

    # -- what parties need -----------------------------------------------------------------

    @property
    def log_dir(self) -> Path:
        """Where each process's standard output and error are logged."""
        return self.work_dir / "logs"

    @property
    def config_path(self) -> Path:
        """The orchestrator configuration this cluster wrote."""
        return self.work_dir / "orchestrator.toml"

    @property
    def orchestrator_data_dir(self) -> Path:
        """The orchestrator's data directory."""
        return self.work_dir / "orchestrator"

    @property
    def orchestrator_address(self) -> str:
        """``host:port`` of the running orchestrator."""
        if self._orchestrator_address is None:
            raise UsageError("the local cluster is not running; use it as a context manager")
        return self._orchestrator_address

    @property
    def orchestrator_certificate(self) -> Path:
        """The orchestrator's TLS certificate (PEM), which parties pin."""
        return self.orchestrator_data_dir / ORCHESTRATOR_CERTIFICATE_FILE

    @property
    def node_addresses(self) -> Mapping[str, str]:
        """``host:port`` of each node, by node id."""
        return dict(self._node_addresses)

    @property
    def node_sessions(self) -> Mapping[str, str]:
        """The session id each node printed when it became ready, by node id."""
        return dict(self._node_sessions)

    def node_pid(self, node_id: str) -> int:
        """Return the process id of a node."""
        return self._node(node_id).pid

    def connect(self, party: Path | PartyIdentity, *, timeout: float = 30.0) -> Client:
        """Connect a party to this cluster's orchestrator (see :func:`accord.client.connect`).

        Parameters
        ----------
        party
            The party's directory or loaded identity.
        timeout
            The deadline of each network call, in seconds.

        Returns
        -------
        Client
            A client that has not attested any node yet.
        """
        from accord.client.sdk import connect

        return connect(
            self.orchestrator_address,
            self.agreement_path,
            party,
            orchestrator_certificate=self.orchestrator_certificate,
            timeout=timeout,
        )

    def _write_orchestrator_config(self) -> None:
        document = tomlkit.document()
        document.add(tomlkit.comment("Written by accord.cluster.LocalCluster."))
        document["listen"] = f"{_LOOPBACK}:0"
        document["agreement"] = str(self.agreement_path)
        document["data_dir"] = str(self.orchestrator_data_dir)
        document["party_certificates"] = [str(p) for p in self.party_cert_paths]
        document["proposal_ttl_seconds"] = self._ttl
        document["execute_timeout_seconds"] = self._execute_timeout
        for key, value in self._intervals.items():
            if value is not None:
                document[key] = value
        nodes = tomlkit.aot()
        for node_id in self.node_ids:
            entry = tomlkit.table()
            entry["id"] = node_id
            entry["address"] = self._node_addresses[node_id]
            nodes.append(entry)
        document["nodes"] = nodes
        try:
            write_atomically(
                self.config_path, tomlkit.dumps(document).encode(), mode=0o644, overwrite=True
            )
        except OSError as exc:
            raise ConfigurationError(f"cannot write {self.config_path}: {exc.strerror}") from None
