"""``accord cluster up/down``: enclave nodes as actors on an existing Ray cluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from accord.cli.common import make_console, open_party
from accord.errors import UsageError

__all__ = ["app", "down", "parse_resources", "register", "up"]

app = typer.Typer(
    help="Run enclave nodes on an existing Ray cluster (needs: pip install 'accord[ray]').",
    no_args_is_help=True,
)

_RayAddress = Annotated[
    str,
    typer.Option("--ray", metavar="ADDRESS", help="The Ray cluster's head, e.g. 10.0.0.5:6379."),
]
_Name = Annotated[
    str,
    typer.Option("--name", help="The deployment's name (several may share a Ray cluster)."),
]
_Namespace = Annotated[str, typer.Option("--namespace", help="The Ray namespace of the actors.")]


def parse_resources(text: str | None) -> dict[str, float]:
    """Parse ``--resources``: a JSON object of Ray resource names to non-negative amounts.

    Parameters
    ----------
    text
        The option's value, or ``None`` for no resources.

    Returns
    -------
    dict[str, float]
        The amounts by resource name.

    Raises
    ------
    UsageError
        If the text is not such an object.
    """
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--resources is not JSON: {exc.msg}") from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool) and v >= 0
        for k, v in value.items()
    ):
        raise UsageError(
            "--resources must be a JSON object of resource names to non-negative numbers",
            hint="For example --resources '{\"enclave\": 1}'.",
        )
    return {key: float(amount) for key, amount in value.items()}


@app.command("up")
def up(
    ray_address: _RayAddress,
    nodes: Annotated[int, typer.Option("--nodes", min=1, help="How many enclave nodes.")],
    agreement: Annotated[
        Path,
        typer.Option("--agreement", metavar="FILE", exists=True, dir_okay=False),
    ],
    orchestrator: Annotated[
        str, typer.Option("--orchestrator", metavar="HOST:PORT", help="Where to register them.")
    ],
    orchestrator_cert: Annotated[
        Path,
        typer.Option(
            "--orchestrator-cert",
            metavar="FILE",
            exists=True,
            dir_okay=False,
            help="The orchestrator's TLS certificate (PEM), pinned.",
        ),
    ],
    operator: Annotated[
        Path,
        typer.Option(
            "--operator",
            metavar="DIR",
            exists=True,
            file_okay=False,
            help="The operator's folder (accord party init); its certificate must be in the "
            "orchestrator's operator_certificates.",
        ),
    ],
    state_dir: Annotated[
        str,
        typer.Option(
            "--state-dir",
            metavar="DIR",
            help="A folder on every Ray node for ports and ciphertext blobs (~ is the "
            "home of the Ray worker).",
        ),
    ] = "~/.accord/ray-nodes",
    resources: Annotated[
        str | None,
        typer.Option(
            "--resources",
            metavar="JSON",
            help="Ray resources each node actor asks for, e.g. '{\"enclave\": 1}'.",
        ),
    ] = None,
    backend: Annotated[
        str | None, typer.Option("--backend", help="Attestation backend of the nodes.")
    ] = None,
    host: Annotated[
        str | None,
        typer.Option("--host", help="Address nodes listen on (default: each Ray node's IP)."),
    ] = None,
    node_command: Annotated[
        str | None,
        typer.Option(
            "--node-command",
            metavar="PATH",
            help="Absolute path of the accord script (or the Python interpreter) of the "
            "measured install on every Ray host (default: the accord script next to this "
            "interpreter). It must be the measured install on every Ray host.",
        ),
    ] = None,
    name: _Name = "accord",
    namespace: _Namespace = "accord",
) -> None:
    """Start enclave nodes as Ray actors and register them with the orchestrator.

    Each actor supervises an "accord node" process that creates its own enclave session;
    its keys never enter the actor or Ray. Ray restarts a dead actor, which starts a new
    node process with a new session (parties must then attest and provision again).
    Running "up" again registers the running nodes. All Ray work runs in a child process
    that holds no key; this process loads the operator key only after checking its output.
    """
    from accord.cluster.ray import default_node_command, register_nodes, require_ray
    from accord.cluster.ray_driver import parse_descriptions, run_driver

    certificate = orchestrator_cert.read_bytes()
    command = node_command or default_node_command()
    arguments = [
        "up", "--ray", ray_address, "--name", name, "--namespace", namespace,
        "--nodes", str(nodes), "--agreement", str(agreement.resolve()),
        "--state-dir", state_dir, "--resources", json.dumps(parse_resources(resources)),
        "--node-command", command,
    ]  # fmt: skip
    if backend is not None:
        arguments += ["--backend", backend]
    if host is not None:
        arguments += ["--host", host]
    require_ray()
    # Ray's data is unpickled only in the child; this process gets strictly checked JSON.
    described = parse_descriptions(run_driver(arguments))
    operator_identity = open_party(operator)
    register_nodes(
        described, orchestrator, orchestrator_certificate=certificate, operator=operator_identity
    )
    console = make_console()
    for node_id, node in described.items():
        console.print(f"{node_id} address={node.address} session={node.session_id}")


@app.command("down")
def down(
    ray_address: _RayAddress, name: _Name = "accord", namespace: _Namespace = "accord"
) -> None:
    """Stop the deployment's node actors (their sessions and keys end with them)."""
    from accord.cluster.ray import require_ray
    from accord.cluster.ray_driver import parse_stopped, run_driver

    require_ray()
    arguments = ["down", "--ray", ray_address, "--name", name, "--namespace", namespace]
    stopped = parse_stopped(run_driver(arguments))
    console = make_console()
    if stopped:
        console.print(f"stopped {', '.join(stopped)}")
    else:
        console.print(f"no node actors of {name!r} were running")


def register(parent: typer.Typer) -> None:
    """Add the ``cluster`` command group to ``parent``."""
    parent.add_typer(app, name="cluster")
