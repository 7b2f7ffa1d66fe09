"""The AMD certificate table, the pinned ARKs and the VCEK -> ASK -> ARK chain, on real certs."""

from __future__ import annotations

import json
import struct
from base64 import urlsafe_b64decode
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from accord.attest.backends.snp_cert_table import (
    ARK_GUID,
    ASK_GUID,
    VCEK_GUID,
    load_certificate,
    parse_aux_certificates,
    parse_certificate_table,
)
from accord.attest.backends.snp_certs import (
    PINNED_ARK_SHA256,
    PINNED_ASK_SHA256,
    AmdRootOfTrust,
    certificate_sha256,
    pinned_amd_roots,
    read_vcek_extensions,
    verify_vcek_chain,
)
from accord.attest.backends.snp_report import TcbVersion, parse_unverified_snp_report
from accord.errors import VerificationError

DATA = Path(__file__).parent / "data" / "sev-snp"
AT = datetime(2025, 6, 1, tzinfo=UTC)
MILAN_VCEK_DER = (DATA / "milan-vcek.der").read_bytes()
VLEK_GUID = UUID("a8074bc2-a25a-483e-aae6-39c045a0b8a1")


def ask_ark(product: str) -> tuple[x509.Certificate, x509.Certificate]:
    ask, ark = x509.load_pem_x509_certificates((DATA / f"ask_ark_{product}.pem").read_bytes())
    return ask, ark


def der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(Encoding.DER)


def genoa_auxblob() -> bytes:
    blob = json.loads((DATA / "genoa-configfs-tsm-report.json").read_text())["auxblob"]
    return urlsafe_b64decode(blob + "=" * (-len(blob) % 4))


def build_table(entries: list[tuple[UUID, bytes]]) -> bytes:
    header = b""
    body = b""
    offset = 24 * (len(entries) + 1)
    for guid, blob in entries:
        header += guid.bytes + struct.pack("<II", offset + len(body), len(blob))
        body += blob
    return header + bytes(24) + body


def milan_vcek() -> x509.Certificate:
    return load_certificate(MILAN_VCEK_DER, "VCEK")


def tampered(data: bytes, marker: bytes, replacement: bytes) -> bytes:
    assert data.count(marker) == 1
    return data.replace(marker, replacement)


# --- the certificate table -------------------------------------------------------------------


def test_the_genoa_auxblob_holds_the_vcek_ask_and_ark_as_pem():
    table = parse_certificate_table(genoa_auxblob())
    assert table.vcek is not None and table.ask is not None and table.ark is not None
    assert table.vcek.issuer.rfc4514_string().startswith("CN=SEV-Genoa")
    assert table.ask.subject.rfc4514_string().startswith("CN=SEV-Genoa")
    assert certificate_sha256(table.ark) == PINNED_ARK_SHA256["Genoa"]


def test_a_table_of_der_certificates_parses_and_unknown_guids_are_skipped():
    _, ark = ask_ark("milan")
    aux = build_table(
        [(VLEK_GUID, b"not a certificate"), (VCEK_GUID, MILAN_VCEK_DER), (ARK_GUID, der(ark))]
    )
    table = parse_certificate_table(aux)
    assert table.vcek == milan_vcek()
    assert table.ark == ark
    assert table.ask is None


def test_an_empty_auxblob_is_an_empty_table():
    table = parse_certificate_table(b"")
    assert (table.vcek, table.ask, table.ark) == (None, None, None)


def test_a_table_without_terminator_is_refused():
    aux = build_table([(VCEK_GUID, MILAN_VCEK_DER)])[:24]
    with pytest.raises(VerificationError, match="no all-zero terminating entry"):
        parse_certificate_table(aux)


@pytest.mark.parametrize(
    ("offset", "length"), [(0, 10), (24, 10), (48, 0), (48, 1361), (2**32 - 1, 2)]
)
def test_an_entry_outside_the_table_or_inside_the_entry_list_is_refused(offset, length):
    entry = VCEK_GUID.bytes + struct.pack("<II", offset, length)
    aux = entry + bytes(24) + MILAN_VCEK_DER
    with pytest.raises(VerificationError, match=f"GUID {VCEK_GUID} .* does not lie within"):
        parse_certificate_table(aux)


