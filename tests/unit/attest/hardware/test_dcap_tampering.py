"""Every tampering with a real quote or its collateral is caught, and the error names the check."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hardware_vectors import (
    SGX_AT,
    SGX_ATTESTATION_KEY_OFFSET,
    SGX_COLLATERAL,
    SGX_MRENCLAVE_OFFSET,
    SGX_QE_REPORT_OFFSET,
    SGX_QUOTE,
    SGX_REPORT_DATA_OFFSET,
    SGX_SIGNATURE_OFFSET,
    SGX_WINDOW,
    TDX_AT,
    TDX_COLLATERAL,
    TDX_MRTD_OFFSET,
    TDX_QUOTE,
    collateral,
    collateral_with,
    flip,
    hex_flip,
    pem_flip,
)

from accord.attest.backends import SgxDcapVerifier, TdxVerifier
from accord.attest.backends import dcap as dcap_module
from accord.attest.backends.dcap import DcapCollateral, intel_sgx_root_ca
from accord.errors import IntegrityError, VerificationError

SGX = SGX_QUOTE.read_bytes()
TDX = TDX_QUOTE.read_bytes()
CERT = b"-----BEGIN CERTIFICATE-----"


def sgx_failure(raw: bytes = SGX, *, with_collateral=None, at=SGX_AT) -> str:
    verifier = SgxDcapVerifier(collateral=with_collateral or collateral())
    with pytest.raises(VerificationError) as caught:
        verifier.verify_raw(raw, aux=b"", at=at)
    return caught.value.message


@pytest.mark.parametrize(
    ("offset", "what"),
    [
        (SGX_MRENCLAVE_OFFSET, "MRENCLAVE in the report body"),
        (SGX_REPORT_DATA_OFFSET, "report data in the report body"),
        (10, "the quote header"),
        (SGX_SIGNATURE_OFFSET + 3, "the quote signature"),
    ],
)
def test_a_flipped_byte_in_the_signed_quote_fails_the_quote_signature_check(offset, what):
    message = sgx_failure(flip(SGX, offset))
    assert message.startswith("SGX quote verification failed at the quote signature check"), what


def test_a_substituted_attestation_key_fails_the_qe_report_binding_check():
    message = sgx_failure(flip(SGX, SGX_ATTESTATION_KEY_OFFSET + 3))
    assert "failed at the QE report binding check" in message


def test_a_flipped_byte_in_the_qe_report_fails_its_signature_check():
    message = sgx_failure(flip(SGX, SGX_QE_REPORT_OFFSET + 80))
    assert "failed at the QE report signature check" in message


@pytest.mark.parametrize("occurrence", [1, 2], ids=["PCK certificate", "PCK platform CA"])
def test_a_flipped_byte_in_the_quotes_pck_certificate_chain_fails_the_chain_check(occurrence):
    message = sgx_failure(pem_flip(SGX, CERT, occurrence))
    assert "failed at the certificate chain check" in message


def test_a_garbled_pck_certificate_in_the_quote_fails_the_chain_check():
    message = sgx_failure(flip(SGX, SGX.index(CERT) + 300, 0x80))
    assert "failed at the certificate chain check: the PCK certificate in the quote cannot be" in (
        message
    )


def test_the_root_certificate_inside_the_quote_is_never_the_trust_anchor():
    """The quote's chain ends with a copy of the root; the pinned root is used, not the copy."""
    altered = pem_flip(SGX, CERT, 3)
    assert altered != SGX
    claims = SgxDcapVerifier(collateral=collateral()).verify_raw(altered, aux=b"", at=SGX_AT)
    assert claims.tcb_status == "ConfigurationAndSWHardeningNeeded"


def test_a_flipped_byte_in_the_tdx_report_body_fails_the_quote_signature_check():
    verifier = TdxVerifier(collateral=collateral(TDX_COLLATERAL))
    with pytest.raises(VerificationError, match="TDX quote verification failed at the quote sig"):
        verifier.verify_raw(flip(TDX, TDX_MRTD_OFFSET), aux=b"", at=TDX_AT)


@pytest.mark.parametrize(
    ("member", "change", "check"),
    [
        (
            "tcb_info",
            lambda text: text.replace('"tcbEvaluationDataNumber":', '"tcbEvaluationDataNumber":1'),
            "TCB info signature",
        ),
        ("tcb_info_signature", hex_flip, "TCB info signature"),
        (
            "qe_identity",
            lambda text: text.replace('"isvprodid":1', '"isvprodid":2'),
            "QE identity signature",
        ),
        ("qe_identity_signature", hex_flip, "QE identity signature"),
        (
            "tcb_info_issuer_chain",
            lambda text: pem_flip(text.encode(), CERT).decode(),
            "certificate chain",
        ),
        (
            "qe_identity_issuer_chain",
            lambda text: pem_flip(text.encode(), CERT).decode(),
            "certificate chain",
        ),
        ("pck_crl", hex_flip, "certificate revocation"),
        ("root_ca_crl", hex_flip, "certificate revocation"),
    ],
)
def test_tampered_collateral_fails_the_check_that_covers_it(member, change, check):
    tampered = collateral_with(SGX_COLLATERAL, member, change)
    assert json.loads(tampered.text)[member] != json.loads(SGX_COLLATERAL.read_text())[member]
    message = sgx_failure(with_collateral=tampered)
    assert f"failed at the {check} check" in message


