"""Editing agreement files: layout and comments kept, every edit checked, atomic saves."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import pytest
from agreement_helpers import BASE, KEYS, MEASUREMENT, SOURCE, parse, replace_once, tls_fingerprint

from accord.agreement import (
    AgreementDocument,
    Party,
    party_from_card,
    render_template,
    sign_agreement,
    verify_signatures,
)
from accord.crypto.keys import SigningKey
from accord.errors import ConfigurationError, UsageError
from accord.party import PartyIdentity

CREATED = dt.datetime(2025, 6, 1, 12, tzinfo=dt.UTC)


def template() -> AgreementDocument:
    text = render_template("Study", created=CREATED, measurements={"simulated": [MEASUREMENT]})
    return AgreementDocument.parse(text, source=SOURCE)


def party(name: str, **kwargs: str) -> Party:
    return Party(name, KEYS[name].verify_key, tls_fingerprint(name), **kwargs)


def is_subsequence(lines: list[str], of: list[str]) -> bool:
    remaining = iter(of)
    return all(any(line == other for other in remaining) for line in lines)


def test_adding_parties_keeps_every_original_line_in_order() -> None:
    original = template()
    document = original.with_party(party("alice", contact="a@example.org")).with_party(party("bob"))
    assert document.agreement.party_names == ("alice", "bob")
    assert document.agreement.party("alice").contact == "a@example.org"
    assert is_subsequence(original.text.splitlines(), document.text.splitlines())
    lines = document.text.splitlines()
    headers = [line for line in lines if line.startswith("[")]
    assert headers[:4] == ["[agreement]", "[[parties]]", "[[parties]]", "[enclave]"]
    # the comment that belongs to [enclave.simulated] stays directly above it
    index = lines.index("[enclave.simulated]")
    assert lines[index - 1].startswith("# DEVELOPMENT ONLY")


def test_a_party_is_added_after_the_last_party_of_a_hand_written_file() -> None:
    text = BASE.replace("[enclave]\n", "# The enclaves we accept.\n[enclave]\n")
    dave = Party("dave", SigningKey.generate().verify_key, "d" * 64)
    document = AgreementDocument.parse(text, source=SOURCE).with_party(dave)
    lines = document.text.splitlines()
    assert lines[lines.index('name = "dave"') - 1] == "[[parties]]"
    comment = lines.index("# The enclaves we accept.")
    assert lines[comment + 1] == "[enclave]"
    assert lines.index('name = "dave"') < comment
    assert document.agreement.party_names == ("alice", "bob", "carol", "dave")


def test_adding_a_party_removes_signatures_but_keeps_the_comments() -> None:
    document = template().with_party(party("alice"))
    signature = sign_agreement(document.agreement, KEYS["alice"], party="alice")
    signed = document.with_signature("alice", signature)
    assert set(signed.agreement.unverified_signatures) == {"alice"}
    grown = signed.with_party(party("bob"))
    assert dict(grown.agreement.unverified_signatures) == {}
    assert "# Filled in by `accord agreement sign`" in grown.text
    assert grown.agreement.digest != signed.agreement.digest


@pytest.mark.parametrize(
    "duplicate",
    [
        Party("alice", SigningKey.generate().verify_key, "e" * 64),
        Party("eve", KEYS["alice"].verify_key, "e" * 64),
        Party("eve", SigningKey.generate().verify_key, tls_fingerprint("alice")),
    ],
    ids=["name", "signing-key", "tls-certificate"],
)
def test_a_party_already_listed_is_refused(duplicate: Party) -> None:
    document = template().with_party(party("alice"))
    with pytest.raises(ConfigurationError, match="already lists party 'alice' with the same"):
        document.with_party(duplicate)


def test_parties_written_as_an_inline_array_are_not_edited() -> None:
    bob = (
        f'{{ name = "bob", signing_key = "{KEYS["bob"].verify_key.to_base64()}", '
        f'tls_certificate_fingerprint = "{tls_fingerprint("bob")}" }}'
    )
    document = AgreementDocument.parse(f"parties = [{bob}]\n" + template().text, source=SOURCE)
    assert document.agreement.party_names == ("bob",)
    with pytest.raises(ConfigurationError, match="inline array"):
        document.with_party(party("alice"))


def test_signatures_are_stored_without_changing_the_digest_or_other_lines() -> None:
    document = AgreementDocument.parse(BASE, source=SOURCE)
    signed = document
    for name in ("alice", "bob", "carol"):
        signed = signed.with_signature(
            name, sign_agreement(document.agreement, KEYS[name], party=name)
        )
    assert signed.agreement.digest == document.agreement.digest
    assert signed.text.startswith(BASE)
    verify_signatures(signed.agreement)
    replaced = signed.with_signature("bob", bytes(64))
    assert replaced.agreement.unverified_signatures["bob"] == bytes(64)
    assert replaced.text.count("\nbob = ") == 1


def test_a_signature_table_is_created_when_missing() -> None:
    text = BASE.removesuffix("[signatures]\n")
    document = AgreementDocument.parse(text, source=SOURCE)
    signature = sign_agreement(document.agreement, KEYS["alice"], party="alice")
    signed = document.with_signature("alice", signature)
    assert signed.text.startswith(text)
    assert f'alice = "{base64.b64encode(signature).decode()}"' in signed.text


def test_windows_line_endings_are_kept() -> None:
    text = template().text.replace("\n", "\r\n")
    document = AgreementDocument.parse(text, source=SOURCE).with_party(party("alice"))
    document = document.with_signature("alice", bytes(64))
    assert "\n" not in document.text.replace("\r\n", "")
    assert document.agreement.party_names == ("alice",)


def test_save_is_atomic_and_can_refuse_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "agreement.toml"
    document = template()
    document.save(path, overwrite=False)
    assert AgreementDocument.load(path).text == document.text
    with pytest.raises(UsageError, match="already exists"):
        document.with_party(party("alice")).save(path, overwrite=False)
    assert path.read_text() == document.text
    assert [p.name for p in tmp_path.iterdir()] == ["agreement.toml"]


def test_party_from_card_takes_name_key_and_certificate_fingerprint(tmp_path: Path) -> None:
    identity = PartyIdentity.create("dana", tmp_path / "dana", passphrase=None)
    entry = party_from_card(identity.card, contact="dana@example.org")
    assert entry.name == "dana"
    assert entry.verify_key == identity.signing_key.verify_key
    assert entry.tls_certificate_fingerprint == identity.card.tls_certificate_fingerprint
    document = template().with_party(entry)
    assert document.agreement.party("dana") == entry


def test_edits_leave_the_original_document_unchanged() -> None:
    document = AgreementDocument.parse(BASE, source=SOURCE)
    document.with_signature("alice", bytes(64))
    assert document.text == BASE
    assert parse(replace_once(BASE, "[signatures]\n", "[signatures]\n")).digest == (
        document.agreement.digest
    )


def test_a_hash_line_inside_a_string_is_not_taken_for_a_comment() -> None:
    text = template().text
    start, end = text.index("# description ="), text.index("[enclave]\n")
    text = text[:start] + 'description = """Line one\n# not a comment"""\n' + text[end:]
    document = AgreementDocument.parse(text, source=SOURCE)
    assert document.agreement.description == "Line one\n# not a comment"
    added = document.with_party(party("alice"))
    assert added.agreement.description == "Line one\n# not a comment"
    assert added.agreement.party_names == ("alice",)
