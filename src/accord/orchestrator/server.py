"""Running the orchestrator: TLS identity, mutual-TLS gRPC server, background sweeps.

:func:`start_orchestrator` starts everything and returns a handle (tests and the local
cluster use it in-process); :func:`serve` is what ``accord orchestrator --config FILE``
runs: it starts, prints ``orchestrator ready address=<host:port>`` and serves until SIGTERM
or SIGINT, then stops cleanly.

The orchestrator's own TLS key and self-signed certificate are made in the data folder on
first start (``tls-key.pem``, mode 0600, and ``tls-cert.pem``) and reused after. Parties pin
that certificate, so hand ``tls-cert.pem`` to them out of band.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import stat
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Final, TextIO

import grpc
from cryptography import x509

from accord._internal.files import write_atomically
from accord.agreement import SignedAgreement, load_signed_agreement
from accord.attest import BackendVerifier
from accord.crypto.keys import SECRET_KEY_ACCESS, TlsPrivateKey
from accord.errors import AccordError, ConfigurationError, KeyMaterialError
from accord.orchestrator.blobs import BlobStore
from accord.orchestrator.config import (
    OrchestratorConfig,
    load_operator_certificates,
    load_party_certificates,
)
from accord.orchestrator.nodes import NodeRegistry
from accord.orchestrator.proposals import ProposalBook, utc_now
from accord.orchestrator.relay import Relay
from accord.orchestrator.service import OrchestratorServicer
from accord.orchestrator.store import DATABASE_FILE_NAME, ProposalStore
from accord.transport import (
    TlsIdentity,
    add_health_service,
    bind_server,
    create_server,
    mutual_tls_server_credentials,
    pem_fingerprint,
    self_signed_server_certificate,
)
from accord.v1 import orchestrator_pb2_grpc

__all__ = [
    "CERTIFICATE_FILE_NAME",
    "KEY_FILE_NAME",
    "SERVER_NAME",
    "RunningOrchestrator",
    "load_or_create_identity",
    "serve",
    "start_orchestrator",
]

CERTIFICATE_FILE_NAME: Final = "tls-cert.pem"
"""The orchestrator's certificate in its data folder (give it to the parties)."""

KEY_FILE_NAME: Final = "tls-key.pem"
"""The orchestrator's TLS private key in its data folder (mode 0600)."""

SERVER_NAME: Final = "accord-orchestrator"
"""The DNS name the orchestrator's certificate carries (clients pin the certificate)."""

_SERVICE_NAME: Final = "accord.v1.Orchestrator"
_WORKERS: Final = 48
_log = logging.getLogger("accord.orchestrator")


def load_or_create_identity(
    data_dir: Path, *, now: Callable[[], dt.datetime] = utc_now
) -> TlsIdentity:
    """Return the orchestrator's TLS identity, making it on first start.

    Parameters
    ----------
    data_dir
        The data folder holding ``tls-key.pem`` and ``tls-cert.pem``.
    now
        The clock for the certificate's validity.

    Returns
    -------
    TlsIdentity
        The key and its self-signed certificate.

    Raises
    ------
    KeyMaterialError
        If only one of the two files exists, the key file is readable by others, the
        files do not belong together, or the certificate has expired.
    """
    key_path, certificate_path = data_dir / KEY_FILE_NAME, data_dir / CERTIFICATE_FILE_NAME
    if not key_path.exists() and not certificate_path.exists():
        key = TlsPrivateKey.generate()
        certificate = self_signed_server_certificate(key, SERVER_NAME, now=now())
        write_atomically(key_path, key.export_pem(SECRET_KEY_ACCESS), mode=0o600, overwrite=False)
        write_atomically(certificate_path, certificate, mode=0o644, overwrite=False)
        _log.info("made the orchestrator's TLS key and certificate in %s", data_dir)
        return TlsIdentity.from_key(key, certificate)
    for path in (key_path, certificate_path):
        if not path.exists():
            raise KeyMaterialError(
                f"{path} is missing but its partner in {data_dir} exists",
                hint=f"Restore it, or delete both {KEY_FILE_NAME} and {CERTIFICATE_FILE_NAME} "
                "to make a new identity (parties must then pin the new certificate).",
            )
    if stat.S_IMODE(key_path.stat().st_mode) & 0o077:
        raise KeyMaterialError(
            f"{key_path} can be read by other users",
            hint=f"Run: chmod 600 {key_path}",
        )
    certificate = certificate_path.read_bytes()
    identity = TlsIdentity.from_key(
        TlsPrivateKey.from_pem(key_path.read_bytes(), SECRET_KEY_ACCESS), certificate
    )
    expires = x509.load_pem_x509_certificate(certificate).not_valid_after_utc
    if expires <= now():
        raise KeyMaterialError(
            f"{certificate_path} expired at {expires:%Y-%m-%dT%H:%M:%SZ}",
            hint=f"Delete {KEY_FILE_NAME} and {CERTIFICATE_FILE_NAME} to make a new identity, "
            "and give the new certificate to the parties.",
        )
    return identity


