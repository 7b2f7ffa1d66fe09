"""Attacks on attested key release: each one is performed and must fail with a named cause."""

import base64
import dataclasses
import json
import os

import pytest

from accord._internal.canonical import canonical_json
from accord.crypto.keyrelease import HpkePrivateKey, seal_key_release
from accord.crypto.keys import DataKey, SigningKey
from accord.enclave import EnclaveSession
from accord.errors import IntegrityError, KeyMaterialError, VerificationError


def alice_release(enclave, alice_key, data_key, *, session=None):
    return seal_key_release(
        data_key=data_key,
        party="alice",
        signing_key=alice_key,
        session=session if session is not None else enclave.public_keys,
    )


def edit(message, **changes):
    """Change payload fields of a signed message without re-signing (what the host can do)."""
    document = json.loads(message)
    document["payload"].update(changes)
    return canonical_json(document)


def assert_nothing_released(enclave):
    assert len(enclave.released_keys) == 0


def test_key_message_for_another_session_is_refused(
    enclave, agreement_digest, alice_key, parties, alice_data_key
):
    other = EnclaveSession.create(agreement_digest)
    message = alice_release(other, alice_key, alice_data_key)
    with pytest.raises(VerificationError) as caught:
        enclave.accept_key_release(message, parties=parties)
    assert caught.value.message == (
        f"key release is for another session ({other.session_id}); "
        f"this enclave session is {enclave.session_id}"
    )
    assert_nothing_released(enclave)


def test_key_message_for_another_agreement_is_refused(
    enclave, agreement_digest, other_agreement_digest, alice_key, parties, alice_data_key
):
    """A party of another agreement seals to this enclave's very keys: still refused."""
    foreign = dataclasses.replace(enclave.public_keys, agreement_digest=other_agreement_digest)
    message = alice_release(enclave, alice_key, alice_data_key, session=foreign)
    with pytest.raises(VerificationError) as caught:
        enclave.accept_key_release(message, parties=parties)
    assert caught.value.message == (
        f"key release is for agreement {other_agreement_digest[:16]}..., "
        f"this enclave runs agreement {agreement_digest[:16]}..."
    )
    assert_nothing_released(enclave)


def test_key_message_signed_by_a_non_party_is_refused(enclave, parties):
    mallory = SigningKey.generate()
    message = seal_key_release(
        data_key=DataKey.generate(),
        party="mallory",
        signing_key=mallory,
        session=enclave.public_keys,
    )
    with pytest.raises(VerificationError) as caught:
        enclave.accept_key_release(message, parties=parties)
    assert caught.value.message == (
        "party 'mallory' is not a party of this agreement (its parties: 'alice', 'bob')"
    )
    assert_nothing_released(enclave)


def test_non_party_signing_as_a_party_is_refused(enclave, parties, alice_key):
    mallory = SigningKey.generate()
    message = seal_key_release(
        data_key=DataKey.generate(), party="alice", signing_key=mallory, session=enclave.public_keys
    )
    with pytest.raises(VerificationError) as caught:
        enclave.accept_key_release(message, parties=parties)
    assert caught.value.message.startswith(
        "key release signature does not verify with party 'alice''s key "
        f"{alice_key.verify_key.fingerprint[:16]}"
    )
    assert_nothing_released(enclave)


def test_party_b_cannot_release_a_key_in_party_a_name(enclave, bob_key, parties):
    message = seal_key_release(
        data_key=DataKey.generate(), party="alice", signing_key=bob_key, session=enclave.public_keys
    )
    with pytest.raises(VerificationError, match="does not verify with party 'alice''s key"):
        enclave.accept_key_release(message, parties=parties)
    assert_nothing_released(enclave)


def test_party_b_cannot_take_over_a_key_party_a_released(
    enclave, alice_key, bob_key, parties, alice_data_key
):
    """Even holding A's key, B cannot re-register it as its own."""
    enclave.accept_key_release(alice_release(enclave, alice_key, alice_data_key), parties=parties)
    stolen = seal_key_release(
        data_key=alice_data_key, party="bob", signing_key=bob_key, session=enclave.public_keys
    )
    with pytest.raises(VerificationError) as caught:
        enclave.accept_key_release(stolen, parties=parties)
    assert "was released to this session by party 'alice'" in caught.value.message
    assert "party 'bob' cannot release it under its own name" in caught.value.message
    assert dict(enclave.released_keys) == {alice_data_key.key_id: "alice"}


