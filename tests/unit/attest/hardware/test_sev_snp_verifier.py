"""SevSnpVerifier on real evidence: the Milan report (debug) and the Genoa configfs-tsm capture.

Every tampering is performed on the real bytes and must fail with a VerificationError that
names the failed check. Verification runs at a fixed time inside the certificates' validity.
"""

from __future__ import annotations

import dataclasses
import json
import struct
from base64 import urlsafe_b64decode
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from accord.attest import (
    AccordSecurityWarning,
    AllOf,
    AllowDebugEnclaves,
    BackendIn,
    DebugForbidden,
    MeasurementIn,
    Verifier,
)
from accord.attest.backends.sev_snp import SevSnpReportParser, SevSnpVerifier, evidence_from_report
from accord.attest.backends.snp_cert_table import load_certificate
from accord.attest.backends.snp_certs import pinned_amd_roots
from accord.attest.claims import Claims
from accord.attest.evidence import Evidence
from accord.attest.policy import apply_policy
from accord.errors import UsageError, VerificationError

DATA = Path(__file__).parent / "data" / "sev-snp"
AT = datetime(2025, 6, 1, tzinfo=UTC)
MILAN_REPORT = (DATA / "milan-attestation.bin").read_bytes()
MILAN_VCEK = (DATA / "milan-vcek.der").read_bytes()
MILAN_MEASUREMENT = (
    "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b"
    "6bdf8a9ece31a5a608eb0cf2e4872b01"
)
GENOA_MEASUREMENT = (
    "7699e6ac12ccdfd1dfac70e649ce1f046cb2afbb003438f4cdddfe2ccbe182fa"
    "5ffbe8dcdb930454324e10c52c788980"
)
VCEK_GUID = UUID("63da758d-e664-4564-adc5-f4b93be8accd")
ASK_GUID = UUID("4ab7b379-bbac-4fe4-a02f-05aef327c782")
ARK_GUID = UUID("c0b406a4-a803-4952-9743-3fb6014cd0ae")


def _blob(name: str) -> bytes:
    value = json.loads((DATA / "genoa-configfs-tsm-report.json").read_text())[name]
    return urlsafe_b64decode(value + "=" * (-len(value) % 4))


GENOA_REPORT = _blob("outblob")
GENOA_AUX = _blob("auxblob")


def pem_certificates(name: str) -> list[bytes]:
    return [
        c.public_bytes(Encoding.DER)
        for c in x509.load_pem_x509_certificates((DATA / name).read_bytes())
    ]


def build_table(entries: list[tuple[UUID, bytes]]) -> bytes:
    header, body = b"", b""
    offset = 24 * (len(entries) + 1)
    for guid, blob in entries:
        header += guid.bytes + struct.pack("<II", offset + len(body), len(blob))
        body += blob
    return header + bytes(24) + body


def genoa_vcek_der() -> bytes:
    start, length = struct.unpack_from("<II", GENOA_AUX, 0x30 + 16)  # the third entry
    vcek = load_certificate(GENOA_AUX[start : start + length], "VCEK")
    return vcek.public_bytes(Encoding.DER)


def flipped(raw: bytes, offset: int) -> bytes:
    return raw[:offset] + bytes([raw[offset] ^ 0x01]) + raw[offset + 1 :]


def milan_claims() -> Claims:
    return SevSnpVerifier(vceks=[MILAN_VCEK]).verify_raw(MILAN_REPORT, aux=b"", at=AT)


def agreement_policy(measurement: str) -> AllOf:
    return AllOf(
        [
            BackendIn(["sev-snp"], source="agreement"),
            MeasurementIn([measurement], source="agreement"),
            DebugForbidden(),
        ]
    )


# --- the documented outcomes -----------------------------------------------------------------


def test_the_milan_report_verifies_with_its_vcek_to_the_pinned_milan_ark():
    claims = milan_claims()
    assert claims.backend == "sev-snp"
    assert claims.measurement == MILAN_MEASUREMENT
    assert claims.report_data[:5] == bytes([1, 2, 3, 4, 5])
    assert claims.debug is True
    assert claims.security_version == 5  # the SNP firmware level of the reported TCB
    assert claims.signer is None  # launched without an ID block
    assert claims.issued_at is None
    assert claims.tcb_status is None and claims.advisory_ids == ()
    assert claims.extras["product"] == "Milan"
    assert claims.extras["policy_debug"] == "true"
    assert claims.extras["chip_id"].startswith("3ac3fe21")
    assert claims.extras["guest_svn"] == "0"