def test_a_repeated_guid_is_refused():
    aux = build_table([(VCEK_GUID, MILAN_VCEK_DER), (VCEK_GUID, MILAN_VCEK_DER)])
    with pytest.raises(VerificationError, match="appears twice"):
        parse_certificate_table(aux)


def test_an_entry_that_is_not_a_certificate_is_refused_by_name():
    aux = build_table([(ASK_GUID, b"\x30\x03\x02\x01\x00")])
    with pytest.raises(VerificationError, match="the ASK certificate cannot be parsed"):
        parse_certificate_table(aux)


def test_a_pem_entry_with_two_certificates_is_refused():
    pem = (DATA / "ask_ark_milan.pem").read_bytes()
    with pytest.raises(VerificationError, match="the ARK PEM holds 2 certificates"):
        parse_certificate_table(build_table([(ARK_GUID, pem)]))


def test_certificates_given_as_pem_or_der_are_sorted_by_their_shape():
    ask, ark = ask_ark("milan")
    bundle = b"".join(c.public_bytes(Encoding.PEM) for c in (ark, milan_vcek(), ask))
    table = parse_aux_certificates(bundle)
    assert (table.vcek, table.ask, table.ark) == (milan_vcek(), ask, ark)
    only = parse_aux_certificates(MILAN_VCEK_DER)
    assert (only.vcek, only.ask, only.ark) == (milan_vcek(), None, None)
    assert parse_aux_certificates(genoa_auxblob()) == parse_certificate_table(genoa_auxblob())


def test_two_certificates_of_one_role_are_refused():
    vcek_pem = milan_vcek().public_bytes(Encoding.PEM)
    with pytest.raises(VerificationError, match="hold two VCEK certificates"):
        parse_aux_certificates(vcek_pem + vcek_pem)


# --- pinned roots ----------------------------------------------------------------------------


def test_the_shipped_roots_are_milan_and_genoa_with_their_pinned_fingerprints():
    roots = pinned_amd_roots()
    assert [root.product for root in roots] == ["Milan", "Genoa"]
    for root in roots:
        assert certificate_sha256(root.ark) == PINNED_ARK_SHA256[root.product]
        assert certificate_sha256(root.ask) == PINNED_ASK_SHA256[root.product]
        assert root.ark.subject == root.ark.issuer
        assert root.ask.subject.rfc4514_string().startswith(f"CN=SEV-{root.product}")


def test_the_shipped_roots_are_the_published_certificates():
    for product in ("milan", "genoa"):
        ask, ark = ask_ark(product)
        root = next(r for r in pinned_amd_roots() if r.product.lower() == product)
        assert (root.ask, root.ark) == (ask, ark)
        assert ark.fingerprint(hashes.SHA256()).hex() == PINNED_ARK_SHA256[root.product]


def test_a_root_whose_ark_did_not_sign_its_ask_is_refused():
    milan_ask, _ = ask_ark("milan")
    _, genoa_ark = ask_ark("genoa")
    with pytest.raises(VerificationError, match=r"Milan ASK certificate was issued by .*ARK-Milan"):
        AmdRootOfTrust(product="Milan", ark=genoa_ark, ask=milan_ask)


def test_a_root_pem_with_the_wrong_number_of_certificates_is_refused():
    milan = (DATA / "ask_ark_milan.pem").read_bytes()
    genoa = (DATA / "ask_ark_genoa.pem").read_bytes()
    with pytest.raises(VerificationError, match="holds 4 certificates, not 2"):
        AmdRootOfTrust.from_pem("Milan", milan + genoa)
    ask, _ = ask_ark("milan")
    with pytest.raises(VerificationError, match="holds 1 certificates, not 2"):
        AmdRootOfTrust.from_pem("Milan", ask.public_bytes(Encoding.PEM))


# --- the VCEK's extensions -------------------------------------------------------------------


def test_the_milan_vcek_names_the_chip_and_tcb_of_the_milan_report():
    report = parse_unverified_snp_report((DATA / "milan-attestation.bin").read_bytes())
    extensions = read_vcek_extensions(milan_vcek())
    assert extensions.tcb == TcbVersion(bootloader=2, tee=0, snp=5, microcode=68)
    assert extensions.tcb == report.reported_tcb
    assert extensions.hwid == report.chip_id
    assert extensions.product_name == "Milan-B0"


