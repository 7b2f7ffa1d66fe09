"""Attacks that need a certificate authority of one's own: a forged AMD chain, mismatched VCEKs.

An attacker can make certificates that look like AMD's (same names, same extensions, correct
RSA-PSS signatures) under a root of their own. These tests build such chains with real keys and
show that the pinned verifier refuses them, and, with the test root trusted explicitly, that a
validly signed VCEK for another chip or TCB, an expired ASK or ARK, a wrong signature scheme or
a malformed AMD extension is each refused with a message naming the check.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from accord.attest.backends.sev_snp import SevSnpVerifier
from accord.attest.backends.snp_certs import AmdRootOfTrust, pinned_amd_roots
from accord.errors import VerificationError

DATA = Path(__file__).parent / "data" / "sev-snp"
MILAN_REPORT = (DATA / "milan-attestation.bin").read_bytes()
AT = datetime(2025, 6, 1, tzinfo=UTC)
START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2030, 1, 1, tzinfo=UTC)
AMD = "1.3.6.1.4.1.3704.1"
CHIP = bytes(range(64))
PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)
VCEK_GUID = bytes.fromhex("63da758de6644564adc5f4b93be8accd")
ASK_GUID = bytes.fromhex("4ab7b379bbac4fe4a02f05aef327c782")
ARK_GUID = bytes.fromhex("c0b406a4a803495297433fb6014cd0ae")


def name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Not Advanced Micro Devices"),
        ]
    )


def der_int(value: int) -> bytes:
    body = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big")
    return bytes([0x02, len(body)]) + body


def amd_extensions(tcb: tuple[int, int, int, int], hwid: bytes) -> list[x509.ExtensionType]:
    bootloader, tee, snp, microcode = tcb
    values = {"3.1": bootloader, "3.2": tee, "3.3": snp, "3.8": microcode}
    extensions: list[x509.ExtensionType] = [
        x509.UnrecognizedExtension(x509.ObjectIdentifier(f"{AMD}.{arc}"), der_int(level))
        for arc, level in values.items()
    ]
    extensions.append(x509.UnrecognizedExtension(x509.ObjectIdentifier(f"{AMD}.4"), hwid))
    extensions.append(
        x509.UnrecognizedExtension(x509.ObjectIdentifier(f"{AMD}.2"), b"\x16\x05Testa")
    )
    return extensions


def certificate(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: object,
    signing_key: rsa.RSAPrivateKey,
    *,
    ca: bool,
    extensions: list[x509.ExtensionType] = (),  # type: ignore[assignment]
    not_before: datetime = START,
    not_after: datetime = END,
    pss: bool = True,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(signing_key, hashes.SHA384(), rsa_padding=PSS if pss else None)


@dataclass
class Chain:
    """A complete ARK -> ASK -> VCEK chain of one's own, and a report signed by the VCEK key."""

    ark_key: rsa.RSAPrivateKey
    ask_key: rsa.RSAPrivateKey
    vcek_key: ec.EllipticCurvePrivateKey
    ark_name: x509.Name
    ask_name: x509.Name
    ark: x509.Certificate = field(init=False)
    ask: x509.Certificate = field(init=False)

    def __post_init__(self) -> None:
        self.ark = certificate(
            self.ark_name, self.ark_name, self.ark_key.public_key(), self.ark_key, ca=True
        )
        self.ask = certificate(
            self.ask_name, self.ark_name, self.ask_key.public_key(), self.ark_key, ca=True
        )

    def vcek(self, *, tcb=(2, 0, 5, 68), hwid=CHIP, key=None, **kwargs) -> x509.Certificate:
        public = (key or self.vcek_key).public_key()
        return certificate(
            name("SEV-VCEK"),
            self.ask_name,
            public,
            self.ask_key,
            ca=False,
            extensions=amd_extensions(tcb, hwid),
            **kwargs,
        )

    def root(self, product: str = "Testa") -> AmdRootOfTrust:
        return AmdRootOfTrust(product=product, ark=self.ark, ask=self.ask)


def signed_report(key: ec.EllipticCurvePrivateKey, *, tcb=(2, 0, 5, 68), chip=CHIP) -> bytes:
    """The Milan report with another chip id and reported TCB, signed by ``key``."""
    bootloader, tee, snp, microcode = tcb
    raw = bytearray(MILAN_REPORT)
    raw[0x180:0x188] = bytes([bootloader, tee, 0, 0, 0, 0, snp, microcode])
    raw[0x1A0:0x1E0] = chip
    r, s = decode_dss_signature(key.sign(bytes(raw[:0x2A0]), ec.ECDSA(hashes.SHA384())))
    raw[0x2A0:0x2E8] = r.to_bytes(72, "little")
    raw[0x2E8:0x330] = s.to_bytes(72, "little")
    return bytes(raw)


