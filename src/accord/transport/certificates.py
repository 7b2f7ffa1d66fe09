"""X.509 certificates in Accord's transport: parsing, fingerprints, names, the attested-key check.

Every certificate Accord uses for TLS is self-signed and pinned, never trusted through a
certificate authority. A fingerprint is the SHA-256 of a certificate's DER encoding, 64
lowercase hex characters: the value :func:`accord.party.certificate.certificate_fingerprint`
computes and the agreement records.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from accord.crypto.certificates import self_signed_tls_certificate
from accord.crypto.keys import TlsPrivateKey
from accord.errors import UsageError, VerificationError

__all__ = [
    "certificate_server_name",
    "check_attested_tls_key",
    "der_fingerprint",
    "load_certificate",
    "pem_encoding",
    "pem_fingerprint",
    "public_key_der",
    "self_signed_server_certificate",
]

_CLOCK_SKEW: Final = dt.timedelta(minutes=5)


def load_certificate(certificate_pem: bytes, *, where: str) -> x509.Certificate:
    """Parse a PEM file holding exactly one X.509 certificate.

    Parameters
    ----------
    certificate_pem
        The PEM bytes.
    where
        Where the certificate came from (a path, a peer), for error messages.

    Returns
    -------
    x509.Certificate
        The parsed certificate.

    Raises
    ------
    VerificationError
        If the bytes are not PEM certificates, or hold more or fewer than one: a pin names
        exactly one certificate.
    """
    try:
        certificates = x509.load_pem_x509_certificates(certificate_pem)
    except ValueError:
        raise VerificationError(f"{where}: not a PEM X.509 certificate") from None
    if len(certificates) != 1:
        raise VerificationError(
            f"{where}: holds {len(certificates)} certificates; a pinned certificate must be "
            "exactly one"
        )
    return certificates[0]


def pem_encoding(certificate: x509.Certificate) -> bytes:
    """Return a parsed certificate as PEM."""
    return certificate.public_bytes(serialization.Encoding.PEM)


def der_fingerprint(certificate: x509.Certificate) -> str:
    """Return the SHA-256 (64 hex characters) of a parsed certificate's DER encoding."""
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


def public_key_der(certificate: x509.Certificate) -> bytes:
    """Return a parsed certificate's public key as DER SubjectPublicKeyInfo."""
    return certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def pem_fingerprint(certificate_pem: bytes) -> str:
    """Return the SHA-256 fingerprint (64 hex characters) of a PEM certificate's DER encoding.

    Raises
    ------
    VerificationError
        If ``certificate_pem`` is not exactly one PEM certificate.
    """
    return der_fingerprint(load_certificate(certificate_pem, where="certificate"))


def certificate_server_name(certificate_pem: bytes) -> str:
    """Return the name a client must expect from a pinned certificate.

    That is its first DNS subject alternative name (``accord-enclave-<session id>`` for an
    enclave), or its common name if it has no DNS name. Channels use it as the TLS target
    name override, so the name check passes exactly for the pinned certificate.

    Raises
    ------
    VerificationError
        If the certificate is malformed or carries neither a DNS name nor a common name.
    """
    certificate = load_certificate(certificate_pem, where="server certificate")
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        dns_names = names.value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        dns_names = []
    if dns_names:
        return dns_names[0]
    common_names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if common_names and isinstance(common_names[0].value, str) and common_names[0].value:
        return common_names[0].value
    raise VerificationError(
        "the server certificate names no DNS name and no common name, so it cannot be pinned"
    )


def check_attested_tls_key(
    certificate_pem: bytes, attested_tls_public_key: bytes, *, peer: str
) -> None:
    """Check that a served certificate carries the TLS key that attestation vouched for.

    Parameters
    ----------
    certificate_pem
        The certificate the channel is pinned to (from
        :func:`fetch_unverified_server_certificate`).
    attested_tls_public_key
        ``VerifiedEvidence.session_keys.tls_public_key``: DER SubjectPublicKeyInfo.
    peer
        Who serves the certificate, for example ``"node 127.0.0.1:5001"``.

    Raises
    ------
    VerificationError
        If the certificate's public key differs from the attested key: the TLS connection
        does not end inside the attested enclave.
    """
    certificate = load_certificate(certificate_pem, where=f"{peer}'s TLS certificate")
    served = public_key_der(certificate)
    if not hmac.compare_digest(served, attested_tls_public_key):
        raise VerificationError(
            f"{peer} serves a TLS key (SHA-256 {hashlib.sha256(served).hexdigest()[:16]}..) "
            "that is not the attested session TLS key (SHA-256 "
            f"{hashlib.sha256(attested_tls_public_key).hexdigest()[:16]}..)",
            hint=(
                "Send nothing to this peer: its TLS connection does not end in the attested "
                "enclave. Attest it again; if this persists, someone is intercepting the link."
            ),
        )


def self_signed_server_certificate(
    tls_key: TlsPrivateKey, server_name: str, *, now: dt.datetime, valid_days: int = 825
) -> bytes:
    """Issue a self-signed TLS server certificate (for the orchestrator, or tests).

    Subject ``CN=server_name``, DNS subject alternative name ``server_name``, not a CA,
    digital signature key usage, TLS server and client authentication. Valid from ``now``
    minus five minutes (clock skew) for ``valid_days`` days.

    Parameters
    ----------
    tls_key
        The P-256 key that the certificate is for and that signs it.
    server_name
        The DNS name clients expect (pinned channels use it as the target name).
    now
        The current time, timezone-aware.
    valid_days
        Lifetime in days, at least 1.

    Returns
    -------
    bytes
        The certificate, PEM.

    Raises
    ------
    UsageError
        If the name is empty, the clock naive or the lifetime not positive.
    """
    if not server_name:
        raise UsageError("a server certificate needs a non-empty server name")
    if now.tzinfo is None or now.utcoffset() is None:
        raise UsageError("the certificate clock must be timezone-aware")
    if valid_days < 1:
        raise UsageError(f"a certificate must be valid for at least 1 day, got {valid_days}")
    certificate = self_signed_tls_certificate(
        tls_key,
        subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, server_name)]),
        dns_names=[server_name],
        not_before=now - _CLOCK_SKEW,
        not_after=now + dt.timedelta(days=valid_days),
    )
    return pem_encoding(certificate)
