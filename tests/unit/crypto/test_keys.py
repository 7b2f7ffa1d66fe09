import copy
import pickle

import pytest

from accord.crypto.keys import (
    SECRET_KEY_ACCESS,
    DataKey,
    SigningKey,
    TlsPrivateKey,
    VerifyKey,
    data_key_id,
)
from accord.errors import KeyMaterialError, UsageError, VerificationError

SECRET_HANDLES = [DataKey.generate, SigningKey.generate, TlsPrivateKey.generate]


@pytest.mark.parametrize("make", SECRET_HANDLES)
def test_secret_handles_refuse_pickling_and_copying(make):
    handle = make()
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(handle, protocol=protocol)
    with pytest.raises(TypeError):
        copy.copy(handle)
    with pytest.raises(TypeError):
        copy.deepcopy(handle)


def test_data_key_repr_shows_key_id_only():
    key = DataKey.generate()
    raw = key.export_bytes(SECRET_KEY_ACCESS)
    text = repr(key) + str(key)
    assert key.key_id in text
    assert raw.hex() not in text


def test_data_key_id_commits_to_the_key():
    a, b = DataKey.generate(), DataKey.generate()
    assert a.key_id != b.key_id
    assert a.key_id == data_key_id(a.export_bytes(SECRET_KEY_ACCESS))
    assert len(a.key_id) == 32


def test_export_requires_the_access_token():
    key = DataKey.generate()
    with pytest.raises(UsageError, match="SECRET_KEY_ACCESS"):
        key.export_bytes(object())  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        DataKey(b"\x00" * 32, object())  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        SigningKey.generate().export_raw(None)  # type: ignore[arg-type]


def test_data_key_rejects_wrong_length():
    with pytest.raises(KeyMaterialError, match="32 bytes"):
        DataKey(b"short", SECRET_KEY_ACCESS)


def test_signatures_are_bound_to_their_context():
    key = SigningKey.generate()
    signature = key.sign(b"message", context="command")
    key.verify_key.verify(signature, b"message", context="command")
    with pytest.raises(VerificationError, match="context 'party-card'"):
        key.verify_key.verify(signature, b"message", context="party-card")
    with pytest.raises(VerificationError):
        key.verify_key.verify(signature, b"massage", context="command")
    with pytest.raises(VerificationError):
        SigningKey.generate().verify_key.verify(signature, b"message", context="command")


def test_signing_key_round_trip_and_repr():
    key = SigningKey.generate()
    raw = key.export_raw(SECRET_KEY_ACCESS)
    again = SigningKey.from_raw(raw, SECRET_KEY_ACCESS)
    assert again.verify_key == key.verify_key
    assert raw.hex() not in repr(key)
    assert key.verify_key.fingerprint[:16] in repr(key)


def test_verify_key_base64_round_trip_and_errors():
    vk = SigningKey.generate().verify_key
    assert VerifyKey.from_base64(vk.to_base64()) == vk
    with pytest.raises(KeyMaterialError, match="base64"):
        VerifyKey.from_base64("not base64!")
    with pytest.raises(KeyMaterialError, match="32 expected"):
        VerifyKey(b"\x01" * 31)


def test_empty_context_is_refused():
    with pytest.raises(UsageError, match="context"):
        SigningKey.generate().sign(b"x", context="")


def test_tls_key_pem_round_trip():
    key = TlsPrivateKey.generate()
    pem = key.export_pem(SECRET_KEY_ACCESS)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    again = TlsPrivateKey.from_pem(pem, SECRET_KEY_ACCESS)
    assert again.public_key.public_numbers() == key.public_key.public_numbers()
    assert b"PRIVATE" not in repr(key).encode()
    with pytest.raises(KeyMaterialError):
        TlsPrivateKey.from_pem(b"garbage", SECRET_KEY_ACCESS)


SMALL_ORDER = [
    "00" * 32,
    "01" + "00" * 31,
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "ec" + "ff" * 30 + "7f",
    "ed" + "ff" * 30 + "7f",
    "ee" + "ff" * 30 + "7f",
]


@pytest.mark.parametrize("encoding", SMALL_ORDER)
@pytest.mark.parametrize("sign_bit", [0, 0x80])
def test_small_order_public_keys_are_refused(encoding, sign_bit):
    raw = bytearray(bytes.fromhex(encoding))
    raw[31] |= sign_bit
    with pytest.raises(KeyMaterialError, match="small order"):
        VerifyKey(bytes(raw))


def test_the_forgery_small_order_keys_would_allow_is_real():
    """Without the check, R = identity, S = 0 verifies under the identity key for any message."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    identity = bytes.fromhex("01" + "00" * 31)
    forged = identity + bytes(32)
    raw_key = ed25519.Ed25519PublicKey.from_public_bytes(identity)
    raw_key.verify(forged, b"any message at all")  # the library alone accepts it
    with pytest.raises(KeyMaterialError):
        VerifyKey(identity)


def test_genuine_keys_are_not_mistaken_for_small_order():
    for _ in range(200):
        VerifyKey(SigningKey.generate().verify_key.raw)
