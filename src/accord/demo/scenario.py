"""The seed scenario, end to end on one host, on the real runtime.

Parties create identities and sign an agreement, seal their data and upload ciphertext; an
orchestrator and enclave nodes start as real processes (:class:`~accord.cluster.LocalCluster`,
simulated attestation); every party attests every node and releases its data key; alice
proposes loading the joint data and training, the other parties read and approve each
command; each party gets predictions on its own test rows, sealed to it alone; every party
verifies every node's audit log. Each party acts through its own client, exactly as on its
own machine; only running them side by side in one process is the demo's own.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from accord._internal.files import write_atomically
from accord.client.xgboost import AccordXGBoost
from accord.demo.cloud_steps import attest_and_provision, connect_parties, start_cloud, upload_data
from accord.demo.collaboration import agree
from accord.demo.narration import Narrator
from accord.demo.party_steps import (
    PartyInputs,
    PartyOutcome,
    create_identities,
    seal_inputs,
    show_refusals,
)
from accord.demo.training_steps import (
    joint_evaluation,
    load_data,
    predict_for_each_party,
    train_model,
    verify_audit,
)
from accord.errors import AccordError, UsageError

__all__ = [
    "DATA_FILES",
    "MIN_ACCURACY",
    "PARTY_NAMES",
    "TEST_FILE",
    "DemoOptions",
    "DemoResult",
    "demo_data_path",
    "run_demo",
]

DATA_FILES = ("1_2agaricus.txt.train", "2_2agaricus.txt.train")
"""The shipped training halves, one per party when there are two parties."""

TEST_FILE = "agaricus.txt.test"
"""The shipped test rows, split between the parties."""

PARTY_NAMES = ("alice", "bob", "carol", "dave")

MIN_ACCURACY = 0.9
"""The demo fails if a party's accuracy on its own test rows is lower."""

MAX_NODES = 4


@dataclass(frozen=True)
class DemoOptions:
    """What the demo runs.

    Parameters
    ----------
    parties
        How many parties (2 to 4; the data is split evenly between them).
    nodes
        How many enclave nodes (1 to 4).
    work_dir
        Where to put the parties' folders, the cloud's data and logs; a temporary folder
        (removed afterwards unless ``keep``) when None.
    keep
        Leave the work folder in place for inspection.
    """

    parties: int = 2
    nodes: int = 2
    work_dir: Path | None = None
    keep: bool = False

    def __post_init__(self) -> None:
        if not 2 <= self.parties <= len(PARTY_NAMES):
            raise UsageError(
                f"the demo runs with 2 to {len(PARTY_NAMES)} parties, not {self.parties}",
                hint="Pass --parties 2, 3 or 4.",
            )
        if not 1 <= self.nodes <= MAX_NODES:
            raise UsageError(
                f"the demo runs with 1 to {MAX_NODES} enclave nodes, not {self.nodes}",
                hint="Pass --nodes 1, 2, 3 or 4.",
            )


@dataclass
class DemoResult:
    """The demo's outcome, for the summary table and for tests."""

    work_dir: Path
    parties: list[PartyOutcome]
    nodes: int = 0
    rounds: int = 0
    audit_entries: dict[str, int] = field(default_factory=dict)
    audit_verified: bool = False
    joint_metrics: dict[str, float | None] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the summary as JSON values (written to ``summary.json`` in a kept folder)."""
        return {
            "ok": self.ok,
            "error": self.error,
            "nodes": self.nodes,
            "rounds": self.rounds,
            "audit_verified": self.audit_verified,
            "audit_entries": dict(self.audit_entries),
            "joint_metrics": dict(self.joint_metrics),
            "seconds": round(self.seconds, 3),
            "parties": [
                {
                    "name": p.name,
                    "train_rows": p.train_rows,
                    "test_rows": p.test_rows,
                    "key_released_to": list(p.key_released_to),
                    "predictions": p.predictions,
                    "accuracy": p.accuracy,
                }
                for p in self.parties
            ],
        }

    @property
    def ok(self) -> bool:
        """True when every party's data went through the whole story and the checks passed."""
        if self.error is not None or not self.audit_verified or self.rounds < 1:
            return False
        return all(
            len(p.key_released_to) == self.nodes
            and p.predictions == p.test_rows > 0
            and p.accuracy is not None
            and p.accuracy >= MIN_ACCURACY
            for p in self.parties
        )


def demo_data_path(name: str) -> Path:
    """Return the path of a shipped demo data file (``data/agaricus/NAME``)."""
    path = Path(str(resources.files("accord.demo").joinpath("data", "agaricus", name)))
    if not path.is_file():
        raise UsageError(
            f"demo data file {name} is missing from the installed package",
            hint="Reinstall Accord (make demo does this) so its package data is present.",
        )
    return path


def split_lines(sources: list[Path], parts: int, out_dir: Path, stem: str) -> list[Path]:
    """Split the rows of ``sources`` into ``parts`` contiguous files of near-equal size."""
    lines: list[bytes] = []
    for source in sources:
        lines.extend(source.read_bytes().splitlines(keepends=True))
    size, extra = divmod(len(lines), parts)
    paths, start = [], 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        path = out_dir / f"{stem}-{index + 1}.libsvm"
        path.write_bytes(b"".join(lines[start:end]))
        paths.append(path)
        start = end
    return paths


def _inputs(names: tuple[str, ...], inputs_dir: Path) -> dict[str, PartyInputs]:
    train = [demo_data_path(name) for name in DATA_FILES]
    if len(names) != len(train):
        train = split_lines(train, len(names), inputs_dir, "train")
    test = split_lines([demo_data_path(TEST_FILE)], len(names), inputs_dir, "test")
    return {name: PartyInputs(train[i], test[i]) for i, name in enumerate(names)}