def test_a_default_policy_refuses_the_milan_report_because_its_debug_bit_is_set():
    claims = milan_claims()
    with pytest.raises(VerificationError, match="sev-snp enclave runs in debug mode"):
        DebugForbidden().verify(claims)
    with pytest.raises(VerificationError, match="debug mode"):
        apply_policy(agreement_policy(MILAN_MEASUREMENT), claims)


def test_only_an_explicit_allow_debug_policy_accepts_it_and_it_warns():
    policy = AllOf([BackendIn(["sev-snp"]), AllowDebugEnclaves()])
    with pytest.warns(AccordSecurityWarning, match="debug enclave"):
        apply_policy(policy, milan_claims())


def test_the_milan_report_verifies_with_its_vcek_in_a_certificate_table():
    ask, ark = pem_certificates("ask_ark_milan.pem")
    aux = build_table([(VCEK_GUID, MILAN_VCEK), (ASK_GUID, ask), (ARK_GUID, ark)])
    claims = SevSnpVerifier().verify_raw(MILAN_REPORT, aux=aux, at=AT)
    assert claims == milan_claims()


def test_the_genoa_capture_verifies_with_the_certificates_of_its_auxblob():
    claims = SevSnpVerifier().verify_raw(GENOA_REPORT, aux=GENOA_AUX, at=AT)
    assert claims.measurement == GENOA_MEASUREMENT
    assert claims.debug is False
    assert claims.security_version == 23
    assert claims.extras["product"] == "Genoa"
    assert claims.extras["cpuid"] == "family 0x19, model 0x11, stepping 1"
    apply_policy(agreement_policy(GENOA_MEASUREMENT), claims)  # accepted


def test_the_milan_report_verifies_with_its_vcek_given_as_aux_der_or_pem_chain():
    assert SevSnpVerifier().verify_raw(MILAN_REPORT, aux=MILAN_VCEK, at=AT) == milan_claims()
    chain = b"".join(
        load_certificate(der, "certificate").public_bytes(Encoding.PEM)
        for der in (MILAN_VCEK, *pem_certificates("ask_ark_milan.pem"))
    )
    assert SevSnpVerifier().verify_raw(MILAN_REPORT, aux=chain, at=AT) == milan_claims()


def test_a_pem_chain_ending_in_another_ark_is_refused():
    _, genoa_ark = pem_certificates("ask_ark_genoa.pem")
    chain = b"".join(
        load_certificate(der, "certificate").public_bytes(Encoding.PEM)
        for der in (MILAN_VCEK, genoa_ark)
    )
    with pytest.raises(VerificationError, match="is not the pinned AMD ARK for Milan"):
        SevSnpVerifier().verify_raw(MILAN_REPORT, aux=chain, at=AT)


def test_a_vcek_in_the_evidence_takes_precedence_over_the_configured_ones():
    verifier = SevSnpVerifier(vceks=[MILAN_VCEK])
    assert verifier.verify_raw(GENOA_REPORT, aux=GENOA_AUX, at=AT).extras["product"] == "Genoa"


def test_the_configured_vcek_for_the_reports_chip_is_chosen():
    verifier = SevSnpVerifier(vceks=[genoa_vcek_der(), MILAN_VCEK])
    assert verifier.verify_raw(MILAN_REPORT, aux=b"", at=AT).extras["product"] == "Milan"
    assert verifier.products == ("Milan", "Genoa")


# --- tampering -------------------------------------------------------------------------------

SIGNATURE_FAILS = "SEV-SNP report's signature does not verify with the VCEK of chip 3ac3fe21"


@pytest.mark.parametrize(
    "offset",
    [0x04, 0x50, 0x90, 0xBF, 0xC0, 0x140, 0x1E8],
    ids=[
        "guest_svn",
        "report_data",
        "measurement",
        "measurement_end",
        "host_data",
        "report_id",
        "firmware",
    ],
)
def test_a_flipped_byte_in_the_report_body_fails_the_report_signature(offset):
    with pytest.raises(VerificationError, match=SIGNATURE_FAILS):
        SevSnpVerifier(vceks=[MILAN_VCEK]).verify_raw(flipped(MILAN_REPORT, offset), aux=b"", at=AT)


def test_setting_the_debug_bit_off_fails_the_report_signature():
    policy = struct.pack("<Q", 0x30000)  # the same policy without DEBUG
    raw = MILAN_REPORT[:0x08] + policy + MILAN_REPORT[0x10:]
    with pytest.raises(VerificationError, match=SIGNATURE_FAILS):
        SevSnpVerifier(vceks=[MILAN_VCEK]).verify_raw(raw, aux=b"", at=AT)


