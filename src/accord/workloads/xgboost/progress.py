"""Training progress as parties follow it: the ``GetProgress`` answer and its reader.

A node answers ``GetProgress(model, start_round)`` with canonical JSON (RFC 8785)::

    {"format": "accord-xgboost-progress/v1",
     "model": "m",
     "rounds": [{"metrics": {"test-auc": 0.98}, "model": "m", "round": 0, "total": 10}, ...]}

``rounds`` holds the recorded rounds of that model from ``start_round`` on, in order, at most
:data:`MAX_ROUNDS_PER_ANSWER` of them (ask again from the next round for more); a metric
value that is not finite is ``null``. Models trained across nodes report the same rounds
on every node. :func:`decode_progress` reads the answer on the party's side.

Progress is round numbers and evaluation metric values, as the node's log shows them; the
node answers anyone who reaches it, like ``GetStatus``.
"""

from __future__ import annotations

import math
from typing import Any, Final

from accord._internal.canonical import canonical_json
from accord.attest._fields import load_json_object, require_keys
from accord.enclave.executor import Workspace
from accord.errors import UsageError, VerificationError
from accord.v1 import node_pb2
from accord.workloads.xgboost.arguments import NAME_PATTERN
from accord.workloads.xgboost.state import TrainingRound, XGBoostState

__all__ = [
    "MAX_ROUNDS_PER_ANSWER",
    "PROGRESS_FORMAT",
    "decode_progress",
    "progress_document",
    "progress_response",
]

PROGRESS_FORMAT: Final = "accord-xgboost-progress/v1"
MAX_ROUNDS_PER_ANSWER: Final = 1000
"""The most rounds one ``GetProgress`` answer carries."""
_MAX_DOCUMENT_BYTES: Final = 8 * 1024 * 1024
_ROUND_FIELDS: Final = frozenset({"model", "round", "total", "metrics"})


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def progress_document(state: XGBoostState | None, model: str, start_round: int) -> bytes:
    """Return the progress answer for ``model`` from ``start_round`` (see the module docstring).

    Raises
    ------
    UsageError
        If ``model`` is not a name or ``start_round`` is negative.
    """
    if NAME_PATTERN.fullmatch(model) is None:
        raise UsageError(f"progress: {model[:64]!r} is not a model name")
    if start_round < 0:
        raise UsageError("progress: the start round must be 0 or more")
    rounds = state.progress(model, start=start_round) if state is not None else ()
    return canonical_json(
        {
            "format": PROGRESS_FORMAT,
            "model": model,
            "rounds": [
                {
                    "model": entry.model,
                    "round": entry.round,
                    "total": entry.total,
                    "metrics": {
                        name: _finite_or_none(value) for name, value in entry.metrics.items()
                    },
                }
                for entry in rounds[:MAX_ROUNDS_PER_ANSWER]
            ],
        }
    )


def progress_response(
    workspace: Workspace, model: str, start_round: int
) -> node_pb2.ProgressResponse:
    """Answer ``GetProgress`` from the session's XGBoost state."""
    document = progress_document(workspace.find(XGBoostState), model, start_round)
    return node_pb2.ProgressResponse(rounds=document)


def decode_progress(data: bytes) -> tuple[TrainingRound, ...]:
    """Read a ``GetProgress`` answer (a party's side); ``null`` metrics become NaN.

    Raises
    ------
    VerificationError
        If the answer is not an ``accord-xgboost-progress/v1`` document.
    """
    error = VerificationError
    document = load_json_object(data, "progress", max_len=_MAX_DOCUMENT_BYTES, error=error)
    require_keys(document, frozenset({"format", "model", "rounds"}), "progress", error=error)
    if document["format"] != PROGRESS_FORMAT or not isinstance(document["rounds"], list):
        raise error(f"progress must be an {PROGRESS_FORMAT} document")
    return tuple(_round(item, document["model"]) for item in document["rounds"])


def _round(item: Any, model: Any) -> TrainingRound:
    error = VerificationError
    if not isinstance(item, dict):
        raise error("progress: a round must be an object")
    require_keys(item, _ROUND_FIELDS, "progress round", error=error)
    number, total, metrics = item["round"], item["total"], item["metrics"]
    if (
        item["model"] != model
        or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in (number, total))
        or not isinstance(metrics, dict)
    ):
        raise error("progress: a round has a malformed model, round, total or metrics")
    values: dict[str, float] = {}
    for name, value in metrics.items():
        if value is None:
            values[name] = math.nan
        elif isinstance(value, int | float) and not isinstance(value, bool):
            values[name] = float(value)
        else:
            raise error(f"progress: metric {name[:64]!r} is not a number")
    return TrainingRound(model=str(model), round=number, total=total, metrics=values)
