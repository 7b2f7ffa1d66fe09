"""Key release messages built to crash the parser: each is refused with a clean Accord error.

The enclave parses these bytes before anything is authenticated, so every malformed input
must end in a :class:`VerificationError` (or a :class:`UsageError` for a caller's type
mistake) that names the cause, never in a RecursionError, UnicodeEncodeError or
AttributeError from deep inside the standard library.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from accord.attest.binding import SessionPublicKeys
from accord.crypto.keyrelease import (
    MAX_KEY_RELEASE_BYTES,
    HpkePrivateKey,
    key_release_info,
    open_key_release,
    seal_key_release,
)
from accord.crypto.keys import DataKey, SigningKey
from accord.errors import UsageError, VerificationError

AGREEMENT = hashlib.sha256(b"agreement").hexdigest()
SESSION_ID = "0f" * 16
MALFORMED = "not a valid accord-key-release/v1 message"


@pytest.fixture(scope="module")
def recipient() -> HpkePrivateKey:
    return HpkePrivateKey.generate()


@pytest.fixture(scope="module")
def alice() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="module")
def document(recipient: HpkePrivateKey, alice: SigningKey) -> dict[str, Any]:
    session = SessionPublicKeys(
        agreement_digest=AGREEMENT,
        session_id=SESSION_ID,
        hpke_public_key=recipient.public_bytes,
        signing_public_key=SigningKey.generate().verify_key.raw,
        tls_public_key=b"tls-spki",
    )
    message = seal_key_release(
        data_key=DataKey.generate(), party="alice", signing_key=alice, session=session
    )
    parsed: dict[str, Any] = json.loads(message)
    return parsed


def open_as_enclave(message: Any, recipient: HpkePrivateKey, alice: SigningKey) -> object:
    return open_key_release(
        message,
        agreement_digest=AGREEMENT,
        session_id=SESSION_ID,
        parties={"alice": alice.verify_key},
        recipient=recipient,
    )


def with_payload(document: dict[str, Any], **changes: str) -> bytes:
    """Return the message with payload fields replaced (JSON escapes lone surrogates)."""
    altered = {**document, "payload": {**document["payload"], **changes}}
    return json.dumps(altered).encode()


def refused(message: Any, recipient: HpkePrivateKey, alice: SigningKey) -> str:
    with pytest.raises(VerificationError) as caught:
        open_as_enclave(message, recipient, alice)
    assert MALFORMED in caught.value.message
    return caught.value.message


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "message",
    [b"[" * 8000 + b"]" * 8000, b'{"":' * 3000 + b"1" + b"}" * 3000],
    ids=["arrays", "objects"],
)
def test_deep_nesting_within_the_size_limit_is_malformed_not_a_recursion_error(
    recipient: HpkePrivateKey, alice: SigningKey, message: bytes
) -> None:
    assert len(message) <= MAX_KEY_RELEASE_BYTES
    assert "nested too deeply" in refused(message, recipient, alice)


@pytest.mark.parametrize(
    "party",
    ["\ud800", "alice\u202e", "Alice", "al ice", "", "a" * 64, "alice\n"],
    ids=["lone-surrogate", "bidi-override", "upper-case", "space", "empty", "too-long", "newline"],
)
def test_party_names_outside_the_party_name_rule_are_malformed(
    recipient: HpkePrivateKey, alice: SigningKey, document: dict[str, Any], party: str
) -> None:
    message = refused(with_payload(document, party=party), recipient, alice)
    assert "'party' is not a party name" in message
    assert "lower-case letter" in message


def test_lone_surrogate_in_the_ciphertext_is_malformed(
    recipient: HpkePrivateKey, alice: SigningKey, document: dict[str, Any]
) -> None:
    message = with_payload(document, ciphertext="\udfff")
    assert "'ciphertext' is not valid base64" in refused(message, recipient, alice)


@pytest.mark.parametrize("field", ["agreement_digest", "session_id", "key_id"])
@pytest.mark.parametrize(
    "spelling",
    [
        lambda hex_: " ".join(hex_[i : i + 2] for i in range(0, len(hex_), 2)),
        lambda hex_: hex_ + "\n",
        lambda hex_: " " + hex_,
        lambda hex_: hex_.upper(),
    ],
    ids=["spaced", "trailing-newline", "leading-space", "upper-case"],
)
def test_other_spellings_of_the_same_hex_are_malformed(
    recipient: HpkePrivateKey,
    alice: SigningKey,
    document: dict[str, Any],
    field: str,
    spelling: Any,
) -> None:
    message = with_payload(document, **{field: spelling(document["payload"][field])})
    assert f"'{field}' must be" in refused(message, recipient, alice)


@pytest.mark.parametrize("message", ["{}", bytearray(b"{}"), None])
def test_a_message_that_is_not_bytes_is_a_usage_error(
    recipient: HpkePrivateKey, alice: SigningKey, message: Any
) -> None:
    with pytest.raises(UsageError, match=f"must be bytes, not {type(message).__name__}"):
        open_as_enclave(message, recipient, alice)


def test_the_untouched_message_still_opens(
    recipient: HpkePrivateKey, alice: SigningKey, document: dict[str, Any]
) -> None:
    released = open_as_enclave(json.dumps(document).encode(), recipient, alice)
    assert getattr(released, "party", None) == "alice"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("agreement_digest", " ".join(AGREEMENT[i : i + 2] for i in range(0, 64, 2))),
        ("session_id", SESSION_ID.upper()),
        ("key_id", "0f" * 15 + "0"),
    ],
)
def test_key_release_info_refuses_other_spellings_of_hex(field: str, value: str) -> None:
    fields = {"agreement_digest": AGREEMENT, "session_id": SESSION_ID, "key_id": "0f" * 16}
    with pytest.raises(UsageError, match=f"{field} must be"):
        key_release_info(party="alice", **{**fields, field: value})


@pytest.mark.parametrize("party", ["\ud800", "Alice"])
def test_sealing_refuses_names_that_no_agreement_can_hold(
    recipient: HpkePrivateKey, alice: SigningKey, party: str
) -> None:
    session = SessionPublicKeys(
        agreement_digest=AGREEMENT,
        session_id=SESSION_ID,
        hpke_public_key=recipient.public_bytes,
        signing_public_key=alice.verify_key.raw,
        tls_public_key=b"tls-spki",
    )
    with pytest.raises(UsageError, match=r"party name .* must be a lower-case letter"):
        seal_key_release(
            data_key=DataKey.generate(), party=party, signing_key=alice, session=session
        )
