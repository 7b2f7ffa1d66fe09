"""Real parties, a signed agreement, commands and configurations for the orchestrator tests.

alice, bob and carol are the parties; mallory has a genuine identity but is not a party.
Rules: ``echo`` needs alice and bob; ``train`` needs 2 of the three; ``predict`` needs
alice alone; everything else needs all three. The agreement accepts simulated enclaves of
this very code (its measurement), so real nodes started in-process attest.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import textwrap
from pathlib import Path

from accord.agreement import (
    AgreementDocument,
    party_from_card,
    render_template,
    sign_agreement,
    verify_signatures,
)
from accord.attest import measure_installed_package
from accord.enclave.commands import Approval, Command, sign_command, sign_rejection
from accord.orchestrator import ProposalBook, ProposalStore
from accord.party import Argon2Parameters, PartyIdentity

FAST = Argon2Parameters(iterations=1, lanes=1, memory_cost_kib=8)
CREATED = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
TTL = dt.timedelta(minutes=10)
SESSION = "5e" * 16
PARTY_NAMES = ("alice", "bob", "carol")


class Clock:
    """A settable clock for expiry tests (starts at the real time, whole seconds)."""

    def __init__(self, now: dt.datetime | None = None) -> None:
        self.now = now or dt.datetime.now(dt.UTC).replace(microsecond=0)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def make_party(root: Path, name: str) -> PartyIdentity:
    return PartyIdentity.create(name, root / name, passphrase=None, argon2=FAST)


@functools.cache
def measurement() -> str:
    return measure_installed_package().digest


def write_signed_agreement(parties, path: Path):
    """Write the agreement file every party signed and return the SignedAgreement."""
    text = render_template(
        "orchestrator-study", created=CREATED, measurements={"simulated": [measurement()]}
    )
    document = AgreementDocument.parse(text, source=str(path))
    for party in parties:
        document = document.with_party(party_from_card(party.card))
    text = document.text.replace(
        "# train = { k_of_n = 2 }",
        'echo = { all_of = ["alice", "bob"] }\n'
        "train = { k_of_n = 2 }\n"
        'predict = { all_of = ["alice"] }',
    )
    document = AgreementDocument.parse(text, source=str(path))
    for party in parties:
        signature = sign_agreement(document.agreement, party.signing_key, party=party.name)
        document = document.with_signature(party.name, signature)
    document.save(path)
    return verify_signatures(AgreementDocument.load(path).agreement)


def make_command(agreement, *, clock=None, session_ids=(SESSION,), **changes) -> Command:
    fields = {
        "agreement_digest": agreement.digest,
        "session_ids": list(session_ids),
        "sequence": 1,
        "operation": "echo",
        "arguments": {"message": "hello from alice"},
        "recipients": ["alice", "bob"],
        "proposer": "alice",
        "ttl": TTL,
        "now": clock or Clock(),
    }
    fields.update(changes)
    return Command.create(**fields)


def approval(command: Command, party: PartyIdentity) -> Approval:
    return Approval(party.name, sign_command(command, party.signing_key))


def rejection(command: Command, party: PartyIdentity) -> bytes:
    return sign_rejection(command, party.signing_key)


def open_book(path: Path, agreement, clock, *, max_ttl=dt.timedelta(hours=1)) -> ProposalBook:
    return ProposalBook(ProposalStore(path), agreement, max_ttl=max_ttl, now=clock)


def blob_id_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_config(
    directory: Path, agreement_path: Path, parties, *, nodes=(), execute_timeout=10, extra=""
) -> Path:
    """Write an orchestrator.toml listening on 127.0.0.1:0 and return its path."""
    certificates = ", ".join(f'"{party.directory / "tls-cert.pem"}"' for party in parties)
    node_tables = "".join(
        f'\n[[nodes]]\nid = "{node_id}"\naddress = "{address}"\n' for node_id, address in nodes
    )
    text = textwrap.dedent(
        f"""\
        listen = "127.0.0.1:0"
        agreement = "{agreement_path}"
        data_dir = "data"
        party_certificates = [{certificates}]
        execute_timeout_seconds = {execute_timeout}
        """
    )
    path = directory / "orchestrator.toml"
    path.write_text(text + extra + node_tables)
    return path
