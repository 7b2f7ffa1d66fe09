"""The certificates that come with SEV-SNP evidence: the GHCB certificate table, or PEM/DER.

**Certificate table** (AMD's GHCB specification; the configfs-tsm ``auxblob``): a list of
24-byte entries ``GUID (16 bytes, as written) || offset (u32 LE) || length (u32 LE)``, ended
by an all-zero entry; each offset counts from the start of the table and points past the entry
list. The certificates, DER or PEM, are named by GUID:

==== ========================================
VCEK ``63da758d-e664-4564-adc5-f4b93be8accd``
ASK  ``4ab7b379-bbac-4fe4-a02f-05aef327c782``
ARK  ``c0b406a4-a803-4952-9743-3fb6014cd0ae``
==== ========================================

Other GUIDs (e.g. a VLEK) are skipped; a repeated GUID is refused.

**Certificates as such.** Evidence ``aux`` (or a ``--collateral`` file) may instead hold the
certificates themselves: one DER certificate, or PEM with one to three certificates. Each is
given its role by its shape: self-signed is the ARK, another CA certificate the ASK, anything
else the VCEK; two certificates of one role are refused.

Nothing here is trusted: :func:`~accord.attest.backends.snp_certs.verify_vcek_chain` checks
the certificates against the pinned AMD roots.
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass
from typing import Final
from uuid import UUID

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import ExtensionOID

from accord.errors import VerificationError

__all__ = [
    "ARK_GUID",
    "ASK_GUID",
    "VCEK_GUID",
    "CertificateTable",
    "check_readable",
    "is_ca",
    "load_certificate",
    "load_pem_certificates",
    "parse_aux_certificates",
    "parse_certificate_table",
]

VCEK_GUID: Final = UUID("63da758d-e664-4564-adc5-f4b93be8accd")
ASK_GUID: Final = UUID("4ab7b379-bbac-4fe4-a02f-05aef327c782")
ARK_GUID: Final = UUID("c0b406a4-a803-4952-9743-3fb6014cd0ae")
_NAMES: Final = {VCEK_GUID: "VCEK", ASK_GUID: "ASK", ARK_GUID: "ARK"}
_ENTRY: Final = struct.Struct("<16sII")
_PEM: Final = b"-----BEGIN"
# What cryptography raises when it decodes a part of a certificate lazily, on first access.
_UNREADABLE: Final = (
    ValueError,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
    UnsupportedAlgorithm,
)


def check_readable(certificate: x509.Certificate, what: str) -> x509.Certificate:
    """Decode every part of ``certificate`` that verification reads, or refuse it.

    cryptography decodes the issuer, subject, extensions and public key only when they are
    first read, so a certificate that loaded can still hold a malformed name, a duplicate or
    malformed extension, or a key of an unknown type. Reading them here, once, turns each of
    those into a :class:`VerificationError` before any check relies on them.

    Parameters
    ----------
    certificate
        A certificate as loaded, not yet trusted.
    what
        The certificate, named for messages (e.g. ``"the ASK certificate"``).

    Returns
    -------
    x509.Certificate
        ``certificate``, whose parts now read without error.

    Raises
    ------
    VerificationError
        Naming the part that does not decode and the kind of error (never its bytes).
    """
    parts = (
        ("issuer name", lambda: certificate.issuer),
        ("subject name", lambda: certificate.subject),
        ("extensions", lambda: certificate.extensions),
        ("public key", certificate.public_key),
    )
    for part, read in parts:
        try:
            read()
        except _UNREADABLE as exc:
            raise VerificationError(
                f"{what} cannot be parsed: malformed {part} ({type(exc).__name__})",
                hint="Do not trust this evidence; fetch the certificates from AMD again.",
            ) from None
    return certificate


def load_pem_certificates(data: bytes, what: str) -> list[x509.Certificate]:
    """Load every certificate of a PEM text.

    Raises
    ------
    VerificationError
        If the PEM holds no certificate or a malformed one.
    """
    # AMD's VCEK certificates carry serial numbers that RFC 5280 disallows; cryptography
    # accepts them with a deprecation warning, which would repeat on every verification.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        try:
            certificates = x509.load_pem_x509_certificates(data)
        except ValueError as exc:
            raise VerificationError(f"the {what} PEM cannot be parsed: {exc}") from None
        return [
            check_readable(certificate, f"certificate {index} of the {what} PEM")
            for index, certificate in enumerate(certificates, start=1)
        ]


def _load_der(data: bytes, what: str) -> x509.Certificate:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        try:
            return x509.load_der_x509_certificate(data)
        except ValueError as exc:
            raise VerificationError(f"the {what} certificate cannot be parsed: {exc}") from None


def load_certificate(data: bytes, what: str) -> x509.Certificate:
    """Load one X.509 certificate from DER or PEM bytes.

    Parameters
    ----------
    data
        A DER certificate, or PEM text holding exactly one certificate.
    what
        What the certificate is, for messages (e.g. ``"VCEK"``).

    Raises
    ------
    VerificationError
        If ``data`` is not exactly one well-formed certificate, or a part of it does not
        decode (see :func:`check_readable`).
    """
    if data.lstrip().startswith(_PEM):
        certificates = load_pem_certificates(data, what)
        if len(certificates) != 1:
            raise VerificationError(
                f"the {what} PEM holds {len(certificates)} certificates, not exactly one"
            )
        return certificates[0]
    return check_readable(_load_der(data, what), f"the {what} certificate")


def is_ca(certificate: x509.Certificate) -> bool:
    """Return whether the certificate's basic constraints make it a CA.

    Raises
    ------
    VerificationError
        If its extensions do not decode (a duplicate or malformed extension).
    """
    try:
        constraints = certificate.extensions.get_extension_for_oid(
            ExtensionOID.BASIC_CONSTRAINTS
        ).value
    except x509.ExtensionNotFound:
        return False
    except _UNREADABLE as exc:
        raise VerificationError(
            f"the certificate's extensions are malformed ({type(exc).__name__})"
        ) from None
    return isinstance(constraints, x509.BasicConstraints) and constraints.ca


@dataclass(frozen=True)
class CertificateTable:
    """The certificates that came with a report (each ``None`` when absent); unverified.

    Parameters
    ----------
    vcek, ask, ark
        The VCEK, ASK and ARK certificates. Nothing here is trusted yet.
    """

    vcek: x509.Certificate | None
    ask: x509.Certificate | None
    ark: x509.Certificate | None


def _table_error(message: str) -> VerificationError:
    return VerificationError(
        f"malformed SEV-SNP certificate table (auxblob): {message}",
        hint="Collect the evidence again; the host supplies the table with each report.",
    )


def parse_certificate_table(aux: bytes) -> CertificateTable:
    """Parse a GHCB certificate table (the layout is in the module docstring).

    Parameters
    ----------
    aux
        The table, as configfs-tsm's ``auxblob``; empty bytes give an empty table.

    Returns
    -------
    CertificateTable
        The VCEK, ASK and ARK certificates found, unverified.

    Raises
    ------
    VerificationError
        If the entry list has no terminator, an entry points outside the table or into the
        entry list, a GUID repeats, or a certificate does not parse.
    """
    if not aux:
        return CertificateTable(vcek=None, ask=None, ark=None)
    entries: list[tuple[UUID, int, int]] = []
    position = 0
    while True:
        if position + _ENTRY.size > len(aux):
            raise _table_error("the entry list has no all-zero terminating entry")
        guid_bytes, offset, length = _ENTRY.unpack_from(aux, position)
        position += _ENTRY.size
        if not any(guid_bytes) and offset == 0 and length == 0:
            break
        entries.append((UUID(bytes=guid_bytes), offset, length))
    found: dict[UUID, x509.Certificate] = {}
    seen: set[UUID] = set()
    for guid, offset, length in entries:
        if guid in seen:
            raise _table_error(f"GUID {guid} appears twice")
        seen.add(guid)
        if offset < position or length == 0 or offset + length > len(aux):
            raise _table_error(
                f"the entry for GUID {guid} (offset {offset}, length {length}) does not lie "
                f"within the {len(aux)}-byte table after its {position}-byte entry list"
            )
        name = _NAMES.get(guid)
        if name is not None:
            found[guid] = load_certificate(aux[offset : offset + length], name)
    return CertificateTable(
        vcek=found.get(VCEK_GUID), ask=found.get(ASK_GUID), ark=found.get(ARK_GUID)
    )


def _by_role(certificates: list[x509.Certificate]) -> CertificateTable:
    roles: dict[str, x509.Certificate] = {}
    for certificate in certificates:
        if certificate.issuer == certificate.subject:
            role = "ARK"
        elif is_ca(certificate):
            role = "ASK"
        else:
            role = "VCEK"
        if role in roles:
            raise VerificationError(
                f"the SEV-SNP certificates hold two {role} certificates; give at most one each "
                "of VCEK, ASK and ARK"
            )
        roles[role] = certificate
    return CertificateTable(vcek=roles.get("VCEK"), ask=roles.get("ASK"), ark=roles.get("ARK"))


def parse_aux_certificates(aux: bytes) -> CertificateTable:
    """Read the certificates that came with a report, in any form the module docstring names.

    Parameters
    ----------
    aux
        A GHCB certificate table, one DER certificate, PEM certificates, or empty bytes.

    Returns
    -------
    CertificateTable
        The VCEK, ASK and ARK found, unverified.

    Raises
    ------
    VerificationError
        If the bytes are a malformed table, a malformed certificate, or hold two
        certificates of one role.
    """
    if aux.lstrip().startswith(_PEM):
        return _by_role(load_pem_certificates(aux, "SEV-SNP certificates"))
    if aux[:1] == b"\x30":  # a DER SEQUENCE; no table starts with a GUID beginning 0x30
        try:
            certificate = _load_der(aux, "SEV-SNP")
        except VerificationError:
            certificate = None
        if certificate is not None:
            return _by_role([check_readable(certificate, "the SEV-SNP certificate")])
    return parse_certificate_table(aux)
