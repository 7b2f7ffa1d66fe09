"""RA-TLS certificates: read the evidence an enclave put in its TLS certificate, and verify it.

Enclaves built with Gramine, the Intel SGX SDK or rats-tls make a self-signed X.509
certificate whose extension carries an SGX or TDX quote binding the certificate's public key.
Two carriers are read:

``tcg-dice`` (preferred; Gramine, Intel SGX SDK, rats-tls)
    Extension ``2.23.133.5.4.9`` (TCG DICE tagged evidence) holding the CBOR
    ``60000([quote, claims-buffer])``. ``claims-buffer`` is a CBOR map of text keys to byte
    strings; its ``pubkey-hash`` is the CBOR array ``[hash-alg-id, hash]`` (IANA named-information
    ids: 1 = SHA-256, 7 = SHA-384, 8 = SHA-512) over the DER ``SubjectPublicKeyInfo`` of the
    certificate, and an optional ``nonce`` may follow. The quote's report data begins with
    SHA-256(claims-buffer). Binding: both hashes must match.
``gramine-legacy`` (Gramine before the TCG format)
    Extension ``1.2.840.113741.1337.6`` (Gramine writes the OID's whole DER encoding as its
    content, so strict decoders show ``0.6.9.42.840.113741.1337.6``; both are accepted)
    holding the raw quote. Binding: report data begins with SHA-256 of the DER
    ``SubjectPublicKeyInfo``.

When a certificate has both, the ``tcg-dice`` evidence is used. The certificate must be
self-signed, as these three make it: its signature must verify with its own key (ECDSA or RSA
PKCS#1 v1.5 with SHA-256/384/512), so that every byte of it is covered. CA-signed RA-TLS
certificates are not supported.
:func:`read_ratls_certificate` extracts and checks the binding; :class:`RaTlsVerifier` then
authenticates the quote (with Intel's collateral) and returns its claims, which a policy
judges like any other evidence. The certificate's validity period is for the TLS layer to
judge and is not checked here. Endorsements carried in the certificate
(``2.23.133.5.4.2``) are not read: give the collateral explicitly.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Final

import cbor2
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from accord.attest._der import children, decode_oid, read_tlv
from accord.attest.backends.dcap import DcapCollateral
from accord.attest.backends.dcap_quote import SGX, parse_quote_body
from accord.attest.backends.sgx_dcap import SgxDcapVerifier
from accord.attest.backends.tdx import TdxVerifier
from accord.attest.claims import Claims
from accord.errors import UsageError, VerificationError

__all__ = [
    "GRAMINE_LEGACY_OID",
    "MAX_CERTIFICATE_BYTES",
    "TCG_DICE_TAGGED_EVIDENCE_OID",
    "RaTlsEvidence",
    "RaTlsVerifier",
    "VerifiedRaTls",
    "read_ratls_certificate",
]

TCG_DICE_TAGGED_EVIDENCE_OID: Final = "2.23.133.5.4.9"
GRAMINE_LEGACY_OID: Final = "1.2.840.113741.1337.6"
MAX_CERTIFICATE_BYTES: Final = 128 * 1024
TCG: Final = "tcg-dice"
GRAMINE_LEGACY: Final = "gramine-legacy"
_GRAMINE_LEGACY_WRAPPED: Final = "0.6.9.42.840.113741.1337.6"
_INTEL_TEE_QUOTE_TAG: Final = 60000
_HASHES: Final = {1: hashlib.sha256, 7: hashlib.sha384, 8: hashlib.sha512}
_SIGNATURE_HASHES: Final[dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]]] = {
    "1.2.840.10045.4.3.2": hashes.SHA256,
    "1.2.840.10045.4.3.3": hashes.SHA384,
    "1.2.840.10045.4.3.4": hashes.SHA512,
    "1.2.840.113549.1.1.11": hashes.SHA256,
    "1.2.840.113549.1.1.12": hashes.SHA384,
    "1.2.840.113549.1.1.13": hashes.SHA512,
}
_WHAT: Final = "the RA-TLS certificate"
_SEQUENCE: Final = 0x30
_PEM_BEGIN: Final = b"-----BEGIN CERTIFICATE-----"
_PEM_END: Final = b"-----END CERTIFICATE-----"


@dataclass(frozen=True)
class RaTlsEvidence:
    """The evidence of an RA-TLS certificate whose key binding was checked (quote unverified).

    Parameters
    ----------
    evidence_format
        ``"tcg-dice"`` or ``"gramine-legacy"``: the extension the quote came from.
    quote
        The SGX or TDX quote, not yet authenticated.
    backend
        ``"sgx-dcap"`` or ``"tdx"``, from the quote's TEE type.
    public_key
        The certificate's DER ``SubjectPublicKeyInfo``, which the report data binds.
    custom_claims
        The TCG claims (``pubkey-hash``, ``nonce``, ...) as raw bytes; empty for legacy.
    """

    evidence_format: str
    quote: bytes = field(repr=False)
    backend: str
    public_key: bytes = field(repr=False)
    custom_claims: Mapping[str, bytes] = field(repr=False)

    @property
    def public_key_sha256(self) -> str:
        """SHA-256 (hex) of the certificate's DER SubjectPublicKeyInfo."""
        return hashlib.sha256(self.public_key).hexdigest()

    def unverified_claims(self) -> Claims:
        """Return what the quote states, **without** authenticating it (no TCB status).

        Useful to inspect a certificate, or to refuse it early (e.g. a debug enclave);
        never to accept it: only :meth:`RaTlsVerifier.verify` authenticates the quote.
        """
        parser = SgxDcapVerifier() if self.backend == "sgx-dcap" else TdxVerifier()
        return parser.parse_unverified(self.quote, aux=b"")