@pytest.mark.parametrize("offset", [0x2A0, 0x2C0, 0x2E8, 0x317])
def test_a_flipped_byte_in_the_signature_fails_the_report_signature(offset):
    with pytest.raises(VerificationError, match=SIGNATURE_FAILS):
        SevSnpVerifier(vceks=[MILAN_VCEK]).verify_raw(flipped(MILAN_REPORT, offset), aux=b"", at=AT)


def test_a_flipped_byte_in_the_genoa_report_fails_with_its_auxblob():
    with pytest.raises(VerificationError, match=r"signature does not verify with the VCEK .*Genoa"):
        SevSnpVerifier().verify_raw(flipped(GENOA_REPORT, 0x90), aux=GENOA_AUX, at=AT)


def test_a_flipped_byte_in_the_vcek_fails_its_signature_by_the_ask():
    forged = MILAN_VCEK.replace(b"SEV-VCEK", b"SEV-VCEL")
    with pytest.raises(
        VerificationError, match="VCEK certificate's signature does not verify with the ASK"
    ):
        SevSnpVerifier(vceks=[forged]).verify_raw(MILAN_REPORT, aux=b"", at=AT)


def test_a_flipped_byte_in_the_auxblobs_vcek_fails_its_signature_by_the_ask():
    ask, ark = pem_certificates("ask_ark_genoa.pem")
    forged = genoa_vcek_der().replace(b"SEV-VCEK", b"SEV-VCEL")
    aux = build_table([(ARK_GUID, ark), (ASK_GUID, ask), (VCEK_GUID, forged)])
    with pytest.raises(VerificationError, match="VCEK certificate's signature does not verify"):
        SevSnpVerifier().verify_raw(GENOA_REPORT, aux=aux, at=AT)


def test_an_ark_that_is_not_the_pinned_one_is_refused_in_the_evidence():
    milan_ask, _ = pem_certificates("ask_ark_milan.pem")
    _, genoa_ark = pem_certificates("ask_ark_genoa.pem")
    aux = build_table([(VCEK_GUID, MILAN_VCEK), (ASK_GUID, milan_ask), (ARK_GUID, genoa_ark)])
    with pytest.raises(VerificationError, match="is not the pinned AMD ARK for Milan"):
        SevSnpVerifier().verify_raw(MILAN_REPORT, aux=aux, at=AT)


def test_a_verifier_that_pins_only_genoa_refuses_the_milan_chain():
    genoa_only = [root for root in pinned_amd_roots() if root.product == "Genoa"]
    with pytest.raises(VerificationError, match=r"not the AMD signing key \(ASK\) of a pinned"):
        SevSnpVerifier(vceks=[MILAN_VCEK], roots=genoa_only).verify_raw(
            MILAN_REPORT, aux=b"", at=AT
        )


@pytest.mark.parametrize(
    ("raw", "aux", "when", "which"),
    [
        (MILAN_REPORT, b"", datetime(2030, 1, 1, tzinfo=UTC), "Milan VCEK"),
        (MILAN_REPORT, b"", datetime(2021, 1, 1, tzinfo=UTC), "Milan VCEK"),
        (GENOA_REPORT, GENOA_AUX, datetime(2025, 4, 1, tzinfo=UTC), "Genoa VCEK"),
        (GENOA_REPORT, GENOA_AUX, datetime(2048, 1, 1, tzinfo=UTC), "Genoa VCEK"),
    ],
)
def test_a_time_outside_the_certificates_validity_is_refused(raw, aux, when, which):
    verifier = SevSnpVerifier(vceks=[MILAN_VCEK])
    with pytest.raises(VerificationError, match=f"the {which} certificate is not valid at"):
        verifier.verify_raw(raw, aux=aux, at=when)


def test_a_vcek_of_another_chip_is_refused_by_name():
    aux = build_table([(VCEK_GUID, genoa_vcek_der())])
    with pytest.raises(
        VerificationError,
        match=r"VCEK was issued for chip 7b1584c9\.\., but the report comes from chip 3ac3fe21",
    ):
        SevSnpVerifier().verify_raw(MILAN_REPORT, aux=aux, at=AT)


def test_a_report_whose_chip_id_was_changed_no_longer_matches_its_vcek():
    with pytest.raises(VerificationError, match="the VCEK belongs to another processor"):
        SevSnpVerifier(vceks=[MILAN_VCEK]).verify_raw(flipped(MILAN_REPORT, 0x1A0), aux=b"", at=AT)