def test_the_collateral_of_another_platform_fails_the_collateral_platform_check():
    message = sgx_failure(with_collateral=collateral(TDX_COLLATERAL))
    assert message == (
        "SGX quote verification failed at the collateral platform check: collateral file "
        f"{TDX_COLLATERAL} is for TDX platforms, not for this SGX quote"
    )


def test_sgx_collateral_for_the_tdx_quote_is_refused_too():
    verifier = TdxVerifier(collateral=collateral(SGX_COLLATERAL))
    with pytest.raises(VerificationError, match=r"collateral platform check: .* is for SGX"):
        verifier.verify_raw(TDX, aux=b"", at=TDX_AT)


def test_collateral_for_another_fmspc_is_refused():
    obj = json.loads(SGX_COLLATERAL.read_bytes())
    obj["tcb_info"] = obj["tcb_info"].replace('"fmspc":"00A067110000"', '"fmspc":"00606A000000"')
    other = DcapCollateral.from_json(json.dumps(obj).encode(), source="other collateral")
    message = sgx_failure(with_collateral=other)
    assert "is for platform FMSPC 00606a000000, but the quote comes from FMSPC 00a067110000" in (
        message
    )


@pytest.mark.parametrize(
    "moment",
    [
        SGX_WINDOW[0] - dt.timedelta(seconds=1),
        SGX_WINDOW[1] + dt.timedelta(seconds=1),
        dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
    ],
)
def test_a_time_outside_the_validity_window_fails_the_collateral_validity_check(moment):
    message = sgx_failure(at=moment)
    assert message.startswith(
        "SGX quote verification failed at the collateral validity check: collateral file "
    )
    assert "is valid from 2025-06-19T10:56:11.000000Z to 2025-07-19T10:01:18.000000Z" in message


def test_a_quote_without_collateral_fails_the_collateral_check():
    with pytest.raises(VerificationError, match="failed at the collateral check: no collateral"):
        SgxDcapVerifier().verify_raw(SGX, aux=b"", at=SGX_AT)


def test_a_tdx_quote_is_not_accepted_as_sgx_evidence():
    with pytest.raises(VerificationError, match="this is a TDX quote, not SGX"):
        SgxDcapVerifier(collateral=collateral(TDX_COLLATERAL)).verify_raw(TDX, aux=b"", at=TDX_AT)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (SGX[:40], "fewer than the 48-byte header"),
        (SGX[:300], "report body ends after 300 bytes"),
        (b"\x07\x00\x02\x00" + SGX[4:], "quote version 7 is not supported"),
        (SGX[:4] + b"\x42\x00\x00\x00" + SGX[8:], "TEE type 0x42"),
    ],
)
def test_malformed_quotes_are_named_as_such_before_collateral_is_sought(raw, problem):
    with pytest.raises(VerificationError, match="the quote is malformed") as caught:
        SgxDcapVerifier().verify_raw(raw, aux=b"", at=SGX_AT)
    assert problem in caught.value.message


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"not json", "is not valid JSON"),
        (b"{}", "lacks 'pck_crl'"),
        (SGX_COLLATERAL.read_bytes().replace(b"{", b'{"extra": "x",', 1), "has unknown 'extra'"),
    ],
)
def test_malformed_collateral_is_refused_with_a_message(data, problem):
    with pytest.raises(VerificationError, match="is not usable DCAP collateral") as caught:
        DcapCollateral.from_json(data, source="test collateral")
    assert problem in caught.value.message


def test_malformed_collateral_in_the_evidence_aux_is_refused():
    with pytest.raises(VerificationError, match="the collateral attached to the evidence is not"):
        SgxDcapVerifier().verify_raw(SGX, aux=b'{"x": 1}', at=SGX_AT)


def test_an_altered_packaged_root_certificate_is_refused(monkeypatch):
    """The pin is checked when the root is loaded: another certificate in its place fails."""
    chain = json.loads(SGX_COLLATERAL.read_bytes())["tcb_info_issuer_chain"].encode()
    signing_ca = chain[: chain.index(b"-----END CERTIFICATE-----") + 25]

    class FakeFiles:
        def joinpath(self, name):
            return self

        def read_bytes(self):
            return signing_ca

    monkeypatch.setattr(dcap_module.resources, "files", lambda package: FakeFiles())
    intel_sgx_root_ca.cache_clear()
    try:
        with pytest.raises(IntegrityError, match="not the pinned Intel SGX Root CA"):
            intel_sgx_root_ca()
    finally:
        monkeypatch.undo()
        intel_sgx_root_ca.cache_clear()
    assert intel_sgx_root_ca()
