"""Demo steps on each party's own machine: identities, sealing, refusing tampering, scoring."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from rich.table import Table

from accord.crypto.sealed import inspect_file, seal_file, unseal_file
from accord.demo.narration import Narrator
from accord.errors import IntegrityError, KeyMaterialError
from accord.party import PartyIdentity

__all__ = [
    "DEMO_CHUNK_SIZE",
    "PartyInputs",
    "PartyOutcome",
    "accuracy",
    "create_identities",
    "read_labels",
    "seal_inputs",
    "show_refusals",
]

DEMO_CHUNK_SIZE = 64 * 1024
"""Small chunks, so that even the demo's files show several (real data uses larger ones)."""


@dataclass(frozen=True)
class PartyInputs:
    """One party's plaintext files, which never leave its machine."""

    train: Path
    test: Path


@dataclass
class PartyOutcome:
    """What one party did in the demo, for the summary."""

    name: str
    train_rows: int = 0
    test_rows: int = 0
    chunks: int = 0
    sealed_bytes: int = 0
    key_id: str = ""
    sealed: dict[str, Path] = field(default_factory=dict)
    key_released_to: list[str] = field(default_factory=list)
    predictions: int = 0
    accuracy: float | None = None
    notes: list[str] = field(default_factory=list)


def create_identities(
    names: Sequence[str], work_dir: Path, narrator: Narrator
) -> dict[str, PartyIdentity]:
    """Create each party's identity in its own folder and show its public card."""
    identities = {}
    for name in names:
        identity = PartyIdentity.create(name, work_dir / name, passphrase=None, overwrite=True)
        identities[name] = identity
        card = identity.card
        narrator.say(
            name,
            f"signing key {card.signing_key_fingerprint[:16]}..  "
            f"TLS cert {card.tls_certificate_fingerprint[:16]}..  "
            f"data key id {card.data_key_id[:16]}..",
        )
    return identities


def seal_inputs(
    outcomes: Sequence[PartyOutcome],
    inputs: Mapping[str, PartyInputs],
    identities: Mapping[str, PartyIdentity],
    work_dir: Path,
    narrator: Narrator,
) -> None:
    """Each party seals its training and test rows; show what the cloud can see of them."""
    table = Table("party", "file", "format", "chunks", "rows", "sealed bytes", "key id")
    for outcome in outcomes:
        files = inputs[outcome.name]
        for kind, source in (("train", files.train), ("test", files.test)):
            sealed = work_dir / outcome.name / f"{kind}.sealed"
            seal_file(
                source,
                sealed,
                identities[outcome.name].data_key,
                input_format="libsvm",
                name=kind,
                chunk_size=DEMO_CHUNK_SIZE,
            )
            info = inspect_file(sealed)
            outcome.sealed[kind] = sealed
            outcome.key_id = info.header.key_id
            if kind == "train":
                outcome.train_rows, outcome.chunks = info.total_rows, len(info.chunks)
                outcome.sealed_bytes = info.file_size
            else:
                outcome.test_rows = info.total_rows
            table.add_row(
                outcome.name,
                sealed.name,
                info.header.content_type.value,
                str(len(info.chunks)),
                str(info.total_rows),
                f"{info.file_size:,}",
                info.header.key_id[:16] + "..",
            )
    narrator.table(table)
    narrator.say("cloud", "will see the headers above (no key needed) and nothing else")


def show_refusals(
    outcomes: Sequence[PartyOutcome],
    identities: Mapping[str, PartyIdentity],
    work_dir: Path,
    narrator: Narrator,
) -> None:
    """Show that another party's key is refused and that one flipped bit is detected."""
    first, second = outcomes[0], outcomes[1]
    sealed = first.sealed["train"]
    try:
        unseal_file(sealed, work_dir / "stolen.libsvm", identities[second.name].data_key)
    except KeyMaterialError:
        narrator.say(
            second.name,
            f"cannot open {first.name}'s file: it was sealed with data key "
            f"{first.key_id[:16]}.., not {second.name}'s",
        )
        second.notes.append("wrong key refused")
    tampered = work_dir / "tampered.sealed"
    raw = bytearray(sealed.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    tampered.write_bytes(bytes(raw))
    try:
        unseal_file(tampered, work_dir / "tampered.libsvm", identities[first.name].data_key)
    except IntegrityError as error:
        reason = error.message.split(": ", 1)[-1]
        narrator.say("check", f"one flipped bit in a copy: {reason}")
        first.notes.append("tampering detected")
    finally:
        tampered.unlink(missing_ok=True)
    leftovers = [p.name for p in work_dir.glob("*.libsvm")]
    narrator.say("check", f"plaintext left behind by the failures: {leftovers or 'none'}")


def read_labels(path: Path) -> npt.NDArray[np.float32]:
    """Return the labels of a LibSVM file (the first field of each line)."""
    labels = [float(line.split(maxsplit=1)[0]) for line in path.read_text().splitlines() if line]
    return np.asarray(labels, dtype=np.float32)


def accuracy(predictions: npt.NDArray[np.float32], labels: npt.NDArray[np.float32]) -> float:
    """Return the share of rows whose predicted class (probability > 0.5) is the label."""
    if predictions.shape != labels.shape:
        return 0.0
    return float(np.mean((predictions > 0.5) == (labels > 0.5)))
