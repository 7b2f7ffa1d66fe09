"""Demo steps against the cloud side: start it, connect, upload ciphertext, attest, release keys.

The cloud is a :class:`~accord.cluster.LocalCluster`: ``accord orchestrator`` and ``accord
node`` as real processes on loopback, exactly as the parties would meet them in a cloud.
Each party works through its own :class:`~accord.client.Client`.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from accord.attest import AccordSecurityWarning
from accord.client import Client
from accord.client.xgboost import AccordXGBoost, Dataset
from accord.cluster import LocalCluster
from accord.demo.narration import Narrator
from accord.demo.party_steps import PartyOutcome
from accord.party import PartyIdentity

__all__ = [
    "attest_and_provision",
    "connect_parties",
    "quiet_insecure_log",
    "start_cloud",
    "upload_data",
]


def start_cloud(
    agreement_path: Path,
    identities: Mapping[str, PartyIdentity],
    work_dir: Path,
    nodes: int,
    narrator: Narrator,
) -> LocalCluster:
    """Start the orchestrator and ``nodes`` enclave nodes; the caller stops the cluster."""
    cluster = LocalCluster(
        work_dir / "cloud",
        agreement_path,
        [identity.directory / "tls-cert.pem" for identity in identities.values()],
        nodes=nodes,
        execute_timeout_seconds=120,
        sweep_interval_seconds=1,
        stop_grace=3,
    )
    cluster.start()
    for node_id, address in cluster.node_addresses.items():
        narrator.say(
            node_id,
            f"enclave session {cluster.node_sessions[node_id][:16]}.. serves on {address} "
            f"(process {cluster.node_pid(node_id)}, keys in memory only)",
        )
    narrator.say(
        "cloud",
        f"orchestrator on {cluster.orchestrator_address}: stores ciphertext, relays "
        "proposals; trusted by nobody",
    )
    narrator.banner(
        "SIMULATED enclaves: the node processes run the measured code, but nothing stops "
        "the host from reading their memory. Development only; the agreement allows it."
    )
    narrator.say("cloud", f"logs in {cluster.log_dir}")
    return cluster


def connect_parties(
    cluster: LocalCluster, identities: Mapping[str, PartyIdentity], narrator: Narrator
) -> dict[str, Client]:
    """Connect each party to the orchestrator (mutual TLS, the orchestrator's cert pinned)."""
    clients = {}
    for name, identity in identities.items():
        clients[name] = cluster.connect(identity, timeout=30)
    narrator.say(
        "parties",
        "connect to the orchestrator over mutual TLS (their certificates are in the agreement)",
    )
    return clients


def upload_data(
    clients: Mapping[str, Client], outcomes: Sequence[PartyOutcome], narrator: Narrator
) -> dict[tuple[str, str], Dataset]:
    """Each party uploads its sealed files; return them as datasets for ``load``."""
    datasets = {}
    for outcome in outcomes:
        xgb = AccordXGBoost(clients[outcome.name])
        for kind, sealed in outcome.sealed.items():
            dataset = xgb.upload(sealed, f"{outcome.name}_{kind}")
            datasets[outcome.name, kind] = dataset
            narrator.say(
                outcome.name,
                f"uploaded {sealed.name} ({sealed.stat().st_size:,} bytes of ciphertext): "
                f"blob {dataset.blob[:16]}..",
            )
    return datasets


@contextlib.contextmanager
def quiet_insecure_log() -> Iterator[list[str]]:
    """Collect the security warnings of attestation instead of logging each one.

    Yields the warning texts; the demo shows them once, loudly, per party.
    """
    seen: list[str] = []
    log = logging.getLogger("accord.attest")
    previous = log.disabled
    log.disabled = True
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", AccordSecurityWarning)
            yield seen
            seen.extend(str(w.message) for w in caught if w.category is AccordSecurityWarning)
    finally:
        log.disabled = previous


def attest_and_provision(
    clients: Mapping[str, Client], outcomes: Sequence[PartyOutcome], narrator: Narrator
) -> None:
    """Each party verifies every node's evidence itself, then releases its data key to it."""
    for outcome in outcomes:
        client = clients[outcome.name]
        with quiet_insecure_log() as insecure:
            evidence = client.attest()
        for node_id, verified in sorted(evidence.items()):
            claims = verified.evidence.claims
            narrator.say(
                outcome.name,
                f"verified {node_id}: backend {claims.backend}, measurement "
                f"{(claims.measurement or '')[:16]}.. (in the agreement), debug {claims.debug}, "
                f"fresh nonce, TLS key pinned",
            )
        if insecure:
            narrator.warn(
                f"{outcome.name} accepted simulated evidence from {len(insecure)} node(s): "
                "NO protection against the host (the agreement allows it for this demo)"
            )
        accepted = client.provision()
        outcome.key_released_to = sorted(
            node for node, key_id in accepted.items() if key_id == outcome.key_id
        )
        narrator.say(
            outcome.name,
            f"released data key {outcome.key_id[:16]}.. to "
            f"{', '.join(outcome.key_released_to) or 'no node'} "
            "(HPKE-sealed to each session, signed)",
        )
