"""Fixtures for party identity tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from party_helpers import FAST_ARGON2, fixed_clock

from accord.party import PartyIdentity


@pytest.fixture
def make_identity(tmp_path: Path) -> Callable[..., PartyIdentity]:
    """Return a factory that creates identities cheaply under tmp_path."""

    def make(name: str = "alice", *, passphrase: str | None = None, **kwargs: object):
        directory = kwargs.pop("directory", tmp_path / name)
        return PartyIdentity.create(
            name,
            directory,  # type: ignore[arg-type]
            passphrase=passphrase,
            now=fixed_clock,
            argon2=FAST_ARGON2,
            **kwargs,  # type: ignore[arg-type]
        )

    return make