def test_altered_ciphertext_is_refused(enclave, alice_key, parties, alice_data_key):
    message = alice_release(enclave, alice_key, alice_data_key)
    ciphertext = bytearray(base64.b64decode(json.loads(message)["payload"]["ciphertext"]))
    ciphertext[-1] ^= 0x80
    tampered = edit(message, ciphertext=base64.b64encode(bytes(ciphertext)).decode())
    with pytest.raises(VerificationError, match="altered after signing"):
        enclave.accept_key_release(tampered, parties=parties)
    assert_nothing_released(enclave)


@pytest.mark.parametrize(
    "field", ["agreement_digest", "session_id", "party", "key_id", "enc", "ciphertext"]
)
def test_payload_field_altered_after_signing_is_refused(
    enclave, other_agreement_digest, alice_key, parties, alice_data_key, field
):
    """The host rewrites one signed field; the signature check refuses the message."""
    signed_for = enclave.public_keys
    if field == "agreement_digest":
        # alice signed for another agreement; the host relabels it as this enclave's
        signed_for = dataclasses.replace(signed_for, agreement_digest=other_agreement_digest)
    elif field == "session_id":
        # alice signed for another session; the host relabels it as this one
        signed_for = EnclaveSession.create(enclave.agreement_digest).public_keys
    message = alice_release(enclave, alice_key, alice_data_key, session=signed_for)
    replacement = {
        "agreement_digest": enclave.agreement_digest,
        "session_id": enclave.session_id,
        "party": "bob",
        "key_id": DataKey.generate().key_id,
        "enc": base64.b64encode(os.urandom(1120)).decode(),
        "ciphertext": base64.b64encode(os.urandom(48)).decode(),
    }[field]
    assert json.loads(message)["payload"][field] != replacement
    with pytest.raises(VerificationError, match="altered after signing"):
        enclave.accept_key_release(edit(message, **{field: replacement}), parties=parties)
    assert_nothing_released(enclave)


def test_message_replayed_into_a_new_session_of_the_same_agreement_is_refused(
    agreement_digest, alice_key, parties, alice_data_key
):
    first = EnclaveSession.create(agreement_digest)
    message = alice_release(first, alice_key, alice_data_key)
    assert first.accept_key_release(message, parties=parties) == alice_data_key.key_id
    restarted = EnclaveSession.create(agreement_digest)
    with pytest.raises(VerificationError, match="key release is for another session"):
        restarted.accept_key_release(message, parties=parties)
    assert_nothing_released(restarted)
    with pytest.raises(KeyMaterialError, match="party 'alice' must provision it"):
        restarted.data_key(alice_data_key.key_id, owner="alice")


def test_key_sealed_to_a_host_substituted_hpke_key_cannot_be_opened(
    enclave, alice_key, parties, alice_data_key
):
    """The host swaps in its own HPKE key; the enclave cannot open what was sealed to it.

    The verifier catches this earlier: the substituted keys no longer match the report data.
    """
    host_key = HpkePrivateKey.generate()
    substituted = dataclasses.replace(enclave.public_keys, hpke_public_key=host_key.public_bytes)
    nonce = os.urandom(32)
    assert substituted.report_data(nonce) != enclave.public_keys.report_data(nonce)
    message = alice_release(enclave, alice_key, alice_data_key, session=substituted)
    with pytest.raises(IntegrityError) as caught:
        enclave.accept_key_release(message, parties=parties)
    assert caught.value.message == (
        f"key release from party 'alice' (key {alice_data_key.key_id}) cannot be decrypted by "
        "this enclave session's key: it was sealed to another key or its ciphertext is damaged"
    )
    assert_nothing_released(enclave)


def test_refused_messages_leave_no_state(enclave, alice_key, bob_key, parties, alice_data_key):
    """After any refused message the session still accepts the genuine one."""
    mallory = SigningKey.generate()
    forged = seal_key_release(
        data_key=alice_data_key, party="alice", signing_key=mallory, session=enclave.public_keys
    )
    with pytest.raises(VerificationError):
        enclave.accept_key_release(forged, parties=parties)
    genuine = alice_release(enclave, alice_key, alice_data_key)
    assert enclave.accept_key_release(genuine, parties=parties) == alice_data_key.key_id
    assert dict(enclave.released_keys) == {alice_data_key.key_id: "alice"}
