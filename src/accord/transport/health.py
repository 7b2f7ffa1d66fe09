"""Standard gRPC health checking (``grpc.health.v1``) for Accord's servers and clients.

Servers register the health service with :func:`add_health_service` and report SERVING for
the whole server (service name ``""``) and each named service. On shutdown they call
``enter_graceful_shutdown()`` on the returned servicer, which reports NOT_SERVING. Clients
wait with :func:`wait_until_serving`, which polls until SERVING or its timeout passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Final

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from accord.errors import TransportError, UsageError

__all__ = ["add_health_service", "wait_until_serving"]

_FIRST_RETRY_DELAY: Final = 0.05
_MAX_RETRY_DELAY: Final = 0.5
_MAX_ATTEMPT_TIMEOUT: Final = 5.0


def add_health_service(
    server: grpc.Server, *, services: Sequence[str] = ()
) -> health.HealthServicer:
    """Add the health service to ``server``, reporting SERVING.

    Parameters
    ----------
    server
        The server (not yet started, or running).
    services
        Fully qualified service names to report, for example
        ``"accord.v1.EnclaveNode"``; the whole server (``""``) is always reported.

    Returns
    -------
    grpc_health.v1.health.HealthServicer
        The servicer: call ``set(name, status)`` to change a status and
        ``enter_graceful_shutdown()`` before stopping the server.
    """
    servicer = health.HealthServicer()
    for name in ("", *services):
        servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    return servicer


def wait_until_serving(
    channel: grpc.Channel,
    timeout: float,
    *,
    peer: str = "the server",
    service: str = "",
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Wait until the server behind ``channel`` reports SERVING.

    Parameters
    ----------
    channel
        A channel to the server (pinned TLS as for any other call).
    timeout
        Seconds to wait at most.
    peer
        Who the server is, with its address, for the error message.
    service
        The service whose status to ask for; ``""`` is the whole server.
    clock
        Monotonic clock in seconds (injectable for tests).

    Raises
    ------
    UsageError
        If ``timeout`` is not positive.
    TransportError
        If the server did not report SERVING within ``timeout``; the message names the
        last thing seen (connection refused, TLS failure, NOT_SERVING), or if the server
        has no health service.
    """
    if not timeout > 0:
        raise UsageError(f"the health wait timeout must be positive, got {timeout}")
    stub = health_pb2_grpc.HealthStub(channel)
    request = health_pb2.HealthCheckRequest(service=service)
    deadline = clock() + timeout
    delay = _FIRST_RETRY_DELAY
    last_seen = "no answer"
    while (remaining := deadline - clock()) > 0:
        try:
            response = stub.Check(request, timeout=min(remaining, _MAX_ATTEMPT_TIMEOUT))
        except grpc.RpcError as exc:
            code = exc.code()
            if code == grpc.StatusCode.UNIMPLEMENTED:
                raise TransportError(
                    f"{peer} has no health service",
                    hint="Check that the address is an Accord node or orchestrator.",
                ) from None
            last_seen = f"{code.name}: {exc.details()}"
        else:
            if response.status == health_pb2.HealthCheckResponse.SERVING:
                return
            last_seen = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
        time.sleep(max(0.0, min(delay, deadline - clock())))
        delay = min(delay * 2, _MAX_RETRY_DELAY)
    raise TransportError(f"{peer} was not serving within {timeout:g} s (last seen: {last_seen})")
