"""Real parties, a signed agreement, sealed blobs and an in-process node for XGBoost tests.

alice and bob are the agreement's parties; every operation needs both approvals; only alice
may receive models; metrics and feature importance go to both; predictions on a party's
data go to that party only. mallory has a genuine identity but is no party.
"""

import datetime as dt
import hashlib
from pathlib import Path

from accord.agreement import (
    AgreementDocument,
    party_from_card,
    render_template,
    sign_agreement,
    verify_signatures,
)
from accord.crypto.keyrelease import seal_key_release
from accord.crypto.sealed import seal_file, unseal_bytes
from accord.enclave import EnclaveSession
from accord.enclave.blobs import BlobStore
from accord.enclave.commands import Approval, Command, sign_command
from accord.enclave.executor import BUILTIN_OPERATIONS, CommandRunner
from accord.party import Argon2Parameters, PartyIdentity
from accord.workloads.xgboost import XGBOOST_OPERATIONS

AGARICUS = Path(__file__).resolve().parents[4] / "src/accord/demo/data/agaricus"
ALICE_TRAIN = AGARICUS / "1_2agaricus.txt.train"
BOB_TRAIN = AGARICUS / "2_2agaricus.txt.train"
TEST = AGARICUS / "agaricus.txt.test"
PARAMS = {
    "objective": "binary:logistic",
    "max_depth": 3,
    "eta": 0.3,
    "tree_method": "hist",
    "seed": 0,
    "nthread": 1,
}
FAST = Argon2Parameters(iterations=1, lanes=1, memory_cost_kib=8)
CREATED = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
START = dt.datetime(2026, 11, 2, 12, 0, 0, tzinfo=dt.UTC)
MEASUREMENT = "ab" * 32


def _agreement(parties):
    text = render_template("xgboost", created=CREATED, measurements={"simulated": [MEASUREMENT]})
    document = AgreementDocument.parse(text, source="agreement.toml")
    for party in parties:
        document = document.with_party(party_from_card(party.card))
    text = document.text.replace("models = []", 'models = ["alice"]')
    document = AgreementDocument.parse(text, source="agreement.toml")
    for party in parties:
        signature = sign_agreement(document.agreement, party.signing_key, party=party.name)
        document = document.with_signature(party.name, signature)
    return verify_signatures(document.agreement)


class World:
    """Parties, agreement and a blob store shared by the tests of a module."""

    def __init__(self, directory):
        self.directory = directory
        self.alice, self.bob, self.mallory = (
            PartyIdentity.create(name, directory / name, passphrase=None, argon2=FAST)
            for name in ("alice", "bob", "mallory")
        )
        self.agreement = _agreement([self.alice, self.bob])
        self.blobs = BlobStore(directory / "blobs")
        self._sealed = 0

    def party(self, name):
        return {"alice": self.alice, "bob": self.bob, "mallory": self.mallory}[name]

    def seal(self, source, party, **options):
        """Seal ``source`` with ``party``'s key, store it as a blob and return the blob id."""
        self._sealed += 1
        sealed = self.directory / f"sealed-{self._sealed}"
        seal_file(source, sealed, party.data_key, **options)
        return self.store(sealed.read_bytes())

    def store(self, data):
        blob_id = hashlib.sha256(data).hexdigest()
        self.blobs.put(blob_id, [data])
        return blob_id

    def node(self, *provisioned):
        return Node(self, provisioned or (self.alice, self.bob))


class Node:
    """One enclave session with the XGBoost operations, driven through CommandRunner."""

    def __init__(self, world, provisioned):
        self.world = world
        self.session = EnclaveSession.create(world.agreement.digest)
        for party in provisioned:
            message = seal_key_release(
                data_key=party.data_key,
                party=party.name,
                signing_key=party.signing_key,
                session=self.session.public_keys,
            )
            self.session.accept_key_release(message, parties=world.agreement.party_keys)
        self.runner = CommandRunner(
            world.agreement,
            self.session,
            world.blobs,
            operations={**BUILTIN_OPERATIONS, **XGBOOST_OPERATIONS},
            now=lambda: START,
        )

    def command(self, operation, arguments, recipients=(), proposer="alice"):
        return Command.create(
            agreement_digest=self.world.agreement.digest,
            session_ids=[self.session.session_id],
            sequence=self.runner.gate.next_sequence,
            operation=operation,
            arguments=arguments,
            recipients=sorted(recipients),
            proposer=proposer,
            ttl=dt.timedelta(hours=1),
            now=lambda: START,
        )

    def run(self, operation, arguments, recipients=()):
        """Run a command that alice and bob approved; return the outcome."""
        command = self.command(operation, arguments, recipients)
        approvals = [
            Approval(p.name, sign_command(command, p.signing_key))
            for p in (self.world.alice, self.world.bob)
        ]
        return self.runner.run(command.to_bytes(), approvals)

    def ok(self, operation, arguments, recipients=()):
        """Run a command that must execute; return {(recipient, name): plaintext}."""
        outcome = self.run(operation, arguments, recipients)
        assert outcome.status == "executed", outcome.error
        return {
            (output.recipient, output.name): unseal_bytes(
                output.sealed, self.world.party(output.recipient).data_key
            )
            for output in outcome.outputs
        }

    def fails(self, operation, arguments, recipients=()):
        """Run a command that must fail; return its error message."""
        outcome = self.run(operation, arguments, recipients)
        assert outcome.status == "failed"
        assert outcome.outputs == ()
        return outcome.error
