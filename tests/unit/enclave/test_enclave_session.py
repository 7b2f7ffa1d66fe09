import copy
import hashlib
import os
import pickle
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import accord.enclave
from accord.crypto.keyrelease import HPKE_PUBLIC_KEY_BYTES, seal_key_release
from accord.crypto.keys import SECRET_KEY_ACCESS, DataKey
from accord.enclave import EnclaveSession
from accord.errors import KeyMaterialError, UsageError

AGREEMENT = hashlib.sha256(b"accord test agreement").hexdigest()
FIXED_NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_public_api_is_curated():
    assert sorted(accord.enclave.__all__) == [
        "DEFAULT_SESSION_LIFETIME",
        "EnclaveSession",
        "SessionKeyStore",
        "tls_server_name",
    ]


def test_session_has_fresh_ids_and_keys(enclave, agreement_digest):
    other = EnclaveSession.create(agreement_digest)
    assert len(enclave.session_id) == 32
    assert bytes.fromhex(enclave.session_id)
    assert enclave.agreement_digest == agreement_digest
    assert other.session_id != enclave.session_id
    mine, theirs = enclave.public_keys, other.public_keys
    assert mine.hpke_public_key != theirs.hpke_public_key
    assert mine.signing_public_key != theirs.signing_public_key
    assert mine.tls_public_key != theirs.tls_public_key


def test_public_keys_match_the_private_keys(enclave, agreement_digest):
    keys = enclave.public_keys
    assert keys.agreement_digest == agreement_digest
    assert keys.session_id == enclave.session_id
    assert len(keys.hpke_public_key) == HPKE_PUBLIC_KEY_BYTES
    assert keys.signing_public_key == enclave.signing_key.verify_key.raw
    signature = enclave.signing_key.sign(b"model digest", context="output")
    enclave.signing_key.verify_key.verify(signature, b"model digest", context="output")
    certificate = x509.load_pem_x509_certificate(enclave.tls_certificate_pem)
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert keys.tls_public_key == spki
    private = serialization.load_pem_private_key(
        enclave.tls_private_key_pem(SECRET_KEY_ACCESS), password=None
    )
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    assert isinstance(private.curve, ec.SECP256R1)
    assert (
        private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == spki
    )


def test_report_data_binds_the_session_keys(enclave, agreement_digest):
    nonce = os.urandom(32)
    report_data = enclave.public_keys.report_data(nonce)
    assert len(report_data) == 64
    assert EnclaveSession.create(agreement_digest).public_keys.report_data(nonce) != report_data


def test_certificate_is_a_short_lived_self_signed_ra_tls_leaf():
    session = EnclaveSession.create(AGREEMENT, now=lambda: FIXED_NOW, lifetime=timedelta(hours=6))
    certificate = x509.load_pem_x509_certificate(session.tls_certificate_pem)
    name = f"accord-enclave-{session.session_id}"
    assert session.tls_server_name == name
    assert certificate.subject == certificate.issuer
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == name
    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [name]
    eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert certificate.not_valid_before_utc == FIXED_NOW - timedelta(minutes=5)
    assert certificate.not_valid_after_utc == FIXED_NOW + timedelta(hours=6)
    assert session.expires_at == FIXED_NOW + timedelta(hours=6)
    certificate.verify_directly_issued_by(certificate)


def test_tls_private_key_needs_the_access_token(enclave):
    with pytest.raises(UsageError, match="SECRET_KEY_ACCESS"):
        enclave.tls_private_key_pem(object())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"now": lambda: datetime(2026, 3, 1)}, "timezone-aware"),
        ({"lifetime": timedelta(0)}, "lifetime must be positive"),
        ({"lifetime": timedelta(days=31)}, "at most 30 days"),
    ],
)
def test_create_refuses_bad_clock_or_lifetime(kwargs, reason):
    with pytest.raises(UsageError, match=reason):
        EnclaveSession.create(AGREEMENT, **kwargs)


