"""Real SGX and TDX quotes verified offline with their collateral: each documented outcome."""

from __future__ import annotations

import datetime as dt
import hashlib

import dcap_qvl
import pytest
from hardware_vectors import (
    OUTDATED_AT,
    OUTDATED_COLLATERAL,
    OUTDATED_QUOTE,
    SGX_AT,
    SGX_COLLATERAL,
    SGX_MRENCLAVE,
    SGX_MRSIGNER,
    SGX_QUOTE,
    SGX_WINDOW,
    TDX_AT,
    TDX_COLLATERAL,
    TDX_MRTD,
    TDX_QUOTE,
    TDX_RTMR0,
    collateral,
)

from accord.attest import Evidence, SessionPublicKeys, Verifier
from accord.attest.backends import (
    SgxDcapVerifier,
    TdxVerifier,
    default_backend_verifiers,
)
from accord.attest.backends.dcap import INTEL_SGX_ROOT_CA_SHA256, intel_sgx_root_ca
from accord.attest.backends.dcap_quote import parse_quote_body
from accord.attest.policy import AllOf, BackendIn, DebugForbidden, MeasurementIn
from accord.errors import VerificationError


def test_the_sgx_quote_verifies_with_its_documented_tcb_status_and_advisories():
    claims = SgxDcapVerifier(collateral=collateral()).verify_raw(
        SGX_QUOTE.read_bytes(), aux=b"", at=SGX_AT
    )
    assert claims.backend == "sgx-dcap"
    assert claims.tcb_status == "ConfigurationAndSWHardeningNeeded"
    assert claims.advisory_ids == ("INTEL-SA-00289", "INTEL-SA-00615")
    assert claims.measurement == SGX_MRENCLAVE
    assert claims.signer == SGX_MRSIGNER
    assert claims.security_version == 0
    assert claims.debug is False
    assert claims.report_data == b"Hello, world!".ljust(64, b"\0")
    assert claims.issued_at is None
    assert claims.extras["isv_prod_id"] == "0"
    assert claims.extras["quote_version"] == "3"
    assert claims.extras["fmspc"] == "00a067110000"
    assert claims.extras["qe_tcb_status"] == "UpToDate"
    assert claims.extras["platform_tcb_status"] == "ConfigurationAndSWHardeningNeeded"


def test_the_tdx_quote_verifies_up_to_date():
    claims = TdxVerifier(collateral=collateral(TDX_COLLATERAL)).verify_raw(
        TDX_QUOTE.read_bytes(), aux=b"", at=TDX_AT
    )
    assert claims.backend == "tdx"
    assert claims.tcb_status == "UpToDate"
    assert claims.advisory_ids == ()
    assert claims.measurement == TDX_MRTD
    assert claims.signer is None
    assert claims.debug is False
    assert claims.extras["rtmr0"] == TDX_RTMR0
    assert claims.extras["rtmr3"] == "00" * 48
    assert claims.extras["td_attributes"] == "0000001000000000"
    assert claims.extras["quote_version"] == "4"


def test_the_outdated_tdx_quote_fails_because_no_tcb_level_matches():
    verifier = TdxVerifier(collateral=collateral(OUTDATED_COLLATERAL))
    with pytest.raises(VerificationError) as caught:
        verifier.verify_raw(OUTDATED_QUOTE.read_bytes(), aux=b"", at=OUTDATED_AT)
    assert caught.value.message == (
        "TDX quote verification failed at the TCB level check: No matching TCB level found"
    )
    assert "out of date" in (caught.value.hint or "")


def test_the_outdated_quote_is_a_version_5_td_report_1_5():
    body = parse_quote_body(OUTDATED_QUOTE.read_bytes())
    assert (body.tee, body.version) == ("TDX", 5)
    assert set(body.fields) >= {"tee_tcb_svn2", "mr_service_td", "rtmr3"}


@pytest.mark.parametrize(
    ("quote", "tee"), [(SGX_QUOTE, "SGX"), (TDX_QUOTE, "TDX"), (OUTDATED_QUOTE, "TDX")]
)
def test_the_layout_reader_agrees_with_dcap_qvl(quote, tee):
    raw = quote.read_bytes()
    body = parse_quote_body(raw)
    reference = dcap_qvl.parse_quote(raw).report
    assert body.tee == tee
    assert body.report_data == reference.report_data
    if tee == "SGX":
        assert body.fields["mr_enclave"] == reference.mr_enclave.hex()
        assert body.fields["mr_signer"] == reference.mr_signer.hex()
        assert body.fields["attributes"] == reference.attributes.hex()
    else:
        assert body.fields["mr_td"] == reference.mr_td.hex()
        assert body.fields["rtmr2"] == reference.rt_mr2.hex()
        assert body.fields["td_attributes"] == reference.td_attributes.hex()


