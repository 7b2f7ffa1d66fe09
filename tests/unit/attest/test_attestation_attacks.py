"""Attacks on attestation. Each test performs the attack and shows it fails with a named cause."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import os

import pytest
from attest_helpers import (
    MEASUREMENT,
    OTHER_AGREEMENT,
    OTHER_MEASUREMENT,
    SettableClock,
    dev_policy,
    dev_verifier,
    make_session_keys,
    quoter,
)

from accord._internal.canonical import canonical_json
from accord.attest import (
    AllOf,
    AnyOf,
    BackendIn,
    DebugForbidden,
    Evidence,
    FreshWithin,
    MeasurementIn,
)
from accord.crypto.keys import SigningKey
from accord.errors import UsageError, VerificationError

BINDING = "the report data does not bind the presented session keys and nonce"


def test_wrong_measurement(session_keys, nonce):
    """The host runs other code than the agreement names."""
    evidence = quoter(measurement=OTHER_MEASUREMENT).quote(session_keys.report_data(nonce))
    with pytest.raises(VerificationError) as caught:
        dev_verifier().verify(evidence.to_bytes(), nonce=nonce, expected=session_keys)
    assert caught.value.message == (
        f"measurement {OTHER_MEASUREMENT[:8]}.. is not one of the agreement's "
        "2 accepted measurements"
    )


def test_debug_enclave_where_the_policy_forbids_it(session_keys, nonce):
    evidence = quoter(debug=True).quote(session_keys.report_data(nonce))
    with pytest.raises(VerificationError, match="enclave runs in debug mode, so the host can read"):
        dev_verifier().verify(evidence, nonce=nonce, expected=session_keys)


def test_simulated_evidence_where_the_backends_do_not_include_it(session_keys, nonce):
    """A host without TEE hardware forges simulated evidence for a production agreement."""
    policy = AllOf(
        [BackendIn(["sgx-dcap", "tdx"], source="agreement"), MeasurementIn([MEASUREMENT])]
    )
    evidence = quoter().quote(session_keys.report_data(nonce))
    with pytest.raises(VerificationError) as caught:
        dev_verifier(policy).verify(evidence, nonce=nonce, expected=session_keys)
    assert caught.value.message == (
        "evidence from backend 'simulated' is not accepted: "
        "the agreement accepts only sgx-dcap, tdx"
    )
    assert "no protection against the host" in caught.value.hint


@pytest.mark.parametrize(
    "policy",
    [
        MeasurementIn([MEASUREMENT]),
        AllOf([MeasurementIn([MEASUREMENT]), DebugForbidden()]),
        AnyOf(
            [
                AllOf([BackendIn(["simulated"]), MeasurementIn([OTHER_MEASUREMENT])]),
                MeasurementIn([MEASUREMENT]),
            ]
        ),
    ],
    ids=["measurement-only", "no-backend-list", "simulated-on-another-branch"],
)
def test_simulated_evidence_where_the_policy_does_not_allow_it_explicitly(
    session_keys, nonce, policy
):
    """Anyone can forge simulated evidence with the right measurement; only BackendIn admits it."""
    evidence = quoter().quote(session_keys.report_data(nonce))
    with pytest.raises(VerificationError) as caught:
        dev_verifier(policy).verify(evidence, nonce=nonce, expected=session_keys)
    assert caught.value.message.startswith(
        "simulated evidence is refused: "
        "the policy does not explicitly allow the backend 'simulated'"
    )
    assert "NO protection against the host" in caught.value.message


def test_evidence_for_another_agreement(nonce):
    """The host starts the enclave with another agreement, whose rules it prefers."""
    theirs = make_session_keys(agreement=OTHER_AGREEMENT)
    ours = dataclasses.replace(theirs, agreement_digest=make_session_keys().agreement_digest)
    evidence = quoter().quote(theirs.report_data(nonce))
    with pytest.raises(VerificationError, match=BINDING):
        dev_verifier().verify(evidence, nonce=nonce, expected=ours)


def test_evidence_for_another_session(session_keys, nonce):
    other_session = dataclasses.replace(session_keys, session_id=os.urandom(16).hex())
    evidence = quoter().quote(other_session.report_data(nonce))
    with pytest.raises(VerificationError, match=BINDING):
        dev_verifier().verify(evidence, nonce=nonce, expected=session_keys)


def test_replayed_evidence_with_an_old_nonce(session_keys):
    """The host replays evidence recorded for an earlier verification."""
    old_nonce, fresh_nonce = os.urandom(32), os.urandom(32)
    recorded = quoter().quote(session_keys.report_data(old_nonce)).to_bytes()
    with pytest.raises(VerificationError) as caught:
        dev_verifier().verify(recorded, nonce=fresh_nonce, expected=session_keys)
    assert caught.value.message.startswith(BINDING)
    assert "replaying old evidence" in caught.value.message


@pytest.mark.parametrize("key", ["hpke_public_key", "signing_public_key", "tls_public_key"])
def test_host_substitutes_its_own_key(session_keys, nonce, key):
    """Real evidence of the enclave, presented with a key pair the host holds."""
    evidence = quoter().quote(session_keys.report_data(nonce))
    host_keys = make_session_keys(
        agreement=session_keys.agreement_digest, session_id=session_keys.session_id
    )
    presented = dataclasses.replace(session_keys, **{key: getattr(host_keys, key)})
    with pytest.raises(VerificationError) as caught:
        dev_verifier().verify(evidence, nonce=nonce, expected=presented)
    assert caught.value.message.startswith(BINDING)
    assert "a host substituting its own key" in caught.value.message


def test_host_re_signs_evidence_for_its_own_key(session_keys, nonce):
    """With simulated evidence the host CAN bind its own key: that is why it protects nothing.

    The forgery passes the binding check, so only the policy (which must list 'simulated')
    and the loud warning stand between it and acceptance; with hardware backends the
    platform key is not public and this forgery is impossible.
    """
    host_keys = make_session_keys(
        agreement=session_keys.agreement_digest, session_id=session_keys.session_id
    )
    forged = quoter().quote(host_keys.report_data(nonce))  # the public platform key signs it
    production = AllOf([BackendIn(["sgx-dcap"]), MeasurementIn([MEASUREMENT])])
    with pytest.raises(VerificationError, match="backend 'simulated' is not accepted"):
        dev_verifier(production).verify(forged, nonce=nonce, expected=host_keys)


def resigned_wire(evidence: Evidence, **report_changes: object) -> bytes:
    """Edit the signed report inside the evidence without re-signing it."""
    outer = json.loads(evidence.raw)
    outer["report"].update(report_changes)
    edited_raw = canonical_json(outer)
    return dataclasses.replace(evidence, raw=edited_raw).to_bytes()


@pytest.mark.parametrize(
    "change",
    [
        {"measurement": MEASUREMENT[:-2] + "00"},
        {"debug": False},
        {"security_version": 1000},
        {"issued_at": "2030-01-01T00:00:00.000000Z"},
    ],
)
def test_simulated_claims_edited_after_signing(session_keys, nonce, change):
    evidence = quoter(debug=True).quote(session_keys.report_data(nonce))
    with pytest.raises(VerificationError) as caught:
        dev_verifier().verify(resigned_wire(evidence, **change), nonce=nonce, expected=session_keys)
    assert caught.value.message == (
        "the simulated report's signature does not verify with the simulated platform key: "
        "the report was altered after it was signed"
    )


def test_report_data_edited_after_signing(session_keys, nonce):
    """Swapping the bound report data inside the signed report breaks the signature."""
    evidence = quoter().quote(make_session_keys().report_data(nonce))
    swapped = base64.b64encode(session_keys.report_data(nonce)).decode()
    data = resigned_wire(evidence, report_data=swapped)
    with pytest.raises(VerificationError, match="signature does not verify"):
        dev_verifier().verify(data, nonce=nonce, expected=session_keys)


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        (
            "measurement",
            OTHER_MEASUREMENT,
            f"says {OTHER_MEASUREMENT[:8]}.. but the authenticated report says {MEASUREMENT[:8]}..",
        ),
        ("debug", False, "says False but the authenticated report says True"),
        ("security_version", 9, "says 9 but the authenticated report says 1"),
        ("signer", "00" * 32, "says 00000000.."),
        (
            "issued_at",
            dt.datetime(2026, 5, 1, 12, 0, 1, tzinfo=dt.UTC),
            "says 2026-05-01T12:00:01.000000Z",
        ),
    ],
)
def test_unsigned_field_edited_but_raw_report_not(session_keys, nonce, field, value, shown):
    """The relay edits the wrapper to mislead anyone reading it; only the signed report counts."""
    evidence = quoter(debug=True).quote(session_keys.report_data(nonce))
    edited = dataclasses.replace(evidence, **{field: value})
    policy = AllOf([BackendIn(["simulated"]), MeasurementIn([MEASUREMENT, OTHER_MEASUREMENT])])
    with pytest.raises(VerificationError) as caught:
        dev_verifier(policy).verify(edited.to_bytes(), nonce=nonce, expected=session_keys)
    assert caught.value.message.startswith(f"evidence field {field!r} {shown}")
    assert (
        "the unsigned description was altered, only the signed report counts"
        in caught.value.message
    )


def test_unsigned_report_data_edited_to_match_the_verifier(session_keys, nonce):
    """The relay copies the expected report data into the wrapper of replayed evidence."""
    recorded = quoter().quote(session_keys.report_data(os.urandom(32)))
    edited = dataclasses.replace(recorded, report_data=session_keys.report_data(nonce))
    with pytest.raises(VerificationError, match="evidence field 'report_data' says"):
        dev_verifier().verify(edited, nonce=nonce, expected=session_keys)


def test_too_old_simulated_evidence(session_keys, nonce):
    clock = SettableClock()
    evidence = quoter(clock).quote(session_keys.report_data(nonce))
    policy = AllOf([dev_policy(), FreshWithin(dt.timedelta(minutes=5), now=clock)])
    clock.advance(minutes=5, seconds=1)
    with pytest.raises(VerificationError) as caught:
        dev_verifier(policy, clock).verify(evidence, nonce=nonce, expected=session_keys)
    assert caught.value.message == (
        "evidence issued at 2026-05-01T12:00:00.000000Z is 0:05:01 old, older than the "
        "allowed 0:05:00"
    )


def test_simulated_evidence_re_signed_with_a_backdated_time_is_still_refused_by_the_nonce(
    session_keys,
):
    """A forger can pick any time for simulated evidence, but not the verifier's fresh nonce."""
    clock = SettableClock()
    old = quoter(clock).quote(session_keys.report_data(os.urandom(32)))
    with pytest.raises(VerificationError, match=BINDING):
        dev_verifier(clock=clock).verify(old, nonce=os.urandom(32), expected=session_keys)


def test_empty_all_of_is_misuse():
    with pytest.raises(UsageError) as caught:
        AllOf([])
    assert caught.value.message == (
        "AllOf([]) was given no policies: an empty list is misuse, not a policy"
    )


def test_evidence_signed_by_another_key_is_refused(session_keys, nonce):
    """A report signed with a key other than the simulated platform key."""
    evidence = quoter().quote(session_keys.report_data(nonce))
    outer = json.loads(evidence.raw)
    signature = SigningKey.generate().sign(
        canonical_json(outer["report"]), context="simulated-attestation-report"
    )
    outer["signature"] = base64.b64encode(signature).decode()
    forged = dataclasses.replace(evidence, raw=canonical_json(outer))
    with pytest.raises(VerificationError, match="signature does not verify"):
        dev_verifier().verify(forged, nonce=nonce, expected=session_keys)
