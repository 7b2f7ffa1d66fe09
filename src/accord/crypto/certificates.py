"""Self-signed X.509 certificates for TLS: one builder for parties, enclaves and servers.

Every certificate Accord makes is a leaf that signs itself with a P-256 key: it is trusted by
pinning (a party's fingerprint in the agreement, an enclave's key in its attestation
evidence, the orchestrator's certificate handed out of band), never through a CA.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID

from accord.crypto.keys import TlsPrivateKey

__all__ = ["self_signed_tls_certificate"]


def self_signed_tls_certificate(
    tls_key: TlsPrivateKey,
    *,
    subject: x509.Name,
    dns_names: Sequence[str],
    uris: Sequence[str] = (),
    not_before: datetime,
    not_after: datetime,
) -> x509.Certificate:
    """Build a self-signed leaf certificate usable for TLS clients and servers.

    Parameters
    ----------
    tls_key
        The P-256 key that the certificate names and that signs it.
    subject
        Subject (and issuer) name.
    dns_names
        DNS subject alternative names (the name a TLS peer checks).
    uris
        URI subject alternative names.
    not_before, not_after
        The validity window (timezone-aware).

    Returns
    -------
    x509.Certificate
        CA false; key usage digitalSignature; extended key usage clientAuth and serverAuth;
        the subject key identifier of ``tls_key``; signed with ECDSA SHA-256.
    """
    alternative_names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    alternative_names += [x509.UniformResourceIdentifier(uri) for uri in uris]
    public_key = tls_key.public_key
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(tls_key.sign_certificate_with(), hashes.SHA256())
    )
