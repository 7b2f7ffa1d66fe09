"""gRPC transport for Accord: pinned TLS, mutual TLS, channel settings, health and error mapping.

Which link uses which credential
--------------------------------
======================================  ==================================================
link                                    credential
======================================  ==================================================
party -> orchestrator                   mutual TLS. The party pins the orchestrator's
                                        self-signed certificate (given to it out of band)
                                        and presents its own party certificate
                                        (:meth:`TlsIdentity.from_key`). The orchestrator
                                        trusts exactly the parties' certificates, each
                                        checked against the fingerprint the agreement lists
                                        (:func:`mutual_tls_server_credentials`), and names
                                        the caller by :func:`peer_certificate_fingerprint`.
party or orchestrator -> enclave node   server-authenticated TLS pinned to the attested
                                        enclave key: fetch the node's certificate without
                                        trusting it (:func:`fetch_unverified_server_certificate`),
                                        open a channel that trusts only that certificate
                                        (:func:`pinned_channel`), call ``Attest``, verify the
                                        evidence, then :func:`check_attested_tls_key`. Only
                                        after that check is anything sent that relies on
                                        the node being the attested enclave.
======================================  ==================================================

No link trusts a certificate authority: every certificate is self-signed and pinned.
Message-size limits and keepalive settings live in :mod:`accord.transport.channels` and apply
to clients (:func:`channel_options`) and servers (:func:`server_options`) alike. Servers keep
answering while callers hold streams open: :mod:`accord.transport.limits` caps the streams
served at once (:class:`ConcurrencyLimit`) and ends idle ones (:func:`receive_with_idle_timeout`,
:func:`send_with_idle_timeout`).

Errors cross the wire as trailing metadata (see :mod:`accord.transport.errors`): a servicer
calls :func:`abort_with` and the client, through :func:`call`, raises the same
:class:`~accord.errors.AccordError` subclass with the same message. gRPC failures without
that metadata become :class:`~accord.errors.TransportError` naming the peer and the timeout.
"""

from accord.transport.certificates import (
    certificate_server_name,
    check_attested_tls_key,
    load_certificate,
    pem_fingerprint,
    self_signed_server_certificate,
)
from accord.transport.channels import (
    DEFAULT_CALL_TIMEOUT,
    KEEPALIVE_TIME_MS,
    KEEPALIVE_TIMEOUT_MS,
    MAX_MESSAGE_BYTES,
    QUEUED_CALLS_PER_WORKER,
    ChannelOption,
    bind_server,
    channel_options,
    create_server,
    pinned_channel,
    secure_channel,
    server_options,
    split_address,
)
from accord.transport.errors import (
    ERROR_CLASS_KEY,
    ERROR_HINT_KEY,
    ERROR_MESSAGE_KEY,
    abort_on_accord_error,
    abort_with,
    call,
    call_stream,
    error_from_rpc,
    status_code_for,
    translate_rpc_errors,
)
from accord.transport.health import add_health_service, wait_until_serving
from accord.transport.limits import (
    DEFAULT_STREAM_IDLE_SECONDS,
    ConcurrencyLimit,
    ServerBusyError,
    StreamIdleError,
    receive_with_idle_timeout,
    send_with_idle_timeout,
)
from accord.transport.tls import (
    DEFAULT_FETCH_TIMEOUT,
    TlsIdentity,
    fetch_unverified_server_certificate,
    mutual_tls_server_credentials,
    peer_certificate_fingerprint,
    peer_certificate_pem,
    pinned_channel_credentials,
    server_credentials,
)

__all__ = [
    "DEFAULT_CALL_TIMEOUT",
    "DEFAULT_FETCH_TIMEOUT",
    "DEFAULT_STREAM_IDLE_SECONDS",
    "ERROR_CLASS_KEY",
    "ERROR_HINT_KEY",
    "ERROR_MESSAGE_KEY",
    "KEEPALIVE_TIMEOUT_MS",
    "KEEPALIVE_TIME_MS",
    "MAX_MESSAGE_BYTES",
    "QUEUED_CALLS_PER_WORKER",
    "ChannelOption",
    "ConcurrencyLimit",
    "ServerBusyError",
    "StreamIdleError",
    "TlsIdentity",
    "abort_on_accord_error",
    "abort_with",
    "add_health_service",
    "bind_server",
    "call",
    "call_stream",
    "certificate_server_name",
    "channel_options",
    "check_attested_tls_key",
    "create_server",
    "error_from_rpc",
    "fetch_unverified_server_certificate",
    "load_certificate",
    "mutual_tls_server_credentials",
    "peer_certificate_fingerprint",
    "peer_certificate_pem",
    "pem_fingerprint",
    "pinned_channel",
    "pinned_channel_credentials",
    "receive_with_idle_timeout",
    "secure_channel",
    "self_signed_server_certificate",
    "send_with_idle_timeout",
    "server_credentials",
    "server_options",
    "split_address",
    "status_code_for",
    "translate_rpc_errors",
    "wait_until_serving",
]