def run_demo(options: DemoOptions, console: Console | None = None) -> DemoResult:
    """Run the seed scenario and print its story.

    Parameters
    ----------
    options
        Number of parties and nodes, work folder, whether to keep it.
    console
        Where to print; standard output by default.

    Returns
    -------
    DemoResult
        Per-party outcomes, rounds, audit counts; ``ok`` is true when every check passed.
        A failure is reported in ``error`` (and printed), not raised.
    """
    console = console or Console()
    narrator = Narrator(console)
    work_dir = options.work_dir or Path(tempfile.mkdtemp(prefix="accord-demo-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    keep = options.keep or options.work_dir is not None
    names = PARTY_NAMES[: options.parties]
    result = DemoResult(work_dir=work_dir, parties=[PartyOutcome(n) for n in names])
    started = time.perf_counter()
    try:
        _run(options, result, narrator)
    except AccordError as error:
        result.error = f"step {narrator.current_step}: {type(error).__name__}: {error.message}"
    except OSError as error:
        result.error = f"step {narrator.current_step}: {type(error).__name__}: {error}"
    except KeyboardInterrupt:
        result.error = "interrupted"
        raise
    finally:
        result.seconds = time.perf_counter() - started
        if keep:
            summary = json.dumps(result.to_json(), indent=2).encode()
            with contextlib.suppress(OSError):
                write_atomically(work_dir / "summary.json", summary, mode=0o644, overwrite=True)
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
        _summarise(result, narrator, kept=keep)
    return result


def _run(options: DemoOptions, result: DemoResult, narrator: Narrator) -> None:
    work_dir = result.work_dir
    outcomes = result.parties
    names = [outcome.name for outcome in outcomes]
    inputs_dir = work_dir / "inputs"
    inputs_dir.mkdir(exist_ok=True)
    inputs = _inputs(tuple(names), inputs_dir)

    with narrator.step("Each party creates its identity on its own machine"):
        identities = create_identities(names, work_dir, narrator)
    with narrator.step("The parties agree on the enclave code, the rules and the outputs"):
        agreement_path = agree(list(identities.values()), work_dir, narrator)
    with narrator.step("Each party seals its training and test rows (only ciphertext leaves)"):
        seal_inputs(outcomes, inputs, identities, work_dir, narrator)
    with narrator.step("A wrong key is refused, and tampering is detected"):
        show_refusals(outcomes, identities, work_dir, narrator)
    with ExitStack() as stack:
        nodes = f"{options.nodes} enclave node" + ("s" if options.nodes > 1 else "")
        with narrator.step(f"The cloud starts: an orchestrator and {nodes}"):
            cluster = start_cloud(agreement_path, identities, work_dir, options.nodes, narrator)
            stack.callback(cluster.stop)
            result.nodes = options.nodes
            clients = connect_parties(cluster, identities, narrator)
            for client in clients.values():
                stack.callback(client.close)
        with narrator.step("Each party uploads its ciphertext to the orchestrator"):
            datasets = upload_data(clients, outcomes, narrator)
        with narrator.step("Each party attests every node, then releases its data key to it"):
            attest_and_provision(clients, outcomes, narrator)
        xgbs = {
            name: AccordXGBoost(client, approve_timeout=120) for name, client in clients.items()
        }
        with narrator.step(f"{names[0]} proposes loading the joint data; the others approve"):
            dtrain, dtest = load_data(xgbs, clients, datasets, narrator)
        with narrator.step(f"{names[0]} proposes training; the others read it and approve"):
            booster, result.rounds = train_model(xgbs, clients, dtrain, narrator)
        with narrator.step("Each party gets predictions on its own test rows, for it alone"):
            labels = {name: inputs[name].test for name in names}
            predict_for_each_party(xgbs, clients, dtest, outcomes, labels, narrator)
            result.joint_metrics = dict(joint_evaluation(xgbs, clients, booster, dtest, narrator))
        with narrator.step("Every party verifies every node's audit log"):
            result.audit_entries = verify_audit(clients, narrator)
            result.audit_verified = True


def _summarise(result: DemoResult, narrator: Narrator, *, kept: bool) -> None:
    if result.error is not None:
        narrator.console.print(f"[bold red]failed[/] at {_escape(result.error)}")
    table = Table(
        "party",
        "train rows",
        "test rows",
        "key released",
        "predictions",
        "accuracy",
        title="Summary",
    )
    for party in result.parties:
        released = f"{len(party.key_released_to)}/{result.nodes} nodes"
        good = result.nodes > 0 and len(party.key_released_to) == result.nodes
        table.add_row(
            party.name,
            str(party.train_rows),
            str(party.test_rows),
            f"[green]{released}[/]" if good else f"[red]{released}[/]",
            str(party.predictions),
            "-" if party.accuracy is None else f"{party.accuracy:.2%}",
        )
    narrator.table(table)
    entries = sorted(set(result.audit_entries.values()))
    audit = (
        f"{', '.join(map(str, entries))} entries on each of {len(result.audit_entries)} node(s), "
        "verified by every party"
        if result.audit_verified
        else "not verified"
    )
    narrator.say("training", f"{result.rounds} rounds on {result.nodes} enclave node(s)")
    if result.joint_metrics:
        shown = ", ".join(f"{k} {v:.4f}" for k, v in result.joint_metrics.items() if v is not None)
        narrator.say("metrics", f"joint test set: {shown}")
    narrator.say("audit", audit)
    narrator.say("time", f"{result.seconds:.1f} s")
    if kept:
        narrator.say(
            "files", f"kept in {result.work_dir} (summary.json; the cloud's logs in cloud/logs/)"
        )
    status = "[bold green]demo succeeded[/]" if result.ok else "[bold red]demo failed[/]"
    narrator.console.print(status)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
