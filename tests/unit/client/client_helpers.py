"""Parties, a signed agreement and an in-process runtime (nodes + orchestrator) for SDK tests.

The nodes and the orchestrator are the real servers (accord.enclave.server and
accord.orchestrator.server) started in this process on loopback, so the SDK talks real gRPC
over real TLS to them; only the process boundary is missing (tests/integration/runtime has it).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from accord.agreement import (
    AgreementDocument,
    party_from_card,
    render_template,
    sign_agreement,
)
from accord.attest import measure_installed_package
from accord.enclave.blobs import BlobStore
from accord.enclave.server import RunningNode, start_node
from accord.orchestrator.config import NodeConfig, OrchestratorConfig
from accord.orchestrator.server import RunningOrchestrator, start_orchestrator
from accord.party import PartyIdentity
from accord.party.keystore import Argon2Parameters

FAST = Argon2Parameters(iterations=1, lanes=1, memory_cost_kib=8)


class Clock:
    """The real time plus an offset that a test can move."""

    def __init__(self):
        self.offset = dt.timedelta(0)

    def __call__(self):
        return dt.datetime.now(dt.UTC) + self.offset


def make_parties(root: Path, names) -> dict[str, PartyIdentity]:
    return {
        name: PartyIdentity.create(name, root / name, passphrase=None, argon2=FAST)
        for name in names
    }


def write_agreement(path: Path, parties, *, name="study") -> Path:
    """Write an agreement accepting this code's simulated enclaves, signed by ``parties``."""
    text = render_template(
        name,
        created=dt.datetime.now(dt.UTC).replace(microsecond=0),
        measurements={"simulated": [measure_installed_package().digest]},
    )
    document = AgreementDocument.parse(text, source=str(path))
    for party in parties:
        document = document.with_party(party_from_card(party.card))
    for party in parties:
        signature = sign_agreement(document.agreement, party.signing_key, party=party.name)
        document = document.with_signature(party.name, signature)
    document.save(path)
    return path


class InProcessRuntime:
    """Enclave nodes and an orchestrator served from this process."""

    def __init__(self, root: Path, agreement, agreement_path: Path, parties, *, nodes=2, **config):
        self.root = root
        self.agreement = agreement
        self.nodes: dict[str, RunningNode] = {}
        for index in range(1, nodes + 1):
            self.nodes[f"node-{index}"] = self._start_node(f"node-{index}", "127.0.0.1:0")
        self.orchestrator: RunningOrchestrator = start_orchestrator(
            OrchestratorConfig(
                listen="127.0.0.1:0",
                agreement_path=agreement_path,
                data_dir=root / "orchestrator",
                nodes=tuple(NodeConfig(n, r.address) for n, r in self.nodes.items()),
                party_certificates=tuple(p.directory / "tls-cert.pem" for p in parties),
                **config,
            )
        )

    def _start_node(self, node_id: str, listen: str) -> RunningNode:
        blobs = BlobStore(self.root / node_id / "blobs")
        return start_node(self.agreement, listen=listen, blobs=blobs, backend="simulated")

    def restart_node(self, node_id: str) -> RunningNode:
        old = self.nodes[node_id]
        old.stop(grace=0)
        self.nodes[node_id] = self._start_node(node_id, old.address)
        return self.nodes[node_id]

    @property
    def address(self) -> str:
        return self.orchestrator.address

    @property
    def certificate(self) -> Path:
        return self.orchestrator.certificate_path

    def stop(self) -> None:
        self.orchestrator.stop(grace=0)
        for node in self.nodes.values():
            node.stop(grace=0)