@dataclass
class RunningOrchestrator:
    """A started orchestrator; stop it with :meth:`stop` (or use it as a context manager).

    Attributes
    ----------
    address
        ``host:port`` it listens on (the real port when the configuration said 0).
    certificate_path
        Its certificate file, which parties pin.
    certificate_pem
        The certificate.
    agreement, store, book, registry, relay, blobs
        Its parts, for inspection.
    """

    address: str
    certificate_path: Path
    certificate_pem: bytes
    agreement: SignedAgreement
    store: ProposalStore
    book: ProposalBook
    registry: NodeRegistry
    relay: Relay
    blobs: BlobStore
    _server: grpc.Server
    _health: Any
    _stop_background: threading.Event
    _background: list[threading.Thread]

    def stop(self, grace: float = 5.0) -> None:
        """Stop serving, finish running relays (up to ``grace`` s) and close the database."""
        if self._stop_background.is_set():
            return
        self._stop_background.set()
        self._health.enter_graceful_shutdown()
        self._server.stop(grace).wait(grace + 1.0)
        self.relay.close(timeout=grace)
        for thread in self._background:
            thread.join(grace)
        self.registry.close()
        self.store.close()
        _log.info("orchestrator stopped")

    def __enter__(self) -> RunningOrchestrator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_orchestrator(
    config: OrchestratorConfig,
    *,
    now: Callable[[], dt.datetime] = utc_now,
    backends: Mapping[str, BackendVerifier] | None = None,
) -> RunningOrchestrator:
    """Start an orchestrator from its configuration and return once it serves.

    Parameters
    ----------
    config
        The checked configuration.
    now
        The clock for proposal expiry and certificates.
    backends
        Attestation backend verifiers for the nodes' evidence (default: Accord's).

    Returns
    -------
    RunningOrchestrator
        The running orchestrator.

    Raises
    ------
    ConfigurationError
        If the agreement, the party certificates or the data folder cannot be used.
    VerificationError
        If the agreement is not signed by every party.
    TransportError
        If the listen address cannot be bound.
    """
    agreement = load_signed_agreement(config.agreement_path)
    party_certificates = load_party_certificates(config, agreement)
    operator_certificates = load_operator_certificates(config)
    data_dir = config.data_dir
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot create the data folder {data_dir}: {exc.strerror}",
            hint="Choose a writable folder as data_dir.",
        ) from None
    identity = load_or_create_identity(data_dir, now=now)
    store = ProposalStore(data_dir / DATABASE_FILE_NAME)
    try:
        blobs = BlobStore(data_dir / "blobs", max_bytes=config.max_blob_bytes)
        book = ProposalBook(
            store, agreement, max_ttl=dt.timedelta(seconds=config.proposal_ttl_seconds), now=now
        )
        registry = NodeRegistry(
            store, agreement, backends=backends, now=now, max_nodes=config.max_nodes
        )
        registry.configure(config.nodes)
        relay = Relay(book, registry, blobs, execute_timeout=config.execute_timeout_seconds)
        book.set_dispatcher(relay.dispatch)
        server = create_server(max_workers=_WORKERS)
        orchestrator_pb2_grpc.add_OrchestratorServicer_to_server(  # type: ignore[no-untyped-call]
            OrchestratorServicer(
                agreement,
                book,
                registry,
                blobs,
                operators=list(operator_certificates),
                stream_idle_seconds=config.stream_idle_seconds,
            ),
            server,
        )
        health = add_health_service(server, services=[_SERVICE_NAME])
        trusted = list(party_certificates.values())
        trusted += [pem for pem in operator_certificates.values() if pem not in trusted]
        credentials = mutual_tls_server_credentials(identity, trusted)
        address = bind_server(server, config.listen, credentials)
        server.start()
    except BaseException:
        store.close()
        raise
    stop = threading.Event()
    background = [
        _every(config.sweep_interval_seconds, stop, book.sweep, "accord-sweep"),
        _every(config.node_refresh_seconds, stop, registry.refresh_all, "accord-nodes"),
    ]
    book.recover()
    _log.info(
        "orchestrator for agreement %s serving on %s (certificate %s)",
        agreement.digest,
        address,
        pem_fingerprint(identity.certificate_pem),
    )
    return RunningOrchestrator(
        address=address,
        certificate_path=data_dir / CERTIFICATE_FILE_NAME,
        certificate_pem=identity.certificate_pem,
        agreement=agreement,
        store=store,
        book=book,
        registry=registry,
        relay=relay,
        blobs=blobs,
        _server=server,
        _health=health,
        _stop_background=stop,
        _background=background,
    )


def _every(
    interval: float, stop: threading.Event, action: Callable[[], object], name: str
) -> threading.Thread:
    """Run ``action`` now and then every ``interval`` seconds until ``stop`` is set."""

    def loop() -> None:
        while not stop.is_set():
            try:
                action()
            except AccordError as error:
                _log.warning("%s: %s", name, error.message)
            except Exception:  # keep the loop alive; the log says what broke
                if stop.is_set():
                    return
                _log.exception("%s failed", name)
            stop.wait(interval)

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    return thread


def serve(config: OrchestratorConfig, *, out: TextIO | None = None) -> None:
    """Run the orchestrator until SIGTERM or SIGINT (what ``accord orchestrator`` does).

    Prints the certificate's path and fingerprint, then ``orchestrator ready
    address=<host:port>`` once serving; on a signal, stops cleanly and returns.

    Parameters
    ----------
    config
        The checked configuration.
    out
        Where to print (standard output by default).
    """
    out = out or sys.stdout
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        orchestrator = start_orchestrator(config)
        try:
            print(
                f"orchestrator certificate={orchestrator.certificate_path} "
                f"sha256={pem_fingerprint(orchestrator.certificate_pem)}",
                file=out,
            )
            print(f"orchestrator ready address={orchestrator.address}", file=out, flush=True)
            while not stop.wait(1.0):
                pass
        finally:
            orchestrator.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("orchestrator stopped", file=out, flush=True)