@dataclass(frozen=True)
class VerifiedRaTls:
    """An RA-TLS certificate whose quote was authenticated and binds its key.

    Parameters
    ----------
    claims
        The authenticated claims of the quote; extras add ``ratls_format`` and
        ``public_key_sha256``. Judge them with a policy before trusting the key.
    evidence
        What was read from the certificate.
    """

    claims: Claims
    evidence: RaTlsEvidence


def _certificate_der(data: bytes) -> bytes:
    if len(data) > MAX_CERTIFICATE_BYTES:
        raise VerificationError(
            f"{_WHAT} is {len(data)} bytes, more than the limit of {MAX_CERTIFICATE_BYTES}"
        )
    stripped = data.strip()
    if not stripped.startswith(_PEM_BEGIN):
        return data
    if stripped.count(_PEM_BEGIN) != 1 or not stripped.endswith(_PEM_END):
        raise VerificationError(f"{_WHAT} must be one PEM certificate (or DER)")
    body = stripped[len(_PEM_BEGIN) : -len(_PEM_END)]
    try:
        return base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise VerificationError(f"{_WHAT} is PEM with invalid base64") from None


@dataclass(frozen=True)
class _Certificate:
    tbs: bytes
    signature_oid: str
    signature: bytes
    public_key: bytes
    extensions: dict[str, bytes]


def _parse_certificate(der: bytes) -> _Certificate:
    top = read_tlv(der, 0, len(der), what=_WHAT)
    if top.end != len(der):
        raise VerificationError(f"{_WHAT} has {len(der) - top.end} bytes after its end")
    parts = children(der, top, what=_WHAT) if top.tag == _SEQUENCE else []
    if [part.tag for part in parts] != [_SEQUENCE, _SEQUENCE, 0x03]:
        raise VerificationError(f"{_WHAT} is not an X.509 certificate")
    tbs = children(der, parts[0], what=_WHAT)
    fields = tbs[1:] if tbs and tbs[0].tag == 0xA0 else tbs
    if len(fields) < 6 or any(fields[index].tag != _SEQUENCE for index in (1, 2, 3, 4, 5)):
        raise VerificationError(f"{_WHAT} does not have the fields of an X.509 certificate")
    spki = fields[5]
    extensions: dict[str, bytes] = {}
    for holder in (item for item in fields[6:] if item.tag == 0xA3):
        listed = children(der, holder, what=_WHAT)
        if len(listed) != 1 or listed[0].tag != _SEQUENCE:
            raise VerificationError(f"{_WHAT} has a malformed extension list")
        for extension in children(der, listed[0], what=_WHAT):
            items = children(der, extension, what=_WHAT) if extension.tag == _SEQUENCE else []
            if len(items) not in (2, 3) or items[0].tag != 0x06 or items[-1].tag != 0x04:
                raise VerificationError(f"{_WHAT} has a malformed extension")
            oid = decode_oid(items[0].content(der), what=_WHAT)
            if oid in extensions:
                raise VerificationError(f"{_WHAT} has extension {oid} twice")
            extensions[oid] = items[-1].content(der)
    algorithm = children(der, parts[1], what=_WHAT)
    bit_string = parts[2].content(der)
    if not algorithm or algorithm[0].tag != 0x06 or not bit_string or bit_string[0] != 0:
        raise VerificationError(f"{_WHAT} has a malformed signature")
    return _Certificate(
        tbs=parts[0].encoding(der),
        signature_oid=decode_oid(algorithm[0].content(der), what=_WHAT),
        signature=bit_string[1:],
        public_key=spki.encoding(der),
        extensions=extensions,
    )


