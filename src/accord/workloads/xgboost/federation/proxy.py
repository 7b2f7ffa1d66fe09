"""The local end of XGBoost's federated client: a forwarding proxy that can be stopped.

XGBoost's federated client waits for every collective call without a deadline, and for the
server to become reachable without end. So that a command across nodes always ends, each
node's XGBoost client talks only to a :class:`CollectiveProxy` in the same process:

* XGBoost <-> proxy: mutual TLS on 127.0.0.1 with a key made for this one command (the proxy
  trusts exactly that certificate as client, XGBoost trusts exactly it as server), so the
  host, which controls loopback, sees ciphertext only;
* proxy <-> rank 0's federated server: mutual TLS with the node's attested per-command
  certificate, pinned to rank 0's attested certificate;
* every call is forwarded as it is (XGBoost's messages are opaque bytes here) with a
  deadline, and :meth:`CollectiveProxy.trip` fails every call in progress and every later
  call at once with the reason, which makes XGBoost raise instead of waiting forever.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import threading
from collections.abc import Callable
from concurrent import futures
from typing import Any, Final

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from accord.crypto.keys import SECRET_KEY_ACCESS, TlsPrivateKey
from accord.errors import TransportError
from accord.transport import certificate_server_name, split_address
from accord.transport.certificates import pem_encoding
from accord.workloads.xgboost.federation.offers import FederationKey

__all__ = ["CollectiveProxy", "LocalTls"]

_LOG: Final = logging.getLogger("accord.workloads.xgboost")
_LOOPBACK: Final = "127.0.0.1"
_POLL_SECONDS: Final = 0.2
_UNLIMITED: Final = -1
_FORWARDED_PREFIX: Final = "/xgboost."


class LocalTls:
    """A key and certificate for the loopback link between XGBoost and the proxy.

    The certificate names ``localhost`` and ``127.0.0.1``, is valid for a day and serves
    both ends (the proxy as server, XGBoost as client). It never leaves the process.
    """

    __slots__ = ("_certificate_pem", "_key")

    def __init__(self, *, now: dt.datetime) -> None:
        self._key = TlsPrivateKey.generate()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
        self._certificate_pem = pem_encoding(
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(_LOOPBACK))]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .sign(self._key.sign_certificate_with(), hashes.SHA256())
        )

    @property
    def certificate_pem(self) -> bytes:
        """The certificate (PEM)."""
        return self._certificate_pem

    def private_key_pem(self) -> bytes:
        """Return the private key (PKCS#8 PEM), for the TLS stacks of this process only."""
        return self._key.export_pem(SECRET_KEY_ACCESS)

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError("LocalTls holds a private key and cannot be pickled")


class CollectiveProxy:
    """Forwards XGBoost's collective calls to rank 0's federated server; can be tripped.

    Parameters
    ----------
    upstream
        ``host:port`` of rank 0's federated server.
    upstream_certificate_pem
        Rank 0's attested per-command certificate: the only server certificate trusted.
    identity
        This node's per-command key, presented to rank 0's server.
    call_timeout
        Seconds one forwarded call may take.
    upstream_name
        How messages name rank 0 (``"node 1a2b3c4d.. (rank 0, 10.0.0.5:7001)"``).
    now
        The clock, for the loopback certificate.
    """

    def __init__(
        self,
        *,
        upstream: str,
        upstream_certificate_pem: bytes,
        identity: FederationKey,
        call_timeout: float,
        upstream_name: str,
        now: Callable[[], dt.datetime],
    ) -> None:
        split_address(upstream)
        self.local = LocalTls(now=now())
        self._upstream_name = upstream_name
        self._call_timeout = call_timeout
        self._tripped = threading.Event()
        self._reason: str | None = None
        self._lock = threading.Lock()
        server_name = certificate_server_name(upstream_certificate_pem)
        self._channel = grpc.secure_channel(
            upstream,
            grpc.ssl_channel_credentials(
                root_certificates=upstream_certificate_pem,
                private_key=identity.private_key_pem(SECRET_KEY_ACCESS),
                certificate_chain=identity.certificate_pem,
            ),
            options=[
                ("grpc.ssl_target_name_override", server_name),
                ("grpc.max_send_message_length", _UNLIMITED),
                ("grpc.max_receive_message_length", _UNLIMITED),
                ("grpc.initial_reconnect_backoff_ms", 200),
                ("grpc.max_reconnect_backoff_ms", 2000),
            ],
        )
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="accord-collective"),
            handlers=[_Forwarder(self)],
            options=[
                ("grpc.max_send_message_length", _UNLIMITED),
                ("grpc.max_receive_message_length", _UNLIMITED),
                ("grpc.so_reuseport", 0),
            ],
        )
        credentials = grpc.ssl_server_credentials(
            [(self.local.private_key_pem(), self.local.certificate_pem)],
            root_certificates=self.local.certificate_pem,
            require_client_auth=True,
        )
        port = self._server.add_secure_port(f"{_LOOPBACK}:0", credentials)
        if not port:
            raise TransportError("could not open a loopback port for the collective proxy")
        self.address = f"{_LOOPBACK}:{port}"
        self._server.start()

    @property
    def tripped(self) -> bool:
        """Whether the proxy was stopped by :meth:`trip` (or an upstream failure)."""
        return self._tripped.is_set()

    @property
    def reason(self) -> str | None:
        """Why the proxy was tripped, or ``None``."""
        with self._lock:
            return self._reason

    def trip(self, reason: str) -> None:
        """Fail every call in progress and every later call with ``reason`` (first one wins)."""
        with self._lock:
            if self._reason is None:
                self._reason = reason
                _LOG.warning("federation stopped: %s", reason)
        self._tripped.set()

    def check_upstream(self, timeout: float) -> None:
        """Wait until the TLS connection to rank 0's server is up.

        Raises
        ------
        TransportError
            If it is not up within ``timeout`` seconds (naming rank 0).
        """
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise TransportError(
                f"could not open a mutual-TLS connection to the federated server of "
                f"{self._upstream_name} within {timeout:g} s"
            ) from None

    def forward(self, method: str, request: bytes, context: grpc.ServicerContext) -> bytes:
        """Forward one call to rank 0's server and return its answer."""
        if self._tripped.is_set():
            context.abort(grpc.StatusCode.UNAVAILABLE, self.reason or "federation stopped")
        call = self._channel.unary_unary(method)
        future = call.future(request, timeout=self._call_timeout)
        while True:
            try:
                return bytes(future.result(timeout=_POLL_SECONDS))
            except grpc.FutureTimeoutError:
                if self._tripped.is_set():
                    future.cancel()
                    context.abort(grpc.StatusCode.UNAVAILABLE, self.reason or "federation stopped")
            except grpc.RpcError as error:
                if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                    reason = (
                        f"a collective operation through the federated server of "
                        f"{self._upstream_name} took more than {self._call_timeout:g} s"
                    )
                else:
                    reason = (
                        f"the connection to the federated server of {self._upstream_name} "
                        f"failed ({error.code().name})"
                    )
                self.trip(reason)
                context.abort(grpc.StatusCode.UNAVAILABLE, self.reason or reason)

    def close(self) -> None:
        """Stop the proxy and close its connection to rank 0."""
        self._tripped.set()
        self._server.stop(grace=0).wait(5.0)
        self._channel.close()


class _Forwarder(grpc.GenericRpcHandler):  # type: ignore[misc]
    def __init__(self, proxy: CollectiveProxy) -> None:
        self._proxy = proxy

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        method = str(handler_call_details.method)
        if not method.startswith(_FORWARDED_PREFIX):
            return None
        proxy = self._proxy

        def forward(request: bytes, context: grpc.ServicerContext) -> bytes:
            return proxy.forward(method, request, context)

        return grpc.unary_unary_rpc_method_handler(forward)
