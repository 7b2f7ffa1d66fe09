"""PartyIdentity: create, load, protect, and refuse anything that does not belong together."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import pickle
import stat
from pathlib import Path

import pytest
from party_helpers import FAST_ARGON2, FIXED_NOW, PASSPHRASE, secret_forms

from accord.errors import ConfigurationError, KeyMaterialError, UsageError, VerificationError
from accord.party import PartyIdentity


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _same_keys(a: PartyIdentity, b: PartyIdentity) -> None:
    assert a.card == b.card
    assert a.signing_key.verify_key == b.signing_key.verify_key
    assert a.data_key == b.data_key
    assert a.tls_key.public_key == b.tls_key.public_key
    assert a.tls_certificate_pem == b.tls_certificate_pem


@pytest.mark.parametrize("passphrase", [None, PASSPHRASE])
def test_create_then_load_gives_the_same_identity(make_identity, passphrase) -> None:
    created = make_identity(passphrase=passphrase)
    loaded = PartyIdentity.load(created.directory, passphrase=passphrase)
    _same_keys(created, loaded)
    assert loaded.name == "alice"
    assert loaded.protected is (passphrase is not None)
    assert PartyIdentity.needs_passphrase(created.directory) is (passphrase is not None)


def test_signatures_made_by_a_loaded_identity_verify_with_its_card(make_identity) -> None:
    created = make_identity()
    loaded = PartyIdentity.load(created.directory, passphrase=None)
    signature = loaded.signing_key.sign(b"message", context="test")
    created.card.verify_key.verify(signature, b"message", context="test")


def test_wrong_passphrase_is_a_key_material_error_naming_the_file(make_identity) -> None:
    created = make_identity(passphrase=PASSPHRASE)
    with pytest.raises(KeyMaterialError, match=r"wrong passphrase for .*alice/party.key"):
        PartyIdentity.load(created.directory, passphrase="not the passphrase")


def test_protected_file_without_passphrase_is_refused(make_identity) -> None:
    created = make_identity(passphrase=PASSPHRASE)
    with pytest.raises(KeyMaterialError, match="protected by a passphrase and none was given"):
        PartyIdentity.load(created.directory, passphrase=None)


def test_unicode_passphrases_match_in_either_normal_form(make_identity) -> None:
    created = make_identity(passphrase="caf\u00e9")
    loaded = PartyIdentity.load(created.directory, passphrase="cafe\u0301")
    _same_keys(created, loaded)


def test_files_and_modes(make_identity, tmp_path) -> None:
    created = make_identity(directory=tmp_path / "new" / "alice")
    directory = created.directory
    assert sorted(os.listdir(directory)) == ["card.json", "party.key", "tls-cert.pem"]
    assert _mode(directory) == 0o700
    assert _mode(directory / "party.key") == 0o600
    assert _mode(directory / "card.json") == 0o644
    assert _mode(directory / "tls-cert.pem") == 0o644
    assert (directory / "tls-cert.pem").read_bytes() == created.tls_certificate_pem


def test_unprotected_key_file_records_kdf_none(make_identity) -> None:
    created = make_identity()
    document = json.loads((created.directory / "party.key").read_text())
    assert document["format"] == "accord-party-key/v1"
    assert document["kdf"] == {"algorithm": "none"}
    assert document["card_digest"] == created.card.digest


def test_protected_key_file_holds_no_secret_in_the_clear(make_identity) -> None:
    created = make_identity(passphrase=PASSPHRASE)
    text = (created.directory / "party.key").read_text()
    assert all(form not in text for form in secret_forms(created))
    assert PASSPHRASE not in text
    assert json.loads(text)["kdf"]["algorithm"] == "argon2id"


def test_clock_sets_card_time_and_certificate_validity(make_identity) -> None:
    created = make_identity(valid_days=30)
    certificate = created.card.tls_certificate
    assert created.card.created_at == FIXED_NOW.replace(microsecond=0)
    assert certificate.not_valid_before_utc == (FIXED_NOW - dt.timedelta(minutes=5)).replace(
        microsecond=0
    )
    assert certificate.not_valid_after_utc == (FIXED_NOW + dt.timedelta(days=30)).replace(
        microsecond=0
    )


def test_existing_identity_is_not_overwritten(make_identity) -> None:
    created = make_identity()
    before = {p.name: p.read_bytes() for p in created.directory.iterdir()}
    with pytest.raises(UsageError, match=f"{created.directory} already holds a party identity"):
        make_identity()
    assert {p.name: p.read_bytes() for p in created.directory.iterdir()} == before


def test_overwrite_replaces_the_keys(make_identity) -> None:
    first = make_identity()
    second = make_identity(overwrite=True)
    assert second.card.signing_key_fingerprint != first.card.signing_key_fingerprint
    _same_keys(second, PartyIdentity.load(second.directory, passphrase=None))
    assert sorted(os.listdir(second.directory)) == ["card.json", "party.key", "tls-cert.pem"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Alice"}, "not a valid party name"),
        ({"name": "a" * 64}, "not a valid party name"),
        ({"name": "1abc"}, "not a valid party name"),
        ({"valid_days": 0}, "at least 1 day"),
        ({"passphrase": ""}, "empty passphrase"),
    ],
)
def test_bad_parameters_are_usage_errors(make_identity, tmp_path, kwargs, message) -> None:
    with pytest.raises(UsageError, match=message):
        make_identity(**kwargs)
    assert not (tmp_path / "alice").exists()


def test_a_naive_clock_is_refused(tmp_path) -> None:
    with pytest.raises(UsageError, match="timezone-aware"):
        PartyIdentity.create(
            "alice", tmp_path / "a", passphrase=None, now=lambda: dt.datetime(2025, 1, 1)
        )


@pytest.mark.parametrize("missing", ["party.key", "card.json", "tls-cert.pem"])
def test_directory_without_identity_is_refused(make_identity, missing) -> None:
    created = make_identity()
    (created.directory / missing).unlink()
    with pytest.raises(KeyMaterialError, match=f"holds no party identity \\({missing} not found"):
        PartyIdentity.load(created.directory, passphrase=None)


def test_empty_directory_is_refused(tmp_path) -> None:
    with pytest.raises(KeyMaterialError, match="holds no party identity"):
        PartyIdentity.load(tmp_path, passphrase=None)
    with pytest.raises(KeyMaterialError, match="holds no party identity"):
        PartyIdentity.needs_passphrase(tmp_path)


def test_pickling_and_copying_are_refused(make_identity) -> None:
    identity = make_identity()
    for value in (identity, identity.signing_key, identity.tls_key, identity.data_key):
        with pytest.raises(TypeError):
            pickle.dumps(value)
        with pytest.raises(TypeError):
            copy.copy(value)
        with pytest.raises(TypeError):
            copy.deepcopy(value)


def test_printing_shows_no_secret(make_identity) -> None:
    identity = make_identity()
    printed = " ".join(
        f"{value!r} {value!s}"
        for value in (identity, identity.signing_key, identity.tls_key, identity.data_key)
    )
    assert "alice" in printed
    assert identity.card.signing_key_fingerprint in printed
    for form in secret_forms(identity):
        assert form not in printed


def test_save_key_file_changes_the_passphrase(make_identity) -> None:
    identity = make_identity()
    identity.save_key_file(passphrase="new one", argon2=FAST_ARGON2)
    assert identity.protected
    assert PartyIdentity.needs_passphrase(identity.directory)
    _same_keys(identity, PartyIdentity.load(identity.directory, passphrase="new one"))
    assert _mode(identity.directory / "party.key") == 0o600
    assert sorted(os.listdir(identity.directory)) == ["card.json", "party.key", "tls-cert.pem"]


# --- tampering with the files of an identity -------------------------------------------


def _edit_key_file(directory: Path, edit) -> None:
    path = directory / "party.key"
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))


@pytest.mark.parametrize("field", ["signing_key", "data_key", "tls_key"])
def test_unprotected_key_file_with_another_key_is_refused(make_identity, field) -> None:
    victim = make_identity("alice")
    other = make_identity("bob")
    other_payload = json.loads((other.directory / "party.key").read_text())["payload"]
    _edit_key_file(
        victim.directory, lambda doc: doc["payload"].__setitem__(field, other_payload[field])
    )
    with pytest.raises(KeyMaterialError, match=r"does not match .*card.json"):
        PartyIdentity.load(victim.directory, passphrase=None)


def test_unprotected_key_file_with_garbage_key_is_refused(make_identity) -> None:
    victim = make_identity()
    _edit_key_file(victim.directory, lambda doc: doc["payload"].__setitem__("data_key", "AAAA"))
    with pytest.raises(KeyMaterialError, match=r"party.key: a data key must be 32 bytes"):
        PartyIdentity.load(victim.directory, passphrase=None)


def test_key_file_of_another_card_is_refused(make_identity) -> None:
    victim = make_identity()
    _edit_key_file(victim.directory, lambda doc: doc.__setitem__("card_digest", "0" * 64))
    with pytest.raises(KeyMaterialError, match="belongs to another card"):
        PartyIdentity.load(victim.directory, passphrase=None)


def test_card_swapped_for_another_valid_card_is_refused(make_identity) -> None:
    victim = make_identity("alice")
    other = make_identity("alice", directory=victim.directory.parent / "other")
    for name in ("card.json", "tls-cert.pem"):
        (victim.directory / name).write_bytes((other.directory / name).read_bytes())
    with pytest.raises(KeyMaterialError, match="belongs to another card"):
        PartyIdentity.load(victim.directory, passphrase=None)


def _flip_first(text: str) -> str:
    return ("B" if text[0] == "A" else "A") + text[1:]


@pytest.mark.parametrize(
    "edit",
    [
        lambda doc: doc.__setitem__("party", "mallory"),
        lambda doc: doc.__setitem__("card_digest", "0" * 64),
        lambda doc: doc["kdf"].__setitem__("iterations", 2),
        lambda doc: doc["kdf"].__setitem__("salt", _flip_first(doc["kdf"]["salt"])),
        lambda doc: doc["encryption"].__setitem__("nonce", _flip_first(doc["encryption"]["nonce"])),
        lambda doc: doc["encryption"].__setitem__(
            "ciphertext", _flip_first(doc["encryption"]["ciphertext"])
        ),
    ],
    ids=["party", "card_digest", "kdf-iterations", "kdf-salt", "nonce", "ciphertext"],
)
def test_protected_key_file_altered_is_refused(make_identity, edit) -> None:
    victim = make_identity(passphrase=PASSPHRASE)
    original = json.loads((victim.directory / "party.key").read_text())
    _edit_key_file(victim.directory, edit)
    assert json.loads((victim.directory / "party.key").read_text()) != original
    with pytest.raises(KeyMaterialError, match=r"wrong passphrase for .*party.key, or the"):
        PartyIdentity.load(victim.directory, passphrase=PASSPHRASE)


def test_key_file_demanding_absurd_kdf_cost_is_refused_before_running(make_identity) -> None:
    victim = make_identity(passphrase=PASSPHRASE)
    _edit_key_file(victim.directory, lambda doc: doc["kdf"].__setitem__("memory_cost_kib", 2**40))
    with pytest.raises(KeyMaterialError, match="outside the accepted range"):
        PartyIdentity.load(victim.directory, passphrase=PASSPHRASE)


def test_certificate_file_that_differs_from_the_card_is_refused(make_identity) -> None:
    victim = make_identity("alice")
    other = make_identity("bob")
    (victim.directory / "tls-cert.pem").write_bytes(other.tls_certificate_pem)
    with pytest.raises(ConfigurationError, match=r"tls-cert.pem is not the certificate of"):
        PartyIdentity.load(victim.directory, passphrase=None)


def test_tampered_card_is_refused_on_load(make_identity) -> None:
    victim = make_identity()
    path = victim.directory / "card.json"
    document = json.loads(path.read_text())
    document["data_key_id"] = "0" * 32
    path.write_text(json.dumps(document))
    with pytest.raises(VerificationError, match="'self_signature' does not verify"):
        PartyIdentity.load(victim.directory, passphrase=None)
