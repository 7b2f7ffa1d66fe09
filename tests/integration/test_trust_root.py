"""The trust root end to end: agreement -> attestation -> key release -> enclave opens data.

Runs the documented party-side calls (accord.client) against a real enclave session with
the simulated backend, and tries the attacks a host or a party could make.
"""

import datetime as dt
import warnings

import pytest

from accord.agreement import (
    AgreementDocument,
    party_from_card,
    render_template,
    sign_agreement,
    verify_signatures,
)
from accord.attest import AccordSecurityWarning, measure_installed_package
from accord.attest.backends import SimulatedQuoter
from accord.client import new_nonce, release_data_key, verify_enclave
from accord.crypto.sealed import seal_bytes, unseal_bytes
from accord.enclave import EnclaveSession
from accord.enclave.attestation import attest_session
from accord.errors import KeyMaterialError, VerificationError
from accord.party import PartyIdentity
from accord.party.keystore import Argon2Parameters

FAST = Argon2Parameters(iterations=1, lanes=1, memory_cost_kib=8)
CREATED = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def make_party(tmp_path, name):
    return PartyIdentity.create(name, tmp_path / name, passphrase=None, argon2=FAST)


def signed_agreement(parties, measurements, name="study"):
    document = AgreementDocument.parse(
        render_template(name, created=CREATED, measurements=measurements), source="agreement.toml"
    )
    for party in parties:
        document = document.with_party(party_from_card(party.card))
    for party in parties:
        signature = sign_agreement(document.agreement, party.signing_key, party=party.name)
        document = document.with_signature(party.name, signature)
    return verify_signatures(document.agreement)


@pytest.fixture
def alice(tmp_path):
    return make_party(tmp_path, "alice")


@pytest.fixture
def bob(tmp_path):
    return make_party(tmp_path, "bob")


@pytest.fixture
def measurement():
    return measure_installed_package().digest


@pytest.fixture
def agreement(alice, bob, measurement):
    return signed_agreement([alice, bob], {"simulated": [measurement]})


def attest(session, nonce, **quoter_options):
    return attest_session(session, SimulatedQuoter(**quoter_options), nonce).to_bytes()


def test_parties_release_keys_and_the_enclave_opens_their_data(agreement, alice, bob):
    session = EnclaveSession.create(agreement.digest)
    sealed = {p.name: seal_bytes(f"{p.name}'s rows\n".encode(), p.data_key) for p in (alice, bob)}
    for party in (alice, bob):
        nonce = new_nonce()
        with pytest.warns(AccordSecurityWarning, match="NO protection"):
            verified = verify_enclave(attest(session, nonce), agreement=agreement, nonce=nonce)
        message = release_data_key(party, verified, agreement=agreement)
        key_id = session.accept_key_release(message, parties=agreement.party_keys)
        assert key_id == party.data_key.key_id
    for party in (alice, bob):
        key = session.data_key(party.data_key.key_id, owner=party.name)
        assert unseal_bytes(sealed[party.name], key) == f"{party.name}'s rows\n".encode()


def test_evidence_for_another_agreement_is_refused(agreement, alice, bob, measurement):
    other = signed_agreement([alice, bob], {"simulated": [measurement]}, name="other-study")
    session = EnclaveSession.create(other.digest)
    nonce = new_nonce()
    with pytest.raises(VerificationError, match="runs agreement"):
        verify_enclave(attest(session, nonce), agreement=agreement, nonce=nonce)


def test_wrong_measurement_is_refused(alice, bob):
    agreement = signed_agreement([alice, bob], {"simulated": ["ab" * 32]})
    session = EnclaveSession.create(agreement.digest)
    nonce = new_nonce()
    with pytest.raises(VerificationError, match="measurement") as caught:
        verify_enclave(attest(session, nonce), agreement=agreement, nonce=nonce)
    assert "accepted measurement" in str(caught.value)


def test_simulated_evidence_is_refused_where_the_agreement_wants_hardware(alice, bob, measurement):
    agreement = signed_agreement([alice, bob], {"sgx-dcap": [measurement]})
    session = EnclaveSession.create(agreement.digest)
    nonce = new_nonce()
    with pytest.raises(VerificationError, match="simulated"):
        verify_enclave(attest(session, nonce), agreement=agreement, nonce=nonce)


def test_debug_enclave_is_refused(agreement):
    session = EnclaveSession.create(agreement.digest)
    nonce = new_nonce()
    with pytest.raises(VerificationError, match="debug"):
        verify_enclave(attest(session, nonce, debug=True), agreement=agreement, nonce=nonce)


