"""PartyCard: exact format, round trips, and every kind of tampering refused with its field."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from party_helpers import FIXED_NOW

from accord._internal.canonical import canonical_json, canonical_sha256
from accord.crypto.keys import SigningKey, TlsPrivateKey
from accord.errors import ConfigurationError, VerificationError
from accord.party import CARD_FORMAT, PartyCard
from accord.party.certificate import issue_party_certificate

SPEC_FIELDS = {
    "format",
    "name",
    "signing_key",
    "signing_key_fingerprint",
    "tls_certificate",
    "tls_certificate_fingerprint",
    "data_key_id",
    "created_at",
    "self_signature",
}


@pytest.fixture
def card(make_identity) -> PartyCard:
    return make_identity().card


def _document(card: PartyCard) -> dict[str, Any]:
    return json.loads(card.to_json())


def _load(document: dict[str, Any]) -> PartyCard:
    return PartyCard.from_json(json.dumps(document), source="card.json")


def test_card_has_exactly_the_documented_fields(card) -> None:
    document = _document(card)
    assert set(document) == SPEC_FIELDS
    assert document["format"] == CARD_FORMAT == "accord-party-card/v1"
    assert document["name"] == "alice"
    raw = base64.b64decode(document["signing_key"]["public_key"])
    assert document["signing_key"] == {
        "algorithm": "ed25519",
        "public_key": card.verify_key.to_base64(),
    }
    assert document["signing_key_fingerprint"] == hashlib.sha256(raw).hexdigest()
    der = x509.load_pem_x509_certificate(document["tls_certificate"].encode()).public_bytes(
        serialization.Encoding.DER
    )
    assert document["tls_certificate_fingerprint"] == hashlib.sha256(der).hexdigest()
    assert der == card.tls_certificate_der
    assert document["created_at"] == "2025-03-14T15:09:26Z"
    assert len(document["data_key_id"]) == 32


def test_self_signature_covers_all_other_fields_in_canonical_form(card) -> None:
    document = _document(card)
    signature = base64.b64decode(document.pop("self_signature"))
    card.verify_key.verify(signature, canonical_json(document), context="party-card")
    with pytest.raises(VerificationError):
        card.verify_key.verify(signature, canonical_json(document), context="command")


def test_round_trip_and_digest(card) -> None:
    again = PartyCard.from_json(card.to_json(), source="card.json")
    assert again == card
    assert again.to_json() == card.to_json()
    assert card.digest == canonical_sha256(_document(card))


def test_load_reads_a_directory_or_a_file(make_identity) -> None:
    identity = make_identity()
    assert PartyCard.load(identity.directory) == identity.card
    assert PartyCard.load(identity.directory / "card.json") == identity.card


def test_load_of_a_missing_file_names_it(tmp_path) -> None:
    with pytest.raises(ConfigurationError, match=r"cannot read party card .*nothing.json"):
        PartyCard.load(tmp_path / "nothing.json")


Edit = Callable[[dict[str, Any], dict[str, Any]], None]

# Each case: how to alter the card (given the card and another valid card with the same name),
# the error class expected and the field the message must name.
TAMPERING: dict[str, tuple[Edit, type[Exception], str]] = {
    "format": (
        lambda d, o: d.__setitem__("format", "accord-party-card/v2"),
        ConfigurationError,
        "'format'",
    ),
    "name-invalid": (lambda d, o: d.__setitem__("name", "Alice!"), ConfigurationError, "'name'"),
    "name-other": (
        lambda d, o: d.__setitem__("name", "mallory"),
        VerificationError,
        "'tls_certificate'",
    ),
    "signing_key-other": (
        lambda d, o: d.__setitem__("signing_key", o["signing_key"]),
        VerificationError,
        "'signing_key_fingerprint'",
    ),
    "signing_key-algorithm": (
        lambda d, o: d["signing_key"].__setitem__("algorithm", "ecdsa-p256"),
        ConfigurationError,
        "'signing_key'",
    ),
    "signing_key-short": (
        lambda d, o: d["signing_key"].__setitem__("public_key", "AAAA"),
        ConfigurationError,
        "'signing_key'",
    ),
    "signing_key-and-fingerprint": (
        lambda d, o: d.update(
            signing_key=o["signing_key"], signing_key_fingerprint=o["signing_key_fingerprint"]
        ),
        VerificationError,
        "'self_signature'",
    ),
    "signing_key_fingerprint": (
        lambda d, o: d.__setitem__("signing_key_fingerprint", o["signing_key_fingerprint"]),
        VerificationError,
        "'signing_key_fingerprint'",
    ),
    "signing_key_fingerprint-malformed": (
        lambda d, o: d.__setitem__("signing_key_fingerprint", "XYZ"),
        ConfigurationError,
        "'signing_key_fingerprint'",
    ),
    "tls_certificate-other": (
        lambda d, o: d.__setitem__("tls_certificate", o["tls_certificate"]),
        VerificationError,
        "'tls_certificate_fingerprint'",
    ),
    "tls_certificate-and-fingerprint": (
        lambda d, o: d.update(
            tls_certificate=o["tls_certificate"],
            tls_certificate_fingerprint=o["tls_certificate_fingerprint"],
        ),
        VerificationError,
        "'self_signature'",
    ),
    "tls_certificate-garbage": (
        lambda d, o: d.__setitem__("tls_certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n"),
        ConfigurationError,
        "'tls_certificate'",
    ),
    "tls_certificate-extra-text": (
        lambda d, o: d.__setitem__("tls_certificate", "hello\n" + d["tls_certificate"]),
        ConfigurationError,
        "'tls_certificate'",
    ),
    "tls_certificate-two": (
        lambda d, o: d.__setitem__("tls_certificate", d["tls_certificate"] * 2),
        ConfigurationError,
        "'tls_certificate'",
    ),
    "tls_certificate_fingerprint": (
        lambda d, o: d.__setitem__("tls_certificate_fingerprint", "0" * 64),
        VerificationError,
        "'tls_certificate_fingerprint'",
    ),
    "data_key_id-other": (
        lambda d, o: d.__setitem__("data_key_id", o["data_key_id"]),
        VerificationError,
        "'self_signature'",
    ),
    "data_key_id-malformed": (
        lambda d, o: d.__setitem__("data_key_id", "ABC"),
        ConfigurationError,
        "'data_key_id'",
    ),
    "created_at-other": (
        lambda d, o: d.__setitem__("created_at", "2025-03-14T15:09:27Z"),
        VerificationError,
        "'self_signature'",
    ),
    "created_at-offset": (
        lambda d, o: d.__setitem__("created_at", "2025-03-14T15:09:26+00:00"),
        ConfigurationError,
        "'created_at'",
    ),
    "created_at-impossible": (
        lambda d, o: d.__setitem__("created_at", "2025-02-30T15:09:26Z"),
        ConfigurationError,
        "'created_at'",
    ),
    "self_signature-other": (
        lambda d, o: d.__setitem__("self_signature", o["self_signature"]),
        VerificationError,
        "'self_signature'",
    ),
    "self_signature-not-base64": (
        lambda d, o: d.__setitem__("self_signature", "!!"),
        ConfigurationError,
        "'self_signature'",
    ),
    "self_signature-non-canonical-base64": (
        lambda d, o: d.__setitem__("self_signature", d["self_signature"].rstrip("=")),
        ConfigurationError,
        "'self_signature'",
    ),
    "field-missing": (lambda d, o: d.pop("data_key_id"), ConfigurationError, "'data_key_id'"),
    "field-unknown": (lambda d, o: d.__setitem__("contact", "x"), ConfigurationError, "'contact'"),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_tampered_card_is_refused_naming_the_field(make_identity, tmp_path, case) -> None:
    edit, error, field = TAMPERING[case]
    victim = _document(make_identity("alice").card)
    other = _document(make_identity("alice", directory=tmp_path / "other").card)
    edit(victim, other)
    with pytest.raises(error, match=field) as caught:
        _load(victim)
    assert "card.json" in str(caught.value)


@pytest.mark.parametrize("data", [b"not json", b"[]", b"\xff\xfe"])
def test_malformed_json_is_a_configuration_error(data) -> None:
    with pytest.raises(ConfigurationError, match=r"card.json"):
        PartyCard.from_json(data, source="card.json")


def test_a_card_resigned_by_an_impostor_loads_but_has_other_fingerprints(card) -> None:
    # The self-signature proves possession, not identity: this is why fingerprints are
    # compared out of band. A substituted card is self-consistent but cannot keep them.
    impostor = SigningKey.generate()
    forged = PartyCard.create(
        name=card.name,
        signing_key=impostor,
        tls_certificate_pem=card.tls_certificate_pem,
        data_key_id=card.data_key_id,
        created_at=card.created_at,
    )
    assert forged.signing_key_fingerprint != card.signing_key_fingerprint
    assert forged.digest != card.digest


def test_constructing_a_card_by_hand_still_checks_the_signature(card) -> None:
    with pytest.raises(VerificationError, match="self_signature"):
        PartyCard(
            name=card.name,
            verify_key=card.verify_key,
            tls_certificate_pem=card.tls_certificate_pem,
            data_key_id="f" * 32,
            created_at=card.created_at,
            self_signature=card.self_signature,
        )


# --- the certificate inside the card --------------------------------------------------


def test_certificate_is_a_tls_client_certificate_for_the_party(card) -> None:
    certificate = card.tls_certificate
    assert certificate.subject.rfc4514_string() == "CN=alice"
    assert certificate.issuer == certificate.subject
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["alice"]
    assert names.get_values_for_type(x509.UniformResourceIdentifier) == ["accord:party:alice"]
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    extended = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in list(extended)
    assert not certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    key = certificate.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    assert certificate.not_valid_before_utc == dt.datetime(2025, 3, 14, 15, 4, 26, tzinfo=dt.UTC)
    assert certificate.not_valid_after_utc - certificate.not_valid_before_utc == dt.timedelta(
        days=825, minutes=5
    )


def test_serial_numbers_are_random() -> None:
    key = TlsPrivateKey.generate()
    serials = {
        issue_party_certificate("alice", key, now=FIXED_NOW, valid_days=1).serial_number
        for _ in range(3)
    }
    assert len(serials) == 3


def _certificate(
    *,
    name: str = "alice",
    key: Any = None,
    signer: Any = None,
    ca: bool = False,
    usages: tuple[x509.ObjectIdentifier, ...] = (ExtendedKeyUsageOID.CLIENT_AUTH,),
    dns_name: str = "alice",
) -> str:
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(FIXED_NOW)
        .not_valid_after(FIXED_NOW + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
    )
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
    certificate = builder.sign(signer or key, hashes.SHA256())
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


@pytest.mark.parametrize(
    ("pem", "error", "message"),
    [
        (lambda: _certificate(), None, None),
        (lambda: _certificate(name="bob"), VerificationError, "is not CN=alice"),
        (lambda: _certificate(ca=True), ConfigurationError, "must not be a CA"),
        (lambda: _certificate(usages=()), ConfigurationError, "no ExtendedKeyUsage"),
        (
            lambda: _certificate(usages=(ExtendedKeyUsageOID.SERVER_AUTH,)),
            ConfigurationError,
            "not for TLS client authentication",
        ),
        (lambda: _certificate(dns_name="bob"), VerificationError, "do not include 'alice'"),
        (
            lambda: _certificate(key=ec.generate_private_key(ec.SECP384R1())),
            ConfigurationError,
            "not ECDSA P-256",
        ),
        (
            lambda: _certificate(
                key=rsa.generate_private_key(public_exponent=65537, key_size=1024)
            ),
            ConfigurationError,
            "not ECDSA P-256",
        ),
        (
            lambda: _certificate(signer=ec.generate_private_key(ec.SECP256R1())),
            VerificationError,
            "not self-signed",
        ),
    ],
    ids=["valid", "cn", "ca", "no-eku", "server-only", "san", "p384", "rsa", "foreign-signer"],
)
def test_card_certificate_checks(pem, error, message) -> None:
    def make() -> PartyCard:
        return PartyCard.create(
            name="alice",
            signing_key=SigningKey.generate(),
            tls_certificate_pem=pem(),
            data_key_id="a" * 32,
            created_at=FIXED_NOW,
        )

    if error is None:
        assert make().name == "alice"
    else:
        with pytest.raises(error, match=message):
            make()
