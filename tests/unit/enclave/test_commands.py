"""The command document: construction, strict parsing, rendering and signatures."""

import datetime as dt
import hashlib
import json
import os

import pytest
from consensus_helpers import START, Clock, World, make_command, replace

from accord._internal.canonical import canonical_json
from accord.crypto.keys import SigningKey
from accord.enclave.commands import (
    COMMAND_FORMAT,
    MAX_COMMAND_BYTES,
    Approval,
    Command,
    format_timestamp,
    sign_command,
    sign_rejection,
    verify_approval,
    verify_rejection,
)
from accord.errors import UsageError, VerificationError

SESSION = "5e" * 16
OTHER_SESSION = "0a" * 16


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return World(tmp_path_factory.mktemp("parties"))


@pytest.fixture
def command(world):
    return make_command(world.agreement, [SESSION, OTHER_SESSION])


def wire(command):
    return json.loads(command.to_bytes())


def test_round_trip_keeps_every_field_and_the_digest(command):
    parsed = Command.from_bytes(command.to_bytes())
    assert parsed == command
    assert parsed.digest == command.digest == hashlib.sha256(command.to_bytes()).hexdigest()
    assert parsed.session_ids == (OTHER_SESSION, SESSION)
    assert parsed.recipients == ("alice", "bob")
    assert parsed.created_at == START
    assert parsed.expires_at == START + dt.timedelta(hours=1)
    assert wire(command)["format"] == COMMAND_FORMAT
    assert wire(command)["created_at"] == "2026-11-02T12:00:00Z"


def test_lists_are_sorted_so_equal_commands_have_equal_digests(world):
    one = make_command(world.agreement, [SESSION, OTHER_SESSION], recipients=["bob", "alice"])
    two = make_command(world.agreement, [OTHER_SESSION, SESSION], recipients=["alice", "bob"])
    assert one.digest == two.digest
    assert hash(one) == hash(two)


def test_create_drops_fractions_of_a_second(world):
    clock = Clock(START + dt.timedelta(microseconds=999_999))
    command = make_command(world.agreement, [SESSION], clock=clock)
    assert command.created_at == START


def test_arguments_are_read_only(world):
    command = make_command(world.agreement, [SESSION], arguments={"nested": {"list": [1, 2]}})
    with pytest.raises(TypeError):
        command.arguments["nested"]["list"] = 3  # type: ignore[index]
    assert command.arguments["nested"]["list"] == (1, 2)
    assert command.to_object()["arguments"] == {"nested": {"list": [1, 2]}}


def test_describe_shows_every_field(command):
    text = command.describe()
    for expected in (
        command.digest,
        command.agreement_digest,
        SESSION,
        OTHER_SESSION,
        "sequence:    1",
        "operation:   echo",
        "proposer:    alice",
        "recipients:  alice, bob",
        "2026-11-02T12:00:00Z",
        "2026-11-02T13:00:00Z",
        '"message": "hello from alice"',
    ):
        assert expected in text


def test_describe_escapes_characters_that_could_disguise_what_is_signed(world):
    hidden = "pay alice\u202e\u0007 100"
    command = make_command(world.agreement, [SESSION], arguments={"message": hidden})
    text = command.describe()
    assert "\u202e" not in text and "\u0007" not in text
    assert "\\u202e" in text and "\\u0007" in text


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda o: o.pop("proposer"), "lacks field 'proposer'"),
        (lambda o: o.update(extra=1), "unknown field 'extra'"),
        (lambda o: o.update(format="accord-command/v2"), "format 'accord-command/v2'"),
        (lambda o: o.update(agreement_digest="AB" * 32), "'agreement_digest' must be 64"),
        (lambda o: o.update(session_ids=[]), "at least one node session"),
        (lambda o: o.update(session_ids=["5e" * 15]), "'session_ids' must be 32"),
        (lambda o: o.update(session_ids=[SESSION, OTHER_SESSION]), "sorted"),
        (lambda o: o.update(recipients=["bob", "alice"]), "'recipients' must be sorted"),
        (lambda o: o.update(recipients=["alice", "alice"]), "without duplicates"),
        (lambda o: o.update(recipients="alice"), "'recipients' must be a list"),
        (lambda o: o.update(sequence=0), "'sequence' must be from 1"),
        (lambda o: o.update(sequence=True), "'sequence' must be an integer"),
        (lambda o: o.update(sequence="1"), "'sequence' must be an integer"),
        (lambda o: o.update(operation="format_disk"), "'operation' is 'format_disk'"),
        (lambda o: o.update(arguments=[]), "'arguments' must be a JSON object"),
        (lambda o: o.update(proposer=""), "party name"),
        (lambda o: o.update(created_at="2026-11-02T12:00:00.5Z"), "'created_at' must be an RFC"),
        (lambda o: o.update(expires_at="2026-11-02 13:00:00"), "'expires_at' must be an RFC"),
        (lambda o: o.update(expires_at="2026-02-30T13:00:00Z"), "not a valid date"),
        (lambda o: o.update(expires_at=o["created_at"]), "must be after 'created_at'"),
        (lambda o: o.update(expires_at="2027-11-02T12:00:00Z"), "at most 30 days"),
    ],
)
def test_malformed_commands_are_refused_naming_the_field(command, mutate, match):
    obj = wire(command)
    mutate(obj)
    with pytest.raises(VerificationError, match=match):
        Command.from_bytes(canonical_json(obj))


