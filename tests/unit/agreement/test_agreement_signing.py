"""Signatures: an agreement is in force only when every party signed its current content."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from agreement_helpers import BASE, KEYS, NAMES, SOURCE, parse, replace_once

from accord.agreement import (
    SIGNATURE_CONTEXT,
    Agreement,
    SignatureState,
    SignedAgreement,
    load_signed_agreement,
    sign_agreement,
    signature_states,
    verify_signatures,
)
from accord.crypto.keys import SigningKey
from accord.errors import ConfigurationError, KeyMaterialError, UsageError, VerificationError


def with_signatures(text: str, signatures: dict[str, bytes]) -> str:
    lines = "".join(
        f'{name} = "{base64.b64encode(signature).decode()}"\n'
        for name, signature in signatures.items()
    )
    return replace_once(text, "[signatures]\n", "[signatures]\n" + lines)


def signed_by(names: tuple[str, ...], text: str = BASE) -> Agreement:
    agreement = parse(text)
    signatures = {name: sign_agreement(agreement, KEYS[name], party=name) for name in names}
    return parse(with_signatures(text, signatures))


def test_signature_is_ed25519_over_the_digest_bytes_in_the_agreement_context() -> None:
    agreement = parse(BASE)
    signature = sign_agreement(agreement, KEYS["bob"], party="bob")
    KEYS["bob"].verify_key.verify(
        signature, bytes.fromhex(agreement.digest), context=SIGNATURE_CONTEXT
    )


def test_fully_signed_agreement_verifies() -> None:
    signed = verify_signatures(signed_by(NAMES))
    assert isinstance(signed, SignedAgreement)
    assert signed.digest == parse(BASE).digest
    assert set(signed.signatures) == set(NAMES)
    assert signed.rule_for("train").threshold == 2
    assert signed.party("alice").contact == "ops@alice.example"
    assert signed.outputs.may_receive_model("alice")
    assert "sgx-dcap" in signed.enclave.backends
    assert signed.parties == signed.agreement.parties
    assert signed.party_keys == {name: KEYS[name].verify_key for name in NAMES}


def test_a_missing_signature_names_the_party() -> None:
    agreement = signed_by(("alice", "carol"))
    with pytest.raises(VerificationError, match=f"^{SOURCE} is unsigned by bob$"):
        verify_signatures(agreement)
    assert signature_states(agreement)["bob"] is SignatureState.MISSING


def test_several_missing_signatures_are_all_named() -> None:
    with pytest.raises(VerificationError, match="unsigned by bob, carol"):
        signed_by(("alice",)).verify_signatures()


def test_a_signature_by_a_non_party_is_refused() -> None:
    agreement = parse(BASE)
    mallory = SigningKey.generate()
    forged = mallory.sign(bytes.fromhex(agreement.digest), context=SIGNATURE_CONTEXT)
    signatures = {name: sign_agreement(agreement, KEYS[name], party=name) for name in NAMES}
    agreement = parse(with_signatures(BASE, {**signatures, "mallory": forged}))
    with pytest.raises(VerificationError, match="signature by 'mallory', who is not a party"):
        verify_signatures(agreement)
    assert signature_states(agreement)["mallory"] is SignatureState.NOT_A_PARTY


def test_a_signature_by_another_key_is_invalid_and_names_the_party() -> None:
    agreement = parse(BASE)
    forged = SigningKey.generate().sign(bytes.fromhex(agreement.digest), context="agreement")
    signatures = {name: sign_agreement(agreement, KEYS[name], party=name) for name in NAMES}
    agreement = parse(with_signatures(BASE, {**signatures, "bob": forged}))
    with pytest.raises(VerificationError, match="the signature of 'bob' does not verify"):
        verify_signatures(agreement)
    assert signature_states(agreement)["bob"] is SignatureState.INVALID


def test_a_signature_made_for_another_purpose_is_invalid() -> None:
    agreement = parse(BASE)
    digest = bytes.fromhex(agreement.digest)
    signatures = {name: sign_agreement(agreement, KEYS[name], party=name) for name in NAMES}
    signatures["carol"] = KEYS["carol"].sign(digest, context="command")
    with pytest.raises(VerificationError, match="'carol' does not verify"):
        verify_signatures(parse(with_signatures(BASE, signatures)))


def test_changing_the_content_after_signing_invalidates_every_signature() -> None:
    signed_text = with_signatures(
        BASE, {name: sign_agreement(parse(BASE), KEYS[name], party=name) for name in NAMES}
    )
    verify_signatures(parse(signed_text))
    tampered = parse(replace_once(signed_text, 'models = ["alice", "bob"]', 'models = ["bob"]'))
    with pytest.raises(VerificationError, match="the content changed after it was signed"):
        verify_signatures(tampered)
    assert set(signature_states(tampered).values()) == {SignatureState.INVALID}


def test_an_agreement_without_parties_is_not_in_force() -> None:
    text = BASE[: BASE.index("[[parties]]")] + BASE[BASE.index("[enclave]") :]
    text = text[: text.index("[approvals]")]
    with pytest.raises(ConfigurationError, match="lists no parties"):
        verify_signatures(parse(text))


def test_signing_with_a_key_the_agreement_does_not_list_is_refused() -> None:
    with pytest.raises(KeyMaterialError, match=r"lists signing key .* for 'alice'"):
        sign_agreement(parse(BASE), KEYS["bob"], party="alice")


def test_signing_as_a_non_party_is_refused() -> None:
    with pytest.raises(UsageError, match="'dave' is not a party of this agreement"):
        sign_agreement(parse(BASE), KEYS["bob"], party="dave")


def test_signed_agreement_cannot_be_constructed_by_user_code() -> None:
    with pytest.raises(TypeError, match="cannot be constructed directly"):
        SignedAgreement(parse(BASE), {})


def test_load_signed_agreement_reads_and_verifies(tmp_path: Path) -> None:
    path = tmp_path / "agreement.toml"
    agreement = parse(BASE)
    signatures = {name: sign_agreement(agreement, KEYS[name], party=name) for name in NAMES}
    path.write_text(with_signatures(BASE, signatures))
    assert load_signed_agreement(path).digest == agreement.digest
    path.write_text(with_signatures(BASE, {"alice": signatures["alice"]}))
    with pytest.raises(VerificationError, match="unsigned by bob, carol"):
        load_signed_agreement(path)
