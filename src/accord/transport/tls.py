"""TLS material for Accord's gRPC links: pinned self-signed certificates, never a CA.

Two kinds of link exist (see :mod:`accord.transport`):

* **to an enclave node** the client trusts exactly one certificate, the one the node served,
  and only until attestation proves that the certificate's public key is the session's
  attested TLS key. The order is: :func:`fetch_unverified_server_certificate`, a channel from
  :func:`pinned_channel_credentials` (or :func:`accord.transport.pinned_channel`), the
  ``Attest`` call and evidence verification, then :func:`check_attested_tls_key`. Because the
  channel trusts only the fetched certificate, every later call on it reaches the holder of
  that key, which the check ties to the enclave.
* **to the orchestrator** both sides authenticate: the orchestrator's server credentials
  (:func:`mutual_tls_server_credentials`) trust only the parties' self-signed certificates,
  whose fingerprints the agreement lists, and a servicer names its caller with
  :func:`peer_certificate_fingerprint`. Parties pin the orchestrator's certificate, which
  they receive out of band.

Parsing, fingerprints and the attested-key check live in :mod:`accord.transport.certificates`.
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
import ssl
from collections.abc import Sequence
from typing import Any, Final, NoReturn

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from accord.crypto.keys import SECRET_KEY_ACCESS, SecretKeyAccess, TlsPrivateKey
from accord.errors import KeyMaterialError, TransportError, UsageError, VerificationError
from accord.transport._address import split_address
from accord.transport.certificates import (
    der_fingerprint,
    load_certificate,
    pem_encoding,
    pem_fingerprint,
    public_key_der,
)

__all__ = [
    "DEFAULT_FETCH_TIMEOUT",
    "TlsIdentity",
    "fetch_unverified_server_certificate",
    "mutual_tls_server_credentials",
    "peer_certificate_fingerprint",
    "peer_certificate_pem",
    "pinned_channel_credentials",
    "server_credentials",
]

DEFAULT_FETCH_TIMEOUT: Final = 10.0
"""Seconds that each network step of fetching a server's certificate may take."""

_PEER_CERTIFICATE_KEY: Final = "x509_pem_cert"


class TlsIdentity:
    """A TLS private key with its certificate: what a server, or a client in mutual TLS, presents.

    Build it with :meth:`from_key` (a party: ``TlsIdentity.from_key(party.tls_key,
    party.tls_certificate_pem)``) or :meth:`from_pem` (an enclave session's exported key).
    Both check that the certificate belongs to the key. Like the key handles, it refuses
    pickling and copying, and its repr shows only the certificate fingerprint.
    """

    __slots__ = ("_certificate_pem", "_fingerprint", "_private_key_pem")

    def __init__(self, key: TlsPrivateKey, certificate_pem: bytes) -> None:
        certificate = load_certificate(certificate_pem, where="TLS certificate")
        expected = key.public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if not hmac.compare_digest(public_key_der(certificate), expected):
            raise KeyMaterialError(
                "the TLS certificate does not belong to the TLS private key given with it",
                hint="Use the certificate that was issued for this key.",
            )
        self._certificate_pem = pem_encoding(certificate)
        self._fingerprint = der_fingerprint(certificate)
        self._private_key_pem = key.export_pem(SECRET_KEY_ACCESS)

    @classmethod
    def from_key(cls, key: TlsPrivateKey, certificate_pem: bytes) -> TlsIdentity:
        """Pair a TLS private key handle with its certificate.

        Parameters
        ----------
        key
            The P-256 private key.
        certificate_pem
            Its certificate (exactly one, PEM).

        Returns
        -------
        TlsIdentity
            The identity.

        Raises
        ------
        VerificationError
            If the certificate is not one PEM certificate.
        KeyMaterialError
            If the certificate's public key is not the key's.
        """
        return cls(key, certificate_pem)

    @classmethod
    def from_pem(
        cls, private_key_pem: bytes, certificate_pem: bytes, access: SecretKeyAccess
    ) -> TlsIdentity:
        """Pair an unencrypted PKCS#8 PEM private key with its certificate.

        Parameters
        ----------
        private_key_pem
            The key, for example ``session.tls_private_key_pem(SECRET_KEY_ACCESS)``.
        certificate_pem
            Its certificate (exactly one, PEM).
        access
            :data:`accord.crypto.keys.SECRET_KEY_ACCESS`.

        Returns
        -------
        TlsIdentity
            The identity.

        Raises
        ------
        KeyMaterialError
            If the key is unreadable, not P-256, or not the certificate's key.
        VerificationError
            If the certificate is not one PEM certificate.
        """
        return cls(TlsPrivateKey.from_pem(private_key_pem, access), certificate_pem)

    @property
    def certificate_pem(self) -> bytes:
        """The certificate, PEM."""
        return self._certificate_pem

    @property
    def fingerprint(self) -> str:
        """The certificate's SHA-256 fingerprint, 64 hex characters."""
        return self._fingerprint

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("TlsIdentity holds a private key and cannot be pickled")

    def __copy__(self) -> NoReturn:
        raise TypeError("TlsIdentity holds a private key and cannot be copied")

    def __deepcopy__(self, memo: Any) -> NoReturn:
        raise TypeError("TlsIdentity holds a private key and cannot be copied")

    def __repr__(self) -> str:
        return f"TlsIdentity(fingerprint={self._fingerprint[:16]!r})"