def test_non_canonical_bytes_are_refused(command):
    spaced = json.dumps(wire(command), indent=1).encode()
    with pytest.raises(VerificationError, match="not in canonical form"):
        Command.from_bytes(spaced)


def test_non_canonical_numbers_are_refused(world):
    command = make_command(world.agreement, [SESSION], arguments={"eta": 1})
    data = command.to_bytes().replace(b'"eta":1', b'"eta":1.0')
    with pytest.raises(VerificationError, match="not in canonical form"):
        Command.from_bytes(data)


def test_duplicate_json_keys_are_refused(command):
    data = command.to_bytes().replace(b'"sequence":1', b'"sequence":1,"sequence":2')
    with pytest.raises(VerificationError, match="duplicate key 'sequence'"):
        Command.from_bytes(data)


def test_oversized_commands_are_refused_before_parsing():
    with pytest.raises(VerificationError, match="more than the limit"):
        Command.from_bytes(b" " * (MAX_COMMAND_BYTES + 1))


def test_integers_beyond_json_precision_are_refused(command):
    obj = wire(command)
    data = canonical_json(obj).replace(b'"sequence":1', b'"sequence":9007199254740993')
    with pytest.raises(VerificationError, match="'sequence' must be from 1"):
        Command.from_bytes(data)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"created_at": dt.datetime(2026, 11, 2)}, "timezone-aware"),
        ({"created_at": START.replace(microsecond=5)}, "whole second"),
        ({"expires_at": START + dt.timedelta(days=31)}, "at most 30 days"),
        ({"arguments": {"blob": b"raw"}}, "bytes, which JSON cannot carry"),
        ({"arguments": {"n": 2**60}}, "beyond 2\\*\\*53"),
        ({"arguments": {"x": float("nan")}}, "not finite"),
        ({"arguments": {1: "x"}}, "key that is not a string"),
        ({"session_ids": (SESSION, SESSION)}, "names the same entry twice"),
        ({"recipients": ("ali\nce",)}, "printable"),
    ],
)
def test_building_a_malformed_command_is_a_usage_error(command, changes, match):
    with pytest.raises(UsageError, match=match):
        replace(command, **changes)


def test_format_timestamp_refuses_naive_times():
    with pytest.raises(UsageError, match="timezone-aware"):
        format_timestamp(dt.datetime(2026, 1, 1))


def test_an_approval_verifies_only_for_its_command_party_and_purpose(world, command):
    alice = world.alice
    approval = Approval("alice", sign_command(command, alice.signing_key))
    verify_approval(command.digest, approval, alice.signing_key.verify_key)

    other = replace(command, sequence=2)
    with pytest.raises(VerificationError, match="approval by party alice does not verify"):
        verify_approval(other.digest, approval, alice.signing_key.verify_key)
    with pytest.raises(VerificationError, match="approval by party alice"):
        verify_approval(command.digest, approval, world.bob.signing_key.verify_key)
    rejection = Approval("alice", sign_rejection(command, alice.signing_key))
    with pytest.raises(VerificationError, match="another purpose"):
        verify_approval(command.digest, rejection, alice.signing_key.verify_key)


def test_a_rejection_verifies_and_an_approval_is_not_a_rejection(world, command):
    key = world.bob.signing_key
    verify_rejection(command.digest, "bob", sign_rejection(command, key), key.verify_key)
    with pytest.raises(VerificationError, match="rejection by party bob"):
        verify_rejection(command.digest, "bob", sign_command(command, key), key.verify_key)


@pytest.mark.parametrize("signature", [b"", os.urandom(63), os.urandom(65)])
def test_signatures_of_the_wrong_size_are_refused(command, signature):
    key = SigningKey.generate().verify_key
    with pytest.raises(VerificationError, match="an Ed25519 signature is 64 bytes"):
        verify_approval(command.digest, Approval("bob", signature), key)


def test_approval_repr_shows_no_whole_signature(world, command):
    signature = sign_command(command, world.alice.signing_key)
    assert signature.hex() not in repr(Approval("alice", signature))
