import base64
import copy
import hashlib
import hmac
import json
import pickle
import struct

import pytest
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from accord._internal.canonical import canonical_json
from accord.attest.binding import SessionPublicKeys
from accord.crypto.keyrelease import (
    HPKE_PUBLIC_KEY_BYTES,
    KEY_RELEASE_FORMAT,
    MAX_KEY_RELEASE_BYTES,
    HpkePrivateKey,
    key_release_info,
    open_key_release,
    seal_key_release,
)
from accord.crypto.keys import SECRET_KEY_ACCESS, DataKey, SigningKey
from accord.errors import (
    ConfigurationError,
    IntegrityError,
    KeyMaterialError,
    UsageError,
    VerificationError,
)

AGREEMENT = hashlib.sha256(b"agreement").hexdigest()
SESSION_ID = "0f" * 16


@pytest.fixture
def recipient():
    return HpkePrivateKey.generate()


@pytest.fixture
def alice():
    return SigningKey.generate()


@pytest.fixture
def session(recipient):
    return SessionPublicKeys(
        agreement_digest=AGREEMENT,
        session_id=SESSION_ID,
        hpke_public_key=recipient.public_bytes,
        signing_public_key=SigningKey.generate().verify_key.raw,
        tls_public_key=b"tls-spki",
    )


def open_as_enclave(message, recipient, parties):
    return open_key_release(
        message,
        agreement_digest=AGREEMENT,
        session_id=SESSION_ID,
        parties=parties,
        recipient=recipient,
    )


def resign(document, signing_key):
    payload = document["payload"]
    signature = signing_key.sign(canonical_json(payload), context="key-release")
    return canonical_json({"payload": payload, "signature": base64.b64encode(signature).decode()})


def test_round_trip_releases_the_same_key(recipient, alice, session):
    data_key = DataKey.generate()
    message = seal_key_release(data_key=data_key, party="alice", signing_key=alice, session=session)
    released = open_as_enclave(message, recipient, {"alice": alice.verify_key})
    assert released.party == "alice"
    assert released.data_key == data_key
    assert released.data_key.key_id == data_key.key_id


def test_message_is_canonical_json_without_the_key(recipient, alice, session):
    data_key = DataKey.generate()
    message = seal_key_release(data_key=data_key, party="alice", signing_key=alice, session=session)
    document = json.loads(message)
    assert canonical_json(document) == message
    payload = document["payload"]
    assert payload["format"] == KEY_RELEASE_FORMAT
    assert payload["agreement_digest"] == AGREEMENT
    assert payload["session_id"] == SESSION_ID
    assert payload["key_id"] == data_key.key_id
    assert len(base64.b64decode(payload["enc"])) == hpke.KEM.MLKEM768_X25519.enc_length() == 1120
    # 32 key bytes + 16-byte AES-GCM tag
    assert len(base64.b64decode(payload["ciphertext"])) == 48
    raw = data_key.export_bytes(SECRET_KEY_ACCESS)
    for encoding in (raw, raw.hex().encode(), base64.b64encode(raw)):
        assert encoding not in message


def test_sealing_twice_gives_different_ciphertexts(alice, session):
    data_key = DataKey.generate()
    first = seal_key_release(data_key=data_key, party="alice", signing_key=alice, session=session)
    second = seal_key_release(data_key=data_key, party="alice", signing_key=alice, session=session)
    assert json.loads(first)["payload"]["enc"] != json.loads(second)["payload"]["enc"]


def test_documented_layout_interoperates(recipient, alice):
    """A message built from docs/key-release.md alone, with the library's HPKE directly."""
    data_key = DataKey.generate()
    raw_public = recipient.public_bytes
    public_key = hpke.MLKEM768X25519PublicKey(
        mlkem.MLKEM768PublicKey.from_public_bytes(raw_public[:1184]),
        x25519.X25519PublicKey.from_public_bytes(raw_public[1184:]),
    )
    info = b"accord/v1/key-release\x00"
    for field in (
        bytes.fromhex(AGREEMENT),
        bytes.fromhex(SESSION_ID),
        b"alice",
        bytes.fromhex(data_key.key_id),
    ):
        info += struct.pack(">I", len(field)) + field
    assert info == key_release_info(
        agreement_digest=AGREEMENT, session_id=SESSION_ID, party="alice", key_id=data_key.key_id
    )
    suite = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
    sealed = suite.encrypt(data_key.export_bytes(SECRET_KEY_ACCESS), public_key, info=info)
    payload = {
        "format": "accord-key-release/v1",
        "agreement_digest": AGREEMENT,
        "session_id": SESSION_ID,
        "party": "alice",
        "key_id": data_key.key_id,
        "enc": base64.b64encode(sealed[:1120]).decode(),
        "ciphertext": base64.b64encode(sealed[1120:]).decode(),
    }
    message = resign({"payload": payload}, alice)
    released = open_as_enclave(message, recipient, {"alice": alice.verify_key})
    assert released.data_key == data_key


