"""Demo steps that are commands: load, train, predict, evaluate; then the audit log.

Every command goes the way it would between organisations: one party proposes it through
the XGBoost facade (:mod:`accord.client.xgboost`), every other party reads the full command
and approves it with its own client, and the proposer's call returns the verified result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

from rich.table import Table

from accord.client import Client
from accord.client.xgboost import AccordXGBoost, Dataset, Pending, RemoteBooster, RemoteDMatrix
from accord.demo.cloud_steps import quiet_insecure_log
from accord.demo.narration import Narrator
from accord.demo.party_steps import PartyOutcome, accuracy, read_labels
from accord.errors import KeyMaterialError

if TYPE_CHECKING:
    from accord.workloads.xgboost import TrainingRound

__all__ = [
    "DEMO_PARAMS",
    "DEMO_ROUNDS",
    "approve_as_others",
    "joint_evaluation",
    "load_data",
    "predict_for_each_party",
    "train_model",
    "verify_audit",
]

DEMO_PARAMS: Final[Mapping[str, Any]] = {
    "objective": "binary:logistic",
    "max_depth": 3,
    "eta": 0.3,
    "tree_method": "hist",
    "eval_metric": ["logloss", "error"],
    "seed": 0,
}
"""The XGBoost parameters alice proposes (as she would pass them to ``xgboost.train``)."""

DEMO_ROUNDS: Final = 10
"""Boosting rounds."""

T = TypeVar("T")


def approve_as_others(
    pending: Pending[T],
    proposer: str,
    clients: Mapping[str, Client],
    narrator: Narrator,
    *,
    show: bool,
) -> T:
    """Every other party reads the proposal and signs it; return the proposer's result."""
    others = [name for name in clients if name != proposer]
    if show:
        narrator.say(others[0], "reads the full command before signing it:")
        narrator.block(clients[others[0]].show(pending.proposal_id))
    for name in others:
        clients[name].approve(pending.proposal_id)
        narrator.say(
            name,
            f"checked it (digest, agreement, its own attested sessions, expiry, output "
            f"policy) and signed {pending.proposal_id[:16]}..",
        )
    return pending.wait()


def load_data(
    xgbs: Mapping[str, AccordXGBoost],
    clients: Mapping[str, Client],
    datasets: Mapping[tuple[str, str], Dataset],
    narrator: Narrator,
) -> tuple[RemoteDMatrix, RemoteDMatrix]:
    """Have the first party propose loading everyone's training rows and test rows."""
    proposer = next(iter(xgbs))
    xgb = xgbs[proposer]
    names = list(xgbs)
    train_sets = [datasets[name, "train"] for name in names]
    pending = xgb.load("train", train_sets, wait=False)
    narrator.say(proposer, f"proposes load 'train': {', '.join(d.name for d in train_sets)}")
    dtrain = approve_as_others(pending, proposer, clients, narrator, show=True)
    if len(xgb.node_ids()) > 1:
        narrator.say(
            "nodes",
            "each opened its share of every blob's chunks (together: every row exactly once) "
            "with the key the blob's owner released; rows in enclave memory only",
        )
    else:
        narrator.say(
            "node-1",
            "opened every blob with the key its owner released; rows in enclave memory only",
        )
    test_sets = [datasets[name, "test"] for name in names]
    pending = xgb.load("test", test_sets, wait=False)
    narrator.say(proposer, f"proposes load 'test': {', '.join(d.name for d in test_sets)}")
    dtest = approve_as_others(pending, proposer, clients, narrator, show=False)
    return dtrain, dtest


def train_model(
    xgbs: Mapping[str, AccordXGBoost],
    clients: Mapping[str, Client],
    dtrain: RemoteDMatrix,
    narrator: Narrator,
) -> tuple[RemoteBooster, int]:
    """Have the first party propose training, the others approve; show progress per round."""
    proposer = next(iter(xgbs))
    rounds: list[TrainingRound] = []

    def on_round(report: TrainingRound) -> None:
        rounds.append(report)
        metrics = "  ".join(f"{name} {value:.4f}" for name, value in report.metrics.items())
        narrator.say("training", f"round {report.round + 1:>2}/{report.total}  {metrics}")

    pending = xgbs[proposer].train(
        DEMO_PARAMS,
        dtrain,
        num_boost_round=DEMO_ROUNDS,
        evals=[(dtrain, "train")],
        model="model",
        on_round=on_round,
        wait=False,
    )
    narrator.say(proposer, f"proposes train: {DEMO_ROUNDS} rounds of hist on {dtrain.describe()}")
    node_ids = xgbs[proposer].node_ids()
    if len(node_ids) > 1:
        narrator.say(
            "nodes",
            f"{', '.join(node_ids)} will attest each other against the agreement, then train "
            "together with XGBoost's federated communicator over TLS keys made inside the "
            "enclaves (the command carries their addresses)",
        )
    with quiet_insecure_log():  # following progress attests a node once more
        booster = approve_as_others(pending, proposer, clients, narrator, show=True)
    if not rounds:
        narrator.say(
            "training",
            "(these nodes do not report progress per round; the model is trained all the same)",
        )
    narrator.say("nodes", f"model '{booster.name}' trained; it stays inside the enclaves")
    return booster, len(rounds) or DEMO_ROUNDS


