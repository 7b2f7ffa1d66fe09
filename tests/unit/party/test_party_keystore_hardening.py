"""party.key: hostile JSON is refused cleanly, and a key file others can read is reported."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from party_helpers import FAST_ARGON2

from accord.errors import KeyMaterialError
from accord.party import KEY_FILE_NAME, PartyIdentity
from accord.party.keystore import decode_key_file, encode_key_file, read_key_file_header

PAYLOAD = {"data_key": "c2VjcmV0LWRhdGE="}


def nested(depth: int) -> bytes:
    return b'{"format":"accord-party-key/v1","x":' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("read", ["header", "decode"])
def test_deeply_nested_json_is_a_key_material_error(tmp_path: Path, read: str):
    path = tmp_path / "party.key"
    path.write_bytes(nested(100_000))
    with pytest.raises(KeyMaterialError) as caught:
        if read == "header":
            read_key_file_header(path)
        else:
            decode_key_file(path.read_bytes(), path=path, passphrase=None)
    assert str(path) in str(caught.value) and "nested too deeply" in str(caught.value)


def test_load_of_a_nested_key_file_is_clean(make_identity: Callable[..., PartyIdentity]):
    identity = make_identity("alice")
    (identity.directory / KEY_FILE_NAME).write_bytes(nested(50_000))
    with pytest.raises(KeyMaterialError, match="nested too deeply"):
        PartyIdentity.load(identity.directory, passphrase=None)


def test_argon2_version_must_be_the_integer_19(tmp_path: Path):
    document = json.loads(
        encode_key_file(
            PAYLOAD, party="a", card_digest="0" * 64, passphrase="pw", argon2=FAST_ARGON2
        )
    )
    document["kdf"]["version"] = 19.0
    path = tmp_path / "party.key"
    path.write_text(json.dumps(document))
    with pytest.raises(KeyMaterialError, match=r"unsupported Argon2 version 19\.0"):
        read_key_file_header(path)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_key_file_readable_by_others_loads_with_a_warning(
    make_identity: Callable[..., PartyIdentity], caplog: pytest.LogCaptureFixture, mode: int
):
    identity = make_identity("alice")
    key_path = identity.directory / KEY_FILE_NAME
    key_path.chmod(mode)
    with caplog.at_level(logging.WARNING, logger="accord.party.keystore"):
        loaded = PartyIdentity.load(identity.directory, passphrase=None)
    assert loaded.data_key.key_id == identity.data_key.key_id  # not refused
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert str(key_path) in text and f"{mode:04o}" in text and "chmod 600" in text


def test_private_key_file_loads_without_a_warning(
    make_identity: Callable[..., PartyIdentity], caplog: pytest.LogCaptureFixture
):
    identity = make_identity("alice")
    assert (identity.directory / KEY_FILE_NAME).stat().st_mode & 0o777 == 0o600
    with caplog.at_level(logging.WARNING, logger="accord.party.keystore"):
        PartyIdentity.load(identity.directory, passphrase=None)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
