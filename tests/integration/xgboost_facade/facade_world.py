"""alice and bob, an agreement that releases models to alice only, their sealed agaricus data,
and a helper that approves as the other party would (on its own machine, here in a thread)."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from pathlib import Path

import numpy as np
import scipy.sparse

from accord.agreement import AgreementDocument, party_from_card, render_template, sign_agreement
from accord.attest import measure_installed_package
from accord.crypto.sealed import seal_file
from accord.party import PartyIdentity
from accord.party.keystore import Argon2Parameters

AGARICUS = Path(__file__).resolve().parents[3] / "src/accord/demo/data/agaricus"
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


def make_world(root: Path) -> dict:
    """Identities, the signed agreement (models go to alice only) and sealed files."""
    parties = {
        name: PartyIdentity.create(name, root / name, passphrase=None, argon2=FAST)
        for name in ("alice", "bob")
    }
    text = render_template(
        "facade-test",
        created=dt.datetime.now(dt.UTC).replace(microsecond=0),
        measurements={"simulated": [measure_installed_package().digest]},
    )
    document = AgreementDocument.parse(text, source="agreement.toml")
    for party in parties.values():
        document = document.with_party(party_from_card(party.card))
    document = AgreementDocument.parse(
        document.text.replace("models = []", 'models = ["alice"]'), source="agreement.toml"
    )
    for party in parties.values():
        signature = sign_agreement(document.agreement, party.signing_key, party=party.name)
        document = document.with_signature(party.name, signature)
    document.save(root / "agreement.toml")

    lines = TEST.read_bytes().splitlines(keepends=True)
    half = len(lines) // 2
    tests = {"alice": root / "alice-test.libsvm", "bob": root / "bob-test.libsvm"}
    tests["alice"].write_bytes(b"".join(lines[:half]))
    tests["bob"].write_bytes(b"".join(lines[half:]))
    sealed = {}
    for name, train in (("alice", ALICE_TRAIN), ("bob", BOB_TRAIN)):
        for kind, source in (("train", train), ("test", tests[name])):
            path = root / name / f"{kind}.sealed"
            seal_file(source, path, parties[name].data_key, input_format="libsvm")
            sealed[name, kind] = path
    return {
        "parties": parties,
        "agreement_path": root / "agreement.toml",
        "certificates": [p.directory / "tls-cert.pem" for p in parties.values()],
        "tests": tests,
        "sealed": sealed,
    }


def read_libsvm(*paths: Path, width: int | None = None):
    """A plain LibSVM reader, independent of Accord's: CSR features and labels."""
    labels, indptr, indices, values = [], [0], [], []
    for path in paths:
        for line in path.read_text().splitlines():
            label, *pairs = line.split()
            labels.append(float(label))
            for pair in pairs:
                index, value = pair.split(":")
                indices.append(int(index))
                values.append(float(value))
            indptr.append(len(indices))
    matrix = scipy.sparse.csr_matrix(
        (np.array(values, np.float32), np.array(indices), np.array(indptr)),
        shape=(len(labels), width or max(indices) + 1),
    )
    return matrix, np.array(labels, np.float32)


@contextlib.contextmanager
def approving(client, *, operations=None, approved=None):
    """While inside, ``client`` approves every proposal that waits for it (in a thread)."""
    stop = threading.Event()
    seen = approved if approved is not None else []

    def run():
        while not stop.is_set():
            for proposal in client.pending():
                if operations is None or proposal.command.operation in operations:
                    client.approve(proposal.proposal_id)
                    seen.append(proposal.command)
            time.sleep(0.05)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(timeout=10)