@pytest.mark.parametrize("moment", [*SGX_WINDOW, SGX_AT])
def test_the_sgx_quote_verifies_anywhere_in_the_window_bounds_included(moment):
    claims = SgxDcapVerifier(collateral=collateral()).verify_raw(
        SGX_QUOTE.read_bytes(), aux=b"", at=moment
    )
    assert claims.tcb_status == "ConfigurationAndSWHardeningNeeded"


def test_collateral_reports_the_window_of_the_readme():
    parsed = collateral()
    assert (parsed.valid_from, parsed.valid_until) == SGX_WINDOW
    assert (parsed.tee, parsed.fmspc) == ("SGX", "00a067110000")


def test_collateral_can_travel_in_the_evidence_aux():
    claims = SgxDcapVerifier().verify_raw(
        SGX_QUOTE.read_bytes(), aux=SGX_COLLATERAL.read_bytes(), at=SGX_AT
    )
    assert claims.tcb_status == "ConfigurationAndSWHardeningNeeded"


def test_configured_collateral_takes_precedence_over_the_aux():
    claims = SgxDcapVerifier(collateral=collateral()).verify_raw(
        SGX_QUOTE.read_bytes(), aux=b"host-supplied junk", at=SGX_AT
    )
    assert claims.measurement == SGX_MRENCLAVE


def test_the_packaged_root_is_the_pinned_intel_sgx_root_ca():
    assert hashlib.sha256(intel_sgx_root_ca()).hexdigest() == INTEL_SGX_ROOT_CA_SHA256
    assert INTEL_SGX_ROOT_CA_SHA256 == (
        "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"
    )


def test_default_backend_verifiers_verify_real_quotes_with_collateral_in_aux():
    verifiers = default_backend_verifiers()
    claims = verifiers["tdx"].verify_raw(
        TDX_QUOTE.read_bytes(), aux=TDX_COLLATERAL.read_bytes(), at=TDX_AT
    )
    assert claims.tcb_status == "UpToDate"
    assert set(verifiers) == {"simulated", "sgx-dcap", "tdx", "sev-snp"}


def test_a_real_quote_through_the_verifier_is_authentic_but_must_bind_the_session_keys():
    """The vector's report data is not an Accord transcript: the binding check refuses it."""
    evidence = Evidence(
        backend="sgx-dcap",
        measurement=SGX_MRENCLAVE,
        signer=None,
        security_version=None,
        debug=False,
        report_data=b"Hello, world!".ljust(64, b"\0"),
        raw=SGX_QUOTE.read_bytes(),
        aux=SGX_COLLATERAL.read_bytes(),
        issued_at=SGX_AT,
    )
    keys = SessionPublicKeys(
        agreement_digest="ab" * 32,
        session_id="cd" * 16,
        hpke_public_key=b"\x01" * 32,
        signing_public_key=b"\x02" * 32,
        tls_public_key=b"\x03" * 91,
    )
    verifier = Verifier(
        policy=AllOf([BackendIn(["sgx-dcap"]), MeasurementIn([SGX_MRENCLAVE]), DebugForbidden()]),
        backends=default_backend_verifiers(),
    )
    with pytest.raises(VerificationError, match="report data does not bind the presented"):
        verifier.verify(evidence.to_bytes(), nonce=b"n" * 32, expected=keys, at=SGX_AT)


def test_a_described_measurement_that_differs_from_the_quote_is_refused():
    evidence = Evidence(
        backend="sgx-dcap",
        measurement="00" * 32,
        signer=None,
        security_version=None,
        debug=None,
        report_data=b"Hello, world!".ljust(64, b"\0"),
        raw=SGX_QUOTE.read_bytes(),
        aux=SGX_COLLATERAL.read_bytes(),
        issued_at=dt.datetime(2025, 7, 1, tzinfo=dt.UTC),
    )
    keys = SessionPublicKeys(
        agreement_digest="ab" * 32,
        session_id="cd" * 16,
        hpke_public_key=b"\x01" * 32,
        signing_public_key=b"\x02" * 32,
        tls_public_key=b"\x03" * 91,
    )
    verifier = Verifier(
        policy=AllOf([BackendIn(["sgx-dcap"]), DebugForbidden()]),
        backends=default_backend_verifiers(),
    )
    with pytest.raises(VerificationError, match="evidence field 'measurement' says 00000000"):
        verifier.verify(evidence, nonce=b"n" * 32, expected=keys, at=SGX_AT)
