"""The self-signed X.509 certificate a party presents for TLS client authentication.

The certificate is not trusted through any certificate authority: peers pin it by the
SHA-256 fingerprint of its DER encoding, which the party card and the agreement carry.
What this module checks is that a certificate is the kind Accord issues, so a card cannot
carry a certificate for another name, another key type, or another purpose.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from accord.crypto.certificates import self_signed_tls_certificate
from accord.crypto.keys import TlsPrivateKey
from accord.errors import ConfigurationError, VerificationError

__all__ = [
    "CLOCK_SKEW",
    "DEFAULT_VALID_DAYS",
    "certificate_fingerprint",
    "check_party_certificate",
    "issue_party_certificate",
    "party_uri",
]

DEFAULT_VALID_DAYS: Final = 825
"""Default certificate lifetime in days (the longest many TLS clients accept)."""

CLOCK_SKEW: Final = dt.timedelta(minutes=5)
"""How far before its creation a certificate is already valid, to tolerate clock skew."""


def party_uri(name: str) -> str:
    """Return the URI subject alternative name of a party, ``accord:party:NAME``."""
    return f"accord:party:{name}"


def certificate_fingerprint(certificate: x509.Certificate) -> str:
    """Return the SHA-256 (64 hex characters) of the certificate's DER encoding."""
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


def issue_party_certificate(
    name: str, tls_key: TlsPrivateKey, *, now: dt.datetime, valid_days: int
) -> x509.Certificate:
    """Create the self-signed TLS certificate of party ``name``.

    Subject and issuer are ``CN=name``; the subject alternative names are the DNS name
    ``name`` and the URI ``accord:party:name``; key usage is digital signature only, extended
    key usage is TLS client and server authentication, and it is not a CA. It is valid from
    ``now`` minus :data:`CLOCK_SKEW` for ``valid_days`` days and has a random serial number.

    Parameters
    ----------
    name
        The party name (already checked against the name rule).
    tls_key
        The party's P-256 TLS key, which signs its own certificate.
    now
        The current time (timezone-aware).
    valid_days
        Lifetime in days, at least 1.

    Returns
    -------
    x509.Certificate
        The signed certificate.
    """
    return self_signed_tls_certificate(
        tls_key,
        subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]),
        dns_names=[name],
        uris=[party_uri(name)],
        not_before=now - CLOCK_SKEW,
        not_after=now + dt.timedelta(days=valid_days),
    )


def _extension(
    certificate: x509.Certificate, kind: type[x509.ExtensionType], where: str
) -> x509.ExtensionType:
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        raise ConfigurationError(f"{where}: the certificate has no {kind.__name__}") from None


def check_party_certificate(certificate: x509.Certificate, name: str, *, where: str) -> None:
    """Check that ``certificate`` is a party certificate of the kind Accord issues for ``name``.

    Parameters
    ----------
    certificate
        The parsed certificate.
    name
        The party name the certificate must be for.
    where
        Where the certificate came from, for error messages (file and field).

    Raises
    ------
    ConfigurationError
        If the key is not ECDSA P-256 or a required extension is missing or wrong.
    VerificationError
        If the certificate names another party or its self-signature does not verify.
    """
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ConfigurationError(f"{where}: the certificate's public key is not ECDSA P-256")
    common_names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if [attribute.value for attribute in common_names] != [name]:
        raise VerificationError(
            f"{where}: the certificate's subject {certificate.subject.rfc4514_string()!r} "
            f"is not CN={name}"
        )
    try:
        certificate.verify_directly_issued_by(certificate)
    except (ValueError, TypeError, InvalidSignature):
        raise VerificationError(
            f"{where}: the certificate is not self-signed by its own key"
        ) from None
    constraints = _extension(certificate, x509.BasicConstraints, where)
    if not isinstance(constraints, x509.BasicConstraints) or constraints.ca:
        raise ConfigurationError(f"{where}: the certificate must not be a CA certificate")
    usages = _extension(certificate, x509.ExtendedKeyUsage, where)
    if not isinstance(usages, x509.ExtendedKeyUsage) or (
        ExtendedKeyUsageOID.CLIENT_AUTH not in list(usages)
    ):
        raise ConfigurationError(f"{where}: the certificate is not for TLS client authentication")
    alternative_names = _extension(certificate, x509.SubjectAlternativeName, where)
    if not isinstance(alternative_names, x509.SubjectAlternativeName) or name not in (
        alternative_names.get_values_for_type(x509.DNSName)
    ):
        raise VerificationError(
            f"{where}: the certificate's subject alternative names do not include {name!r}"
        )
