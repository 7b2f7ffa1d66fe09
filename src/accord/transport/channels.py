"""gRPC channels and servers with Accord's limits: message size, keepalive and deadlines.

Every Accord channel and server takes its options from here, so clients and servers agree:

=====================================  ==============================================
setting                                value
=====================================  ==============================================
largest message, either direction      :data:`MAX_MESSAGE_BYTES` (8 MiB); stream
                                       larger payloads (blobs) in chunks
keepalive ping interval / ack timeout  :data:`KEEPALIVE_TIME_MS` / :data:`KEEPALIVE_TIMEOUT_MS`,
                                       also without active calls, so a dead peer is
                                       noticed within about 40 s
reconnect backoff                      250 ms growing to 5 s
per-call deadline                      :data:`DEFAULT_CALL_TIMEOUT` unless the caller
                                       passes one to :func:`accord.transport.call`
servers                                ``SO_REUSEPORT`` off, so two servers never
                                       share a port by accident
calls in progress per server           at most :data:`QUEUED_CALLS_PER_WORKER` per
                                       worker thread; more are refused with
                                       ``RESOURCE_EXHAUSTED``
=====================================  ==============================================
"""

from __future__ import annotations

from concurrent import futures
from typing import Final

import grpc

from accord.errors import TransportError, UsageError
from accord.transport._address import split_address
from accord.transport.certificates import certificate_server_name
from accord.transport.tls import TlsIdentity, pinned_channel_credentials

__all__ = [
    "DEFAULT_CALL_TIMEOUT",
    "KEEPALIVE_TIMEOUT_MS",
    "KEEPALIVE_TIME_MS",
    "MAX_MESSAGE_BYTES",
    "QUEUED_CALLS_PER_WORKER",
    "ChannelOption",
    "bind_server",
    "channel_options",
    "create_server",
    "pinned_channel",
    "secure_channel",
    "server_options",
    "split_address",
]

MAX_MESSAGE_BYTES: Final = 8 * 1024 * 1024
"""The largest gRPC message Accord sends or accepts: 8 MiB."""

KEEPALIVE_TIME_MS: Final = 30_000
"""Milliseconds between keepalive pings on an idle connection."""

KEEPALIVE_TIMEOUT_MS: Final = 10_000
"""Milliseconds to wait for a ping's acknowledgement before closing the connection."""

DEFAULT_CALL_TIMEOUT: Final = 30.0
"""Seconds a call may take when its caller does not say otherwise."""

QUEUED_CALLS_PER_WORKER: Final = 4
"""A server accepts at most this many calls per worker thread at once (served or waiting)."""

_RECONNECT_BACKOFF_MIN_MS: Final = 250
_RECONNECT_BACKOFF_MAX_MS: Final = 5_000

ChannelOption = tuple[str, int | str]
"""One gRPC channel argument: ``(name, value)``."""


def _common_options() -> list[ChannelOption]:
    return [
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
        ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
    ]


def channel_options(*, server_name: str | None = None) -> list[ChannelOption]:
    """Return the options of every Accord client channel.

    Parameters
    ----------
    server_name
        The name to expect in the server's certificate instead of the address's host
        (``grpc.ssl_target_name_override``); used with pinned self-signed certificates.

    Returns
    -------
    list[ChannelOption]
        A fresh list, safe to extend.
    """
    options = [
        *_common_options(),
        ("grpc.initial_reconnect_backoff_ms", _RECONNECT_BACKOFF_MIN_MS),
        ("grpc.min_reconnect_backoff_ms", _RECONNECT_BACKOFF_MIN_MS),
        ("grpc.max_reconnect_backoff_ms", _RECONNECT_BACKOFF_MAX_MS),
    ]
    if server_name is not None:
        options.append(("grpc.ssl_target_name_override", server_name))
    return options


