"""Enclave nodes as actors on an existing Ray cluster (``accord cluster up/down``).

Ray is untrusted infrastructure: it places, starts and restarts nodes and carries only public
data. :func:`start_ray_nodes` starts N named, detached actors in a Ray namespace, one per Ray
node where the resources allow (every actor asks for ``resources``, e.g. a custom resource
each Ray node offers once, and the actors are spread over the nodes).

An actor only **supervises**: it runs the measured ``accord node`` as a child process
(:class:`EnclaveNodeActor`). The enclave session and all its keys live in that child, which
never imports Ray and never unpickles anything; the actor's process, which does deserialise
Ray messages (cloudpickle), holds no key. The actor passes the child only argv and files
(the public agreement), reads its public ready line (address, session id), fetches the
public TLS certificate it presents, and returns those. The child dies with the actor's
process (``PR_SET_PDEATHSIG``). The driver registers every node with the orchestrator as an
operator (:func:`register_nodes`); ``accord cluster up`` does so only after its Ray
connection is shut down.

A node actor that dies is restarted by Ray (``max_restarts``) and starts a **new** node
process, so a new session, on the same port (kept in the state folder on the Ray node; a
corrupt port file means a new port), so the orchestrator sees a changed session at the same
address, marks the old one gone, and parties must re-attest and re-provision. If Ray
restarts the actor on another Ray node, its address changes: ``accord cluster up`` again
registers the new address. Every Ray interaction of ``accord cluster up/down`` runs in a
child process without secrets (:mod:`accord.cluster.ray_driver`); the operator's key is
loaded only in the parent, which never talks to Ray.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

from accord.cluster.ray_actor import EnclaveNodeActor, NodeDescription
from accord.errors import ConfigurationError, TransportError, UsageError

if TYPE_CHECKING:
    from accord.party import PartyIdentity

__all__ = [
    "DEFAULT_NAMESPACE",
    "INSTALL_HINT",
    "NodeDescription",
    "RayNodes",
    "default_node_command",
    "import_ray",
    "register_nodes",
    "require_ray",
    "start_ray_nodes",
    "stop_ray_nodes",
]

_log = logging.getLogger("accord.cluster")

DEFAULT_NAMESPACE: Final = "accord"
"""The Ray namespace the node actors live in (``down`` finds them there by name)."""

INSTALL_HINT: Final = "Install it with: pip install 'accord[ray]'"
"""What to do when Ray is missing."""

_ACTOR_PREFIX: Final = "accord-node-"
_BIND_RETRY_SECONDS: Final = 0.2


def import_ray() -> ModuleType:
    """Import Ray, or explain how to install it.

    Returns
    -------
    ModuleType
        The ``ray`` module.

    Raises
    ------
    ConfigurationError
        If Ray is not installed.
    """
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise ConfigurationError(
            "running enclave nodes on Ray needs the optional 'ray' package, which is not installed",
            hint=INSTALL_HINT,
        ) from None


def require_ray() -> None:
    """Check that Ray is installed without importing it.

    Raises
    ------
    ConfigurationError
        If Ray is not installed.
    """
    try:
        found = sys.modules.get("ray", True) is not None and importlib.util.find_spec("ray")
    except ValueError:
        found = False
    if not found:
        raise ConfigurationError(
            "running enclave nodes on Ray needs the optional 'ray' package, which is not installed",
            hint=INSTALL_HINT,
        )


def default_node_command() -> str:
    """Return the ``accord`` console script next to this interpreter (the operator's)."""
    return str(Path(sys.executable).with_name("accord"))


def _actor_name(name: str, node_id: str) -> str:
    return f"{_ACTOR_PREFIX}{name}-{node_id}"


def _init_ray(ray: ModuleType, address: str | None, namespace: str) -> None:
    if ray.is_initialized():
        return
    try:
        ray.init(
            address=address,
            namespace=namespace,
            logging_level=logging.WARNING,
            log_to_driver=False,
        )
    except ConnectionError as exc:
        raise TransportError(
            f"cannot connect to the Ray cluster at {address}: {exc}",
            hint="Check the address (the head's GCS address, e.g. 10.0.0.5:6379) and that "
            "this machine runs the same Ray and Python versions as the cluster.",
        ) from None


class RayNodes:
    """Handles on the node actors of one collaboration on a Ray cluster.

    Build it with :func:`start_ray_nodes` (new actors) or :meth:`attach` (running ones).

    Parameters
    ----------
    name
        The deployment's name (actor names are ``accord-node-<name>-<node id>``).
    actors
        The actor handles, by node id.
    namespace
        The Ray namespace of the actors.
    """

    def __init__(self, name: str, actors: Mapping[str, Any], namespace: str) -> None:
        self.name = name
        self.namespace = namespace
        self._actors = dict(actors)
        self.registered: dict[str, str] = {}
        """The address each node was last registered at, by node id."""

    @property
    def node_ids(self) -> tuple[str, ...]:
        """The node ids, in order."""
        return tuple(self._actors)

    def actor(self, node_id: str) -> Any:
        """Return the Ray actor handle of a node."""
        try:
            return self._actors[node_id]
        except KeyError:
            raise UsageError(
                f"no node actor {node_id!r}; nodes: {', '.join(self._actors)}"
            ) from None

    def describe(self, timeout: float = 60.0) -> dict[str, NodeDescription]:
        """Ask every actor for its public description (waits for restarting actors).

        Raises
        ------
        TransportError
            If an actor does not answer within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        return {
            node_id: self._describe_one(node_id, actor, deadline)
            for node_id, actor in self._actors.items()
        }

    def _describe_one(self, node_id: str, actor: Any, deadline: float) -> NodeDescription:
        ray = import_ray()
        while True:
            left = max(deadline - time.monotonic(), 0.0)
            try:
                return NodeDescription.from_mapping(ray.get(actor.describe.remote(), timeout=left))
            except ray.exceptions.ActorUnavailableError:
                # Ray is restarting the actor: ask again until the deadline.
                if time.monotonic() >= deadline:
                    raise TransportError(
                        f"node actor {node_id} of {self.name!r} stayed unavailable",
                        hint="See the actor's log on its Ray node (ray logs).",
                    ) from None
                time.sleep(_BIND_RETRY_SECONDS)
            except (ray.exceptions.GetTimeoutError, ray.exceptions.RayActorError) as exc:
                raise TransportError(
                    f"node actor {node_id} of {self.name!r} did not answer: {type(exc).__name__}",
                    hint="See the actor's log on its Ray node (ray logs).",
                ) from None

    def register(self, *_args: object, **_kwargs: object) -> None:
        """Refuse: the operator's key must never be loaded while connected to Ray.

        Raises
        ------
        UsageError
            Always; see :func:`register_nodes`.
        """
        raise UsageError(
            "RayNodes.register is not available: the operator's key must not be loaded in a "
            "process that talks to Ray (Ray unpickles into it)",
            hint="Run 'accord cluster up', or pass the nodes' public descriptions as JSON to "
            "a process without Ray and call register_nodes there.",
        )

    def stop(self, grace: float = 3.0) -> None:
        """Stop every node actor for good (no restart)."""
        ray = import_ray()
        for actor in self._actors.values():
            try:
                ray.get(actor.stop.remote(grace), timeout=grace + 5.0)
            except Exception:  # an actor already gone is what stop wants
                _log.debug("a node actor did not stop gracefully")
            ray.kill(actor, no_restart=True)
        self._actors.clear()

    def kill(self, node_id: str) -> None:
        """Kill a node actor as a crash would; Ray restarts it with a new session."""
        import_ray().kill(self.actor(node_id), no_restart=False)

    def restart(self, node_id: str, timeout: float = 120.0) -> NodeDescription:
        """Kill a node actor and wait until Ray has restarted it with a new session.

        Raises
        ------
        TransportError
            If the restarted actor does not answer with a new session within ``timeout``.
        """
        deadline = time.monotonic() + timeout
        actor = self.actor(node_id)
        old = self._describe_one(node_id, actor, deadline).session_id
        self.kill(node_id)
        while True:
            node = self._describe_one(node_id, actor, deadline)
            if node.session_id != old:
                return node
            if time.monotonic() >= deadline:
                raise TransportError(f"node actor {node_id} was not restarted in time")
            time.sleep(_BIND_RETRY_SECONDS)

    @classmethod
    def attach(
        cls, address: str | None, *, name: str = "accord", namespace: str = DEFAULT_NAMESPACE
    ) -> RayNodes:
        """Find the running node actors of deployment ``name`` (connects to Ray if needed)."""
        ray = import_ray()
        _init_ray(ray, address, namespace)
        prefix = f"{_ACTOR_PREFIX}{name}-"
        actors = {}
        for entry in ray.util.list_named_actors(all_namespaces=True):
            if entry["namespace"] == namespace and entry["name"].startswith(prefix):
                actors[entry["name"][len(prefix) :]] = ray.get_actor(
                    entry["name"], namespace=namespace
                )
        return cls(name, dict(sorted(actors.items())), namespace)


def register_nodes(
    described: Mapping[str, NodeDescription],
    orchestrator: str,
    *,
    orchestrator_certificate: bytes,
    operator: PartyIdentity | Path,
    already: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> dict[str, str]:
    """Register nodes with the orchestrator as the operator; no Ray involved.

    Call it only in a process that has never talked to Ray: ``accord cluster up`` runs Ray in
    a child process and calls this in the parent on the checked JSON descriptions, so that the
    operator's key is never in a process that unpickled what Ray sends.

    Parameters
    ----------
    described
        The nodes' public descriptions, by node id.
    orchestrator
        ``host:port`` of the orchestrator.
    orchestrator_certificate
        Its TLS certificate (PEM), pinned.
    operator
        The operator's identity or folder without passphrase.
    already
        The address each node is already registered at; those are skipped.
    timeout
        Seconds each registration may take.

    Returns
    -------
    dict[str, str]
        The address each node is now registered at, by node id.

    Raises
    ------
    TransportError
        If the orchestrator cannot attest a node it was given.
    """
    from accord.orchestrator import register_node
    from accord.party import PartyIdentity
    from accord.transport import TlsIdentity

    party = (
        operator
        if isinstance(operator, PartyIdentity)
        else PartyIdentity.load(operator, passphrase=None)
    )
    identity = TlsIdentity.from_key(party.tls_key, party.tls_certificate_pem)
    registered = dict(already or {})
    for node_id, node in described.items():
        if registered.get(node_id) == node.address:
            continue
        info = register_node(
            orchestrator,
            orchestrator_certificate=orchestrator_certificate,
            operator=identity,
            node_id=node_id,
            address=node.address,
            timeout=timeout,
        )
        if info.state not in ("ready", "restarted"):
            raise TransportError(
                f"the orchestrator lists node {node_id} at {node.address} as {info.state!r}",
                hint="Check that the orchestrator can reach that address and that the "
                "node's measurement is in the agreement.",
            )
        registered[node_id] = node.address
    return registered


def start_ray_nodes(
    address: str | None,
    *,
    nodes: int,
    agreement: Path,
    state_dir: str,
    name: str = "accord",
    backend: str | None = None,
    host: str | None = None,
    resources: Mapping[str, float] | None = None,
    num_cpus: float = 0.0,
    max_restarts: int = -1,
    namespace: str = DEFAULT_NAMESPACE,
    timeout: float = 120.0,
    node_command: str | None = None,
) -> RayNodes:
    """Start ``nodes`` enclave node actors on the Ray cluster at ``address``.

    Parameters
    ----------
    address
        The Ray cluster (``host:port`` of its head); ``None`` for the one Ray finds.
    nodes
        How many node actors (ids ``node-1`` .. ``node-N``).
    agreement
        The signed agreement file; its text is what the actors receive.
    state_dir
        A folder path valid on every Ray node (``~`` is the actor's home), for each
        node's port and ciphertext blobs.
    name
        The deployment's name, so that several collaborations can share a Ray cluster.
    backend
        The attestation backend, or ``None`` for the agreement's only one.
    host
        The address nodes listen on and are registered at; ``None`` for each Ray node's IP.
    resources
        Ray resources each actor asks for, e.g. ``{"enclave": 1}`` where every TEE host
        offers ``enclave: 1`` (one node per host).
    num_cpus
        CPUs each actor reserves in Ray's scheduler.
    max_restarts
        How often Ray restarts a dead actor (-1: always).
    namespace
        The Ray namespace.
    timeout
        Seconds the actors may take to start.
    node_command
        The absolute path of the measured ``accord`` console script (or of the Python
        interpreter of the measured install) on every Ray host; ``None`` for
        :func:`default_node_command`.

    Returns
    -------
    RayNodes
        The running actors (not yet registered; see :func:`register_nodes`).

    Raises
    ------
    UsageError
        If ``nodes`` is below 1, or actors of this deployment already run.
    ConfigurationError
        If Ray is not installed.
    TransportError
        If Ray is unreachable or an actor fails to start (started actors are stopped).
    """
    if nodes < 1:
        raise UsageError(f"a Ray deployment needs at least one node, not {nodes}")
    try:
        text = Path(agreement).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the agreement {agreement}: {exc.strerror}") from None
    ray = import_ray()
    _init_ray(ray, address, namespace)
    existing = RayNodes.attach(address, name=name, namespace=namespace)
    if existing.node_ids:
        raise UsageError(
            f"deployment {name!r} already runs nodes {', '.join(existing.node_ids)} on Ray",
            hint="Stop them first (accord cluster down), or choose another --name.",
        )
    command = node_command or default_node_command()
    if not Path(command).is_absolute():
        raise UsageError(f"the node command must be an absolute path, not {command!r}")
    remote = ray.remote(EnclaveNodeActor)
    actors = {}
    for index in range(1, nodes + 1):
        node_id = f"node-{index}"
        actors[node_id] = remote.options(
            name=_actor_name(name, node_id),
            namespace=namespace,
            lifetime="detached",
            max_restarts=max_restarts,
            num_cpus=num_cpus,
            resources=dict(resources or {}),
            scheduling_strategy="SPREAD",
        ).remote(text, node_id, backend, host, state_dir, command)
    running = RayNodes(name, actors, namespace)
    try:
        running.describe(timeout)
    except BaseException:
        running.stop()
        raise
    return running


def stop_ray_nodes(
    address: str | None, *, name: str = "accord", namespace: str = DEFAULT_NAMESPACE
) -> Sequence[str]:
    """Stop every node actor of deployment ``name``; return the node ids stopped."""
    running = RayNodes.attach(address, name=name, namespace=namespace)
    stopped = running.node_ids
    running.stop()
    return stopped
