"""Demo steps on each party's own machine: identities, sealing, opening, refusing tampering."""

from __future__ import annotations

import filecmp
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.table import Table

from accord.crypto.sealed import inspect_file, seal_file, unseal_file
from accord.demo.narration import Narrator
from accord.errors import IntegrityError, KeyMaterialError
from accord.party import PartyIdentity

__all__ = [
    "DEMO_CHUNK_SIZE",
    "PartyOutcome",
    "create_identities",
    "open_own_files",
    "seal_inputs",
    "show_refusals",
]

DEMO_CHUNK_SIZE = 64 * 1024
"""Small chunks, so that even the demo's files show several (real data uses larger ones)."""


@dataclass
class PartyOutcome:
    """What one party did in the demo."""

    name: str
    rows: int = 0
    chunks: int = 0
    sealed_bytes: int = 0
    key_id: str = ""
    key_released: bool = False
    round_trip_ok: bool = False
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
    inputs: Sequence[Path],
    identities: Mapping[str, PartyIdentity],
    work_dir: Path,
    narrator: Narrator,
) -> dict[str, Path]:
    """Each party seals its input; show what the cloud can see of the result."""
    sealed_files: dict[str, Path] = {}
    table = Table("party", "input", "format", "chunks", "rows", "sealed bytes", "key id")
    for outcome, source in zip(outcomes, inputs, strict=True):
        sealed = work_dir / outcome.name / "train.sealed"
        seal_file(
            source,
            sealed,
            identities[outcome.name].data_key,
            input_format="libsvm",
            name="train",
            chunk_size=DEMO_CHUNK_SIZE,
        )
        info = inspect_file(sealed)
        outcome.rows, outcome.chunks = info.total_rows, len(info.chunks)
        outcome.sealed_bytes, outcome.key_id = info.file_size, info.header.key_id
        sealed_files[outcome.name] = sealed
        table.add_row(
            outcome.name,
            source.name,
            info.header.content_type.value,
            str(outcome.chunks),
            str(outcome.rows),
            f"{outcome.sealed_bytes:,}",
            outcome.key_id[:16] + "..",
        )
    narrator.table(table)
    narrator.say("cloud", "sees the headers above (no key needed) and nothing else")
    return sealed_files


def show_refusals(
    outcomes: Sequence[PartyOutcome],
    identities: Mapping[str, PartyIdentity],
    sealed_files: Mapping[str, Path],
    work_dir: Path,
    narrator: Narrator,
) -> None:
    """Show that another party's key is refused and that one flipped bit is detected."""
    first, second = outcomes[0], outcomes[1]
    sealed = sealed_files[first.name]
    try:
        unseal_file(sealed, work_dir / "stolen.libsvm", identities[second.name].data_key)
    except KeyMaterialError as error:
        narrator.say(second.name, f"cannot open {first.name}'s file: {error.message}")
        second.notes.append("wrong key refused")
    tampered = work_dir / "tampered.sealed"
    raw = bytearray(sealed.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    tampered.write_bytes(bytes(raw))
    try:
        unseal_file(tampered, work_dir / "tampered.libsvm", identities[first.name].data_key)
    except IntegrityError as error:
        narrator.say("check", f"one flipped bit: {error.message}")
        first.notes.append("tampering detected")
    leftovers = [p.name for p in work_dir.glob("*.libsvm")]
    narrator.say("check", f"plaintext left behind by the failures: {leftovers or 'none'}")


def open_own_files(
    outcomes: Sequence[PartyOutcome],
    inputs: Sequence[Path],
    identities: Mapping[str, PartyIdentity],
    sealed_files: Mapping[str, Path],
    narrator: Narrator,
) -> None:
    """Each party opens its own sealed file and compares it with its input."""
    for outcome, source in zip(outcomes, inputs, strict=True):
        opened = sealed_files[outcome.name].with_suffix(".opened.libsvm")
        unseal_file(sealed_files[outcome.name], opened, identities[outcome.name].data_key)
        outcome.round_trip_ok = filecmp.cmp(source, opened, shallow=False)
        narrator.say(
            outcome.name,
            "identical to the original" if outcome.round_trip_ok else "DIFFERS from input",
        )
