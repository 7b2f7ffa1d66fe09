import os

import pytest
from attest_helpers import SettableClock, make_session_keys


@pytest.fixture
def clock():
    return SettableClock()


@pytest.fixture
def session_keys():
    return make_session_keys()


@pytest.fixture
def nonce():
    return os.urandom(32)