def table(**certificates: x509.Certificate) -> bytes:
    guids = {"vcek": VCEK_GUID, "ask": ASK_GUID, "ark": ARK_GUID}
    entries = [(guids[k], c.public_bytes(Encoding.DER)) for k, c in certificates.items()]
    header, body = b"", b""
    offset = 24 * (len(entries) + 1)
    for guid, blob in entries:
        header += guid + struct.pack("<II", offset + len(body), len(blob))
        body += blob
    return header + bytes(24) + body


@pytest.fixture(scope="module")
def keys():
    return (
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec.generate_private_key(ec.SECP384R1()),
    )


@pytest.fixture
def own(keys) -> Chain:
    """A chain under a test root with names of its own."""
    ark_key, ask_key, vcek_key = keys
    return Chain(ark_key, ask_key, vcek_key, name("ARK-Testa"), name("SEV-Testa"))


@pytest.fixture
def impostor(keys) -> Chain:
    """A chain that copies the names of AMD's Milan ARK and ASK exactly."""
    ark_key, ask_key, vcek_key = keys
    milan = next(root for root in pinned_amd_roots() if root.product == "Milan")
    return Chain(ark_key, ask_key, vcek_key, milan.ark.subject, milan.ask.subject)


def test_a_chain_under_an_explicitly_trusted_root_verifies(own):
    verifier = SevSnpVerifier(roots=[own.root()])
    claims = verifier.verify_raw(signed_report(own.vcek_key), aux=table(vcek=own.vcek()), at=AT)
    assert claims.extras["product"] == "Testa"
    assert claims.extras["chip_id"] == CHIP.hex()


def test_the_pinned_verifier_refuses_a_root_of_ones_own(own):
    with pytest.raises(
        VerificationError, match=r"issued by .*CN=SEV-Testa, which is not the AMD signing key"
    ):
        SevSnpVerifier().verify_raw(
            signed_report(own.vcek_key), aux=table(vcek=own.vcek(), ask=own.ask, ark=own.ark), at=AT
        )


def test_an_impostor_ark_with_amds_name_is_refused_by_its_fingerprint(impostor):
    aux = table(vcek=impostor.vcek(), ask=impostor.ask, ark=impostor.ark)
    with pytest.raises(VerificationError, match="is not the pinned AMD ARK for Milan"):
        SevSnpVerifier().verify_raw(signed_report(impostor.vcek_key), aux=aux, at=AT)


def test_an_impostor_ask_with_amds_name_fails_the_pinned_arks_signature(impostor):
    aux = table(vcek=impostor.vcek(), ask=impostor.ask)
    with pytest.raises(
        VerificationError, match="ASK certificate's signature does not verify with the pinned ARK"
    ):
        SevSnpVerifier().verify_raw(signed_report(impostor.vcek_key), aux=aux, at=AT)


def test_an_impostor_vcek_alone_fails_the_pinned_asks_signature(impostor):
    aux = table(vcek=impostor.vcek())
    with pytest.raises(
        VerificationError, match="VCEK certificate's signature does not verify with the ASK"
    ):
        SevSnpVerifier().verify_raw(signed_report(impostor.vcek_key), aux=aux, at=AT)


def test_a_validly_signed_vcek_for_another_tcb_is_refused(own):
    aux = table(vcek=own.vcek(tcb=(2, 0, 8, 68)))
    with pytest.raises(
        VerificationError, match="VCEK was issued for TCB bootloader 2, TEE 0, SNP 8, microcode 68"
    ):
        SevSnpVerifier(roots=[own.root()]).verify_raw(signed_report(own.vcek_key), aux=aux, at=AT)


def test_a_validly_signed_vcek_for_another_chip_is_refused(own):
    aux = table(vcek=own.vcek(hwid=bytes(64)))
    with pytest.raises(VerificationError, match="VCEK was issued for chip 00000000"):
        SevSnpVerifier(roots=[own.root()]).verify_raw(signed_report(own.vcek_key), aux=aux, at=AT)


def test_a_report_signed_by_another_key_fails_the_report_signature(own):
    other = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(VerificationError, match="report's signature does not verify with the VCEK"):
        SevSnpVerifier(roots=[own.root()]).verify_raw(
            signed_report(other), aux=table(vcek=own.vcek()), at=AT
        )


