"""Deterministic keys and a complete agreement text for the agreement tests."""

from __future__ import annotations

import hashlib

import pytest

from accord.agreement import Agreement, parse_agreement
from accord.crypto.keys import SECRET_KEY_ACCESS, SigningKey
from accord.errors import ConfigurationError

SOURCE = "agreement.toml"
NAMES = ("alice", "bob", "carol")
KEYS = {
    name: SigningKey.from_raw(bytes([index + 1]) * 32, SECRET_KEY_ACCESS)
    for index, name in enumerate(NAMES)
}
MEASUREMENT = "3f2a" * 16
OTHER_MEASUREMENT = "4b1c" * 16


def tls_fingerprint(name: str) -> str:
    return hashlib.sha256(f"certificate of {name}".encode()).hexdigest()


def public_key(name: str) -> str:
    return KEYS[name].verify_key.to_base64()


def party_block(name: str, *, contact: str | None = None) -> str:
    lines = [
        "[[parties]]",
        f'name = "{name}"',
        f'signing_key = "{public_key(name)}"',
        f'tls_certificate_fingerprint = "{tls_fingerprint(name)}"',
    ]
    if contact:
        lines.append(f'contact = "{contact}"')
    return "\n".join(lines) + "\n"


BASE = f"""\
# A complete agreement with three parties.
[agreement]
format = "accord-agreement/v1"
name = "Mushroom study"
created = 2025-06-01T12:00:00Z
description = "Train a classifier on the joint mushroom data."

{party_block("alice", contact="ops@alice.example")}
{party_block("bob")}
{party_block("carol")}
[enclave]
backends = ["sgx-dcap"]
max_evidence_age_seconds = 120

[enclave.sgx-dcap]
measurements = [
    "{MEASUREMENT}",
    "{OTHER_MEASUREMENT}",
]
signer = "{"ab" * 32}"
min_security_version = 2

[approvals]
default = "all"
train = {{ k_of_n = 2, among = ["alice", "bob", "carol"] }}
predict = {{ all_of = ["alice"] }}
echo = {{ k_of_n = 1 }}

[outputs]
models = ["alice", "bob"]
metrics = "all"
feature_importance = ["alice"]
predictions = {{ bob = ["bob", "alice"] }}

[signatures]
"""


def parse(text: str) -> Agreement:
    return parse_agreement(text, source=SOURCE)


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """Return the 1-based line of the ``occurrence``-th line of ``text`` containing ``needle``."""
    seen = 0
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not found {occurrence} time(s)")


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def refused(text: str, line: int, *problem: str) -> ConfigurationError:
    """Assert that ``text`` is refused at ``line`` with a message containing ``problem``."""
    with pytest.raises(ConfigurationError) as caught:
        parse(text)
    message = caught.value.message
    assert message.startswith(f"{SOURCE} line {line}: "), message
    for part in problem:
        assert part in message, message
    return caught.value
