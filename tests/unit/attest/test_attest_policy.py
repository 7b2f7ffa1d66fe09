"""Policies: each accepts what it should and refuses the rest, naming the difference."""

from __future__ import annotations

import datetime as dt
import logging
import warnings

import pytest
from attest_helpers import MEASUREMENT, OTHER_MEASUREMENT, PREVIOUS_MEASUREMENT, T0, SettableClock

from accord.attest import (
    AccordSecurityWarning,
    AllOf,
    AllowDebugEnclaves,
    AnyOf,
    BackendIn,
    Claims,
    DebugForbidden,
    FreshWithin,
    MeasurementIn,
    MinSecurityVersion,
    ReportDataMatches,
    SignerIs,
)
from accord.attest.policy import apply_policy
from accord.errors import UsageError, VerificationError

SIGNER = "5a" * 32


def claims(**changes: object) -> Claims:
    fields: dict[str, object] = {
        "backend": "sgx-dcap",
        "measurement": MEASUREMENT,
        "signer": SIGNER,
        "security_version": 4,
        "debug": False,
        "report_data": b"\x11" * 64,
        "issued_at": None,
    }
    fields.update(changes)
    return Claims(**fields)  # type: ignore[arg-type]


def test_backend_in():
    policy = BackendIn(["sgx-dcap", "tdx"], source="agreement")
    policy.verify(claims())
    with pytest.raises(VerificationError) as caught:
        policy.verify(claims(backend="sev-snp"))
    assert caught.value.message == (
        "evidence from backend 'sev-snp' is not accepted: the agreement accepts only sgx-dcap, tdx"
    )


def test_backend_in_refuses_unknown_names_and_misuse():
    with pytest.raises(UsageError, match="unknown attestation backend 'sgx'"):
        BackendIn(["sgx"])
    with pytest.raises(UsageError, match="not a single string"):
        BackendIn("simulated")
    with pytest.raises(UsageError, match="at least one accepted backend"):
        BackendIn([])


def test_measurement_in_names_the_measurement_and_the_count():
    policy = MeasurementIn([MEASUREMENT.upper(), PREVIOUS_MEASUREMENT], source="agreement")
    policy.verify(claims())  # case-insensitive input, normalised
    with pytest.raises(VerificationError) as caught:
        policy.verify(claims(measurement=OTHER_MEASUREMENT))
    assert caught.value.message == (
        f"measurement {OTHER_MEASUREMENT[:8]}.. is not one of the agreement's "
        "2 accepted measurements"
    )
    assert OTHER_MEASUREMENT in caught.value.hint


def test_measurement_in_validates_its_list():
    with pytest.raises(UsageError, match="measurement"):
        MeasurementIn(["zz" * 32])
    with pytest.raises(UsageError, match="at least one accepted measurement"):
        MeasurementIn([])
    with pytest.raises(UsageError, match="must be a string"):
        MeasurementIn([b"\x00" * 32])  # type: ignore[list-item]


def test_signer_is():
    SignerIs(SIGNER.upper()).verify(claims())
    with pytest.raises(
        VerificationError, match=r"signer 77777777\.\. is not the expected signer 5a5a5a5a\.\."
    ):
        SignerIs(SIGNER).verify(claims(signer="77" * 32))
    with pytest.raises(VerificationError, match="names no signer"):
        SignerIs(SIGNER).verify(claims(signer=None))


def test_min_security_version():
    MinSecurityVersion(4).verify(claims())
    with pytest.raises(VerificationError, match="security version 4 is below the minimum 5"):
        MinSecurityVersion(5).verify(claims())
    with pytest.raises(UsageError):
        MinSecurityVersion(-1)


def test_debug_forbidden():
    DebugForbidden().verify(claims())
    with pytest.raises(
        VerificationError, match="runs in debug mode, so the host can read its memory"
    ):
        DebugForbidden().verify(claims(debug=True))


