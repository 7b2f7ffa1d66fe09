"""``accord node``: run an enclave node for a signed agreement until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated, Final

import typer

from accord.agreement import load_signed_agreement
from accord.cli.sealing import parse_size
from accord.enclave.blobs import DEFAULT_MAX_BLOB_BYTES
from accord.enclave.server import DEFAULT_GRACE_SECONDS, RunningNode, serve
from accord.errors import UsageError

__all__ = ["READY_PREFIX", "node", "ready_line", "register"]

READY_PREFIX: Final = "node ready"
"""The start of the one line ``accord node`` prints on standard output once it serves."""

_LOG_LEVELS: Final = ("debug", "info", "warning", "error")
_STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)
_logger: Final = logging.getLogger("accord.node")


def ready_line(running: RunningNode) -> str:
    """Return the ready line: ``node ready session=<session id> address=<host:port>``.

    Parameters
    ----------
    running
        The serving node.

    Returns
    -------
    str
        The line, without a newline.
    """
    return f"{READY_PREFIX} session={running.session_id} address={running.address}"


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    def request_stop(signum: int, frame: FrameType | None) -> None:
        _logger.info("received %s; stopping", signal.Signals(signum).name)
        stop.set()

    previous = {number: signal.signal(number, request_stop) for number in _STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _print_ready(running: RunningNode) -> None:
    print(ready_line(running), flush=True)


def node(
    agreement: Annotated[
        Path,
        typer.Option(
            "--agreement",
            metavar="FILE",
            help="The agreement, signed by every party.",
            exists=True,
            dir_okay=False,
        ),
    ],
    listen: Annotated[
        str,
        typer.Option(
            "--listen", metavar="HOST:PORT", help="Where to listen; port 0 picks a free port."
        ),
    ] = "127.0.0.1:0",
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend",
            help="Attestation backend (simulated, sgx-dcap, tdx, sev-snp); by default the "
            "one the agreement accepts.",
        ),
    ] = None,
    blob_dir: Annotated[
        Path | None,
        typer.Option(
            "--blob-dir",
            metavar="DIR",
            file_okay=False,
            help="Where to keep uploaded ciphertext blobs (default: a temporary folder "
            "removed on exit).",
        ),
    ] = None,
    max_blob_size: Annotated[
        str,
        typer.Option("--max-blob-size", metavar="SIZE", help="Largest blob accepted, e.g. 512MiB."),
    ] = f"{DEFAULT_MAX_BLOB_BYTES // 1024**3}GiB",
    grace: Annotated[
        float,
        typer.Option(
            "--grace", metavar="SECONDS", min=0.0, help="Time calls in progress get on stop."
        ),
    ] = DEFAULT_GRACE_SECONDS,
    log_level: Annotated[
        str, typer.Option("--log-level", help=f"One of {', '.join(_LOG_LEVELS)}.")
    ] = "info",
) -> None:
    """Run an enclave node: attest, accept key releases, execute approved commands.

    The node creates a fresh enclave session (keys in memory only), serves the EnclaveNode
    gRPC service over TLS with the session's attested key, and prints one line
    "node ready session=<id> address=<host:port>" on standard output once it serves.
    Logs go to standard error. SIGTERM or SIGINT stops it gracefully (exit status 0).
    """
    if log_level.lower() not in _LOG_LEVELS:
        raise UsageError(
            f"unknown log level {log_level!r}", hint=f"Use one of {', '.join(_LOG_LEVELS)}."
        )
    logging.getLogger("accord").setLevel(log_level.upper())
    limit = parse_size(max_blob_size)
    signed = load_signed_agreement(agreement)
    stop = threading.Event()
    with _stop_on_signals(stop):
        serve(
            signed,
            listen=listen,
            stop=stop,
            backend=backend,
            blob_dir=blob_dir,
            max_blob_bytes=limit,
            on_ready=_print_ready,
            grace=grace,
        )


def register(app: typer.Typer) -> None:
    """Add the ``node`` command to ``app``."""
    app.command("node")(node)
