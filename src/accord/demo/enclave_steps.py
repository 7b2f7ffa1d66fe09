"""Demo steps on the trust path: agree, attest, release keys, compute inside the enclave."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.table import Table

from accord.agreement import SignedAgreement
from accord.attest import AccordSecurityWarning
from accord.attest.backends import SimulatedQuoter
from accord.client import new_nonce, release_data_key, verify_enclave
from accord.crypto.sealed import LibSvmBatch, SealedReader
from accord.demo.collaboration import draft_and_sign_agreement
from accord.demo.narration import Narrator
from accord.enclave import EnclaveSession
from accord.enclave.attestation import attest_session
from accord.errors import UsageError
from accord.party import PartyIdentity

__all__ = ["JointStatistics", "agree", "attest_and_provision", "joint_statistics"]


@dataclass(frozen=True)
class JointStatistics:
    """Aggregates the enclave computes over every party's rows (no record leaves it)."""

    rows_by_party: Mapping[str, int]
    positives: int
    features: int

    @property
    def rows(self) -> int:
        """All rows of all parties."""
        return sum(self.rows_by_party.values())


def agree(parties: Sequence[PartyIdentity], work_dir: Path, narrator: Narrator) -> SignedAgreement:
    """Draft the agreement, have every party sign it, and show what they signed."""
    path = work_dir / "agreement.toml"
    agreement = draft_and_sign_agreement("agaricus-demo", parties, path)
    first = parties[0].name
    narrator.say(first, f"drafts {path.name}; every party reviews it and signs its digest")
    narrator.say("agreement", f"digest {agreement.digest}")
    table = Table("what", "the agreement says")
    table.add_row("parties", ", ".join(p.name for p in agreement.parties))
    for backend in sorted(agreement.enclave.backends):
        policy = agreement.enclave.for_backend(backend)
        for measurement in sorted(policy.measurements):
            table.add_row("enclave", f"{backend} measurement {measurement[:24]}..")
    table.add_row("train needs", agreement.rule_for("train").describe())
    table.add_row("models go to", ", ".join(agreement.outputs.models) or "nobody")
    narrator.table(table)
    if agreement.enclave.allows_simulated:
        narrator.warn(
            "this agreement accepts SIMULATED enclaves: fine for a demo, no protection "
            "against the host; real data needs sgx-dcap, tdx or sev-snp"
        )
    return agreement


def attest_and_provision(
    agreement: SignedAgreement,
    parties: Sequence[PartyIdentity],
    narrator: Narrator,
) -> EnclaveSession:
    """Start an enclave session; each party attests it and releases its data key to it."""
    session = EnclaveSession.create(agreement.digest)
    quoter = SimulatedQuoter()
    narrator.say(
        "enclave",
        f"session {session.session_id[:16]}.. started with agreement {agreement.digest[:16]}.. "
        "(simulated backend, in this process)",
    )
    for party in parties:
        nonce = new_nonce()
        bundle = attest_session(session, quoter, nonce).to_bytes()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", AccordSecurityWarning)
            verified = verify_enclave(bundle, agreement=agreement, nonce=nonce)
        claims = verified.evidence.claims
        narrator.say(
            party.name,
            f"verified evidence: backend {claims.backend}, measurement "
            f"{(claims.measurement or '')[:16]}.., debug {claims.debug}, nonce bound",
        )
        if not any(issubclass(w.category, AccordSecurityWarning) for w in caught):
            narrator.say(party.name, "evidence comes from hardware the agreement accepts")
        message = release_data_key(party, verified, agreement=agreement)
        key_id = session.accept_key_release(message, parties=agreement.party_keys)
        narrator.say(
            "enclave",
            f"accepted {party.name}'s data key {key_id[:16]}.. (HPKE, signed by {party.name})",
        )
    return session


def joint_statistics(
    session: EnclaveSession,
    sealed_files: Mapping[str, Path],
    owners: Mapping[str, PartyIdentity],
    narrator: Narrator,
) -> JointStatistics:
    """Inside the enclave: open every party's sealed file and aggregate the joint data."""
    rows_by_party: dict[str, int] = {}
    positives = 0
    features = 0
    for name, path in sealed_files.items():
        key = session.data_key(owners[name].data_key.key_id, owner=name)
        with SealedReader.open(path, key) as reader:
            rows = 0
            for batch in reader.iter_batches():
                if not isinstance(batch, LibSvmBatch):
                    raise UsageError(f"{path} does not hold LibSVM data; the demo expects it")
                rows += batch.num_rows
                positives += int(np.count_nonzero(batch.labels > 0.5))
                if batch.indices.size:
                    features = max(features, int(batch.indices.max()) + 1)
        rows_by_party[name] = rows
        narrator.say("enclave", f"authenticated and parsed {name}'s {rows} rows in memory")
    stats = JointStatistics(rows_by_party=rows_by_party, positives=positives, features=features)
    narrator.say(
        "enclave",
        f"joint data: {stats.rows} rows, {stats.features} features, "
        f"{stats.positives / max(stats.rows, 1):.1%} positive (aggregates only leave it)",
    )
    return stats
