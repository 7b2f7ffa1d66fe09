import hashlib

import pytest

from accord.crypto.keys import DataKey, SigningKey
from accord.enclave import EnclaveSession

AGREEMENT = hashlib.sha256(b"accord test agreement").hexdigest()
OTHER_AGREEMENT = hashlib.sha256(b"another agreement").hexdigest()


@pytest.fixture
def alice_key():
    return SigningKey.generate()


@pytest.fixture
def bob_key():
    return SigningKey.generate()


@pytest.fixture
def parties(alice_key, bob_key):
    """The agreement's parties as the enclave knows them: name to signing public key."""
    return {"alice": alice_key.verify_key, "bob": bob_key.verify_key}


@pytest.fixture
def agreement_digest():
    """The digest of the agreement the enclave under test runs."""
    return AGREEMENT


@pytest.fixture
def other_agreement_digest():
    """The digest of an unrelated agreement."""
    return OTHER_AGREEMENT


@pytest.fixture
def enclave():
    return EnclaveSession.create(AGREEMENT)


@pytest.fixture
def alice_data_key():
    return DataKey.generate()
