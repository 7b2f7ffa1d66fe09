"""Helpers for the runtime integration tests: parties, the CLI as a subprocess, and a
malicious orchestrator that speaks the real node protocol."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

from accord.agreement import (
    AgreementDocument,
    party_from_card,
    render_template,
    sign_agreement,
)
from accord.attest import measure_installed_package
from accord.client.nodes import attest_node
from accord.cluster import processes
from accord.enclave.commands import Command, sign_command
from accord.party import PartyIdentity
from accord.party.keystore import Argon2Parameters
from accord.transport import call
from accord.v1 import common_pb2, node_pb2

FAST = Argon2Parameters(iterations=1, lanes=1, memory_cost_kib=8)
TIMEOUT = 10.0


def make_world(root: Path) -> dict:
    """alice and bob, who signed an agreement; mallory, a stranger with a valid identity."""
    parties = {
        name: PartyIdentity.create(name, root / name, passphrase=None, argon2=FAST)
        for name in ("alice", "bob", "mallory")
    }
    members = [parties["alice"], parties["bob"]]
    text = render_template(
        "runtime-test",
        created=dt.datetime.now(dt.UTC).replace(microsecond=0),
        measurements={"simulated": [measure_installed_package().digest]},
    )
    document = AgreementDocument.parse(text, source="agreement.toml")
    for party in members:
        document = document.with_party(party_from_card(party.card))
    for party in members:
        signature = sign_agreement(document.agreement, party.signing_key, party=party.name)
        document = document.with_signature(party.name, signature)
    document.save(root / "agreement.toml")
    return {
        "root": root,
        "parties": parties,
        "agreement_path": root / "agreement.toml",
        "certificates": [p.directory / "tls-cert.pem" for p in members],
    }


def run_cli(cluster, party_dir: Path, *args: str, timeout: float = 60.0, stdin=None):
    """Run the ``accord`` command line as ``party_dir``'s party against ``cluster``."""
    env = {
        **os.environ,
        "ACCORD_ORCHESTRATOR": cluster.orchestrator_address,
        "ACCORD_AGREEMENT": str(cluster.agreement_path),
        "ACCORD_PARTY": str(party_dir),
        "ACCORD_ORCHESTRATOR_CERT": str(cluster.orchestrator_certificate),
        "COLUMNS": "250",
    }
    return subprocess.run(
        [*processes.accord_command(), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        check=False,
    )


class MaliciousOrchestrator:
    """A compromised orchestrator: it calls the nodes directly with whatever it likes.

    It attests the nodes as the real orchestrator does (to reach them over pinned TLS), and
    then sends Execute requests with missing, forged, re-targeted or replayed approvals.
    """

    def __init__(self, agreement, node_addresses):
        self.agreement = agreement
        self.nodes = {
            node_id: attest_node(node_id, address, agreement=agreement, timeout=TIMEOUT)
            for node_id, address in node_addresses.items()
        }

    def close(self):
        for node in self.nodes.values():
            node.close()

    @property
    def session_ids(self):
        return sorted(node.session_id for node in self.nodes.values())

    def next_sequence(self):
        sequences = {node.status(timeout=TIMEOUT).next_sequence for node in self.nodes.values()}
        assert len(sequences) == 1, sequences
        return sequences.pop()

    def command(self, *, message="relayed", sequence=None, **changes):
        fields = {
            "agreement_digest": self.agreement.digest,
            "session_ids": self.session_ids,
            "sequence": sequence if sequence is not None else self.next_sequence(),
            "operation": "echo",
            "arguments": {"message": message},
            "recipients": ["alice"],
            "proposer": "alice",
            "ttl": dt.timedelta(minutes=5),
        }
        fields.update(changes)
        return Command.create(**fields)

    def execute(self, node_id, command_bytes: bytes, approvals):
        """Send Execute to one node; ``approvals`` are (party, signature) pairs."""
        node = self.nodes[node_id]
        request = node_pb2.ExecuteRequest(
            command=command_bytes,
            approvals=[common_pb2.Approval(party=p, signature=s) for p, s in approvals],
        )
        return call(node.stub.Execute, request, peer=node.peer, timeout=TIMEOUT)

    def audit_logs(self):
        return {
            node_id: node.audit_entries(timeout=TIMEOUT) for node_id, node in self.nodes.items()
        }


def approvals(command, *signers):
    """Real approvals of ``command`` by the given identities."""
    return [(signer.name, sign_command(command, signer.signing_key)) for signer in signers]