def predict_for_each_party(
    xgbs: Mapping[str, AccordXGBoost],
    clients: Mapping[str, Client],
    dtest: RemoteDMatrix,
    outcomes: Sequence[PartyOutcome],
    labels_of: Mapping[str, Any],
    narrator: Narrator,
) -> None:
    """Each party proposes predictions on its own test rows, which only it can open."""
    proposal_ids = {}
    for outcome in outcomes:
        booster = xgbs[outcome.name].booster("model")
        pending = booster.predict(dtest, wait=False)
        proposal_ids[outcome.name] = pending.proposal_id
        narrator.say(
            outcome.name,
            f"proposes predict on {outcome.name}_test, sealed for {outcome.name} only",
        )
        predictions = approve_as_others(pending, outcome.name, clients, narrator, show=False)
        outcome.predictions = int(predictions.shape[0])
        outcome.accuracy = accuracy(predictions, read_labels(labels_of[outcome.name]))
        several = len(xgbs[outcome.name].node_ids()) > 1
        joined = " (each node's share of the rows, joined)" if several else ""
        narrator.say(
            outcome.name,
            f"decrypted {outcome.predictions} predictions{joined} with its own key; against "
            f"its own labels: accuracy {outcome.accuracy:.2%}",
        )
    first, second = outcomes[0].name, outcomes[1].name
    try:
        clients[second].wait(proposal_ids[first], timeout=30).open("predictions")
    except KeyMaterialError:
        narrator.say(
            second,
            f"fetches {first}'s prediction result as well: it is sealed for {first}; "
            f"{second}'s key cannot open it",
        )
    else:
        outcomes[1].notes.append(f"opened {first}'s predictions")


def joint_evaluation(
    xgbs: Mapping[str, AccordXGBoost],
    clients: Mapping[str, Client],
    booster: RemoteBooster,
    dtest: RemoteDMatrix,
    narrator: Narrator,
) -> Mapping[str, float | None]:
    """Have the first party propose metrics on the joint test rows, for every party."""
    proposer = next(iter(xgbs))
    pending = booster.evaluate(dtest, ["auc", "error"], recipients=list(xgbs), wait=False)
    narrator.say(proposer, "proposes evaluate on the joint test rows, metrics for every party")
    metrics = approve_as_others(pending, proposer, clients, narrator, show=False)
    shown = ", ".join(f"{name} {value:.4f}" for name, value in metrics.items() if value is not None)
    narrator.say("everyone", f"joint test metrics (aggregates only): {shown}")
    return metrics


def verify_audit(clients: Mapping[str, Client], narrator: Narrator) -> dict[str, int]:
    """Every party fetches and verifies every node's signed audit log; return entries per node."""
    counts: dict[str, int] = {}
    logs = {}
    for name, client in clients.items():
        audits = client.audit()
        for node_id, audit in sorted(audits.items()):
            counts[node_id] = len(audit.entries)
            logs[node_id] = audit
        narrator.say(
            name,
            "verified "
            + ", ".join(f"{n}: {len(a.entries)} entries" for n, a in sorted(audits.items()))
            + " (hash chain, enclave signatures, approvals against the agreement)",
        )
    first_node = sorted(logs)[0]
    table = Table(
        "#",
        "operation",
        "proposer",
        "approved by",
        "status",
        "entry hash",
        title=f"{first_node} log",
    )
    for entry in logs[first_node].entries:
        command = entry.command
        table.add_row(
            str(entry.index),
            command.operation,
            command.proposer,
            ", ".join(a.party for a in entry.approvals),
            entry.status,
            entry.hash[:16] + "..",
        )
    narrator.table(table)
    return counts
