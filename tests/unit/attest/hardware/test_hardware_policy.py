"""TCB status, advisories and RTMRs: the new rules, the agreement fields, and real claims."""

from __future__ import annotations

import dataclasses

import pytest
from hardware_vectors import (
    SGX_AT,
    SGX_MRENCLAVE,
    SGX_QUOTE,
    TDX_AT,
    TDX_COLLATERAL,
    TDX_MRTD,
    TDX_QUOTE,
    TDX_RTMR0,
    collateral,
)

from accord.agreement import parse_agreement
from accord.agreement.attestation import attestation_policy
from accord.agreement.model import BackendPolicy, EnclavePolicy
from accord.attest.backends import SgxDcapVerifier, TdxVerifier
from accord.attest.policy import AdvisoriesAllowed, RtmrsIn, TcbStatusAtLeast
from accord.attest.tcb import DEFAULT_MIN_TCB_STATUS, TCB_STATUSES
from accord.crypto.keys import SECRET_KEY_ACCESS, SigningKey
from accord.errors import ConfigurationError, UsageError, VerificationError

SGX_CLAIMS = SgxDcapVerifier(collateral=collateral()).verify_raw(
    SGX_QUOTE.read_bytes(), aux=b"", at=SGX_AT
)
TDX_CLAIMS = TdxVerifier(collateral=collateral(TDX_COLLATERAL)).verify_raw(
    TDX_QUOTE.read_bytes(), aux=b"", at=TDX_AT
)
ADVISORIES = ["INTEL-SA-00289", "INTEL-SA-00615"]


def with_status(claims, status):
    return dataclasses.replace(claims, tcb_status=status)


# The rules.


@pytest.mark.parametrize("minimum", TCB_STATUSES[:-1])
@pytest.mark.parametrize("status", TCB_STATUSES[:-1])
def test_tcb_status_at_least_follows_the_documented_order(minimum, status):
    rule = TcbStatusAtLeast(minimum)
    claims = with_status(TDX_CLAIMS, status)
    if TCB_STATUSES.index(status) <= TCB_STATUSES.index(minimum):
        rule.verify(claims)
    else:
        with pytest.raises(VerificationError, match=f"TCB status {status} is worse than"):
            rule.verify(claims)


@pytest.mark.parametrize(
    ("status", "problem"),
    [("Revoked", "its keys are revoked"), ("Splendid", "Accord does not know it")],
)
def test_revoked_and_unknown_statuses_are_never_accepted(status, problem):
    with pytest.raises(VerificationError, match=problem):
        TcbStatusAtLeast("OutOfDateConfigurationNeeded").verify(with_status(TDX_CLAIMS, status))


def test_claims_without_a_tcb_status_are_refused():
    with pytest.raises(VerificationError, match="carries no TCB status"):
        TcbStatusAtLeast("UpToDate").verify(with_status(TDX_CLAIMS, None))


@pytest.mark.parametrize("minimum", ["Revoked", "uptodate", ""])
def test_a_minimum_must_be_a_status_a_policy_can_require(minimum):
    with pytest.raises(UsageError, match="is not a TCB status a policy can require"):
        TcbStatusAtLeast(minimum)


def test_the_default_minimum_accepts_the_sgx_vector_and_refuses_out_of_date():
    TcbStatusAtLeast(DEFAULT_MIN_TCB_STATUS).verify(SGX_CLAIMS)
    with pytest.raises(VerificationError, match="OutOfDate is worse than the minimum"):
        TcbStatusAtLeast(DEFAULT_MIN_TCB_STATUS).verify(with_status(SGX_CLAIMS, "OutOfDate"))


def test_advisories_not_listed_are_refused_naming_them():
    with pytest.raises(VerificationError) as caught:
        AdvisoriesAllowed(["INTEL-SA-00289"]).verify(SGX_CLAIMS)
    assert caught.value.message == (
        "the platform is affected by advisory INTEL-SA-00615, which the policy does not "
        "allow (allowed: INTEL-SA-00289)"
    )
    AdvisoriesAllowed(ADVISORIES).verify(SGX_CLAIMS)
    AdvisoriesAllowed([]).verify(TDX_CLAIMS)