def test_a_report_whose_reported_tcb_was_changed_no_longer_matches_its_vcek():
    raw = flipped(MILAN_REPORT, 0x186)  # REPORTED_TCB.SNP 5 -> 4
    with pytest.raises(
        VerificationError,
        match="VCEK was issued for TCB bootloader 2, TEE 0, SNP 5, microcode 68, but the "
        "report's reported TCB is bootloader 2, TEE 0, SNP 4, microcode 68",
    ):
        SevSnpVerifier(vceks=[MILAN_VCEK]).verify_raw(raw, aux=b"", at=AT)


def test_a_report_without_any_vcek_is_refused():
    with pytest.raises(VerificationError, match="no VCEK certificate to check the SEV-SNP report"):
        SevSnpVerifier().verify_raw(MILAN_REPORT, aux=b"", at=AT)


@pytest.mark.parametrize(
    ("info", "message"),
    [(1 << 2, "signed with a VLEK"), (7 << 2, "is not signed"), (2, "masks its chip key")],
)
def test_reports_not_signed_by_a_vcek_are_refused(info, message):
    raw = MILAN_REPORT[:0x48] + struct.pack("<I", info) + MILAN_REPORT[0x4C:]
    with pytest.raises(VerificationError, match=message):
        SevSnpVerifier(vceks=[MILAN_VCEK]).verify_raw(raw, aux=b"", at=AT)


def test_a_naive_time_is_a_usage_error():
    with pytest.raises(UsageError, match="timezone-aware"):
        SevSnpVerifier(vceks=[MILAN_VCEK]).verify_raw(
            MILAN_REPORT, aux=b"", at=datetime(2025, 6, 1)
        )


def test_constructor_arguments_are_checked():
    with pytest.raises(UsageError, match="VCEK #1 certificate cannot be parsed"):
        SevSnpVerifier(vceks=[b"not a certificate"])
    with pytest.raises(UsageError, match="needs at least one AmdRootOfTrust"):
        SevSnpVerifier(roots=[])


# --- evidence and the Verifier ---------------------------------------------------------------


def test_evidence_from_a_report_describes_it_as_the_verifier_will():
    evidence = evidence_from_report(GENOA_REPORT, aux=GENOA_AUX, issued_at=AT)
    claims = SevSnpVerifier().verify_raw(evidence.raw, aux=evidence.aux, at=AT)
    assert evidence.backend == "sev-snp"
    assert (evidence.measurement, evidence.signer) == (claims.measurement, claims.signer)
    assert (evidence.security_version, evidence.debug) == (claims.security_version, claims.debug)
    assert evidence.report_data == claims.report_data
    assert Evidence.from_bytes(evidence.to_bytes()) == evidence


def test_the_parser_reads_without_authenticating():
    claims = SevSnpReportParser().parse_unverified(flipped(MILAN_REPORT, 0x90), aux=b"")
    assert claims.measurement != MILAN_MEASUREMENT  # read as is: nothing was checked
    assert "product" not in claims.extras


def verifier_for(measurement: str) -> Verifier:
    return Verifier(
        policy=agreement_policy(measurement),
        backends={"sev-snp": SevSnpVerifier()},
    )


def test_the_verifier_authenticates_genoa_evidence_then_checks_its_binding(session_keys, nonce):
    evidence = evidence_from_report(GENOA_REPORT, aux=GENOA_AUX, issued_at=AT)
    with pytest.raises(VerificationError, match="does not bind the presented session keys"):
        verifier_for(GENOA_MEASUREMENT).verify(
            evidence.to_bytes(), nonce=nonce, expected=session_keys, at=AT
        )


def test_the_verifier_refuses_tampered_genoa_evidence_before_anything_else(session_keys, nonce):
    evidence = evidence_from_report(GENOA_REPORT, aux=GENOA_AUX, issued_at=AT)
    forged = dataclasses.replace(evidence, raw=flipped(GENOA_REPORT, 0x90))
    with pytest.raises(VerificationError, match="signature does not verify with the VCEK"):
        verifier_for(GENOA_MEASUREMENT).verify(forged, nonce=nonce, expected=session_keys, at=AT)


def test_the_verifier_refuses_an_altered_description_of_genoa_evidence(session_keys, nonce):
    evidence = evidence_from_report(GENOA_REPORT, aux=GENOA_AUX, issued_at=AT)
    lying = dataclasses.replace(evidence, debug=True)
    with pytest.raises(VerificationError, match="evidence field 'debug' says True"):
        verifier_for(GENOA_MEASUREMENT).verify(lying, nonce=nonce, expected=session_keys, at=AT)
