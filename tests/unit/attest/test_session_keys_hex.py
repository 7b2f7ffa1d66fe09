"""Session ids and agreement digests have exactly one spelling: lowercase hex, nothing else.

``bytes.fromhex`` skips whitespace, so ``"0f 0f ..."`` decodes to the same bytes (and the same
report data) as ``"0f0f..."``; a verifier that accepted it would hand a session id to the
party that the enclave, comparing text, does not recognise. Every other spelling is refused.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable

import pytest
from attest_helpers import AGREEMENT, make_session_keys, quoter

from accord.attest import SessionPublicKeys
from accord.attest.bundle import AttestationBundle
from accord.errors import UsageError, VerificationError

SESSION_ID = os.urandom(16).hex()

SPELLINGS: dict[str, Callable[[str], str]] = {
    "spaced": lambda hex_: " ".join(hex_[i : i + 2] for i in range(0, len(hex_), 2)),
    "leading-space": lambda hex_: " " + hex_[1:] + hex_[0],
    "trailing-newline": lambda hex_: hex_[:-1] + "\n",
    "tab-inside": lambda hex_: hex_[:2] + "\t" + hex_[3:],
    "upper-case": lambda hex_: hex_.upper(),
    "full-width-digit": lambda hex_: "\uff10" + hex_[1:],
}


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
@pytest.mark.parametrize(
    ("field", "value"), [("session_id", SESSION_ID), ("agreement_digest", AGREEMENT)]
)
def test_session_keys_refuse_every_other_spelling(field: str, value: str, spelling: str) -> None:
    keys = make_session_keys(session_id=SESSION_ID)
    other = SPELLINGS[spelling](value)
    assert other != value
    with pytest.raises(UsageError) as caught:
        dataclasses.replace(keys, **{field: other})
    assert f"{field.replace('_', ' ')} must be {len(value)} lowercase hex characters" in (
        caught.value.message
    )


def test_a_bundle_with_a_spaced_session_id_is_refused_by_the_verifier_side() -> None:
    keys = make_session_keys(session_id=SESSION_ID)
    bundle = AttestationBundle(
        session_keys=keys, evidence=quoter().quote(keys.report_data(os.urandom(32)))
    )
    wire = json.loads(bundle.to_bytes())
    wire["session"]["session_id"] = SPELLINGS["spaced"](SESSION_ID)
    with pytest.raises(VerificationError) as caught:
        AttestationBundle.from_bytes(json.dumps(wire).encode())
    assert "attestation bundle session: session id must be 32 lowercase hex" in (
        caught.value.message
    )


def test_the_canonical_spelling_is_accepted() -> None:
    keys = make_session_keys(session_id=SESSION_ID)
    assert isinstance(keys, SessionPublicKeys)
    assert keys.session_id == SESSION_ID
