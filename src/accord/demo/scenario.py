"""The seed scenario, end to end on one host: seal, agree, attest, release keys, compute.

Each step uses the same public API a party (or the enclave) would use on its own machine;
only the orchestration -- every role in one process, in one work folder -- is the demo's own.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.table import Table

from accord.demo.enclave_steps import (
    JointStatistics,
    agree,
    attest_and_provision,
    joint_statistics,
)
from accord.demo.narration import Narrator
from accord.demo.party_steps import (
    PartyOutcome,
    create_identities,
    open_own_files,
    seal_inputs,
    show_refusals,
)
from accord.errors import UsageError

__all__ = ["DATA_FILES", "DemoOptions", "DemoResult", "demo_data_path", "run_demo"]

DATA_FILES = ("1_2agaricus.txt.train", "2_2agaricus.txt.train")
"""The shipped training halves, one per party when there are two parties."""

PARTY_NAMES = ("alice", "bob", "carol", "dave")


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
class DemoResult:
    """The demo's outcome, for the summary table and for tests."""

    work_dir: Path
    parties: list[PartyOutcome]
    joint: JointStatistics | None = None

    @property
    def ok(self) -> bool:
        """True when every party's data went through the whole story intact."""
        if self.joint is None:
            return False
        counted = all(self.joint.rows_by_party.get(p.name) == p.rows for p in self.parties)
        return counted and all(p.round_trip_ok and p.key_released for p in self.parties)


def demo_data_path(name: str) -> Path:
    """Return the path of a shipped demo data file (``data/agaricus/NAME``)."""
    path = Path(str(resources.files("accord.demo").joinpath("data", "agaricus", name)))
    if not path.is_file():
        raise UsageError(
            f"demo data file {name} is missing from the installed package",
            hint="Reinstall Accord (make demo does this) so its package data is present.",
        )
    return path


def _split_rows(sources: list[Path], parties: int, out_dir: Path) -> list[Path]:
    """Split the shipped rows into ``parties`` contiguous parts of near-equal size."""
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
        Per-party outcomes and the joint statistics; ``ok`` is true when every check passed.
    """
    console = console or Console()
    narrator = Narrator(console)
    work_dir = options.work_dir or Path(tempfile.mkdtemp(prefix="accord-demo-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    keep = options.keep or options.work_dir is not None
    try:
        result = _run(options, work_dir, narrator)
    finally:
        if not keep:
            shutil.rmtree(work_dir, ignore_errors=True)
    _summarise(result, narrator, kept=keep)
    return result


def _run(options: DemoOptions, work_dir: Path, narrator: Narrator) -> DemoResult:
    names = PARTY_NAMES[: options.parties]
    inputs_dir = work_dir / "inputs"
    inputs_dir.mkdir(exist_ok=True)
    sources = [demo_data_path(name) for name in DATA_FILES]
    inputs = sources if len(names) == len(sources) else _split_rows(sources, len(names), inputs_dir)
    outcomes = [PartyOutcome(name) for name in names]

    with narrator.step("Each party creates its identity on its own machine"):
        identities = create_identities(names, work_dir, narrator)
    with narrator.step("Each party seals its share of the data (only ciphertext leaves)"):
        sealed_files = seal_inputs(outcomes, inputs, identities, work_dir, narrator)
    with narrator.step("The parties agree on the enclave code, the rules and the outputs"):
        agreement = agree(list(identities.values()), work_dir, narrator)
    with narrator.step("Each party attests the enclave, then releases its data key to it"):
        session = attest_and_provision(agreement, list(identities.values()), narrator)
        for outcome in outcomes:
            outcome.key_released = outcome.key_id in session.released_keys
    with narrator.step("Inside the enclave: the joint data, opened in memory only"):
        joint = joint_statistics(session, sealed_files, identities, narrator)
    with narrator.step("A wrong key is refused, and tampering is detected"):
        show_refusals(outcomes, identities, sealed_files, work_dir, narrator)
    with narrator.step("Each party opens its own file again"):
        open_own_files(outcomes, inputs, identities, sealed_files, narrator)
    return DemoResult(work_dir=work_dir, parties=outcomes, joint=joint)


def _summarise(result: DemoResult, narrator: Narrator, *, kept: bool) -> None:
    table = Table(
        "party", "rows", "chunks", "sealed bytes", "key released", "round trip", title="Summary"
    )
    for party in result.parties:
        table.add_row(
            party.name,
            str(party.rows),
            str(party.chunks),
            f"{party.sealed_bytes:,}",
            "[green]yes[/]" if party.key_released else "[red]no[/]",
            "[green]ok[/]" if party.round_trip_ok else "[red]failed[/]",
        )
    narrator.table(table)
    if kept:
        narrator.say("files", f"kept in {result.work_dir}")
    status = "[bold green]demo succeeded[/]" if result.ok else "[bold red]demo failed[/]"
    narrator.console.print(status)
