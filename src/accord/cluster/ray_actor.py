"""The Ray actor that supervises one enclave node process (see :mod:`accord.cluster.ray`).

The actor's own process deserialises Ray messages (cloudpickle), so it holds no key: it runs
the measured ``accord node`` as a child process that never imports Ray, passes it only argv
and files, and reports only public data (address, session id, certificate, pid).
"""

from __future__ import annotations

import ctypes
import importlib
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from accord.cluster.local import NODE_READY_PATTERN
from accord.errors import TransportError
from accord.transport import fetch_unverified_server_certificate

__all__ = ["EnclaveNodeActor", "NodeDescription", "node_argv", "node_environment", "read_port"]

_log = logging.getLogger("accord.cluster")

_PORT_FILE: Final = "port"
_BIND_SECONDS: Final = 30.0
_PR_SET_PDEATHSIG: Final = 1
_BIND_RETRY_SECONDS: Final = 0.2
_PYTHON_NAME: Final = re.compile(r"python(3(\.[0-9]+)?)?")


@dataclass(frozen=True)
class NodeDescription:
    """What a node actor reports about itself: public data only.

    Parameters
    ----------
    node_id
        The node's id at the orchestrator.
    address
        ``host:port`` of the node's TLS endpoint.
    session_id
        The enclave session the node serves now.
    certificate_pem
        The session's TLS certificate (PEM; its key stays in the node process).
    ray_node_id
        The Ray node the actor runs on.
    """

    node_id: str
    address: str
    session_id: str
    certificate_pem: str
    ray_node_id: str

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> NodeDescription:
        """Build a description from the mapping an actor returns."""
        return cls(**{key: str(values[key]) for key in cls.__dataclass_fields__})


def _die_with_parent(parent_pid: int) -> Callable[[], None]:
    """Return a ``preexec_fn`` that makes the child die (SIGKILL) when its parent dies."""

    def arrange() -> None:  # pragma: no cover - runs in the forked child before exec
        if sys.platform.startswith("linux"):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return arrange


def node_argv(node_command: str) -> list[str]:
    """Return the program and leading arguments that run ``accord`` via ``node_command``.

    A Python interpreter (a file named ``python``, ``python3``, ``python3.12``, ...) runs
    Accord's command line in isolated mode (``-I``: no ``PYTHON*`` variables, no user site,
    no current folder on the path); anything else is taken as the ``accord`` console script.
    """
    if _PYTHON_NAME.fullmatch(Path(node_command).name):
        return [node_command, "-I", "-c", "from accord.cli.app import main; main()"]
    return [node_command]


def node_environment(folder: Path) -> dict[str, str]:
    """Return the node process's whole environment: minimal, nothing from the Ray worker.

    ``HOME`` and ``TMPDIR`` point into the node's state folder (created here).
    """
    home, temp = folder / "home", folder / "tmp"
    for path in (home, temp):
        path.mkdir(mode=0o700, exist_ok=True)
    return {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "HOME": str(home),
        "TMPDIR": str(temp),
    }


def read_port(port_file: Path) -> int:
    """Return the port kept in ``port_file``, or 0 (a new port) if it is unreadable."""
    try:
        port = int(port_file.read_text(encoding="ascii").strip())
    except (OSError, ValueError, UnicodeDecodeError):
        port = -1
    if not 0 < port < 65536:
        _log.warning("the port file %s is unreadable or corrupt; using a new port", port_file)
        return 0
    return port


