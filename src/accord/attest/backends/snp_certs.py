"""AMD SEV-SNP certificates: the pinned AMD roots and the VCEK -> ASK -> ARK chain.

**Chain.** A report is signed (ECDSA P-384) by the chip's *VCEK*, derived from the chip's
secret and its reported TCB. AMD's key distribution service certifies each VCEK with the
product's *ASK* (AMD SEV signing key), which the product's *ARK* (AMD root key) certifies;
the ARK signs itself. All three certificates are signed with RSASSA-PSS, SHA-384, MGF1 with
SHA-384 and a salt of 48 bytes. :func:`verify_vcek_chain` checks that chain against an
:class:`AmdRootOfTrust` chosen by the VCEK's issuer. The ARK is **never** taken from the
evidence: an ARK that arrives with it must equal the pinned one byte for byte (SHA-256 of the
DER certificate), and the pinned ARKs of Milan and Genoa ship with Accord
(``accord/attest/trust/ask_ark_<product>.pem``, checked against :data:`PINNED_ARK_SHA256`
and :data:`PINNED_ASK_SHA256` when loaded).

**VCEK extensions.** The VCEK names the chip and TCB it was derived for, as non-critical
extensions under AMD's arc ``1.3.6.1.4.1.3704.1``: ``.3.1`` boot loader, ``.3.2`` TEE,
``.3.3`` SNP and ``.3.8`` microcode security patch levels (DER INTEGER), ``.4`` hwID (the
64-byte chip id) and ``.2`` the product name (IA5String).

The certificates come from :mod:`~accord.attest.backends.snp_cert_table`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import SignatureAlgorithmOID

from accord.attest._fields import check_utc, format_time, short_hex
from accord.attest.backends.snp_cert_table import is_ca, load_pem_certificates
from accord.attest.backends.snp_report import TcbVersion
from accord.errors import UsageError, VerificationError

__all__ = [
    "KDS_HINT",
    "PINNED_ARK_SHA256",
    "PINNED_ASK_SHA256",
    "AmdRootOfTrust",
    "EndorsedVcek",
    "VcekExtensions",
    "certificate_sha256",
    "pinned_amd_roots",
    "read_vcek_extensions",
    "verify_vcek_chain",
]

PINNED_ARK_SHA256: Final = {
    "Milan": "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd",
    "Genoa": "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1",
}
PINNED_ASK_SHA256: Final = {
    "Milan": "67d303bd3905fd38db8b20e0793699870e7fa612eaad5dec358293fd8c0bac1b",
    "Genoa": "5464738c1546aed5f2cecf1dc98c5c960a92e8913238a61711bc90ec6e828521",
}

_AMD_ARC: Final = "1.3.6.1.4.1.3704.1"
_SPL_OIDS: Final = {
    "bootloader": x509.ObjectIdentifier(f"{_AMD_ARC}.3.1"),
    "tee": x509.ObjectIdentifier(f"{_AMD_ARC}.3.2"),
    "snp": x509.ObjectIdentifier(f"{_AMD_ARC}.3.3"),
    "microcode": x509.ObjectIdentifier(f"{_AMD_ARC}.3.8"),
}
_HWID_OID: Final = x509.ObjectIdentifier(f"{_AMD_ARC}.4")
_PRODUCT_NAME_OID: Final = x509.ObjectIdentifier(f"{_AMD_ARC}.2")
_CHIP_ID_BYTES: Final = 64
_PSS: Final = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)
KDS_HINT: Final = (
    "Fetch the chip's VCEK for the report's reported TCB from AMD's key distribution service: "
    "https://kdsintf.amd.com/vcek/v1/<product>/<chip id hex>"
    "?blSPL=<n>&teeSPL=<n>&snpSPL=<n>&ucodeSPL=<n>"
)


def certificate_sha256(certificate: x509.Certificate) -> str:
    """Return the SHA-256 of the DER certificate, lowercase hex (the pinning fingerprint)."""
    return certificate.fingerprint(hashes.SHA256()).hex()


def _describe(certificate: x509.Certificate) -> str:
    fingerprint = short_hex(certificate_sha256(certificate))
    return f"{certificate.subject.rfc4514_string()}, SHA-256 {fingerprint}"


def _verify_issued_by(
    certificate: x509.Certificate, issuer: x509.Certificate, what: str, by: str
) -> None:
    """Check that ``issuer`` signed ``certificate`` with RSASSA-PSS SHA-384 (salt 48)."""
    if certificate.issuer != issuer.subject:
        raise VerificationError(
            f"the {what} certificate was issued by {certificate.issuer.rfc4514_string()}, "
            f"not by the {by} ({issuer.subject.rfc4514_string()})"
        )
    try:
        hash_algorithm = certificate.signature_hash_algorithm
    except UnsupportedAlgorithm:
        hash_algorithm = None
    if certificate.signature_algorithm_oid != SignatureAlgorithmOID.RSASSA_PSS or not isinstance(
        hash_algorithm, hashes.SHA384
    ):
        raise VerificationError(
            f"the {what} certificate is not signed with RSASSA-PSS and SHA-384, as AMD signs "
            f"its SEV certificates ({certificate.signature_algorithm_oid.dotted_string})"
        )
    key = issuer.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise VerificationError(f"the {by} does not hold an RSA key")
    try:
        key.verify(certificate.signature, certificate.tbs_certificate_bytes, _PSS, hashes.SHA384())
    except InvalidSignature:
        raise VerificationError(
            f"the {what} certificate's signature does not verify with the {by}: the "
            f"certificate was altered or was not issued by AMD ({_describe(certificate)})",
            hint="Do not trust this evidence; fetch the certificates from AMD again.",
        ) from None


def _check_ca(certificate: x509.Certificate, what: str) -> None:
    if not is_ca(certificate):
        raise VerificationError(f"the {what} certificate is not a CA certificate")


def _check_validity(certificate: x509.Certificate, what: str, at: datetime) -> None:
    start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    if not start <= at <= end:
        raise VerificationError(
            f"the {what} certificate is not valid at {format_time(at)} (valid from "
            f"{format_time(start)} to {format_time(end)})",
            hint="Verify at a time inside the certificates' validity, or fetch current ones.",
        )


@dataclass(frozen=True)
class AmdRootOfTrust:
    """One product's trusted AMD keys: the pinned ARK and the ASK it certified.

    Building one checks that the ARK is a self-signed CA certificate and that it signed the
    ASK; validity periods are judged at verification time. Use :func:`pinned_amd_roots` for
    the roots that ship with Accord; build others only to trust a product it does not pin.

    Parameters
    ----------
    product
        The product name, as in the ASK's common name ``SEV-<product>`` (``"Milan"``).
    ark
        The AMD root key certificate: the trust anchor.
    ask
        The AMD SEV signing key certificate, signed by ``ark``.
    """

    product: str
    ark: x509.Certificate
    ask: x509.Certificate

    def __post_init__(self) -> None:
        what = f"{self.product} ARK"
        _check_ca(self.ark, what)
        _verify_issued_by(self.ark, self.ark, what, f"{what} itself (a root signs itself)")
        _check_ca(self.ask, f"{self.product} ASK")
        _verify_issued_by(self.ask, self.ark, f"{self.product} ASK", what)

    @classmethod
    def from_pem(cls, product: str, pem: bytes) -> AmdRootOfTrust:
        """Build a root from AMD's ``cert_chain`` PEM: the ASK, then the ARK.

        Raises
        ------
        VerificationError
            If the PEM does not hold exactly two certificates that form a valid ASK/ARK pair.
        """
        certificates = load_pem_certificates(pem, f"{product} ASK/ARK")
        if len(certificates) != 2:
            raise VerificationError(
                f"the {product} ASK/ARK PEM holds {len(certificates)} certificates, not 2"
            )
        ask, ark = certificates
        return cls(product=product, ark=ark, ask=ask)


@functools.cache
def pinned_amd_roots() -> tuple[AmdRootOfTrust, ...]:
    """Return the AMD roots that ship with Accord (Milan, Genoa), checked against their pins.

    Raises
    ------
    VerificationError
        If a shipped certificate does not have its pinned SHA-256 (an altered installation).
    """
    roots = []
    trust = resources.files("accord.attest").joinpath("trust")
    for product, ark_pin in PINNED_ARK_SHA256.items():
        pem = trust.joinpath(f"ask_ark_{product.lower()}.pem").read_bytes()
        root = AmdRootOfTrust.from_pem(product, pem)
        for what, certificate, pin in (
            ("ARK", root.ark, ark_pin),
            ("ASK", root.ask, PINNED_ASK_SHA256[product]),
        ):
            if certificate_sha256(certificate) != pin:
                raise VerificationError(
                    f"the AMD {product} {what} shipped with Accord has SHA-256 "
                    f"{certificate_sha256(certificate)}, not the pinned {pin}: the installation "
                    "was altered",
                    hint="Reinstall Accord from a trusted source.",
                )
        roots.append(root)
    return tuple(roots)


@dataclass(frozen=True)
class VcekExtensions:
    """What a VCEK certificate says about the chip and TCB it was derived for.

    Parameters
    ----------
    tcb
        The security patch levels (extensions ``.3.1``, ``.3.2``, ``.3.3``, ``.3.8``).
    hwid
        The 64-byte chip id (extension ``.4``).
    product_name
        The product name (extension ``.2``, e.g. ``"Milan-B0"``), or ``None`` when absent.
    """

    tcb: TcbVersion
    hwid: bytes
    product_name: str | None


def _extension_value(certificate: x509.Certificate, oid: x509.ObjectIdentifier) -> bytes | None:
    try:
        value = certificate.extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None
    if not isinstance(value, x509.UnrecognizedExtension):
        return None
    return value.value


def _der_small_integer(value: bytes, name: str) -> int:
    length_ok = len(value) in (3, 4) and value[0] == 0x02 and value[1] == len(value) - 2
    minimal = len(value) != 4 or (value[2] == 0 and value[3] >= 0x80)
    number = int.from_bytes(value[2:], "big", signed=True) if length_ok else -1
    if not (length_ok and minimal and 0 <= number <= 255):
        raise VerificationError(
            f"the VCEK's {name} extension is not a DER INTEGER from 0 to 255 ({value.hex()})"
        )
    return number


def read_vcek_extensions(vcek: x509.Certificate) -> VcekExtensions:
    """Read the TCB levels, chip id and product name from a VCEK certificate.

    Raises
    ------
    VerificationError
        If a TCB or hwID extension is missing or malformed.
    """
    levels: dict[str, int] = {}
    for name, oid in _SPL_OIDS.items():
        value = _extension_value(vcek, oid)
        if value is None:
            raise VerificationError(
                f"the VCEK certificate lacks AMD extension {oid.dotted_string} ({name} level)"
            )
        levels[name] = _der_small_integer(value, f"{oid.dotted_string} ({name} level)")
    hwid = _extension_value(vcek, _HWID_OID)
    if hwid is not None and len(hwid) == _CHIP_ID_BYTES + 2 and hwid[:2] == b"\x04\x40":
        hwid = hwid[2:]  # some issuers wrap the chip id in a DER OCTET STRING
    if hwid is None or len(hwid) != _CHIP_ID_BYTES:
        raise VerificationError(
            f"the VCEK certificate lacks a 64-byte hwID (AMD extension {_HWID_OID.dotted_string})"
        )
    name_value = _extension_value(vcek, _PRODUCT_NAME_OID)
    product_name = None
    if name_value is not None and len(name_value) >= 2 and name_value[0] == 0x16:
        product_name = name_value[2:].decode("ascii", "replace")
    return VcekExtensions(tcb=TcbVersion(**levels), hwid=hwid, product_name=product_name)


@dataclass(frozen=True)
class EndorsedVcek:
    """A VCEK whose chain to a pinned AMD root verified at a given time.

    Parameters
    ----------
    product
        The product of the root it chains to (``"Milan"``, ``"Genoa"``).
    public_key
        The VCEK's P-384 public key, which signs the chip's reports.
    extensions
        The chip id and TCB the VCEK was derived for.
    sha256
        The SHA-256 of the DER VCEK certificate.
    """

    product: str
    public_key: ec.EllipticCurvePublicKey
    extensions: VcekExtensions
    sha256: str


def _root_for(vcek: x509.Certificate, roots: Sequence[AmdRootOfTrust]) -> AmdRootOfTrust:
    for root in roots:
        if root.ask.subject == vcek.issuer:
            return root
    products = ", ".join(root.product for root in roots) or "none"
    raise VerificationError(
        f"the VCEK was issued by {vcek.issuer.rfc4514_string()}, which is not the AMD signing "
        f"key (ASK) of a pinned product ({products})",
        hint="Only reports from products whose AMD root key is pinned can be verified.",
    )


def verify_vcek_chain(
    vcek: x509.Certificate,
    *,
    roots: Sequence[AmdRootOfTrust],
    ask: x509.Certificate | None = None,
    ark: x509.Certificate | None = None,
    at: datetime,
) -> EndorsedVcek:
    """Check that ``vcek`` chains to a pinned ARK and that every certificate is valid at ``at``.

    Parameters
    ----------
    vcek
        The VCEK certificate (from the evidence or given by the verifier's operator).
    roots
        The trusted roots; the one whose ASK subject is the VCEK's issuer is used.
    ask
        An ASK that came with the evidence, or ``None`` to use the root's own ASK. Either
        way it must be signed by the pinned ARK.
    ark
        An ARK that came with the evidence, or ``None``. It is never trusted: it must equal
        the pinned ARK of the product (same SHA-256).
    at
        The time at which the certificates must be valid.

    Returns
    -------
    EndorsedVcek
        The product, the VCEK's public key and its chip id and TCB.

    Raises
    ------
    UsageError
        If ``at`` is not a timezone-aware datetime.
    VerificationError
        Naming the failed check: no pinned root for the issuer, an ARK that is not the pinned
        one, a signature that does not verify, a certificate not valid at ``at``, or a VCEK
        key that is not P-384.
    """
    at = check_utc(at, "at", error=UsageError)
    root = _root_for(vcek, roots)
    pinned = certificate_sha256(root.ark)
    if ark is not None and certificate_sha256(ark) != pinned:
        raise VerificationError(
            f"the ARK that came with the evidence ({_describe(ark)}) is not the pinned AMD ARK "
            f"for {root.product} (SHA-256 {short_hex(pinned)}): a root certificate that "
            "arrives with the evidence is never trusted",
            hint="Do not trust this evidence: its certificate chain ends in an unknown root.",
        )
    signing_ask = root.ask
    if ask is not None:
        _check_ca(ask, "ASK")
        _verify_issued_by(ask, root.ark, "ASK", f"pinned ARK for {root.product}")
        signing_ask = ask
    _verify_issued_by(vcek, signing_ask, "VCEK", f"ASK for {root.product}")
    for certificate, what in ((vcek, "VCEK"), (signing_ask, "ASK"), (root.ark, "ARK")):
        _check_validity(certificate, f"{root.product} {what}", at)
    key = vcek.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP384R1):
        raise VerificationError("the VCEK certificate does not hold an ECDSA P-384 key")
    return EndorsedVcek(
        product=root.product,
        public_key=key,
        extensions=read_vcek_extensions(vcek),
        sha256=certificate_sha256(vcek),
    )
