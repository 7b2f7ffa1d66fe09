"""Federation offers: a node's per-command certificate, accepted only as its attested session
signed it, for this agreement, command, rank and number of nodes."""

import datetime as dt
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from accord._internal.canonical import canonical_json
from accord.crypto.keys import SECRET_KEY_ACCESS, SigningKey
from accord.enclave import EnclaveSession
from accord.enclave._wire import encode_b64
from accord.errors import VerificationError
from accord.workloads.xgboost.federation import (
    FederationKey,
    FederationOffer,
    sign_offer,
    verify_offer,
)

AGREEMENT = "ab" * 32
COMMAND = "cd" * 32
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def session():
    return EnclaveSession.create(AGREEMENT)


def _offer(session, *, rank=1, port=None, certificate=None, **changes):
    fields = {
        "agreement_digest": AGREEMENT,
        "command_digest": COMMAND,
        "session_id": session.session_id,
        "rank": rank,
        "world_size": 2,
        "certificate_pem": certificate
        or FederationKey(session.session_id, now=NOW).certificate_pem,
        "server_port": port,
    }
    fields.update(changes)
    return FederationOffer(**fields)


def _verify(data, session, *, rank=1, command=COMMAND, world_size=2):
    return verify_offer(
        data,
        session=session.public_keys,
        agreement_digest=AGREEMENT,
        command_digest=command,
        rank=rank,
        world_size=world_size,
        now=NOW,
    )


def test_an_offer_signed_by_the_attested_session_verifies(session):
    offer = _offer(session, rank=0, port=40123)
    assert _verify(sign_offer(offer, session.signing_key), session, rank=0) == offer
    follower = _offer(session)
    assert _verify(sign_offer(follower, session.signing_key), session).server_port is None


def test_the_federation_key_is_fresh_p256_and_never_shown():
    key = FederationKey("ee" * 16, now=NOW)
    assert b"BEGIN PRIVATE KEY" in key.private_key_pem(SECRET_KEY_ACCESS)
    assert FederationKey("ee" * 16, now=NOW).certificate_pem != key.certificate_pem
    assert "PRIVATE" not in repr(key)
    with pytest.raises(TypeError, match="cannot be pickled"):
        key.__reduce_ex__(2)


def test_an_offer_signed_by_another_key_is_refused(session):
    forged = sign_offer(_offer(session), SigningKey.generate())
    with pytest.raises(VerificationError, match="not signed by the session's attested signing key"):
        _verify(forged, session)


def test_an_offer_changed_after_signing_is_refused(session):
    signed = json.loads(sign_offer(_offer(session), session.signing_key))
    other = FederationKey(session.session_id, now=NOW).certificate_pem.decode()
    signed["offer"]["certificate"] = other  # the relay swaps in a certificate it controls
    with pytest.raises(VerificationError, match="not signed by the session's attested"):
        _verify(canonical_json(signed), session)


@pytest.mark.parametrize(
    ("expected", "message"),
    [
        ({"rank": 0}, "has rank 1; expected 0"),
        ({"command": "ef" * 32}, "has command_digest"),
        ({"world_size": 3}, "has world_size 2; expected 3"),
    ],
)
def test_an_offer_for_another_command_rank_or_size_is_refused(session, expected, message):
    signed = sign_offer(_offer(session), session.signing_key)
    with pytest.raises(VerificationError, match=message):
        _verify(signed, session, **expected)


def test_an_offer_of_another_session_is_refused(session):
    other = EnclaveSession.create(AGREEMENT)
    signed = sign_offer(_offer(other), other.signing_key)
    with pytest.raises(VerificationError, match="not signed by the session's attested"):
        _verify(signed, session)


def test_rank_0_must_name_its_port_and_only_rank_0_may(session):
    without = sign_offer(_offer(session, rank=0), session.signing_key)
    with pytest.raises(VerificationError, match=r"\(rank 0\) must name its server port"):
        _verify(without, session, rank=0)
    stray = sign_offer(_offer(session, port=4000), session.signing_key)
    with pytest.raises(VerificationError, match="only rank 0 hosts the server"):
        _verify(stray, session)


def _p384_certificate():
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - dt.timedelta(minutes=1))
        .not_valid_after(NOW + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("x")]), critical=False)
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )


def test_a_certificate_that_is_not_p256_or_not_valid_now_is_refused(session):
    wrong_curve = _p384_certificate()
    signed = sign_offer(_offer(session, certificate=wrong_curve), session.signing_key)
    with pytest.raises(VerificationError, match="not a P-256 key"):
        _verify(signed, session)
    expired = FederationKey(session.session_id, now=NOW - dt.timedelta(days=3)).certificate_pem
    signed = sign_offer(_offer(session, certificate=expired), session.signing_key)
    with pytest.raises(VerificationError, match="not valid now"):
        _verify(signed, session)


def test_malformed_offers_are_refused_naming_the_problem(session):
    body = _offer(session).to_object()
    signature = encode_b64(b"\x00" * 64)
    for data, message in [
        (b"[]", "must be a JSON object"),
        (canonical_json({"offer": body}), "lacks field 'signature'"),
        (canonical_json({"offer": {**body, "extra": 1}, "signature": signature}), "unknown field"),
        (canonical_json({"offer": "x", "signature": signature}), "must be an object"),
        (b"x" * 20000, "more than the limit"),
    ]:
        with pytest.raises(VerificationError, match=message):
            _verify(data, session)
