"""Fixtures for the orchestrator tests: parties, their signed agreement, a clock, a book."""

from __future__ import annotations

import pytest
from orchestrator_helpers import (
    PARTY_NAMES,
    Clock,
    make_party,
    open_book,
    write_signed_agreement,
)


@pytest.fixture(scope="session")
def party_root(tmp_path_factory):
    return tmp_path_factory.mktemp("parties")


@pytest.fixture(scope="session")
def parties(party_root):
    """alice, bob and carol: the agreement's parties."""
    return {name: make_party(party_root, name) for name in PARTY_NAMES}


@pytest.fixture(scope="session")
def alice(parties):
    return parties["alice"]


@pytest.fixture(scope="session")
def bob(parties):
    return parties["bob"]


@pytest.fixture(scope="session")
def carol(parties):
    return parties["carol"]


@pytest.fixture(scope="session")
def mallory(party_root):
    """A genuine identity that is not a party of the agreement."""
    return make_party(party_root, "mallory")


@pytest.fixture(scope="session")
def agreement_path(parties, party_root):
    path = party_root / "agreement.toml"
    write_signed_agreement(list(parties.values()), path)
    return path


@pytest.fixture(scope="session")
def agreement(agreement_path):
    from accord.agreement import load_signed_agreement

    return load_signed_agreement(agreement_path)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def book(tmp_path, agreement, clock):
    """A proposal book over a fresh database, recording what it dispatches."""
    book = open_book(tmp_path / "orchestrator.sqlite3", agreement, clock)
    book.dispatched = []
    book.set_dispatcher(book.dispatched.append)
    yield book
    book.store.close()
