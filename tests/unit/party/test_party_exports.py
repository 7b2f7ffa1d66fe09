"""The curated public API of accord.party."""

from __future__ import annotations

import accord.party

EXPECTED = {
    "CARD_FILE_NAME",
    "CARD_FORMAT",
    "CERTIFICATE_FILE_NAME",
    "DEFAULT_ARGON2",
    "DEFAULT_VALID_DAYS",
    "KEY_FILE_NAME",
    "PARTY_NAME_PATTERN",
    "Argon2Parameters",
    "KeyFileHeader",
    "PartyCard",
    "PartyIdentity",
}


def test_public_names_are_exactly_the_curated_list() -> None:
    assert set(accord.party.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(accord.party, name) is not None


def test_public_classes_and_functions_are_documented() -> None:
    for name in EXPECTED:
        value = getattr(accord.party, name)
        if isinstance(value, type):
            assert value.__doc__ and value.__module__.startswith("accord.party.")