def test_an_expired_ask_is_refused_while_the_vcek_is_valid(own):
    short_lived = certificate(
        own.ask_name,
        own.ark_name,
        own.ask_key.public_key(),
        own.ark_key,
        ca=True,
        not_after=datetime(2025, 1, 1, tzinfo=UTC),
    )
    aux = table(vcek=own.vcek(), ask=short_lived)
    with pytest.raises(VerificationError, match="the Testa ASK certificate is not valid at 2025"):
        SevSnpVerifier(roots=[own.root()]).verify_raw(signed_report(own.vcek_key), aux=aux, at=AT)


def test_an_ark_not_yet_valid_is_refused(keys):
    ark_key, ask_key, vcek_key = keys
    chain = Chain(ark_key, ask_key, vcek_key, name("ARK-Testa"), name("SEV-Testa"))
    chain.ark = certificate(
        chain.ark_name,
        chain.ark_name,
        ark_key.public_key(),
        ark_key,
        ca=True,
        not_before=AT + timedelta(days=1),
    )
    with pytest.raises(VerificationError, match="the Testa ARK certificate is not valid at"):
        SevSnpVerifier(roots=[chain.root()]).verify_raw(
            signed_report(vcek_key), aux=table(vcek=chain.vcek()), at=AT
        )


def test_a_vcek_signed_with_pkcs1_instead_of_pss_is_refused(own):
    aux = table(vcek=own.vcek(pss=False))
    with pytest.raises(VerificationError, match="not signed with RSASSA-PSS and SHA-384"):
        SevSnpVerifier(roots=[own.root()]).verify_raw(signed_report(own.vcek_key), aux=aux, at=AT)


def test_a_vcek_with_a_p256_key_is_refused(own):
    aux = table(vcek=own.vcek(key=ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(VerificationError, match="does not hold an ECDSA P-384 key"):
        SevSnpVerifier(roots=[own.root()]).verify_raw(signed_report(own.vcek_key), aux=aux, at=AT)


def test_an_ask_that_is_not_a_ca_is_refused(own):
    not_ca = certificate(
        own.ask_name, own.ark_name, own.ask_key.public_key(), own.ark_key, ca=False
    )
    with pytest.raises(VerificationError, match="the ASK certificate is not a CA certificate"):
        SevSnpVerifier(roots=[own.root()]).verify_raw(
            signed_report(own.vcek_key), aux=table(vcek=own.vcek(), ask=not_ca), at=AT
        )


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        (None, r"lacks AMD extension 1\.3\.6\.1\.4\.1\.3704\.1\.3\.3 \(snp level\)"),
        (der_int(300), "is not a DER INTEGER from 0 to 255"),
        (b"\x04\x01\x05", "is not a DER INTEGER from 0 to 255"),
        (b"\x02\x02\x00\x05", "is not a DER INTEGER from 0 to 255"),  # not minimal
    ],
)
def test_a_malformed_or_missing_tcb_extension_is_refused(own, replace, message):
    extensions = [
        e
        for e in amd_extensions((2, 0, 5, 68), CHIP)
        if e.oid.dotted_string != f"{AMD}.3.3"  # type: ignore[attr-defined]
    ]
    if replace is not None:
        extensions.append(x509.UnrecognizedExtension(x509.ObjectIdentifier(f"{AMD}.3.3"), replace))
    vcek = certificate(
        name("SEV-VCEK"),
        own.ask_name,
        own.vcek_key.public_key(),
        own.ask_key,
        ca=False,
        extensions=extensions,
    )
    with pytest.raises(VerificationError, match=message):
        SevSnpVerifier(roots=[own.root()]).verify_raw(
            signed_report(own.vcek_key), aux=table(vcek=vcek), at=AT
        )


def test_a_hwid_wrapped_in_an_octet_string_is_read(own):
    vcek = own.vcek(hwid=b"\x04\x40" + CHIP)
    claims = SevSnpVerifier(roots=[own.root()]).verify_raw(
        signed_report(own.vcek_key), aux=table(vcek=vcek), at=AT
    )
    assert claims.extras["chip_id"] == CHIP.hex()


def test_a_vcek_without_a_hwid_is_refused(own):
    vcek = own.vcek(hwid=b"\x00" * 10)
    with pytest.raises(VerificationError, match="lacks a 64-byte hwID"):
        SevSnpVerifier(roots=[own.root()]).verify_raw(
            signed_report(own.vcek_key), aux=table(vcek=vcek), at=AT
        )