def test_hpke_private_key_is_a_secret_handle(recipient):
    assert len(recipient.public_bytes) == HPKE_PUBLIC_KEY_BYTES == 1216
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(recipient, protocol=protocol)
    with pytest.raises(TypeError, match="cannot be copied"):
        copy.copy(recipient)
    with pytest.raises(TypeError, match="cannot be copied"):
        copy.deepcopy(recipient)
    assert repr(recipient) == "HpkePrivateKey(kem='MLKEM768-X25519')"
    assert HpkePrivateKey.generate().public_bytes != recipient.public_bytes


def test_sealing_to_a_malformed_public_key_is_refused(alice, session):
    short = SessionPublicKeys(
        agreement_digest=AGREEMENT,
        session_id=SESSION_ID,
        hpke_public_key=session.hpke_public_key[:32],
        signing_public_key=session.signing_public_key,
        tls_public_key=session.tls_public_key,
    )
    with pytest.raises(KeyMaterialError, match="HPKE public key is 32 bytes"):
        seal_key_release(
            data_key=DataKey.generate(), party="alice", signing_key=alice, session=short
        )


@pytest.mark.parametrize("party", ["", "x" * 257])
def test_sealing_refuses_unusable_party_names(alice, session, party):
    with pytest.raises(UsageError, match="party name"):
        seal_key_release(
            data_key=DataKey.generate(), party=party, signing_key=alice, session=session
        )


def test_key_id_that_does_not_match_the_key_is_refused(recipient, alice, session):
    """A party that signs a release naming one key id but carrying another key is refused."""
    carried, claimed = DataKey.generate(), DataKey.generate()
    message = seal_key_release(data_key=carried, party="alice", signing_key=alice, session=session)
    document = json.loads(message)
    # Re-seal the carried key under the info of the claimed key id, so only the id differs.
    info = key_release_info(
        agreement_digest=AGREEMENT, session_id=SESSION_ID, party="alice", key_id=claimed.key_id
    )
    suite = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
    public_key = hpke.MLKEM768X25519PublicKey(
        mlkem.MLKEM768PublicKey.from_public_bytes(recipient.public_bytes[:1184]),
        x25519.X25519PublicKey.from_public_bytes(recipient.public_bytes[1184:]),
    )
    sealed = suite.encrypt(carried.export_bytes(SECRET_KEY_ACCESS), public_key, info=info)
    document["payload"].update(
        key_id=claimed.key_id,
        enc=base64.b64encode(sealed[:1120]).decode(),
        ciphertext=base64.b64encode(sealed[1120:]).decode(),
    )
    with pytest.raises(KeyMaterialError, match=f"names key {claimed.key_id} but carries key"):
        open_as_enclave(resign(document, alice), recipient, {"alice": alice.verify_key})


def test_signed_but_undecryptable_ciphertext_is_an_integrity_error(recipient, alice, session):
    message = seal_key_release(
        data_key=DataKey.generate(), party="alice", signing_key=alice, session=session
    )
    document = json.loads(message)
    ciphertext = bytearray(base64.b64decode(document["payload"]["ciphertext"]))
    ciphertext[0] ^= 1
    document["payload"]["ciphertext"] = base64.b64encode(bytes(ciphertext)).decode()
    with pytest.raises(IntegrityError, match="cannot be decrypted by this enclave session's key"):
        open_as_enclave(resign(document, alice), recipient, {"alice": alice.verify_key})


def _valid_document(alice, session):
    message = seal_key_release(
        data_key=DataKey.generate(), party="alice", signing_key=alice, session=session
    )
    return json.loads(message)


MALFORMED = {
    "not json": lambda doc: b"\xff not json",
    "not an object": lambda doc: b"[]",
    "duplicate field": lambda doc: b'{"payload": {}, "payload": {}, "signature": ""}',
    "extra top-level field": lambda doc: canonical_json({**doc, "extra": 1}),
    "missing payload field": lambda doc: canonical_json(
        {**doc, "payload": {k: v for k, v in doc["payload"].items() if k != "enc"}}
    ),
    "extra payload field": lambda doc: canonical_json(
        {**doc, "payload": {**doc["payload"], "note": "x"}}
    ),
    "non-string field": lambda doc: canonical_json(
        {**doc, "payload": {**doc["payload"], "party": 7}}
    ),
    "other format": lambda doc: canonical_json(
        {**doc, "payload": {**doc["payload"], "format": "accord-key-release/v2"}}
    ),
    "uppercase hex": lambda doc: canonical_json(
        {**doc, "payload": {**doc["payload"], "session_id": SESSION_ID.upper()}}
    ),
    "bad base64": lambda doc: canonical_json({**doc, "payload": {**doc["payload"], "enc": "***"}}),
    "short enc": lambda doc: canonical_json({**doc, "payload": {**doc["payload"], "enc": "AAAA"}}),
    "short signature": lambda doc: canonical_json({**doc, "signature": "AAAA"}),
    "too large": lambda doc: b" " * (MAX_KEY_RELEASE_BYTES + 1),
}