def test_replayed_evidence_with_an_old_nonce_is_refused(agreement):
    session = EnclaveSession.create(agreement.digest)
    old_nonce = new_nonce()
    recorded = attest(session, old_nonce)
    fresh_nonce = new_nonce()
    with pytest.raises(VerificationError, match="report data"):
        verify_enclave(recorded, agreement=agreement, nonce=fresh_nonce)


def test_host_substituting_its_own_key_is_refused(agreement):
    from accord.attest.bundle import AttestationBundle

    genuine = EnclaveSession.create(agreement.digest)
    host = EnclaveSession.create(agreement.digest)
    nonce = new_nonce()
    bundle = attest_session(genuine, SimulatedQuoter(), nonce)
    forged = AttestationBundle(
        session_keys=type(genuine.public_keys)(
            agreement_digest=genuine.public_keys.agreement_digest,
            session_id=genuine.public_keys.session_id,
            hpke_public_key=host.public_keys.hpke_public_key,
            signing_public_key=genuine.public_keys.signing_public_key,
            tls_public_key=genuine.public_keys.tls_public_key,
        ),
        evidence=bundle.evidence,
    )
    with pytest.raises(VerificationError, match="report data"):
        verify_enclave(forged.to_bytes(), agreement=agreement, nonce=nonce)


def test_a_party_cannot_release_under_another_identity(tmp_path, agreement, alice):
    impostor = make_party(tmp_path / "elsewhere", "bob")
    session = EnclaveSession.create(agreement.digest)
    nonce = new_nonce()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AccordSecurityWarning)
        verified = verify_enclave(attest(session, nonce), agreement=agreement, nonce=nonce)
    with pytest.raises(KeyMaterialError, match="not the party the agreement lists"):
        release_data_key(impostor, verified, agreement=agreement)


def test_key_release_signed_by_a_non_party_is_refused_by_the_enclave(tmp_path, agreement):
    from accord.crypto.keyrelease import seal_key_release

    mallory = make_party(tmp_path, "mallory")
    session = EnclaveSession.create(agreement.digest)
    message = seal_key_release(
        data_key=mallory.data_key,
        party="mallory",
        signing_key=mallory.signing_key,
        session=session.public_keys,
    )
    with pytest.raises(VerificationError, match="not a party"):
        session.accept_key_release(message, parties=agreement.party_keys)
    assert len(session.released_keys) == 0


def test_a_laxer_verifier_cannot_bless_a_release_under_a_hardware_agreement(
    alice, bob, measurement
):
    """A party cannot be talked into releasing on evidence verified under another policy."""
    from accord.agreement.attestation import agreement_verifier
    from accord.client import VerifiedEnclave

    production = signed_agreement([alice, bob], {"sgx-dcap": [measurement]}, name="prod")
    development = signed_agreement([alice, bob], {"simulated": [measurement]}, name="dev")
    host = EnclaveSession.create(production.digest)
    nonce = new_nonce()
    bundle = attest_session(host, SimulatedQuoter(), nonce)
    with pytest.raises(VerificationError, match="simulated"):
        verify_enclave(bundle.to_bytes(), agreement=production, nonce=nonce)
    lax = agreement_verifier(development)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AccordSecurityWarning)
        evidence = lax.verify(bundle.evidence, nonce=nonce, expected=bundle.session_keys)
    with pytest.raises(VerificationError, match="verify_enclave"):
        release_data_key(alice, evidence, agreement=production)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        VerifiedEnclave(object(), production.digest, evidence)


def test_enclave_verified_under_one_agreement_gets_no_key_under_another(agreement, alice, bob):
    other = signed_agreement([alice, bob], {"simulated": [measure_installed_package().digest]}, "x")
    session = EnclaveSession.create(agreement.digest)
    nonce = new_nonce()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AccordSecurityWarning)
        verified = verify_enclave(attest(session, nonce), agreement=agreement, nonce=nonce)
    with pytest.raises(VerificationError, match="verified against agreement"):
        release_data_key(alice, verified, agreement=other)


def test_an_unsigned_agreement_is_refused_with_a_clear_error(agreement, alice):
    from accord.errors import UsageError

    session = EnclaveSession.create(agreement.digest)
    nonce = new_nonce()
    with pytest.raises(UsageError, match="signed by every party"):
        verify_enclave(attest(session, nonce), agreement=agreement.agreement, nonce=nonce)