# --- the chain -------------------------------------------------------------------------------


def test_the_milan_vcek_chains_to_the_pinned_milan_ark():
    endorsed = verify_vcek_chain(milan_vcek(), roots=pinned_amd_roots(), at=AT)
    assert endorsed.product == "Milan"
    assert endorsed.sha256 == certificate_sha256(milan_vcek())
    assert endorsed.public_key.curve.name == "secp384r1"


def test_the_genoa_chain_from_the_auxblob_verifies():
    table = parse_certificate_table(genoa_auxblob())
    assert table.vcek is not None
    endorsed = verify_vcek_chain(
        table.vcek, roots=pinned_amd_roots(), ask=table.ask, ark=table.ark, at=AT
    )
    assert endorsed.product == "Genoa"


def test_an_ark_that_is_not_the_pinned_one_is_refused():
    _, genoa_ark = ask_ark("genoa")
    with pytest.raises(
        VerificationError,
        match=r"ARK that came with the evidence \(CN=ARK-Genoa.*\) is not the pinned AMD ARK "
        "for Milan .*never trusted",
    ):
        verify_vcek_chain(milan_vcek(), roots=pinned_amd_roots(), ark=genoa_ark, at=AT)


def test_an_ask_of_another_product_is_refused():
    genoa_ask, _ = ask_ark("genoa")
    with pytest.raises(
        VerificationError, match=r"ASK certificate was issued by CN=ARK-Genoa.*pinned ARK for Milan"
    ):
        verify_vcek_chain(milan_vcek(), roots=pinned_amd_roots(), ask=genoa_ask, at=AT)


def test_an_altered_ask_fails_its_signature_check_by_the_pinned_ark():
    milan_ask, _ = ask_ark("milan")
    modulus = milan_ask.public_key().public_numbers().n.to_bytes(512, "big")  # type: ignore[union-attr]
    chunk = modulus[200:216]
    altered = tampered(der(milan_ask), chunk, bytes([chunk[0] ^ 1]) + chunk[1:])
    forged_ask = load_certificate(altered, "ASK")
    with pytest.raises(
        VerificationError, match="ASK certificate's signature does not verify with the pinned ARK"
    ):
        verify_vcek_chain(milan_vcek(), roots=pinned_amd_roots(), ask=forged_ask, at=AT)


def test_an_altered_vcek_fails_its_signature_check_by_the_ask():
    forged = load_certificate(tampered(MILAN_VCEK_DER, b"SEV-VCEK", b"SEV-VCEL"), "VCEK")
    with pytest.raises(
        VerificationError, match="VCEK certificate's signature does not verify with the ASK"
    ):
        verify_vcek_chain(forged, roots=pinned_amd_roots(), at=AT)


def test_a_vcek_of_a_product_without_a_pinned_root_is_refused():
    genoa_only = [root for root in pinned_amd_roots() if root.product == "Genoa"]
    with pytest.raises(
        VerificationError,
        match=r"issued by CN=SEV-Milan.*not the AMD signing key \(ASK\) of a pinned product "
        r"\(Genoa\)",
    ):
        verify_vcek_chain(milan_vcek(), roots=genoa_only, at=AT)


@pytest.mark.parametrize(
    ("when", "window"),
    [
        (datetime(2029, 9, 24, 0, 55, 29, tzinfo=UTC), "to 2029-09-24T00:55:28.000000Z"),
        (datetime(2022, 9, 24, 0, 55, 27, tzinfo=UTC), "from 2022-09-24T00:55:28.000000Z"),
    ],
)
def test_a_time_outside_the_vceks_validity_is_refused(when, window):
    with pytest.raises(
        VerificationError, match=f"Milan VCEK certificate is not valid at .*{window}"
    ):
        verify_vcek_chain(milan_vcek(), roots=pinned_amd_roots(), at=when)


def test_the_validity_bounds_themselves_are_inside():
    vcek = milan_vcek()
    for when in (vcek.not_valid_before_utc, vcek.not_valid_after_utc):
        assert verify_vcek_chain(vcek, roots=pinned_amd_roots(), at=when).product == "Milan"