def server_options() -> list[ChannelOption]:
    """Return the options of every Accord gRPC server.

    The same message limits and keepalive as clients; servers also accept the clients'
    keepalive pings on idle connections and refuse to share their port.

    Returns
    -------
    list[ChannelOption]
        A fresh list, safe to extend.
    """
    return [
        *_common_options(),
        ("grpc.http2.min_ping_interval_without_data_ms", KEEPALIVE_TIME_MS // 2),
        ("grpc.so_reuseport", 0),
    ]


def secure_channel(
    address: str, credentials: grpc.ChannelCredentials, *, server_name: str | None = None
) -> grpc.Channel:
    """Open a TLS channel with Accord's options.

    Parameters
    ----------
    address
        ``host:port`` of the server.
    credentials
        Channel credentials, usually from :func:`accord.transport.pinned_channel_credentials`.
    server_name
        The name the server's certificate must carry, if not the address's host.

    Returns
    -------
    grpc.Channel
        The channel; it connects lazily. Close it (or use it as a context manager).

    Raises
    ------
    UsageError
        If the address is not ``host:port``.
    """
    split_address(address)
    return grpc.secure_channel(
        address, credentials, options=channel_options(server_name=server_name)
    )


def pinned_channel(
    address: str, server_certificate_pem: bytes, *, client: TlsIdentity | None = None
) -> grpc.Channel:
    """Open a channel that trusts exactly one server certificate.

    The certificate's DNS name (:func:`accord.transport.certificate_server_name`) is the
    expected server name, so connecting by IP address works.

    Parameters
    ----------
    address
        ``host:port`` of the server.
    server_certificate_pem
        The certificate to pin: an enclave node's (checked against attestation with
        :func:`accord.transport.check_attested_tls_key`) or the orchestrator's.
    client
        The party's TLS identity for mutual TLS with the orchestrator; ``None`` for nodes.

    Returns
    -------
    grpc.Channel
        The channel. A server presenting any other certificate fails the handshake, and
        calls raise :class:`~accord.errors.TransportError` through
        :func:`accord.transport.call`.

    Raises
    ------
    UsageError
        If the address is not ``host:port``.
    VerificationError
        If the certificate is not exactly one PEM certificate with a usable name.
    """
    return secure_channel(
        address,
        pinned_channel_credentials(server_certificate_pem, client=client),
        server_name=certificate_server_name(server_certificate_pem),
    )


def create_server(
    *, max_workers: int = 8, maximum_concurrent_rpcs: int | None = None
) -> grpc.Server:
    """Create a gRPC server with Accord's options and a thread pool.

    Calls beyond ``max_workers`` wait for a free worker; calls beyond
    ``maximum_concurrent_rpcs`` (served and waiting together) are refused at once with
    ``RESOURCE_EXHAUSTED``, so a flood of calls cannot queue without bound. Long calls
    (streams) should also take a place of a :class:`accord.transport.ConcurrencyLimit`
    smaller than ``max_workers``, so that workers stay free for short calls.

    Parameters
    ----------
    max_workers
        Threads serving calls; also the number of calls served at once.
    maximum_concurrent_rpcs
        The most calls in progress, served or waiting for a worker; by default
        :data:`QUEUED_CALLS_PER_WORKER` times ``max_workers``.

    Returns
    -------
    grpc.Server
        The server, not started: add servicers, :func:`bind_server`, then ``start()``.

    Raises
    ------
    UsageError
        If ``max_workers`` is less than 1, or ``maximum_concurrent_rpcs`` less than
        ``max_workers``.
    """
    if max_workers < 1:
        raise UsageError(f"a server needs at least one worker thread, got {max_workers}")
    limit = (
        max_workers * QUEUED_CALLS_PER_WORKER
        if maximum_concurrent_rpcs is None
        else maximum_concurrent_rpcs
    )
    if limit < max_workers:
        raise UsageError(
            f"maximum_concurrent_rpcs ({limit}) must be at least max_workers ({max_workers})"
        )
    executor = futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="accord-rpc")
    return grpc.server(executor, options=server_options(), maximum_concurrent_rpcs=limit)


def bind_server(server: grpc.Server, address: str, credentials: grpc.ServerCredentials) -> str:
    """Listen with TLS on ``address``; port 0 picks a free port.

    Parameters
    ----------
    server
        A server from :func:`create_server`, not yet started.
    address
        ``host:port`` to listen on, for example ``127.0.0.1:0``.
    credentials
        From :func:`accord.transport.server_credentials` or
        :func:`accord.transport.mutual_tls_server_credentials`.

    Returns
    -------
    str
        The address actually bound, ``host:port`` with the real port.

    Raises
    ------
    UsageError
        If the address is not ``host:port``.
    TransportError
        If the address cannot be bound (in use, not local, not permitted).
    """
    host, _ = split_address(address)
    try:
        port = server.add_secure_port(address, credentials)
    except RuntimeError as exc:
        raise TransportError(
            f"cannot listen on {address}: {exc}",
            hint="Choose a free port on a local address (port 0 picks one).",
        ) from None
    if not port:
        raise TransportError(
            f"cannot listen on {address}",
            hint="Choose a free port on a local address (port 0 picks one).",
        )
    shown_host = f"[{host}]" if ":" in host else host
    return f"{shown_host}:{port}"