def _server_hostname(host: str) -> str | None:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host
    return None


def fetch_unverified_server_certificate(
    address: str, *, timeout: float = DEFAULT_FETCH_TIMEOUT
) -> bytes:
    """Fetch the certificate a TLS server presents, WITHOUT trusting or checking it.

    The result is only a candidate pin: trust it after attestation binds its key
    (:func:`check_attested_tls_key`) or after comparing its fingerprint with a known one.

    Parameters
    ----------
    address
        ``host:port`` of the server (a gRPC TLS port).
    timeout
        Seconds each network step (connect, handshake) may take.

    Returns
    -------
    bytes
        The server's leaf certificate, PEM.

    Raises
    ------
    UsageError
        If the address is malformed or the timeout is not positive.
    TransportError
        If the server cannot be reached, does not complete a TLS handshake in time, or
        presents no certificate.
    VerificationError
        If what it presents is not a parseable X.509 certificate.
    """
    if not timeout > 0:
        raise UsageError(f"the certificate fetch timeout must be positive, got {timeout}")
    host, port = split_address(address)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # a candidate pin: the caller checks it
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["h2"])
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=_server_hostname(host)) as connection,
        ):
            der = connection.getpeercert(binary_form=True)
    except TimeoutError:
        raise TransportError(
            f"{address} did not complete a TLS handshake within {timeout:g} s"
        ) from None
    except ssl.SSLError as exc:
        raise TransportError(
            f"TLS handshake with {address} failed while fetching its certificate: "
            f"{exc.reason or exc}",
            hint="Check that the address is the peer's TLS (gRPC) port.",
        ) from None
    except OSError as exc:
        raise TransportError(f"could not connect to {address}: {exc.strerror or exc}") from None
    if not der:
        raise TransportError(f"{address} presented no TLS certificate")
    try:
        certificate = x509.load_der_x509_certificate(der)
    except ValueError:
        raise VerificationError(f"{address} presented a malformed TLS certificate") from None
    return pem_encoding(certificate)


