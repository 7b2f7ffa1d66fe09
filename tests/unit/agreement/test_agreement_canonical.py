"""The digest: the same for every way of writing the same agreement, different for any change."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json

import pytest
from agreement_helpers import (
    BASE,
    KEYS,
    MEASUREMENT,
    OTHER_MEASUREMENT,
    parse,
    party_block,
    public_key,
    replace_once,
    tls_fingerprint,
)

from accord._internal.canonical import canonical_json
from accord.agreement import canonical_form
from accord.crypto.keys import SECRET_KEY_ACCESS, SigningKey

OTHER_KEY = SigningKey.from_raw(bytes([9]) * 32, SECRET_KEY_ACCESS)

BASE_DIGEST = "bdf15f6fe12c1b3a54ad038e62201eba263e3a0ad78c7f57560dbdaf165d08e8"

# BASE written differently: tables and parties reordered, keys reordered, comments, other
# spacing, upper-case hex, another time zone for the same instant, defaults spelled out,
# "all" spelled as names, a rule equal to the default, dotted keys and inline tables.
REFORMATTED = f"""
[outputs]   # who gets what
predictions = {{ alice = ["alice"], bob = ["alice", "bob"], carol = ["carol"] }}
feature_importance = [ "alice" ]
metrics = ["carol", "bob", "alice"]
models = ["bob",
          "alice"]

[approvals]
echo = {{ among = ["carol", "alice", "bob"], k_of_n = 1 }}
train = {{ k_of_n = 2 }}
load = "all"
default = {{ all_of = ["carol", "bob", "alice"] }}
predict = {{ k_of_n = 1, among = ["alice"] }}

[[parties]]
tls_certificate_fingerprint = "{tls_fingerprint("carol").upper()}"
signing_key = "{public_key("carol")}"
name = "carol"

[[parties]]
name = 'alice'
contact = "ops@alice.example"
signing_key = "{public_key("alice")}"
tls_certificate_fingerprint = "{tls_fingerprint("alice")}"

[enclave]
max_evidence_age_seconds = 120
sgx-dcap.allow_debug = false
sgx-dcap.signer = "{"AB" * 32}"
sgx-dcap.min_security_version = 2
sgx-dcap.measurements = ["{OTHER_MEASUREMENT}", "{MEASUREMENT.upper()}"]
backends = [ "sgx-dcap" ]

[[parties]]
name = "bob"
signing_key = "{public_key("bob")}"
tls_certificate_fingerprint = "{tls_fingerprint("bob")}"

[agreement]
created = 2025-06-01T14:00:00+02:00
description = "Train a classifier on the joint mushroom data."
name = "Mushroom study"
"format" = "accord-agreement/v1"

[signatures]
"""


def test_digest_is_sha256_of_the_canonical_json_of_the_canonical_form() -> None:
    agreement = parse(BASE)
    form = canonical_form(agreement)
    assert agreement.canonical_bytes == canonical_json(form)
    assert agreement.digest == hashlib.sha256(canonical_json(form)).hexdigest()


def test_digest_of_the_reference_agreement_is_fixed() -> None:
    # A compatible implementation must reproduce this value (docs/agreements.md).
    assert parse(BASE).digest == BASE_DIGEST


def test_canonical_form_spells_out_defaults_and_sorts_sets() -> None:
    form = json.loads(parse(BASE).canonical_bytes)
    assert [party["name"] for party in form["parties"]] == ["alice", "bob", "carol"]
    assert form["agreement"]["created"] == "2025-06-01T12:00:00Z"
    assert form["enclave"]["backends"]["sgx-dcap"] == {
        "measurements": sorted([MEASUREMENT, OTHER_MEASUREMENT]),
        "signer": "ab" * 32,
        "allow_debug": False,
        "min_security_version": 2,
    }
    assert form["approvals"]["default"] == {"among": ["alice", "bob", "carol"], "threshold": 3}
    assert form["outputs"]["predictions"] == {
        "alice": ["alice"],
        "bob": ["alice", "bob"],
        "carol": ["carol"],
    }
    assert "contact" not in form["parties"][1]


def test_reformatting_and_reordering_keep_the_digest() -> None:
    assert parse(REFORMATTED).digest == BASE_DIGEST


def test_signatures_are_not_part_of_the_digest() -> None:
    encoded = base64.b64encode(KEYS["alice"].sign(bytes(32), context="agreement")).decode()
    signed = replace_once(BASE, "[signatures]\n", f'[signatures]\nalice = "{encoded}"\n')
    assert parse(signed).digest == BASE_DIGEST


CHANGES = [
    pytest.param('name = "Mushroom study"', 'name = "Mushroom study 2"', id="name"),
    pytest.param("joint mushroom data.", "joint mushroom data", id="description"),
    pytest.param("12:00:00Z", "12:00:01Z", id="created"),
    pytest.param('contact = "ops@alice.example"', 'contact = "ops2@alice.example"', id="contact"),
    pytest.param(
        f'signing_key = "{public_key("carol")}"',
        f'signing_key = "{OTHER_KEY.verify_key.to_base64()}"',
        id="signing-key",
    ),
    pytest.param(tls_fingerprint("bob"), "0" * 64, id="tls-fingerprint"),
    pytest.param(OTHER_MEASUREMENT, "5" * 64, id="measurement"),
    pytest.param('signer = "' + "ab" * 32, 'signer = "' + "ac" * 32, id="signer"),
    pytest.param("min_security_version = 2", "min_security_version = 3", id="security-version"),
    pytest.param(
        "min_security_version = 2", "allow_debug = true\nmin_security_version = 2", id="allow-debug"
    ),
    pytest.param("max_evidence_age_seconds = 120", "max_evidence_age_seconds = 121", id="age"),
    pytest.param('default = "all"', "default = { k_of_n = 2 }", id="default-rule"),
    pytest.param("k_of_n = 2,", "k_of_n = 3,", id="threshold"),
    pytest.param('all_of = ["alice"]', 'all_of = ["bob"]', id="all-of"),
    pytest.param("echo = { k_of_n = 1 }", "evaluate = { k_of_n = 1 }", id="operation"),
    pytest.param('models = ["alice", "bob"]', 'models = ["alice"]', id="models"),
    pytest.param('metrics = "all"', 'metrics = ["alice"]', id="metrics"),
    pytest.param('feature_importance = ["alice"]', 'feature_importance = "all"', id="importance"),
    pytest.param('bob = ["bob", "alice"]', 'bob = ["bob"]', id="predictions"),
]


@pytest.mark.parametrize(("old", "new"), CHANGES)
def test_every_meaningful_change_changes_the_digest(old: str, new: str) -> None:
    assert parse(replace_once(BASE, old, new)).digest != BASE_DIGEST


def test_different_changes_give_different_digests() -> None:
    digests = {parse(replace_once(BASE, *case.values)).digest for case in CHANGES}
    assert len(digests) == len(CHANGES)


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_the_order_of_parties_and_names_does_not_matter(order: tuple[int, ...]) -> None:
    blocks = [
        party_block("alice", contact="ops@alice.example"),
        party_block("bob"),
        party_block("carol"),
    ]
    names = ['"alice"', '"bob"', '"carol"']
    text = BASE
    for block in blocks:
        text = replace_once(text, block + "\n", "")
    text = replace_once(
        text, "[enclave]\n", "".join(blocks[i] + "\n" for i in order) + "[enclave]\n"
    )
    text = replace_once(
        text,
        'among = ["alice", "bob", "carol"]',
        f"among = [{', '.join(names[i] for i in order)}]",
    )
    assert parse(text).digest == BASE_DIGEST
