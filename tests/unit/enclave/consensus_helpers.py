"""Real parties, a signed agreement and commands for the consensus, audit and executor tests.

alice, bob and carol are parties of the agreement; carol signs no command. mallory has a
genuine identity but is not a party. The agreement's echo rule is 2 of alice, bob, carol;
every other operation needs all three; only alice may receive models.
"""

import dataclasses
import datetime as dt

from accord.agreement import (
    AgreementDocument,
    party_from_card,
    render_template,
    sign_agreement,
    verify_signatures,
)
from accord.crypto.keyrelease import seal_key_release
from accord.enclave.commands import Approval, Command, sign_command
from accord.party import Argon2Parameters, PartyIdentity

FAST = Argon2Parameters(iterations=1, lanes=1, memory_cost_kib=8)
CREATED = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
START = dt.datetime(2026, 11, 2, 12, 0, 0, tzinfo=dt.UTC)
TTL = dt.timedelta(hours=1)
MEASUREMENT = "ab" * 32


class Clock:
    """A settable clock for expiry tests."""

    def __init__(self, now=START):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, delta):
        self.now += delta


def make_party(directory, name):
    return PartyIdentity.create(name, directory / name, passphrase=None, argon2=FAST)


def signed_agreement(parties, name="study"):
    text = render_template(name, created=CREATED, measurements={"simulated": [MEASUREMENT]})
    document = AgreementDocument.parse(text, source="agreement.toml")
    for party in parties:
        document = document.with_party(party_from_card(party.card))
    text = document.text.replace(
        "# train = { k_of_n = 2 }",
        'echo = { k_of_n = 2, among = ["alice", "bob", "carol"] }',
    ).replace("models = []", 'models = ["alice"]')
    document = AgreementDocument.parse(text, source="agreement.toml")
    for party in parties:
        signature = sign_agreement(document.agreement, party.signing_key, party=party.name)
        document = document.with_signature(party.name, signature)
    return verify_signatures(document.agreement)


def make_command(agreement, session_ids, *, sequence=1, clock=None, **changes):
    now = clock or Clock()
    fields = {
        "agreement_digest": agreement.digest,
        "session_ids": list(session_ids),
        "sequence": sequence,
        "operation": "echo",
        "arguments": {"message": "hello from alice"},
        "recipients": ["alice", "bob"],
        "proposer": "alice",
        "ttl": TTL,
        "now": now,
    }
    fields.update(changes)
    return Command.create(**fields)


def approve(command, *parties):
    return [Approval(party.name, sign_command(command, party.signing_key)) for party in parties]


def provision(session, agreement, *parties):
    for party in parties:
        message = seal_key_release(
            data_key=party.data_key,
            party=party.name,
            signing_key=party.signing_key,
            session=session.public_keys,
        )
        session.accept_key_release(message, parties=agreement.party_keys)


def replace(command, **changes):
    """Return a copy of ``command`` with fields changed (a new digest)."""
    return dataclasses.replace(command, **changes)


class NoBlobs:
    """A blob store holding nothing (echo needs none)."""

    def path(self, blob_id):
        raise AssertionError(f"echo must not read blobs, asked for {blob_id}")


class World:
    """The parties and the signed agreement every test shares."""

    def __init__(self, directory):
        self.alice, self.bob, self.carol, self.mallory = (
            make_party(directory, name) for name in ("alice", "bob", "carol", "mallory")
        )
        self.agreement = signed_agreement([self.alice, self.bob, self.carol])
