"""Party cards built to crash or exhaust the parser: refused with a ConfigurationError."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from accord.errors import ConfigurationError
from accord.party import PartyCard, PartyIdentity
from accord.party.card import MAX_CARD_BYTES


@pytest.fixture
def card(make_identity: Callable[..., PartyIdentity]) -> PartyCard:
    return make_identity().card


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "data",
    [b"[" * 30000 + b"]" * 30000, '{"a":' * 10000 + "1" + "}" * 10000],
    ids=["arrays-bytes", "objects-text"],
)
def test_deep_nesting_within_the_size_limit_is_refused(data: bytes | str) -> None:
    assert len(data) <= MAX_CARD_BYTES
    with pytest.raises(ConfigurationError) as caught:
        PartyCard.from_json(data, source="card.json")
    assert caught.value.message == "card.json is not a party card: its JSON is nested too deeply"


@pytest.mark.parametrize("as_text", [False, True])
def test_input_larger_than_the_limit_is_refused_before_parsing(
    card: PartyCard, as_text: bool
) -> None:
    padded = card.to_json() + b" " * MAX_CARD_BYTES
    data = padded.decode() if as_text else padded
    with pytest.raises(ConfigurationError) as caught:
        PartyCard.from_json(data, source="card.json")
    assert caught.value.message == (
        f"card.json is larger than the limit of {MAX_CARD_BYTES} bytes for a party card"
    )


def test_text_counts_its_utf8_bytes_against_the_limit(card: PartyCard) -> None:
    text = card.to_json().decode() + "\u00e9" * (MAX_CARD_BYTES // 2)  # 2 bytes each
    assert len(text) <= MAX_CARD_BYTES
    with pytest.raises(ConfigurationError, match="larger than the limit"):
        PartyCard.from_json(text, source="card.json")


def test_a_large_file_is_not_read_whole(tmp_path: Path, card: PartyCard) -> None:
    path = tmp_path / "card.json"
    path.write_bytes(card.to_json() + b" " * (4 * MAX_CARD_BYTES))
    with pytest.raises(ConfigurationError) as caught:
        PartyCard.load(path)
    assert caught.value.message.startswith(f"{path} is larger than the limit of ")


def test_a_card_padded_up_to_the_limit_still_loads(card: PartyCard) -> None:
    data = card.to_json()
    padded = data + b" " * (MAX_CARD_BYTES - len(data))
    assert PartyCard.from_json(padded, source="card.json") == card


def test_a_field_given_twice_is_refused(card: PartyCard) -> None:
    text = card.to_json().decode()
    doubled = text.replace('"name": ', '"name": "mallory", "name": ', 1)
    assert json.loads(doubled)["name"] == card.name  # a lenient reader keeps the last one
    with pytest.raises(ConfigurationError, match="key 'name' is given twice"):
        PartyCard.from_json(doubled, source="card.json")


@pytest.mark.parametrize("data", [None, 7, ["card"]])
def test_input_that_is_not_json_text_is_refused(data: object) -> None:
    with pytest.raises(ConfigurationError, match="must be JSON bytes or text"):
        PartyCard.from_json(data, source="card.json")  # type: ignore[arg-type]


@pytest.mark.parametrize("digits", ["\u0662\u0660\u0662\u0665", "\uff12\uff10\uff12\uff15"])
def test_created_at_in_other_digits_is_refused(card: PartyCard, digits: str) -> None:
    document = card.to_dict()
    year = document["created_at"][:4]
    document["created_at"] = digits + document["created_at"][4:]
    assert year == "2025"  # the same year, which strptime would read from these digits
    with pytest.raises(ConfigurationError, match="'created_at' must look like"):
        PartyCard.from_json(json.dumps(document), source="card.json")