def _check_self_signature(certificate: _Certificate) -> None:
    algorithm = _SIGNATURE_HASHES.get(certificate.signature_oid)
    if algorithm is None:
        raise VerificationError(
            f"{_WHAT} is signed with algorithm {certificate.signature_oid}, which Accord "
            "does not support (ECDSA or RSA with SHA-256/384/512)"
        )
    try:
        key = load_der_public_key(certificate.public_key)
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(certificate.signature, certificate.tbs, ec.ECDSA(algorithm()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(certificate.signature, certificate.tbs, padding.PKCS1v15(), algorithm())
        else:
            raise VerificationError(f"{_WHAT} has a key type Accord does not support")
    except (InvalidSignature, UnsupportedAlgorithm, ValueError):
        raise VerificationError(
            f"{_WHAT} failed the certificate signature check: its signature does not verify "
            "with its own key, so it was altered (or is not self-signed, which RA-TLS "
            "certificates are)"
        ) from None


def _binding_error(detail: str) -> VerificationError:
    return VerificationError(
        f"{_WHAT} failed the key binding check: {detail}",
        hint="The quote was not made for this certificate's key: do not trust the key.",
    )


def _decode_cbor(data: bytes, what: str) -> object:
    stream = io.BytesIO(data)
    try:
        value = cbor2.CBORDecoder(
            stream, read_size=1, allow_indefinite=False, allow_duplicate_keys=False, max_depth=8
        ).decode()
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise VerificationError(f"{_WHAT} has malformed {what}: {exc}") from None
    if stream.tell() != len(data):
        raise VerificationError(f"{_WHAT} has {len(data) - stream.tell()} bytes after its {what}")
    return value


def _tcg_evidence(value: bytes, public_key: bytes) -> tuple[bytes, dict[str, bytes]]:
    tagged = _decode_cbor(value, "tagged evidence")
    if not isinstance(tagged, cbor2.CBORTag) or tagged.tag != _INTEL_TEE_QUOTE_TAG:
        raise VerificationError(
            f"{_WHAT} carries tagged evidence of a kind Accord does not read (CBOR tag "
            f"{getattr(tagged, 'tag', None)}; Intel TEE quotes use {_INTEL_TEE_QUOTE_TAG})"
        )
    content = tagged.value
    if not (
        isinstance(content, list | tuple)
        and len(content) == 2
        and all(isinstance(item, bytes) for item in content)
    ):
        raise VerificationError(f"{_WHAT}: tagged evidence must be [quote, claims-buffer]")
    quote, claims_buffer = content
    claims = _decode_cbor(claims_buffer, "claims buffer")
    if not isinstance(claims, dict) or not all(
        isinstance(key, str) and isinstance(item, bytes) for key, item in claims.items()
    ):
        raise VerificationError(f"{_WHAT}: the claims must map text names to byte strings")
    if "pubkey-hash" not in claims:
        raise _binding_error("its claims have no 'pubkey-hash'")
    entry = _decode_cbor(claims["pubkey-hash"], "pubkey-hash")
    if not (
        isinstance(entry, list | tuple)
        and len(entry) == 2
        and isinstance(entry[0], int)
        and isinstance(entry[1], bytes)
    ):
        raise _binding_error("'pubkey-hash' is not [hash-alg-id, hash]")
    hash_function = _HASHES.get(entry[0])
    if hash_function is None:
        raise _binding_error(f"'pubkey-hash' uses hash algorithm {entry[0]} (1, 7 and 8 known)")
    if not hmac.compare_digest(hash_function(public_key).digest(), entry[1]):
        raise _binding_error("'pubkey-hash' is not the hash of the certificate's public key")
    expected = hashlib.sha256(claims_buffer).digest()
    if not hmac.compare_digest(parse_quote_body(quote).report_data[:32], expected):
        raise _binding_error("the quote's report data is not SHA-256 of the claims buffer")
    return quote, claims


def _legacy_evidence(value: bytes, public_key: bytes) -> bytes:
    expected = hashlib.sha256(public_key).digest()
    if not hmac.compare_digest(parse_quote_body(value).report_data[:32], expected):
        raise _binding_error(
            "the quote's report data is not SHA-256 of the certificate's public key"
        )
    return value


def read_ratls_certificate(data: bytes, *, evidence_format: str | None = None) -> RaTlsEvidence:
    """Extract the evidence of an RA-TLS certificate and check that it binds the key.

    Parameters
    ----------
    data
        The certificate, PEM or DER.
    evidence_format
        ``"tcg-dice"`` or ``"gramine-legacy"`` to read that extension only; by default the
        TCG extension when present, else Gramine's legacy one.

    Returns
    -------
    RaTlsEvidence
        The (still unauthenticated) quote and the key it binds.

    Raises
    ------
    VerificationError
        If the certificate is malformed, carries no supported evidence, fails its
        self-signature (certificate signature check) or its binding (key binding check).
    """
    if evidence_format not in (None, TCG, GRAMINE_LEGACY):
        raise UsageError(f"evidence_format must be {TCG!r} or {GRAMINE_LEGACY!r}")
    certificate = _parse_certificate(_certificate_der(data))
    _check_self_signature(certificate)
    extensions = certificate.extensions
    tcg = extensions.get(TCG_DICE_TAGGED_EVIDENCE_OID)
    legacy = extensions.get(GRAMINE_LEGACY_OID, extensions.get(_GRAMINE_LEGACY_WRAPPED))
    chosen = evidence_format or (TCG if tcg is not None else GRAMINE_LEGACY)
    found = tcg if chosen == TCG else legacy
    if found is None:
        wanted = (
            f"the {chosen} extension"
            if evidence_format
            else f"neither the TCG DICE extension {TCG_DICE_TAGGED_EVIDENCE_OID} nor Gramine's "
            f"{GRAMINE_LEGACY_OID}"
        )
        raise VerificationError(
            f"{_WHAT} carries no attestation evidence: {wanted}",
            hint="Is this an RA-TLS certificate made inside an enclave?",
        )
    claims: dict[str, bytes] = {}
    if chosen == TCG:
        quote, claims = _tcg_evidence(found, certificate.public_key)
    else:
        quote = _legacy_evidence(found, certificate.public_key)
    body = parse_quote_body(quote)
    return RaTlsEvidence(
        evidence_format=chosen,
        quote=quote,
        backend="sgx-dcap" if body.tee == SGX else "tdx",
        public_key=certificate.public_key,
        custom_claims=MappingProxyType(dict(claims)),
    )


class RaTlsVerifier:
    """Verifies RA-TLS certificates: key binding, then the quote with Intel's collateral.

    Parameters
    ----------
    collateral
        Intel's collateral for the enclave's platform (RA-TLS certificates carry none that
        Accord reads). Without it, verification fails at the collateral check.
    """

    def __init__(self, *, collateral: DcapCollateral | None = None) -> None:
        self._sgx = SgxDcapVerifier(collateral=collateral)
        self._tdx = TdxVerifier(collateral=collateral)

    def verify(self, certificate: bytes, *, at: datetime) -> VerifiedRaTls:
        """Verify ``certificate`` (PEM or DER) at time ``at``.

        Returns
        -------
        VerifiedRaTls
            The authenticated claims of its quote, and the evidence read.

        Raises
        ------
        VerificationError
            If any check fails; the message names it.
        """
        evidence = read_ratls_certificate(certificate)
        backend = self._sgx if evidence.backend == "sgx-dcap" else self._tdx
        claims = backend.verify_raw(evidence.quote, aux=b"", at=at)
        extras = dict(claims.extras)
        extras["ratls_format"] = evidence.evidence_format
        extras["public_key_sha256"] = evidence.public_key_sha256
        return VerifiedRaTls(claims=dataclasses.replace(claims, extras=extras), evidence=evidence)
