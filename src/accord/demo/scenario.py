"""The seed scenario: parties seal their halves of the agaricus data and open them again.

Each step uses the same public API a party would use on its own machine; only the
orchestration (all parties in one process, in one work folder) is the demo's own.
"""

from __future__ import annotations

import filecmp
import shutil
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.table import Table

from accord.crypto.sealed import inspect_file, seal_file, unseal_file
from accord.demo.narration import Narrator
from accord.errors import IntegrityError, KeyMaterialError, UsageError
from accord.party import PartyIdentity

__all__ = ["DATA_FILES", "DemoOptions", "DemoResult", "PartyOutcome", "demo_data_path", "run_demo"]

DATA_FILES = ("1_2agaricus.txt.train", "2_2agaricus.txt.train")
"""The training halves, one per party, in party order."""

PARTY_NAMES = ("alice", "bob", "carol", "dave")
DEMO_CHUNK_SIZE = 64 * 1024
"""Small chunks, so that even the demo's files show several (real data uses larger ones)."""


@dataclass(frozen=True)
class DemoOptions:
    """What the demo runs.

    Parameters
    ----------
    parties
        How many parties (2 by default; the data is split evenly between them).
    work_dir
        Where to put the parties' folders and files; a temporary folder when None.
    keep
        Leave the work folder in place for inspection.
    """

    parties: int = 2
    work_dir: Path | None = None
    keep: bool = False

    def __post_init__(self) -> None:
        if not 2 <= self.parties <= len(PARTY_NAMES):
            raise UsageError(
                f"the demo runs with 2 to {len(PARTY_NAMES)} parties, not {self.parties}",
                hint="Pass --parties 2, 3 or 4.",
            )


@dataclass
class PartyOutcome:
    """What one party did in the demo."""

    name: str
    rows: int = 0
    chunks: int = 0
    sealed_bytes: int = 0
    key_id: str = ""
    round_trip_ok: bool = False
    notes: list[str] = field(default_factory=list)


@dataclass
class DemoResult:
    """The demo's outcome, for the summary table and for tests."""

    work_dir: Path
    parties: list[PartyOutcome]

    @property
    def ok(self) -> bool:
        """True when every party's data went through the whole story intact."""
        return all(party.round_trip_ok for party in self.parties)


def demo_data_path(name: str) -> Path:
    """Return the path of a shipped demo data file (``data/agaricus/NAME``)."""
    resource = resources.files("accord.demo").joinpath("data", "agaricus", name)
    path = Path(str(resource))
    if not path.is_file():
        raise UsageError(
            f"demo data file {name} is missing from the installed package",
            hint="Reinstall Accord (make demo does this) so its package data is present.",
        )
    return path


def _split_rows(sources: list[Path], parties: int, out_dir: Path) -> list[Path]:
    """Split the shipped halves into ``parties`` contiguous parts of near-equal size."""
    if parties == len(sources):
        return sources
    lines: list[bytes] = []
    for source in sources:
        lines.extend(source.read_bytes().splitlines(keepends=True))
    size, extra = divmod(len(lines), parties)
    parts, start = [], 0
    for index in range(parties):
        end = start + size + (1 if index < extra else 0)
        part = out_dir / f"part{index + 1}.libsvm"
        part.write_bytes(b"".join(lines[start:end]))
        parts.append(part)
        start = end
    return parts


def run_demo(options: DemoOptions, console: Console | None = None) -> DemoResult:
    """Run the seed scenario and print its story.

    Parameters
    ----------
    options
        Number of parties, work folder, whether to keep it.
    console
        Where to print; standard output by default.

    Returns
    -------
    DemoResult
        Per-party outcomes; ``ok`` is true when every check passed.
    """
    console = console or Console()
    narrator = Narrator(console)
    work_dir = options.work_dir or Path(tempfile.mkdtemp(prefix="accord-demo-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    try:
        result = _run(options, work_dir, narrator)
    finally:
        if not options.keep and options.work_dir is None:
            shutil.rmtree(work_dir, ignore_errors=True)
    _summarise(result, narrator, kept=options.keep or options.work_dir is not None)
    return result


def _run(options: DemoOptions, work_dir: Path, narrator: Narrator) -> DemoResult:
    names = PARTY_NAMES[: options.parties]
    inputs_dir = work_dir / "inputs"
    inputs_dir.mkdir(exist_ok=True)
    inputs = _split_rows([demo_data_path(f) for f in DATA_FILES], len(names), inputs_dir)
    outcomes = [PartyOutcome(name) for name in names]
    identities: dict[str, PartyIdentity] = {}

    with narrator.step("Each party creates its identity on its own machine"):
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

    with narrator.step("Each party seals its half of the data (only ciphertext leaves)"):
        table = Table("party", "input", "format", "chunks", "rows", "sealed bytes", "key id")
        for outcome, source in zip(outcomes, inputs, strict=True):
            identity = identities[outcome.name]
            sealed = work_dir / outcome.name / "train.sealed"
            seal_file(
                source,
                sealed,
                identity.data_key,
                input_format="libsvm",
                name="train",
                chunk_size=DEMO_CHUNK_SIZE,
            )
            info = inspect_file(sealed)
            outcome.rows, outcome.chunks = info.total_rows, len(info.chunks)
            outcome.sealed_bytes, outcome.key_id = info.file_size, info.header.key_id
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

    with narrator.step("A wrong key is refused, and tampering is detected"):
        first, second = outcomes[0], outcomes[1]
        sealed = work_dir / first.name / "train.sealed"
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

    with narrator.step("Each party opens its own file again"):
        for outcome, source in zip(outcomes, inputs, strict=True):
            identity = identities[outcome.name]
            opened = work_dir / outcome.name / "train.opened.libsvm"
            unseal_file(work_dir / outcome.name / "train.sealed", opened, identity.data_key)
            outcome.round_trip_ok = filecmp.cmp(source, opened, shallow=False)
            narrator.say(
                outcome.name,
                "identical to the original" if outcome.round_trip_ok else "DIFFERS from input",
            )

    return DemoResult(work_dir=work_dir, parties=outcomes)


def _summarise(result: DemoResult, narrator: Narrator, *, kept: bool) -> None:
    table = Table("party", "rows", "chunks", "sealed bytes", "round trip", title="Summary")
    for party in result.parties:
        table.add_row(
            party.name,
            str(party.rows),
            str(party.chunks),
            f"{party.sealed_bytes:,}",
            "[green]ok[/]" if party.round_trip_ok else "[red]failed[/]",
        )
    narrator.table(table)
    if kept:
        narrator.say("files", f"kept in {result.work_dir}")
    status = "[bold green]demo succeeded[/]" if result.ok else "[bold red]demo failed[/]"
    narrator.console.print(status)