def pinned_channel_credentials(
    server_certificate_pem: bytes, *, client: TlsIdentity | None = None
) -> grpc.ChannelCredentials:
    """Channel credentials that trust exactly one server certificate.

    Use them with the channel option ``grpc.ssl_target_name_override`` set to
    :func:`certificate_server_name` (:func:`accord.transport.pinned_channel` does both).

    Parameters
    ----------
    server_certificate_pem
        The one certificate to trust (the pin).
    client
        The client's identity for mutual TLS (a party connecting to the orchestrator), or
        ``None`` for server-authenticated TLS (connections to enclave nodes).

    Returns
    -------
    grpc.ChannelCredentials
        The credentials.

    Raises
    ------
    VerificationError
        If ``server_certificate_pem`` is not exactly one PEM certificate.
    """
    root = pem_encoding(load_certificate(server_certificate_pem, where="pinned server certificate"))
    if client is None:
        return grpc.ssl_channel_credentials(root_certificates=root)
    return grpc.ssl_channel_credentials(
        root_certificates=root,
        private_key=client._private_key_pem,
        certificate_chain=client.certificate_pem,
    )


def server_credentials(identity: TlsIdentity) -> grpc.ServerCredentials:
    """Server credentials for server-authenticated TLS (an enclave node's service).

    Parameters
    ----------
    identity
        The server's key and certificate.

    Returns
    -------
    grpc.ServerCredentials
        Credentials that present ``identity`` and ask clients for no certificate.
    """
    return grpc.ssl_server_credentials(
        [(identity._private_key_pem, identity.certificate_pem)], require_client_auth=False
    )


def mutual_tls_server_credentials(
    identity: TlsIdentity, trusted_client_certificates: Sequence[bytes]
) -> grpc.ServerCredentials:
    """Server credentials that admit only clients presenting one of the listed certificates.

    The handshake fails for a client with no certificate or any other certificate. Check
    each certificate against the agreement's fingerprints before passing it here.

    Parameters
    ----------
    identity
        The server's key and certificate (the orchestrator's self-signed one).
    trusted_client_certificates
        The self-signed client certificates to trust (PEM, one per entry): the parties'.

    Returns
    -------
    grpc.ServerCredentials
        Credentials with client authentication required.

    Raises
    ------
    UsageError
        If the list is empty: a server that trusts no client is a configuration mistake.
    VerificationError
        If an entry is not exactly one PEM certificate.
    """
    if not trusted_client_certificates:
        raise UsageError(
            "mutual TLS needs at least one trusted client certificate",
            hint="List the parties' TLS certificates in the configuration.",
        )
    roots = b"".join(
        pem_encoding(load_certificate(pem, where=f"trusted client certificate {index}"))
        for index, pem in enumerate(trusted_client_certificates)
    )
    return grpc.ssl_server_credentials(
        [(identity._private_key_pem, identity.certificate_pem)],
        root_certificates=roots,
        require_client_auth=True,
    )


def peer_certificate_pem(context: grpc.ServicerContext) -> bytes | None:
    """Return the certificate the calling client presented (PEM), or ``None`` if none.

    Parameters
    ----------
    context
        The servicer context of the current call.

    Returns
    -------
    bytes | None
        The client's leaf certificate, already verified by the TLS handshake against the
        server's trusted client certificates; ``None`` on a connection without one.
    """
    values = context.auth_context().get(_PEER_CERTIFICATE_KEY) or []
    if not values:
        return None
    return pem_encoding(load_certificate(bytes(values[0]), where="client certificate"))


def peer_certificate_fingerprint(context: grpc.ServicerContext) -> str:
    """Return the SHA-256 fingerprint of the calling client's certificate.

    Compare it with the fingerprints in the agreement to name the calling party.

    Parameters
    ----------
    context
        The servicer context of the current call.

    Returns
    -------
    str
        64 lowercase hex characters.

    Raises
    ------
    VerificationError
        If the connection carries no client certificate.
    """
    pem = peer_certificate_pem(context)
    if pem is None:
        raise VerificationError(
            "the caller presented no TLS client certificate",
            hint="Connect with the party's TLS identity (mutual TLS).",
        )
    return pem_fingerprint(pem)