@pytest.mark.parametrize("bad", ["intel-sa-00615", "INTEL SA", "X" * 80, "INTEL-SA-"])
def test_advisory_ids_are_checked(bad):
    with pytest.raises(UsageError, match="is not an advisory id"):
        AdvisoriesAllowed([bad])


def test_rtmrs_in_matches_listed_registers_and_ignores_unlisted_ones():
    RtmrsIn([(TDX_RTMR0, None, None, "00" * 48)]).verify(TDX_CLAIMS)
    with pytest.raises(VerificationError, match="match none of the policy's 1 accepted RTMR entry"):
        RtmrsIn([("11" * 48, None, None, None)]).verify(TDX_CLAIMS)
    with pytest.raises(VerificationError, match="carries no RTMR values"):
        RtmrsIn([(TDX_RTMR0, None, None, None)]).verify(SGX_CLAIMS)


@pytest.mark.parametrize(
    "entries", [[], [(None, None, None, None)], [(TDX_RTMR0,)], [("zz" * 48, None, None, None)]]
)
def test_rtmrs_in_refuses_misuse(entries):
    with pytest.raises(UsageError):
        RtmrsIn(entries)


# The agreement fields.

KEY = SigningKey.from_raw(b"\x01" * 32, SECRET_KEY_ACCESS)


def agreement_text(backend: str, measurement: str, extra: str = "") -> str:
    return f"""\
[agreement]
format = "accord-agreement/v1"
name = "Hardware study"
created = 2025-06-01T12:00:00Z

[[parties]]
name = "alice"
signing_key = "{KEY.verify_key.to_base64()}"
tls_certificate_fingerprint = "{"ab" * 32}"

[enclave]
backends = ["{backend}"]

[enclave.{backend}]
measurements = ["{measurement}"]
{extra}
[signatures]
"""


def enclave(backend: str, measurement: str, extra: str = "") -> EnclavePolicy:
    return parse_agreement(agreement_text(backend, measurement, extra), source="a.toml").enclave


def refused_at(text_extra: str, backend: str = "tdx", measurement: str = TDX_MRTD):
    text = agreement_text(backend, measurement, text_extra)
    with pytest.raises(ConfigurationError) as caught:
        parse_agreement(text, source="a.toml")
    first_line = text_extra.strip().splitlines()[0]
    line = text.splitlines().index(first_line) + 1
    assert caught.value.message.startswith(f"a.toml line {line}: "), caught.value.message
    return caught.value.message


def test_an_agreement_without_the_new_fields_gets_the_defaults():
    policy = enclave("sgx-dcap", SGX_MRENCLAVE).for_backend("sgx-dcap")
    assert policy.min_tcb_status == DEFAULT_MIN_TCB_STATUS
    assert policy.allowed_advisories == frozenset()
    assert policy.rtmrs == ()
    assert policy.canonical_extras() == {}


def test_the_default_agreement_policy_refuses_the_sgx_vector_for_its_advisories():
    with pytest.raises(VerificationError, match="advisories INTEL-SA-00289, INTEL-SA-00615"):
        attestation_policy(enclave("sgx-dcap", SGX_MRENCLAVE)).verify(SGX_CLAIMS)


def test_listing_the_advisories_accepts_the_sgx_vector():
    extra = 'allowed_advisories = ["INTEL-SA-00289", "INTEL-SA-00615"]\n'
    attestation_policy(enclave("sgx-dcap", SGX_MRENCLAVE, extra)).verify(SGX_CLAIMS)


def test_requiring_up_to_date_refuses_the_sgx_vector():
    extra = (
        'min_tcb_status = "UpToDate"\nallowed_advisories = ["INTEL-SA-00289", "INTEL-SA-00615"]\n'
    )
    with pytest.raises(VerificationError, match="ConfigurationAndSWHardeningNeeded is worse"):
        attestation_policy(enclave("sgx-dcap", SGX_MRENCLAVE, extra)).verify(SGX_CLAIMS)


def test_the_tdx_vector_is_accepted_with_matching_rtmrs_and_refused_otherwise():
    good = f'rtmrs = [{{ rtmr0 = "{TDX_RTMR0.upper()}", rtmr3 = "{"00" * 48}" }}]\n'
    policy = enclave("tdx", TDX_MRTD, good)
    assert policy.for_backend("tdx").rtmrs == ((TDX_RTMR0, None, None, "00" * 48),)
    attestation_policy(policy).verify(TDX_CLAIMS)
    bad = f'rtmrs = [{{ rtmr1 = "{"11" * 48}" }}]\n'
    with pytest.raises(VerificationError, match="runtime measurements"):
        attestation_policy(enclave("tdx", TDX_MRTD, bad)).verify(TDX_CLAIMS)