MALFORMED_REASON = {
    "not json": "not UTF-8 JSON",
    "not an object": "exactly 'payload' and 'signature'",
    "duplicate field": "duplicate field 'payload'",
    "extra top-level field": "exactly 'payload' and 'signature'",
    "missing payload field": "payload must have exactly the fields",
    "extra payload field": "payload must have exactly the fields",
    "non-string field": "'party' must be a string",
    "other format": "format 'accord-key-release/v2' is not supported",
    "uppercase hex": "'session_id' must be 32 lowercase hex",
    "bad base64": "'enc' is not valid base64",
    "short enc": "'enc' is 3 bytes",
    "short signature": "signature is 3 bytes",
    "too large": f"at most {MAX_KEY_RELEASE_BYTES} are accepted",
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_messages_are_refused_before_any_crypto(recipient, alice, session, case):
    message = MALFORMED[case](_valid_document(alice, session))
    with pytest.raises(VerificationError) as caught:
        open_as_enclave(message, recipient, {"alice": alice.verify_key})
    assert "not a valid accord-key-release/v1 message" in caught.value.message
    assert MALFORMED_REASON[case] in caught.value.message


def _hkdf_extract(salt, ikm):
    return hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()


def _hkdf_expand(prk, info, length):
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out, counter = out + block, counter + 1
    return out[:length]


def test_sealed_key_opens_with_an_independent_rfc9180_xwing_implementation(alice):
    """Decrypt a release from first principles: X-Wing decapsulation, RFC 9180 key schedule.

    This pins every byte-level choice the docs state: public key = ML-KEM-768 key || X25519
    key; enc = ML-KEM ciphertext || X25519 ephemeral key; suite ids 0x647A/0x0001/0x0002;
    base mode; info as documented; empty AAD; plaintext = the raw data key.
    """
    mlkem_key, x25519_key = mlkem.MLKEM768PrivateKey.generate(), x25519.X25519PrivateKey.generate()
    x25519_public = x25519_key.public_key().public_bytes_raw()
    session = SessionPublicKeys(
        agreement_digest=AGREEMENT,
        session_id=SESSION_ID,
        hpke_public_key=mlkem_key.public_key().public_bytes_raw() + x25519_public,
        signing_public_key=alice.verify_key.raw,
        tls_public_key=b"tls-spki",
    )
    data_key = DataKey.generate()
    message = seal_key_release(data_key=data_key, party="alice", signing_key=alice, session=session)
    payload = json.loads(message)["payload"]
    enc, ciphertext = base64.b64decode(payload["enc"]), base64.b64decode(payload["ciphertext"])

    ct_m, ct_x = enc[:1088], enc[1088:]
    ss_m = mlkem_key.decapsulate(ct_m)
    ss_x = x25519_key.exchange(x25519.X25519PublicKey.from_public_bytes(ct_x))
    shared_secret = hashlib.sha3_256(ss_m + ss_x + ct_x + x25519_public + b"\\.//^\\").digest()

    suite_id = b"HPKE" + struct.pack(">HHH", 0x647A, 0x0001, 0x0002)

    def labeled_extract(salt, label, ikm):
        return _hkdf_extract(salt, b"HPKE-v1" + suite_id + label + ikm)

    def labeled_expand(prk, label, info, length):
        return _hkdf_expand(
            prk, struct.pack(">H", length) + b"HPKE-v1" + suite_id + label + info, length
        )

    info = key_release_info(
        agreement_digest=AGREEMENT, session_id=SESSION_ID, party="alice", key_id=data_key.key_id
    )
    context = (
        b"\x00"
        + labeled_extract(b"", b"psk_id_hash", b"")
        + labeled_extract(b"", b"info_hash", info)
    )
    secret = labeled_extract(shared_secret, b"secret", b"")
    key = labeled_expand(secret, b"key", context, 32)
    nonce = labeled_expand(secret, b"base_nonce", context, 12)
    plaintext = AESGCM(key).decrypt(nonce, ciphertext, b"")
    assert plaintext == data_key.export_bytes(SECRET_KEY_ACCESS)


def test_missing_mlkem_is_a_configuration_error_not_a_fallback(monkeypatch):
    """A cryptography build without ML-KEM must fail loudly, never fall back to X25519 alone."""
    from cryptography.exceptions import UnsupportedAlgorithm

    import accord.crypto.keyrelease as keyrelease

    class NoMlkem:
        class MLKEM768PrivateKey:
            @staticmethod
            def generate():
                raise UnsupportedAlgorithm("ML-KEM is not supported by this backend")

    monkeypatch.setattr(keyrelease, "mlkem", NoMlkem)
    with pytest.raises(ConfigurationError, match="has no ML-KEM"):
        HpkePrivateKey.generate()
