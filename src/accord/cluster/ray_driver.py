"""The Ray side of ``accord cluster up/down``, run in its own process that holds no secret.

Talking to Ray means unpickling what Ray sends, and code planted by unpickling outlives
``ray.shutdown()``. So the command runs every Ray interaction in a child process
(``python -I -m accord.cluster.ray_driver up|down ...``) that never loads a key and prints
one JSON object on standard output; the parent checks every field strictly
(:func:`parse_descriptions`) before it loads the operator's key and registers the nodes.

Output: ``{"nodes": {node_id: description}}`` for ``up``, ``{"stopped": [node_id, ...]}``
for ``down``, or ``{"error": message, "hint": hint}`` with exit status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from accord.cluster.ray_actor import NodeDescription
from accord.errors import AccordError, ConfigurationError, TransportError, UsageError

__all__ = ["main", "parse_descriptions", "parse_stopped", "run_driver"]

_FIELD_PATTERNS: Final = {
    "node_id": re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"),
    "address": re.compile(r"[A-Za-z0-9.-]{1,253}:[0-9]{1,5}"),
    "session_id": re.compile(r"[0-9a-f]{32}"),
    "certificate_pem": re.compile(
        r"-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]{1,16384}-----END CERTIFICATE-----\n?"
    ),
    "ray_node_id": re.compile(r"[0-9a-f]{1,128}"),
}
_MAX_OUTPUT: Final = 1 << 20
_ERROR_KINDS: Final[dict[str, type[AccordError]]] = {
    "UsageError": UsageError,
    "ConfigurationError": ConfigurationError,
    "TransportError": TransportError,
}


def _checked(node_id: str, value: object) -> NodeDescription:
    if not isinstance(value, dict) or set(value) != set(_FIELD_PATTERNS):
        raise TransportError(f"the Ray driver's description of {node_id!r} has the wrong fields")
    for field, pattern in _FIELD_PATTERNS.items():
        item = value[field]
        if type(item) is not str or pattern.fullmatch(item) is None:
            raise TransportError(f"the Ray driver's {field} of node {node_id!r} is malformed")
    port = int(value["address"].rsplit(":", 1)[1])
    if not 0 < port < 65536 or value["node_id"] != node_id:
        raise TransportError(f"the Ray driver's description of node {node_id!r} is inconsistent")
    return NodeDescription(**value)


def parse_descriptions(text: str) -> dict[str, NodeDescription]:
    """Parse and strictly check the node descriptions the driver printed.

    Parameters
    ----------
    text
        The driver's standard output.

    Returns
    -------
    dict[str, NodeDescription]
        The nodes, by id.

    Raises
    ------
    TransportError
        If the output is not exactly the expected JSON of well-formed public fields.
    """
    nodes = _load(text).get("nodes")
    if not isinstance(nodes, dict):
        raise TransportError("the Ray driver's output has no 'nodes' object")
    for node_id in nodes:
        if _FIELD_PATTERNS["node_id"].fullmatch(node_id) is None:
            raise TransportError("the Ray driver's output names a malformed node id")
    return {node_id: _checked(node_id, value) for node_id, value in nodes.items()}


def parse_stopped(text: str) -> list[str]:
    """Parse the node ids the driver's ``down`` printed (each checked like a node id)."""
    stopped = _load(text).get("stopped")
    if not isinstance(stopped, list) or not all(
        type(item) is str and _FIELD_PATTERNS["node_id"].fullmatch(item) for item in stopped
    ):
        raise TransportError("the Ray driver's output has no well-formed 'stopped' list")
    return list(stopped)


def _load(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise TransportError("the Ray driver's output is not JSON") from None
    if not isinstance(value, dict):
        raise TransportError("the Ray driver's output is not a JSON object")
    if "error" in value:
        message, hint = value.get("error"), value.get("hint")
        kind = _ERROR_KINDS.get(str(value.get("kind")), TransportError)
        raise kind(
            f"Ray: {message if type(message) is str else 'failed'}"[:2000],
            hint=hint[:2000] if type(hint) is str else None,
        )
    return value


def run_driver(arguments: Sequence[str], timeout: float = 600.0) -> str:
    """Run the driver in a fresh isolated interpreter; return its standard output.

    Parameters
    ----------
    arguments
        The driver's arguments (``up ...`` or ``down ...``).
    timeout
        Seconds it may take.

    Returns
    -------
    str
        Its standard output (at most 1 MiB is accepted).

    Raises
    ------
    TransportError
        If it does not finish in time or prints too much.
    """
    try:
        done = subprocess.run(  # noqa: S603 (this interpreter, fixed module)
            [sys.executable, "-I", "-m", "accord.cluster.ray_driver", *arguments],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TransportError(f"the Ray driver did not finish within {timeout:g} s") from None
    if len(done.stdout) > _MAX_OUTPUT:
        raise TransportError("the Ray driver printed more than 1 MiB")
    output = done.stdout.decode("utf-8", "replace")
    if done.returncode != 0 and not output.strip():
        tail = done.stderr.decode("utf-8", "replace")[-1000:]
        raise TransportError(f"the Ray driver exited with status {done.returncode}: {tail}")
    return output


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="accord.cluster.ray_driver")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in ("up", "down"):
        sub = commands.add_parser(command)
        sub.add_argument("--ray", required=True)
        sub.add_argument("--name", required=True)
        sub.add_argument("--namespace", required=True)
    up = commands.choices["up"]
    up.add_argument("--nodes", type=int, required=True)
    up.add_argument("--agreement", type=Path, required=True)
    up.add_argument("--state-dir", required=True)
    up.add_argument("--resources", default="{}")
    up.add_argument("--backend")
    up.add_argument("--host")
    up.add_argument("--node-command", required=True)
    return parser


def _up(options: argparse.Namespace) -> dict[str, Any]:
    from accord.cluster.ray import RayNodes, start_ray_nodes

    running = RayNodes.attach(options.ray, name=options.name, namespace=options.namespace)
    if not running.node_ids:
        running = start_ray_nodes(
            options.ray,
            nodes=options.nodes,
            agreement=options.agreement,
            state_dir=options.state_dir,
            name=options.name,
            backend=options.backend,
            host=options.host,
            resources=json.loads(options.resources),
            namespace=options.namespace,
            node_command=options.node_command,
        )
    described = running.describe()
    return {"nodes": {i: vars(node) for i, node in described.items()}}


def _down(options: argparse.Namespace) -> dict[str, Any]:
    from accord.cluster.ray import stop_ray_nodes

    stopped = stop_ray_nodes(options.ray, name=options.name, namespace=options.namespace)
    return {"stopped": list(stopped)}


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``up`` or ``down`` against Ray and print the JSON result; return the exit status."""
    options = _parser().parse_args(argv)
    # Only the JSON goes to standard output: whatever Ray writes there goes to stderr instead.
    sys.stdout.flush()
    result_fd = os.dup(1)
    os.dup2(2, 1)
    try:
        result = _up(options) if options.command == "up" else _down(options)
        status = 0
    except AccordError as error:
        kind = type(error).__name__
        result, status = {"error": error.message, "hint": error.hint, "kind": kind}, 1
    finally:
        from accord.cluster.ray import import_ray

        with contextlib.suppress(AccordError):
            import_ray().shutdown()
    sys.stdout.flush()
    with os.fdopen(result_fd, "w", encoding="utf-8") as out:
        out.write(json.dumps(result) + "\n")
    return status


if __name__ == "__main__":  # pragma: no cover - run as a module by run_driver
    sys.exit(main())
