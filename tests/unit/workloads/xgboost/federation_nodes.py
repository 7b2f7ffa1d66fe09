"""Real enclave nodes in this process for the federation tests, and the agreements they run.

``measured_agreement`` accepts simulated enclaves of this very code (its measurement), so a
node started with it attests; ``foreign_agreement`` is another collaboration's agreement.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from pathlib import Path

from accord.agreement import (
    AgreementDocument,
    party_from_card,
    render_template,
    sign_agreement,
    verify_signatures,
)
from accord.attest import measure_installed_package
from accord.enclave import EnclaveSession
from accord.enclave.blobs import BlobStore
from accord.enclave.commands import Command
from accord.enclave.server import start_node
from accord.party import Argon2Parameters, PartyIdentity
from accord.workloads.xgboost.federation import NodeFederation

FAST = Argon2Parameters(iterations=1, lanes=1, memory_cost_kib=8)
CREATED = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


@functools.cache
def _measurement() -> str:
    return measure_installed_package().digest


def signed_agreement(root: Path, name: str, *, measurement: str | None = None):
    """An agreement between alice and bob (created under ``root``), signed by both."""
    parties = [
        PartyIdentity.create(party, root / name / party, passphrase=None, argon2=FAST)
        for party in ("alice", "bob")
    ]
    text = render_template(
        name, created=CREATED, measurements={"simulated": [measurement or _measurement()]}
    )
    document = AgreementDocument.parse(text, source="agreement.toml")
    for party in parties:
        document = document.with_party(party_from_card(party.card))
    for party in parties:
        signature = sign_agreement(document.agreement, party.signing_key, party=party.name)
        document = document.with_signature(party.name, signature)
    return verify_signatures(document.agreement)


def node(agreement, root: Path):
    """Start a real node (gRPC over the session's attested TLS key) on a free local port."""
    return start_node(
        agreement, listen="127.0.0.1:0", blobs=BlobStore(root / "blobs"), backend="simulated"
    )


def federation_of(running) -> NodeFederation:
    """The federation state a running node keeps in its workspace."""
    found = running.servicer.runner.executor.workspace.find(NodeFederation)
    assert found is not None
    return found


def local_federation(agreement) -> tuple[NodeFederation, EnclaveSession]:
    """A federation state for a session of this test process (the node that checks peers)."""
    session = EnclaveSession.create(agreement.digest)
    return NodeFederation(agreement, session), session


def command(agreement, session_ids, arguments, operation="train") -> Command:
    """A command for ``session_ids`` (not signed: the federation code reads it only)."""
    return Command.create(
        agreement_digest=agreement.digest,
        session_ids=sorted(session_ids),
        sequence=1,
        operation=operation,
        arguments=arguments,
        recipients=[],
        proposer="alice",
        ttl=dt.timedelta(hours=1),
    )


def fake_session(label: str) -> str:
    """A well-formed session id that no node has."""
    return hashlib.sha256(label.encode()).hexdigest()[:32]
