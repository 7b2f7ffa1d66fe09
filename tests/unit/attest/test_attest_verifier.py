"""The Verifier: authenticity, description, binding and policy, returning an unforgeable result."""

from __future__ import annotations

import copy
import datetime as dt
import logging
import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from attest_helpers import MEASUREMENT, T0, SettableClock, dev_policy, dev_verifier, quoter

from accord.attest import (
    AccordSecurityWarning,
    AllOf,
    BackendIn,
    Claims,
    DebugForbidden,
    Evidence,
    MeasurementIn,
    VerifiedEvidence,
    Verifier,
)
from accord.attest.backends import SimulatedVerifier, default_backend_verifiers
from accord.errors import UsageError, VerificationError


def test_verify_returns_verified_evidence_from_bytes_and_objects(session_keys, nonce, clock):
    evidence = quoter(clock).quote(session_keys.report_data(nonce))
    verifier = dev_verifier(clock=clock)
    with pytest.warns(AccordSecurityWarning):
        from_bytes = verifier.verify(evidence.to_bytes(), nonce=nonce, expected=session_keys)
    with pytest.warns(AccordSecurityWarning):
        from_object = verifier.verify(evidence, nonce=nonce, expected=session_keys)
    for verified in (from_bytes, from_object):
        assert isinstance(verified, VerifiedEvidence)
        assert verified.claims.measurement == MEASUREMENT
        assert verified.claims.backend == "simulated"
        assert verified.session_keys is session_keys
        assert verified.nonce == nonce
        assert verified.policy is verifier.policy
        assert verified.verified_at == T0
        assert verified.simulated is True
        assert verified.evidence == evidence
    assert "measurement='" + MEASUREMENT[:8] in repr(from_bytes)


def test_every_simulated_acceptance_warns_and_logs(session_keys, nonce, caplog):
    evidence = quoter().quote(session_keys.report_data(nonce))
    verifier = dev_verifier()
    with (
        caplog.at_level(logging.WARNING, logger="accord.attest"),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("default")
        verifier.verify(evidence, nonce=nonce, expected=session_keys)
        verifier.verify(evidence, nonce=nonce, expected=session_keys)
    messages = [str(w.message) for w in caught if issubclass(w.category, AccordSecurityWarning)]
    assert len(messages) == 2
    expected_text = "simulated attestation gives NO protection against the host: development only"
    assert all(expected_text in m for m in messages)
    assert len([r for r in caplog.records if expected_text in r.getMessage()]) == 2


SCRIPT = """
import os, sys
sys.path.insert(0, sys.argv[1])
from attest_helpers import dev_verifier, make_session_keys, quoter
keys, nonce = make_session_keys(), os.urandom(32)
evidence = quoter().quote(keys.report_data(nonce))
for _ in range(3):
    dev_verifier().verify(evidence, nonce=nonce, expected=keys)
"""


def test_the_warning_is_shown_every_time_in_a_plain_program():
    """Python shows a warning once per place by default; accord.attest makes this one repeat."""
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONWARNINGS": ""},
    )
    shown = [line for line in result.stderr.splitlines() if "AccordSecurityWarning" in line]
    assert len(shown) == 3
    assert "simulated attestation gives NO protection against the host" in shown[0]


def test_a_user_can_turn_the_warning_into_an_error(session_keys, nonce):
    evidence = quoter().quote(session_keys.report_data(nonce))
    with warnings.catch_warnings():
        warnings.simplefilter("error", AccordSecurityWarning)
        with pytest.raises(AccordSecurityWarning):
            dev_verifier().verify(evidence, nonce=nonce, expected=session_keys)


def verified_evidence(session_keys, nonce) -> VerifiedEvidence:
    evidence = quoter().quote(session_keys.report_data(nonce))
    with pytest.warns(AccordSecurityWarning):
        return dev_verifier().verify(evidence, nonce=nonce, expected=session_keys)


def test_verified_evidence_cannot_be_constructed_by_user_code(session_keys, nonce):
    real = verified_evidence(session_keys, nonce)
    with pytest.raises(TypeError, match="cannot be constructed directly"):
        VerifiedEvidence(claims=real.claims, session_keys=session_keys)
    with pytest.raises(TypeError, match="cannot be constructed directly"):
        VerifiedEvidence(_token=object(), claims=real.claims)
    with pytest.raises(TypeError, match="cannot be constructed directly"):
        VerifiedEvidence()


def test_verified_evidence_cannot_be_altered_or_pickled(session_keys, nonce):
    real = verified_evidence(session_keys, nonce)
    with pytest.raises(AttributeError, match="immutable"):
        real._claims = None  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        del real._claims
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(real)
    assert copy.copy(real) is real
    assert copy.deepcopy(real) is real