@pytest.mark.parametrize("digest", ["", "AB" * 32, "ab" * 31, "not hex" * 9])
def test_create_refuses_a_malformed_agreement_digest(digest):
    with pytest.raises(UsageError, match="agreement digest must be 64 lowercase hex"):
        EnclaveSession.create(digest)


def test_sessions_cannot_be_built_by_hand(enclave):
    with pytest.raises(UsageError, match=r"EnclaveSession\.create"):
        EnclaveSession(
            object(),
            agreement_digest=AGREEMENT,
            session_id=enclave.session_id,
            hpke_key=None,  # type: ignore[arg-type]
            signing_key=None,  # type: ignore[arg-type]
            tls_key=None,  # type: ignore[arg-type]
            certificate=None,  # type: ignore[arg-type]
        )


def test_accepted_key_is_kept_in_memory(enclave, alice_key, parties, alice_data_key):
    message = seal_key_release(
        data_key=alice_data_key, party="alice", signing_key=alice_key, session=enclave.public_keys
    )
    assert enclave.accept_key_release(message, parties=parties) == alice_data_key.key_id
    assert enclave.data_key(alice_data_key.key_id) == alice_data_key
    assert enclave.data_key(alice_data_key.key_id, owner="alice") == alice_data_key
    assert dict(enclave.released_keys) == {alice_data_key.key_id: "alice"}


def test_releasing_the_same_key_twice_is_idempotent(enclave, alice_key, parties, alice_data_key):
    for _ in range(2):
        message = seal_key_release(
            data_key=alice_data_key,
            party="alice",
            signing_key=alice_key,
            session=enclave.public_keys,
        )
        assert enclave.accept_key_release(message, parties=parties) == alice_data_key.key_id
    assert dict(enclave.released_keys) == {alice_data_key.key_id: "alice"}


def test_keys_of_several_parties_are_kept_apart(enclave, alice_key, bob_key, parties):
    alice_data, bob_data = DataKey.generate(), DataKey.generate()
    for name, signing_key, data_key in (
        ("alice", alice_key, alice_data),
        ("bob", bob_key, bob_data),
    ):
        message = seal_key_release(
            data_key=data_key, party=name, signing_key=signing_key, session=enclave.public_keys
        )
        enclave.accept_key_release(message, parties=parties)
    assert dict(enclave.released_keys) == {alice_data.key_id: "alice", bob_data.key_id: "bob"}
    assert enclave.data_key(bob_data.key_id, owner="bob") == bob_data
    with pytest.raises(KeyMaterialError, match="was released by party 'bob', not by 'alice'"):
        enclave.data_key(bob_data.key_id, owner="alice")


def test_missing_key_names_key_id_and_party(enclave):
    key_id = DataKey.generate().key_id
    with pytest.raises(KeyMaterialError) as caught:
        enclave.data_key(key_id, owner="bob")
    assert key_id in caught.value.message
    assert "party 'bob' must provision it" in caught.value.message


def test_session_cannot_be_pickled_or_copied(enclave):
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError, match="lives only inside the enclave process"):
            pickle.dumps(enclave, protocol=protocol)
    with pytest.raises(TypeError, match="cannot be copied"):
        copy.copy(enclave)
    with pytest.raises(TypeError, match="cannot be copied"):
        copy.deepcopy(enclave)


def test_repr_shows_only_the_session_id(
    enclave, agreement_digest, alice_key, parties, alice_data_key
):
    message = seal_key_release(
        data_key=alice_data_key, party="alice", signing_key=alice_key, session=enclave.public_keys
    )
    enclave.accept_key_release(message, parties=parties)
    text = repr(enclave) + str(enclave)
    assert repr(enclave) == f"EnclaveSession(session_id={enclave.session_id!r})"
    raw = alice_data_key.export_bytes(SECRET_KEY_ACCESS)
    tls_pem = enclave.tls_private_key_pem(SECRET_KEY_ACCESS).decode()
    assert raw.hex() not in text
    assert alice_data_key.key_id not in text
    assert agreement_digest not in text
    assert tls_pem not in text