def test_a_debug_td_is_refused_unless_the_agreement_allows_debug():
    debug = dataclasses.replace(TDX_CLAIMS, debug=True)
    with pytest.raises(VerificationError, match="debug mode"):
        attestation_policy(enclave("tdx", TDX_MRTD)).verify(debug)
    with pytest.warns(UserWarning, match="AllowDebugEnclaves"):
        attestation_policy(enclave("tdx", TDX_MRTD, "allow_debug = true\n")).verify(debug)


def test_canonical_extras_name_only_what_differs_from_the_defaults():
    extra = (
        'min_tcb_status = "OutOfDate"\nallowed_advisories = ["INTEL-SA-00615"]\n'
        f'rtmrs = [{{ rtmr2 = "{"22" * 48}" }}]\n'
    )
    policy = enclave("tdx", TDX_MRTD, extra)
    assert policy.for_backend("tdx").canonical_extras() == {
        "min_tcb_status": "OutOfDate",
        "allowed_advisories": ["INTEL-SA-00615"],
        "rtmrs": [{"rtmr2": "22" * 48}],
    }
    assert any("known vulnerabilities" in warning for warning in policy.warnings())


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ('min_tcb_status = "Revoked"\n', "cannot be 'Revoked'"),
        ('min_tcb_status = "Great"\n', "unknown TCB status 'Great'; from best to worst: UpToDate"),
        ("min_tcb_status = 3\n", "must be a string"),
        ('allowed_advisories = ["intel-sa-1"]\n', "is not an advisory id"),
        ('allowed_advisories = "INTEL-SA-00615"\n', "must be an array of advisory ids"),
        ("rtmrs = []\n", "rtmrs is empty"),
        ("rtmrs = [{}]\n", "must give at least one of rtmr0..rtmr3"),
        ('rtmrs = [{ rtmr4 = "00" }]\n', "unknown key 'rtmr4'"),
        ('rtmrs = [{ rtmr0 = "abc" }]\n', "rtmr0 'abc' must be 96 hexadecimal digits"),
        ('rtmrs = ["x"]\n', "must be a table"),
    ],
)
def test_malformed_new_fields_are_refused_with_their_line(extra, problem):
    assert problem in refused_at(extra)


@pytest.mark.parametrize(
    ("extra", "backend"),
    [
        ('min_tcb_status = "UpToDate"\n', "sev-snp"),
        ('allowed_advisories = ["INTEL-SA-00615"]\n', "simulated"),
        (f'rtmrs = [{{ rtmr0 = "{"00" * 48}" }}]\n', "sgx-dcap"),
    ],
)
def test_fields_that_do_not_apply_to_a_backend_are_refused_with_their_line(extra, backend):
    measurement = "ab" * (48 if backend == "sev-snp" else 32)
    message = refused_at(extra, backend=backend, measurement=measurement)
    assert f"in [enclave.{backend}] applies only to" in message


def test_backend_policies_built_in_code_are_checked_too():
    with pytest.raises(UsageError, match="apply to sgx-dcap and tdx evidence, not to sev-snp"):
        BackendPolicy("sev-snp", frozenset({"ab" * 48}), min_tcb_status="UpToDate")
    with pytest.raises(UsageError, match="RTMR values apply to tdx"):
        BackendPolicy("sgx-dcap", frozenset({"ab" * 32}), rtmrs=((None, None, None, "00" * 48),))
    assert BackendPolicy("tdx", frozenset({"ab" * 48})).min_tcb_status == DEFAULT_MIN_TCB_STATUS


def test_the_new_fields_are_covered_by_the_agreement_digest():
    base = parse_agreement(agreement_text("tdx", TDX_MRTD), source="a.toml")
    stricter = parse_agreement(
        agreement_text("tdx", TDX_MRTD, 'min_tcb_status = "UpToDate"\n'), source="a.toml"
    )
    assert base.digest != stricter.digest
