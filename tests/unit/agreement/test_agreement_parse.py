"""Parsing: the normal form of a valid agreement, and every refusal with its file and line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from agreement_helpers import (
    BASE,
    MEASUREMENT,
    OTHER_MEASUREMENT,
    SOURCE,
    line_of,
    parse,
    party_block,
    public_key,
    refused,
    replace_once,
    tls_fingerprint,
)

from accord.agreement import ApprovalRule, load_agreement
from accord.errors import ConfigurationError


def test_base_agreement_is_parsed_into_its_normal_form() -> None:
    agreement = parse(BASE)
    assert agreement.name == "Mushroom study"
    assert agreement.description == "Train a classifier on the joint mushroom data."
    assert agreement.created == dt.datetime(2025, 6, 1, 12, tzinfo=dt.UTC)
    assert agreement.party_names == ("alice", "bob", "carol")
    alice = agreement.party("alice")
    assert alice.verify_key.to_base64() == public_key("alice")
    assert alice.tls_certificate_fingerprint == tls_fingerprint("alice")
    assert alice.contact == "ops@alice.example"
    assert agreement.party("bob").contact is None

    policy = agreement.enclave.for_backend("sgx-dcap")
    assert policy.measurements == {MEASUREMENT, OTHER_MEASUREMENT}
    assert policy.signer == "ab" * 32
    assert policy.allow_debug is False
    assert policy.min_security_version == 2
    assert agreement.enclave.max_evidence_age_seconds == 120
    assert not agreement.enclave.allows_simulated
    assert agreement.enclave.warnings() == []

    everyone = frozenset({"alice", "bob", "carol"})
    assert agreement.rule_for("load") == ApprovalRule(3, everyone)
    assert agreement.rule_for("train") == ApprovalRule(2, everyone)
    assert agreement.rule_for("predict") == ApprovalRule(1, frozenset({"alice"}))
    assert agreement.rule_for("echo") == ApprovalRule(1, everyone)

    outputs = agreement.outputs
    assert outputs.models == {"alice", "bob"}
    assert outputs.may_receive_model("bob") and not outputs.may_receive_model("carol")
    assert outputs.metrics == everyone
    assert outputs.feature_importance == {"alice"}
    assert outputs.prediction_recipients("alice") == {"alice"}
    assert outputs.prediction_recipients("bob") == {"alice", "bob"}
    assert outputs.prediction_recipients("carol") == {"carol"}
    assert agreement.unverified_signatures == {}
    assert agreement.source == SOURCE


def test_the_description_may_span_lines() -> None:
    text = replace_once(
        BASE,
        'description = "Train a classifier on the joint mushroom data."',
        'description = """Train a classifier\non the joint data."""',
    )
    assert parse(text).description == "Train a classifier\non the joint data."


def test_defaults_are_filled_in() -> None:
    text = BASE[: BASE.index("[approvals]")]
    text = replace_once(text, "max_evidence_age_seconds = 120\n", "")
    text = replace_once(text, "min_security_version = 2\n", "")
    agreement = parse(text)
    everyone = frozenset({"alice", "bob", "carol"})
    assert agreement.approvals.default == ApprovalRule(3, everyone)
    assert dict(agreement.approvals.operations) == {}
    assert agreement.enclave.max_evidence_age_seconds == 300
    assert agreement.enclave.for_backend("sgx-dcap").min_security_version == 0
    assert agreement.outputs.models == frozenset()
    assert agreement.outputs.metrics == everyone
    assert agreement.outputs.feature_importance == everyone
    assert all(agreement.outputs.prediction_recipients(n) == {n} for n in everyone)


def test_an_agreement_without_parties_loads_but_approves_nothing() -> None:
    text = BASE.replace(party_block("alice", contact="ops@alice.example"), "")
    text = text.replace(party_block("bob"), "").replace(party_block("carol"), "")
    text = text[: text.index("[approvals]")]
    agreement = parse(text)
    assert agreement.parties == ()
    assert not agreement.rule_for("train").is_satisfied_by(["alice"])


def test_simulated_backend_is_accepted_when_listed_and_warned_about() -> None:
    start, end = BASE.index("[enclave]"), BASE.index("[approvals]")
    simulated = (
        '[enclave]\nbackends = ["simulated"]\n\n'
        f'[enclave.simulated]\nmeasurements = ["{MEASUREMENT}"]\n\n'
    )
    text = BASE[:start] + simulated + BASE[end:]
    agreement = parse(text)
    assert agreement.enclave.allows_simulated
    assert "NO protection" in agreement.enclave.warnings()[0]


def test_debug_enclaves_are_warned_about() -> None:
    text = replace_once(BASE, "min_security_version = 2\n", "allow_debug = true\n")
    agreement = parse(text)
    assert agreement.enclave.for_backend("sgx-dcap").allow_debug
    assert "debug sgx-dcap enclaves are accepted" in agreement.enclave.warnings()[0]


def test_load_agreement_reads_a_file_and_names_it(tmp_path: Path) -> None:
    path = tmp_path / "deal.toml"
    path.write_text(replace_once(BASE, 'name = "Mushroom study"', "name = 3"))
    with pytest.raises(ConfigurationError, match=rf"^{path} line 4: 'name' in \[agreement\]"):
        load_agreement(path)


def test_load_agreement_refuses_a_missing_or_binary_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read agreement"):
        load_agreement(tmp_path / "absent.toml")
    (tmp_path / "binary.toml").write_bytes(b"\xff\xfe name")
    with pytest.raises(ConfigurationError, match="not UTF-8"):
        load_agreement(tmp_path / "binary.toml")


# -- refusals: (change to BASE, the text on the offending line, words of the message) ---------

ALICE_KEY = f'signing_key = "{public_key("alice")}"'
BOB_KEY = f'signing_key = "{public_key("bob")}"'

CASES = [
    pytest.param(
        ('name = "Mushroom study"', 'name = "Mushroom study'),
        'name = "Mushroom study',
        ["not valid TOML"],
        id="toml-syntax",
    ),
    pytest.param(
        ('name = "Mushroom study"\n', ""),
        "[agreement]",
        ["[agreement] is missing the required key 'name'"],
        id="missing-required-key",
    ),
    pytest.param(
        ("max_evidence_age_seconds = 120", 'max_evidence_age_seconds = "120"'),
        "max_evidence_age_seconds",
        ["must be an integer, not a string"],
        id="wrong-type",
    ),
    pytest.param(
        ("max_evidence_age_seconds = 120", "max_evidence_age_seconds = 0"),
        "max_evidence_age_seconds",
        ["between 1 and 86400"],
        id="evidence-age-out-of-range",
    ),
    pytest.param(
        ('format = "accord-agreement/v1"', 'format = "accord-agreement/v2"'),
        "format =",
        ["this version of Accord reads 'accord-agreement/v1'"],
        id="unknown-format",
    ),
    pytest.param(
        ("created = 2025-06-01T12:00:00Z", "created = 2025-06-01T12:00:00"),
        "created =",
        ["with a time zone", "without a time zone"],
        id="created-without-zone",
    ),
    pytest.param(
        ("created = 2025-06-01T12:00:00Z", 'created = "2025-06-01"'),
        "created =",
        ["not a string"],
        id="created-as-string",
    ),
    pytest.param(
        ('name = "Mushroom study"', 'name = "  "'),
        'name = "  "',
        ["'name' in [agreement] is empty"],
        id="empty-name",
    ),
    pytest.param(
        ('name = "Mushroom study"', 'name = "Mushroom\\nstudy"'),
        "Mushroom",
        ["'name' in [agreement] must be one line of at most 1000 characters"],
        id="name-on-two-lines",
    ),
    pytest.param(
        ("[signatures]\n", "[signatures]\n\n[extras]\nx = 1\n"),
        "[extras]",
        ["unknown key 'extras' in the top level"],
        id="unknown-table",
    ),
    pytest.param(
        ('name = "bob"', 'name = "alice"'),
        ('name = "alice"', 2),
        ["party 'alice' has the same name (line 9)"],
        id="duplicate-party-name",
    ),
    pytest.param(
        (BOB_KEY, ALICE_KEY),
        (ALICE_KEY, 2),
        ["party 'bob' has the same signing_key as party 'alice' (line 10)"],
        id="duplicate-signing-key",
    ),
    pytest.param(
        (tls_fingerprint("carol"), tls_fingerprint("bob")),
        (tls_fingerprint("bob"), 2),
        ["party 'carol' has the same tls_certificate_fingerprint as party 'bob'"],
        id="duplicate-tls-certificate",
    ),
    pytest.param(
        (BOB_KEY, 'signing_key = "not base64!"'),
        "not base64!",
        ["signing_key of party 'bob' is not a base64 Ed25519 public key"],
        id="key-not-base64",
    ),
    pytest.param(
        (BOB_KEY, 'signing_key = "AAAA"'),
        'signing_key = "AAAA"',
        ["not a base64 Ed25519 public key (32 bytes)"],
        id="key-wrong-length",
    ),
    pytest.param(
        (tls_fingerprint("bob"), "12" * 31),
        "12" * 31,
        ["tls_certificate_fingerprint of party 'bob' must be 64 hexadecimal digits"],
        id="bad-fingerprint",
    ),
    pytest.param(
        ('name = "carol"', 'name = "Carol Smith"'),
        "Carol Smith",
        ["'Carol Smith' is not a valid party name"],
        id="bad-party-name",
    ),
    pytest.param(
        ('name = "carol"', 'name = "carol"\nemail = "c@example.org"'),
        "email =",
        ["unknown key 'email' in [[parties]] entry 3", "contact"],
        id="unknown-party-key",
    ),
    pytest.param(
        ('models = ["alice", "bob"]', 'models = [\n  "alice",\n  "dave",\n]'),
        '"dave"',
        ["'models' in [outputs] names unknown party 'dave'", "alice, bob, carol"],
        id="output-recipient-not-a-party",
    ),
    pytest.param(
        ('metrics = "all"', 'metrics = "everyone"'),
        "metrics =",
        ['must be "all" or a list of party names'],
        id="metrics-bad-keyword",
    ),
    pytest.param(
        ('models = ["alice", "bob"]', 'models = ["alice", "alice"]'),
        "models =",
        ["lists 'alice' twice"],
        id="duplicate-recipient",
    ),
    pytest.param(
        ('predictions = { bob = ["bob", "alice"] }', 'predictions = { dave = ["bob"] }'),
        "predictions =",
        ["names unknown data owner 'dave'"],
        id="predictions-unknown-owner",
    ),
    pytest.param(
        ('predictions = { bob = ["bob", "alice"] }', 'predictions = { bob = ["eve"] }'),
        "predictions =",
        ["recipients of predictions on bob's data names unknown party 'eve'"],
        id="predictions-unknown-recipient",
    ),
    pytest.param(
        ('predictions = { bob = ["bob", "alice"] }', 'predictions = "mine"'),
        "predictions =",
        ['must be "owner", "all" or a table'],
        id="predictions-bad-keyword",
    ),
    pytest.param(
        ('among = ["alice", "bob", "carol"]', 'among = ["alice", "bob", "dave"]'),
        "train =",
        ["the approval rule for 'train' names unknown party 'dave'"],
        id="rule-unknown-party",
    ),
    pytest.param(
        ('predict = { all_of = ["alice"] }', 'predict = { all_of = ["carl"] }'),
        "predict =",
        ["the approval rule for 'predict' names unknown party 'carl'"],
        id="all-of-unknown-party",
    ),
    pytest.param(
        ("k_of_n = 2,", "k_of_n = 4,"),
        "train =",
        ["needs 4 of 3 parties", "between 1 and 3"],
        id="k-greater-than-n",
    ),
    pytest.param(
        ("k_of_n = 2,", "k_of_n = 0,"),
        "train =",
        ["needs 0 of 3 parties"],
        id="k-less-than-one",
    ),
    pytest.param(
        ("k_of_n = 2,", "k_of_n = 1.5,"),
        "train =",
        ["must be an integer, not a float"],
        id="k-not-integer",
    ),
    pytest.param(
        ('predict = { all_of = ["alice"] }', "predict = { all_of = [] }"),
        "predict =",
        ["empty all_of list"],
        id="all-of-empty",
    ),
    pytest.param(
        ('predict = { all_of = ["alice"] }', 'predict = { all_of = ["alice"], k_of_n = 1 }'),
        "predict =",
        ["unknown key 'k_of_n'"],
        id="rule-mixes-forms",
    ),
    pytest.param(
        ('default = "all"', 'default = "any"'),
        "default =",
        ["the approval rule for 'default' must be \"all\"", "not 'any'"],
        id="rule-bad-keyword",
    ),
    pytest.param(
        ("echo = { k_of_n = 1 }", "trian = { k_of_n = 1 }"),
        "trian =",
        ["unknown key 'trian' in [approvals]; did you mean 'train'?"],
        id="unknown-operation",
    ),
    pytest.param(
        ('backends = ["sgx-dcap"]', 'backends = ["sgx-dcap", "nitro"]'),
        "backends =",
        ["unknown attestation backend 'nitro'"],
        id="unknown-backend",
    ),
    pytest.param(
        ('backends = ["sgx-dcap"]', "backends = []"),
        "backends =",
        ["backends is empty"],
        id="no-backend",
    ),
    pytest.param(
        ('backends = ["sgx-dcap"]', 'backends = ["sgx-dcap", "tdx"]'),
        "backends =",
        ["backend 'tdx' is accepted, but there is no [enclave.tdx] table"],
        id="backend-without-policy",
    ),
    pytest.param(
        ("[approvals]", '[enclave.tdx]\nmeasurements = ["' + "ab" * 48 + '"]\n\n[approvals]'),
        "[enclave.tdx]",
        ["[enclave.tdx] sets a policy for 'tdx', but backends does not list it"],
        id="policy-without-backend",
    ),
    pytest.param(
        ('backends = ["sgx-dcap"]', 'backends = ["sgx-dcap", "simulated"]'),
        "backends =",
        ["'simulated' cannot be combined with hardware backends"],
        id="simulated-with-hardware",
    ),
    pytest.param(
        (
            f'    "{MEASUREMENT}",\n    "{OTHER_MEASUREMENT}",\n',
            "",
        ),
        "measurements = [",
        ["[enclave.sgx-dcap] accepts no measurement"],
        id="empty-measurements",
    ),
    pytest.param(
        (f'    "{OTHER_MEASUREMENT}",', '    "abc",'),
        '"abc"',
        ["measurement 'abc' must be 64 hexadecimal digits"],
        id="measurement-too-short",
    ),
    pytest.param(
        (f'    "{OTHER_MEASUREMENT}",', f'    "{MEASUREMENT.upper()}",'),
        MEASUREMENT.upper(),
        ["lists", "twice"],
        id="duplicate-measurement",
    ),
    pytest.param(
        (f'"{OTHER_MEASUREMENT}"', '"' + "zz" * 32 + '"'),
        "zz" * 32,
        ["must be 64 hexadecimal digits"],
        id="measurement-not-hex",
    ),
    pytest.param(
        ("min_security_version = 2", "min_security_version = -1"),
        "min_security_version",
        ["between 0 and"],
        id="negative-security-version",
    ),
    pytest.param(
        ("min_security_version = 2", "allow_debug = 1"),
        "allow_debug",
        ["must be true or false, not an integer"],
        id="debug-not-boolean",
    ),
    pytest.param(
        ("min_security_version = 2", "alow_debug = false"),
        "alow_debug",
        ["did you mean 'allow_debug'?"],
        id="misspelt-enclave-key",
    ),
    pytest.param(
        ('signer = "' + "ab" * 32 + '"', 'signer = "abc"'),
        "signer =",
        ["signer 'abc' must be an even number (32 to 128) of hexadecimal digits"],
        id="bad-signer",
    ),
    pytest.param(
        ("[signatures]\n", '[signatures]\nalice = "c2lnbmF0dXJl"\n'),
        'alice = "c2lnbmF0dXJl"',
        ["the signature of 'alice' is not a base64 Ed25519 signature"],
        id="malformed-signature",
    ),
]


@pytest.mark.parametrize(("change", "line_text", "problem"), CASES)
def test_a_bad_agreement_is_refused_naming_file_line_and_problem(
    change: tuple[str, str], line_text: str | tuple[str, int], problem: list[str]
) -> None:
    text = replace_once(BASE, *change)
    needle, occurrence = line_text if isinstance(line_text, tuple) else (line_text, 1)
    refused(text, line_of(text, needle, occurrence), *problem)


def test_missing_enclave_table_is_refused() -> None:
    text = BASE[: BASE.index("[enclave]")] + BASE[BASE.index("[approvals]") :]
    refused(text, 1, "the required table [enclave] is missing")


def test_missing_agreement_table_is_refused() -> None:
    refused("[enclave]\nbackends = []\n", 1, "the required table [agreement] is missing")


def test_toml_error_at_end_of_document_names_the_last_line() -> None:
    text = BASE + 'x = """never closed\n'
    refused(text, text.count("\n") + 1, "not valid TOML")


def test_error_messages_have_a_hint() -> None:
    error = refused(replace_once(BASE, BOB_KEY, 'signing_key = "AAAA"'), line_of(BASE, BOB_KEY))
    assert "card.json" in error.hint