def test_allow_debug_enclaves_warns_on_every_use(caplog):
    policy = AllowDebugEnclaves()
    with (
        caplog.at_level(logging.WARNING, logger="accord.attest"),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("default")  # once-per-location would hide repeats
        policy.verify(claims(debug=True))
        policy.verify(claims(debug=True))
    security = [w for w in caught if issubclass(w.category, AccordSecurityWarning)]
    assert len(security) == 2
    assert "NO protection" in str(security[0].message)
    assert len([r for r in caplog.records if "AllowDebugEnclaves" in r.getMessage()]) == 2


def test_report_data_matches_uses_the_exact_bytes():
    ReportDataMatches(b"\x11" * 64).verify(claims())
    with pytest.raises(VerificationError, match="report data"):
        ReportDataMatches(b"\x11" * 63 + b"\x12").verify(claims())
    with pytest.raises(UsageError, match="64 bytes"):
        ReportDataMatches(b"\x11" * 32)


def test_fresh_within_judges_the_signed_time_with_the_injected_clock():
    clock = SettableClock()
    policy = FreshWithin(dt.timedelta(minutes=5), now=clock)
    fresh = claims(backend="simulated", issued_at=T0)
    policy.verify(fresh)
    clock.advance(minutes=5)
    policy.verify(fresh)
    clock.advance(seconds=1)
    with pytest.raises(VerificationError, match=r"is 0:05:01 old, older than the allowed 0:05:00"):
        policy.verify(fresh)


def test_fresh_within_refuses_evidence_from_the_future():
    clock = SettableClock()
    policy = FreshWithin(dt.timedelta(minutes=5), now=clock)
    policy.verify(claims(backend="simulated", issued_at=T0 + dt.timedelta(seconds=60)))
    with pytest.raises(VerificationError, match="in the future"):
        policy.verify(claims(backend="simulated", issued_at=T0 + dt.timedelta(seconds=61)))


def test_fresh_within_fails_closed_without_a_signed_time():
    policy = FreshWithin(dt.timedelta(minutes=5), now=SettableClock())
    with pytest.raises(VerificationError, match="sgx-dcap evidence carries no signed issue time"):
        policy.verify(claims())
    with pytest.raises(UsageError):
        FreshWithin(dt.timedelta(0))


@pytest.mark.parametrize("combinator", [AllOf, AnyOf])
def test_empty_combinators_are_misuse(combinator):
    with pytest.raises(
        UsageError, match=r"\(\[\]\) was given no policies: an empty list is misuse"
    ):
        combinator([])


def test_combinators_refuse_non_policies():
    with pytest.raises(UsageError, match="has no verify"):
        AllOf(["measurement"])  # type: ignore[list-item]


def test_all_of_reports_a_single_failure_unchanged_and_several_together():
    policy = AllOf([MeasurementIn([MEASUREMENT]), DebugForbidden(), MinSecurityVersion(9)])
    policy.verify(claims(security_version=9))
    with pytest.raises(VerificationError) as one:
        policy.verify(claims())
    assert one.value.message.startswith("security version 4 is below the minimum 9")
    with pytest.raises(VerificationError) as many:
        policy.verify(claims(debug=True, measurement=OTHER_MEASUREMENT))
    message = many.value.message
    assert message.startswith("3 of 3 policy checks failed: (1) measurement ")
    assert "(2) the sgx-dcap enclave runs in debug mode" in message
    assert "(3) security version 4 is below the minimum 9" in message


def test_any_of_accepts_one_branch_and_lists_each_failure():
    policy = AnyOf(
        [
            AllOf([BackendIn(["tdx"]), MeasurementIn([MEASUREMENT])]),
            AllOf([BackendIn(["sgx-dcap"]), MeasurementIn([PREVIOUS_MEASUREMENT])]),
        ]
    )
    policy.verify(claims(backend="tdx"))
    policy.verify(claims(measurement=PREVIOUS_MEASUREMENT))
    with pytest.raises(VerificationError) as caught:
        policy.verify(claims())
    message = caught.value.message
    assert message.startswith("none of the 2 alternative policies accepts the evidence: ")
    assert (
        "(1) evidence from backend 'sgx-dcap' is not accepted: the policy accepts only tdx"
        in message
    )
    assert (
        f"(2) measurement {MEASUREMENT[:8]}.. is not one of the policy's 1 accepted measurement"
        in message
    )


def test_simulated_is_explicit_only_on_the_accepting_branch():
    simulated = claims(backend="simulated", signer=None)
    assert apply_policy(BackendIn(["simulated"]), simulated) is True
    assert apply_policy(MeasurementIn([MEASUREMENT]), simulated) is False
    assert apply_policy(AllOf([BackendIn(["simulated", "tdx"]), DebugForbidden()]), simulated)
    mixed = AnyOf(
        [
            AllOf([BackendIn(["simulated"]), MeasurementIn([PREVIOUS_MEASUREMENT])]),
            MeasurementIn([MEASUREMENT]),  # accepts, but never mentions simulated
        ]
    )
    assert apply_policy(mixed, simulated) is False
    assert apply_policy(mixed, claims(backend="simulated", measurement=PREVIOUS_MEASUREMENT))


def test_policies_defined_elsewhere_compose_but_never_allow_simulated():
    class OnlyEvenVersions:
        def verify(self, claims: Claims) -> None:
            if claims.security_version % 2:
                raise VerificationError(f"security version {claims.security_version} is odd")

    policy = AllOf([OnlyEvenVersions(), DebugForbidden()])
    policy.verify(claims())
    with pytest.raises(VerificationError, match="security version 5 is odd"):
        policy.verify(claims(security_version=5))
    assert apply_policy(OnlyEvenVersions(), claims(backend="simulated")) is False
