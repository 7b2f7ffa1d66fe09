"""The simulated backend: a public platform key signs reports that the simulated verifier checks."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json

import pytest
from attest_helpers import MEASUREMENT, T0, SettableClock, quoter

from accord._internal.canonical import canonical_json
from accord.attest.backends.simulated import (
    SIMULATED_PLATFORM_PUBLIC_KEY,
    SIMULATED_PLATFORM_SEED,
    SIMULATED_SIGNER,
    SimulatedQuoter,
    SimulatedVerifier,
    simulated_platform_key,
)
from accord.attest.measurement import measure_installed_package
from accord.crypto.keys import SECRET_KEY_ACCESS
from accord.errors import UsageError, VerificationError

REPORT_DATA = bytes(range(64))


def test_the_platform_key_comes_from_the_published_seed():
    published = hashlib.sha256(
        b"accord/v1/simulated-platform-key\x00public, anyone can forge simulated evidence"
    ).digest()
    assert published == SIMULATED_PLATFORM_SEED
    assert simulated_platform_key().export_raw(SECRET_KEY_ACCESS) == published
    assert SIMULATED_PLATFORM_PUBLIC_KEY.fingerprint == SIMULATED_SIGNER
    assert hashlib.sha256(SIMULATED_PLATFORM_PUBLIC_KEY.raw).hexdigest() == SIMULATED_SIGNER


def test_quoter_evidence_describes_its_signed_report():
    clock = SettableClock(T0.replace(microsecond=123456))
    evidence = quoter(clock, security_version=7).quote(REPORT_DATA)
    assert evidence.backend == "simulated"
    assert evidence.measurement == MEASUREMENT
    assert evidence.signer == SIMULATED_SIGNER
    assert evidence.security_version == 7
    assert evidence.debug is False
    assert evidence.report_data == REPORT_DATA
    assert evidence.issued_at == clock.now
    claims = SimulatedVerifier().verify_raw(evidence.raw, aux=b"", at=T0)
    assert (claims.measurement, claims.signer, claims.security_version) == (
        MEASUREMENT,
        SIMULATED_SIGNER,
        7,
    )
    assert claims.report_data == REPORT_DATA
    assert claims.issued_at == clock.now
    assert claims.debug is False


def test_raw_report_layout_is_as_documented():
    raw = quoter(debug=True).quote(REPORT_DATA).raw
    outer = json.loads(raw)
    assert raw == canonical_json(outer)
    assert set(outer) == {"report", "signature"}
    assert outer["report"]["type"] == "accord-simulated-report"
    assert outer["report"]["version"] == 1
    assert outer["report"]["debug"] is True
    signature = base64.b64decode(outer["signature"])
    SIMULATED_PLATFORM_PUBLIC_KEY.verify(
        signature, canonical_json(outer["report"]), context="simulated-attestation-report"
    )


def test_default_measurement_is_the_installed_package():
    assert SimulatedQuoter().measurement == measure_installed_package().digest


def test_quoter_refuses_bad_settings():
    with pytest.raises(UsageError, match="report_data"):
        quoter().quote(b"short")
    with pytest.raises(UsageError, match="measurement"):
        SimulatedQuoter(measurement="nothex")
    with pytest.raises(UsageError, match="security_version"):
        SimulatedQuoter(security_version=-2)


def test_anyone_with_the_public_seed_can_forge_a_report():
    """The point of the simulated backend: its signature proves nothing about the signer."""
    forged_report = {
        "type": "accord-simulated-report",
        "version": 1,
        "measurement": MEASUREMENT,
        "security_version": 99,
        "debug": False,
        "report_data": base64.b64encode(REPORT_DATA).decode(),
        "issued_at": "2026-05-01T12:00:00Z",
    }
    forger = simulated_platform_key()  # the host can do this too
    signature = forger.sign(canonical_json(forged_report), context="simulated-attestation-report")
    raw = canonical_json(
        {"report": forged_report, "signature": base64.b64encode(signature).decode()}
    )
    claims = SimulatedVerifier().verify_raw(raw, aux=b"", at=T0)
    assert claims.security_version == 99


def edited(raw: bytes, **changes: object) -> bytes:
    outer = json.loads(raw)
    outer["report"].update(changes)
    return canonical_json(outer)


@pytest.mark.parametrize(
    "changes",
    [
        {"measurement": "00" * 32},
        {"debug": True},
        {"security_version": 8},
        {"issued_at": "2026-05-02T12:00:00.000000Z"},
    ],
)
def test_editing_a_signed_claim_breaks_the_signature(changes):
    raw = quoter().quote(REPORT_DATA).raw
    with pytest.raises(
        VerificationError, match=r"signature does not verify .* altered after it was signed"
    ):
        SimulatedVerifier().verify_raw(edited(raw, **changes), aux=b"", at=T0)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "not valid JSON"),
        (b'{"report": {}, "signature": ""}', "lacks field"),
        (b'{"report": [], "signature": ""}', "must be a JSON object"),
        (b'{"report": {}}', "lacks field 'signature'"),
    ],
)
def test_malformed_reports_are_refused(raw, message):
    with pytest.raises(VerificationError, match=message):
        SimulatedVerifier().verify_raw(raw, aux=b"", at=T0)


def test_wrong_report_type_and_aux_are_refused():
    raw = quoter().quote(REPORT_DATA).raw
    with pytest.raises(VerificationError, match="not a version 1 simulated report"):
        SimulatedVerifier().verify_raw(edited(raw, version=2), aux=b"", at=T0)
    with pytest.raises(VerificationError, match="must not carry auxiliary data"):
        SimulatedVerifier().verify_raw(raw, aux=b"x", at=T0)


def test_verification_time_does_not_matter_for_simulated_reports():
    raw = quoter().quote(REPORT_DATA).raw
    later = T0 + dt.timedelta(days=3650)
    assert SimulatedVerifier().verify_raw(raw, aux=b"", at=later).measurement == MEASUREMENT
