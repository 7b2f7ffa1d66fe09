"""RA-TLS certificates of Gramine, the Intel SGX SDK and rats-tls: extraction and key binding."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hardware_vectors import GRAMINE_CERT, RATLS_CERTS, SGX_AT, SGX_COLLATERAL, collateral

from accord.agreement.attestation import attestation_policy
from accord.agreement.model import BackendPolicy, EnclavePolicy
from accord.attest.offline import baseline_policy
from accord.attest.ratls import (
    GRAMINE_LEGACY_OID,
    TCG_DICE_TAGGED_EVIDENCE_OID,
    RaTlsVerifier,
    read_ratls_certificate,
)
from accord.errors import VerificationError

GRAMINE_KEY_SHA256 = "5a5a5b2d177433048e9d62409d1acc4ec526c06e294d09e69a36cff9369e4851"
GRAMINE_MRENCLAVE = "0866e7ca11b9f4efe4bf39b2607f4e1299f111920d96d95719080f01b62b7585"


@pytest.mark.parametrize("path", RATLS_CERTS, ids=lambda path: path.name)
def test_each_certificate_yields_an_sgx_quote_that_binds_its_key(path):
    evidence = read_ratls_certificate(path.read_bytes())
    assert evidence.evidence_format == "tcg-dice"
    assert evidence.backend == "sgx-dcap"
    entry = cbor2.loads(evidence.custom_claims["pubkey-hash"])
    assert entry[0] == 1
    assert entry[1].hex() == evidence.public_key_sha256
    claims = evidence.unverified_claims()
    assert claims.report_data[:32] != bytes(32)


def test_gramine_cert_binds_in_both_its_extensions():
    tcg = read_ratls_certificate(GRAMINE_CERT.read_bytes())
    legacy = read_ratls_certificate(GRAMINE_CERT.read_bytes(), evidence_format="gramine-legacy")
    assert legacy.evidence_format == "gramine-legacy"
    assert tcg.public_key_sha256 == legacy.public_key_sha256 == GRAMINE_KEY_SHA256
    assert legacy.unverified_claims().report_data[:32].hex() == GRAMINE_KEY_SHA256
    assert tcg.unverified_claims().measurement == GRAMINE_MRENCLAVE
    assert legacy.unverified_claims().measurement == GRAMINE_MRENCLAVE


def test_certificates_in_der_form_are_read_too():
    body = b"".join(GRAMINE_CERT.read_bytes().strip().splitlines()[1:-1])
    evidence = read_ratls_certificate(base64.b64decode(body))
    assert evidence.public_key_sha256 == GRAMINE_KEY_SHA256


def test_the_gramine_debug_enclave_is_refused_by_the_baseline_policy():
    claims = read_ratls_certificate(GRAMINE_CERT.read_bytes()).unverified_claims()
    assert claims.debug is True
    with pytest.raises(VerificationError, match="runs in debug mode"):
        baseline_policy(claims.backend).verify(claims)


def test_the_gramine_debug_enclave_is_refused_by_a_default_agreement_policy():
    claims = read_ratls_certificate(GRAMINE_CERT.read_bytes()).unverified_claims()
    enclave = EnclavePolicy(
        backends={"sgx-dcap": BackendPolicy("sgx-dcap", frozenset({GRAMINE_MRENCLAVE}))}
    )
    with pytest.raises(VerificationError, match="runs in debug mode"):
        attestation_policy(enclave).verify(claims)


def test_without_collateral_the_quote_cannot_be_authenticated():
    with pytest.raises(VerificationError, match="failed at the collateral check"):
        RaTlsVerifier().verify(GRAMINE_CERT.read_bytes(), at=SGX_AT)


def test_collateral_of_another_platform_is_refused_for_the_certificates_quote():
    verifier = RaTlsVerifier(collateral=collateral(SGX_COLLATERAL))
    with pytest.raises(VerificationError, match="collateral platform check"):
        verifier.verify(GRAMINE_CERT.read_bytes(), at=SGX_AT)


# Certificates made here: a valid self-signature, but evidence that does not bind their key.


def _certificate(extensions: dict[str, bytes], key=None, issuer_key=None) -> bytes:
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "host-made")])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "some CA")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name if issuer_key is None else issuer)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    )
    for oid, value in extensions.items():
        builder = builder.add_extension(
            x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), value), critical=False
        )
    signer = key if issuer_key is None else issuer_key
    return builder.sign(signer, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _gramine_extensions() -> tuple[bytes, bytes]:
    """The TCG evidence and the legacy quote of the real Gramine certificate."""
    evidence = read_ratls_certificate(GRAMINE_CERT.read_bytes())
    tagged = cbor2.dumps(
        cbor2.CBORTag(
            60000,
            [evidence.quote, cbor2.dumps({"pubkey-hash": evidence.custom_claims["pubkey-hash"]})],
        )
    )
    return tagged, evidence.quote


def test_a_host_key_with_the_enclaves_tcg_evidence_fails_the_key_binding_check():
    tagged, _ = _gramine_extensions()
    forged = _certificate({TCG_DICE_TAGGED_EVIDENCE_OID: tagged})
    with pytest.raises(VerificationError) as caught:
        read_ratls_certificate(forged)
    assert caught.value.message == (
        "the RA-TLS certificate failed the key binding check: 'pubkey-hash' is not the hash "
        "of the certificate's public key"
    )


def test_claims_rewritten_for_the_host_key_fail_the_report_data_binding():
    _, quote = _gramine_extensions()
    key = ec.generate_private_key(ec.SECP256R1())
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = cbor2.dumps({"pubkey-hash": cbor2.dumps([1, hashlib.sha256(spki).digest()])})
    forged = _certificate(
        {TCG_DICE_TAGGED_EVIDENCE_OID: cbor2.dumps(cbor2.CBORTag(60000, [quote, claims]))}, key
    )
    with pytest.raises(VerificationError, match="report data is not SHA-256 of the claims buffer"):
        read_ratls_certificate(forged)


def test_a_host_key_with_the_enclaves_legacy_quote_fails_the_key_binding_check():
    _, quote = _gramine_extensions()
    forged = _certificate({GRAMINE_LEGACY_OID: quote})
    with pytest.raises(VerificationError, match="key binding check: the quote's report data is n"):
        read_ratls_certificate(forged)


@pytest.mark.parametrize(
    ("claims", "problem"),
    [
        ({}, "its claims have no 'pubkey-hash'"),
        ({"pubkey-hash": cbor2.dumps([99, b"x" * 32])}, "hash algorithm 99"),
        ({"pubkey-hash": cbor2.dumps("not an entry")}, "is not [hash-alg-id, hash]"),
    ],
)
def test_malformed_pubkey_hash_claims_fail_the_key_binding_check(claims, problem):
    _, quote = _gramine_extensions()
    tagged = cbor2.dumps(cbor2.CBORTag(60000, [quote, cbor2.dumps(claims)]))
    with pytest.raises(VerificationError, match="key binding check") as caught:
        read_ratls_certificate(_certificate({TCG_DICE_TAGGED_EVIDENCE_OID: tagged}))
    assert problem in caught.value.message


def test_evidence_of_another_cbor_tag_is_refused():
    _, quote = _gramine_extensions()
    tagged = cbor2.dumps(cbor2.CBORTag(60001, [quote, b""]))
    with pytest.raises(VerificationError, match="CBOR tag 60001"):
        read_ratls_certificate(_certificate({TCG_DICE_TAGGED_EVIDENCE_OID: tagged}))


def test_trailing_bytes_after_the_tagged_evidence_are_refused():
    tagged, _ = _gramine_extensions()
    with pytest.raises(VerificationError, match="bytes after its tagged evidence"):
        read_ratls_certificate(_certificate({TCG_DICE_TAGGED_EVIDENCE_OID: tagged + b"\0"}))


def test_a_certificate_without_evidence_is_refused():
    with pytest.raises(VerificationError, match="carries no attestation evidence"):
        read_ratls_certificate(_certificate({}))


def test_a_flipped_byte_in_the_certificate_fails_its_self_signature():
    pem = GRAMINE_CERT.read_bytes()
    lines = pem.splitlines()
    lines[3] = lines[3][:10] + (b"A" if lines[3][10:11] != b"A" else b"B") + lines[3][11:]
    with pytest.raises(VerificationError, match="failed the certificate signature check"):
        read_ratls_certificate(b"\n".join(lines))


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "not valid DER"),
        (b"\x30\x82\x10\x00\x01", "runs past its container"),
        (b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n", "invalid base64"),
        (GRAMINE_CERT.read_bytes() * 2, "must be one PEM certificate"),
    ],
)
def test_malformed_certificates_are_refused(data, problem):
    with pytest.raises(VerificationError) as caught:
        read_ratls_certificate(data)
    assert problem in caught.value.message


def test_a_certificate_signed_by_another_key_is_refused():
    """RA-TLS certificates are self-signed; one signed by some other key is not accepted."""
    _, quote = _gramine_extensions()
    other = ec.generate_private_key(ec.SECP384R1())
    forged = _certificate({GRAMINE_LEGACY_OID: quote}, issuer_key=other)
    with pytest.raises(VerificationError, match="failed the certificate signature check"):
        read_ratls_certificate(forged)