def test_hardware_evidence_without_a_configured_verifier_is_refused(session_keys, nonce):
    for backend in ("sgx-dcap", "tdx", "sev-snp"):
        evidence = Evidence(
            backend=backend,
            measurement=None,
            signer=None,
            security_version=None,
            debug=None,
            report_data=session_keys.report_data(nonce),
            raw=b"\x04\x00\x02\x00 a quote",
            issued_at=T0,
        )
        verifier = Verifier(policy=dev_policy(), backends={"simulated": SimulatedVerifier()})
        with pytest.raises(VerificationError) as caught:
            verifier.verify(evidence, nonce=nonce, expected=session_keys)
        assert caught.value.message == f"no verifier for {backend} evidence is configured"


def test_simulated_evidence_without_its_verifier_is_refused(session_keys, nonce):
    evidence = quoter().quote(session_keys.report_data(nonce))
    verifier = Verifier(policy=dev_policy(), backends={})
    with pytest.raises(
        VerificationError, match=r"no verifier for simulated evidence is configured$"
    ):
        verifier.verify(evidence, nonce=nonce, expected=session_keys)


class FakeTdxVerifier:
    """Stands in for the hardware verifier a later release adds: it only has to return Claims."""

    def __init__(self, claims: Claims) -> None:
        self.claims = claims
        self.calls: list[tuple[bytes, bytes, dt.datetime]] = []

    def verify_raw(self, raw: bytes, *, aux: bytes, at: dt.datetime) -> Claims:
        self.calls.append((raw, aux, at))
        return self.claims


def tdx_setup(session_keys, nonce, **claim_changes):
    fields = {
        "backend": "tdx",
        "measurement": "ab" * 48,
        "signer": None,
        "security_version": 2,
        "debug": False,
        "report_data": session_keys.report_data(nonce),
    }
    fields.update(claim_changes)
    backend_verifier = FakeTdxVerifier(Claims(**fields))
    evidence = Evidence(
        backend="tdx",
        measurement=None,
        signer=None,
        security_version=None,
        debug=None,
        report_data=session_keys.report_data(nonce),
        raw=b"a tdx quote",
        aux=b"",
        issued_at=T0,
    )
    policy = AllOf([BackendIn(["tdx"]), MeasurementIn(["ab" * 48]), DebugForbidden()])
    verifier = Verifier(policy=policy, backends={"tdx": backend_verifier}, now=SettableClock())
    return verifier, backend_verifier, evidence


def test_a_supplied_hardware_verifier_plugs_in_without_warnings(session_keys, nonce):
    verifier, backend_verifier, evidence = tdx_setup(session_keys, nonce)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        verified = verifier.verify(evidence, nonce=nonce, expected=session_keys)
    assert verified.claims.backend == "tdx" and verified.simulated is False
    assert backend_verifier.calls == [(b"a tdx quote", b"", T0)]
    at = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)
    verifier.verify(evidence, nonce=nonce, expected=session_keys, at=at)
    assert backend_verifier.calls[-1][2] == at


def test_a_verifier_returning_another_backend_is_refused(session_keys, nonce):
    verifier, _, evidence = tdx_setup(session_keys, nonce, backend="sev-snp")
    with pytest.raises(VerificationError, match="tdx verifier authenticated a sev-snp report"):
        verifier.verify(evidence, nonce=nonce, expected=session_keys)


def test_verifier_construction_is_checked():
    with pytest.raises(UsageError, match="unknown attestation backend 'sgx'"):
        Verifier(policy=dev_policy(), backends={"sgx": object()})  # type: ignore[dict-item]
    with pytest.raises(UsageError, match="has no verify_raw"):
        Verifier(policy=dev_policy(), backends={"tdx": object()})  # type: ignore[dict-item]
    with pytest.raises(UsageError, match="has no verify"):
        Verifier(policy="allow all", backends=default_backend_verifiers())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Verifier(dev_policy(), default_backend_verifiers())  # type: ignore[misc]


def test_bad_arguments_are_usage_errors(session_keys, nonce):
    evidence = quoter().quote(session_keys.report_data(nonce))
    verifier = dev_verifier()
    with pytest.raises(UsageError, match="nonce must be 16 to 64 bytes"):
        verifier.verify(evidence, nonce=b"short", expected=session_keys)
    with pytest.raises(UsageError, match="bytes or Evidence"):
        verifier.verify("evidence", nonce=nonce, expected=session_keys)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="timezone-aware"):
        verifier.verify(evidence, nonce=nonce, expected=session_keys, at=dt.datetime(2026, 1, 1))