class EnclaveNodeActor:
    """Supervises one enclave node process from a Ray actor (wrapped with ``ray.remote``).

    The actor holds no key: it writes the public agreement to the state folder, starts
    ``accord node`` as a child process (argv and files only; the child never imports Ray
    and never unpickles anything), reads the child's public ready line, fetches the public
    TLS certificate it presents, and stops the child on :meth:`stop`. The child is killed
    when the actor's process dies (``PR_SET_PDEATHSIG`` on Linux), so a restarted actor
    always starts a new child with a new session.

    Parameters
    ----------
    agreement_text
        The signed agreement file's text (public).
    node_id
        The node's id.
    backend
        The attestation backend, or ``None`` for the agreement's only one.
    host
        The address to listen on and report; ``None`` for the Ray node's IP address.
    state_dir
        A folder on the Ray node for the agreement copy, the port, logs and ciphertext blobs.
    node_command
        The absolute path, chosen by the operator, of the measured ``accord`` console script
        (or of the measured install's Python interpreter, run with ``-I``) on this Ray host.
    """

    def __init__(
        self,
        agreement_text: str,
        node_id: str,
        backend: str | None,
        host: str | None,
        state_dir: str,
        node_command: str,
    ) -> None:
        from accord._internal.files import write_atomically

        ray = importlib.import_module("ray")  # present: this runs inside a Ray actor
        context = ray.get_runtime_context()
        self._ray_node_id = str(context.get_node_id())
        self._node_id = node_id
        folder = Path(state_dir).expanduser() / node_id
        folder.mkdir(parents=True, exist_ok=True)
        agreement_path = folder / "agreement.toml"
        write_atomically(agreement_path, agreement_text.encode(), mode=0o644, overwrite=True)
        host = host or ray.util.get_node_ip_address()
        port_file = folder / _PORT_FILE
        with warnings.catch_warnings():  # Ray's own property uses a deprecated accessor
            warnings.simplefilter("ignore", DeprecationWarning)
            reconstructed = bool(context.was_current_actor_reconstructed)
        restarted = reconstructed and port_file.is_file()
        port = read_port(port_file) if restarted else 0
        arguments = [
            *node_argv(node_command),
            "node",
            "--agreement",
            str(agreement_path),
            "--listen",
            f"{host}:{port}",
            "--blob-dir",
            str(folder / "blobs"),
        ]
        if backend is not None:
            arguments += ["--backend", backend]
        deadline = time.monotonic() + _BIND_SECONDS
        while True:
            self._process = self._spawn(arguments, folder)
            match = self._wait_ready(self._process)
            if match is not None:
                break
            if port == 0 or time.monotonic() >= deadline:
                raise TransportError(
                    f"the enclave node process of {node_id} exited with status "
                    f"{self._process.returncode} before it was ready",
                    hint=f"See {folder / 'node.stderr.log'} on Ray node {self._ray_node_id}.",
                )
            time.sleep(_BIND_RETRY_SECONDS)  # the dead node's port may linger for a moment
        self._session_id = match.group("session")
        self._address = match.group("address")
        self._certificate_pem = fetch_unverified_server_certificate(self._address).decode()
        bound = self._address.rsplit(":", 1)[1]
        write_atomically(port_file, bound.encode(), mode=0o644, overwrite=True)
        _log.info(
            "node %s %s session %s on %s (process %d)",
            node_id,
            "restarted with" if restarted else "serves",
            self._session_id,
            self._address,
            self._process.pid,
        )

    @staticmethod
    def _spawn(arguments: list[str], folder: Path) -> subprocess.Popen[bytes]:
        with (folder / "node.stderr.log").open("ab") as stderr:
            return subprocess.Popen(  # noqa: S603 (the operator's measured command)
                arguments,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                cwd=folder,
                env=node_environment(folder),
                preexec_fn=_die_with_parent(os.getpid()),
            )

    @staticmethod
    def _wait_ready(process: subprocess.Popen[bytes]) -> re.Match[str] | None:
        """Read the child's standard output up to its ready line; None if it exited first."""
        assert process.stdout is not None
        pattern = re.compile(NODE_READY_PATTERN)
        for raw in iter(process.stdout.readline, b""):
            match = pattern.search(raw.decode("utf-8", "replace"))
            if match is not None:
                threading.Thread(  # keep draining so the child never blocks on a full pipe
                    target=process.stdout.read, daemon=True
                ).start()
                return match
        process.wait()
        return None

    def describe(self) -> dict[str, str]:
        """Return the node's public description (see :class:`NodeDescription`)."""
        return {
            "node_id": self._node_id,
            "address": self._address,
            "session_id": self._session_id,
            "certificate_pem": self._certificate_pem,
            "ray_node_id": self._ray_node_id,
        }

    def node_process_id(self) -> int:
        """Return the process id of the enclave node (a child of the actor's process)."""
        return self._process.pid

    def stop(self, grace: float) -> None:
        """Stop the node process: SIGTERM, then SIGKILL after ``grace`` seconds."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
