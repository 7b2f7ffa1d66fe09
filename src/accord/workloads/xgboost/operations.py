"""The XGBoost operations a node executes: handlers for approved commands.

Each handler reads its command's arguments strictly (docs/xgboost.md gives every schema),
works on the session's :class:`XGBoostState` and returns plaintext outputs, which the
executor seals for each recipient. The consensus gate has already checked that the
recipients are the ones the agreement's output policy allows for the operation; handlers
add the checks that need the session's data (``predict``: the dataset belongs to the
``data_owner`` the policy was applied to).

=====================  ======================================  ===============================
operation              outputs (per recipient)                 recipients allowed (policy)
=====================  ======================================  ===============================
``load``               none                                    none
``train``              none (progress kept in the state)       none
``load_model``         none                                    none
``predict``            ``predictions`` (.npy float32)          predictions on the data owner's
                                                               data
``evaluate``           ``metrics`` (canonical JSON)            ``metrics``
``feature_importance`` ``feature_importance`` (canonical JSON) ``feature_importance``
``save_model``         ``<model>.ubj`` (UBJSON model)          ``models``
``release_model``      ``<model>.json`` or ``.ubj``            ``models``
=====================  ======================================  ===============================
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from accord._internal.canonical import canonical_json
from accord.enclave.executor import OperationContext, OperationHandler, PlainOutput, Workspace
from accord.errors import UsageError
from accord.workloads.xgboost.arguments import Arguments, check_name, shown
from accord.workloads.xgboost.datasets import DatasetSpec, load_group
from accord.workloads.xgboost.distribution import across_nodes, check_same_nodes
from accord.workloads.xgboost.federation import FEDERATION_ARGUMENT, node_share
from accord.workloads.xgboost.matrices import FeatureTable
from accord.workloads.xgboost.models import (
    MODEL_FORMATS,
    booster_from_bytes,
    model_bytes,
    read_sealed_model,
)
from accord.workloads.xgboost.params import check_metric, check_params
from accord.workloads.xgboost.prediction import (
    IMPORTANCE_FORMAT,
    IMPORTANCE_TYPES,
    METRICS_FORMAT,
    encode_predictions,
    evaluate_table,
    feature_importance,
    predict_table,
)
from accord.workloads.xgboost.state import TrainedModel, TrainingRound, XGBoostState
from accord.workloads.xgboost.training import train_booster

__all__ = [
    "MAX_DATASETS",
    "MAX_ROUNDS",
    "PREDICTIONS_OUTPUT",
    "XGBOOST_OPERATIONS",
    "xgboost_state",
]

_LOG: Final = logging.getLogger("accord.workloads.xgboost")
_BLOB_ID: Final = re.compile(r"[0-9a-f]{64}")
MAX_DATASETS: Final = 64
"""The most datasets one ``load`` command may name."""
MAX_ROUNDS: Final = 100_000
"""The most boosting rounds (and early stopping rounds) a ``train`` command may ask for."""
PREDICTIONS_OUTPUT: Final = "predictions"
_MAX_METRICS: Final = 16


def xgboost_state(workspace: Workspace) -> XGBoostState:
    """Return the session's XGBoost state, making it on first use."""
    return workspace.state(XGBoostState)


def _blob(arguments: Arguments, key: str) -> str:
    value = arguments.raw(key)
    if not isinstance(value, str) or _BLOB_ID.fullmatch(value) is None:
        raise UsageError(
            f"{arguments.what(key)} must be a blob id (64 lowercase hex digits), got {shown(value)}"
        )
    return value


def _recipients(context: OperationContext, operation: str) -> tuple[str, ...]:
    recipients = context.command.recipients
    if not recipients:
        raise UsageError(
            f"{operation} produces outputs but the command names no recipient",
            hint="Propose it with recipients that the agreement's output policy allows.",
        )
    return recipients


def run_load(context: OperationContext) -> list[PlainOutput]:
    """``load``: open the parties' sealed datasets into a named dataset group."""
    arguments = Arguments("load", context.command.arguments, required=("datasets", "as"))
    group_name = arguments.name("as")
    state = xgboost_state(context.workspace)
    state.check_new_data_name(group_name, "load")
    specs = []
    items = arguments.sequence("datasets", min_items=1, max_items=MAX_DATASETS)
    for position, item in enumerate(items):
        entry = Arguments(
            f"load: datasets[{position}]",
            item,
            required=("name", "owner", "blob"),
            optional=("label", "weight", "features"),
        )
        spec = DatasetSpec(
            name=entry.name("name"),
            owner=entry.party("owner"),
            blob=_blob(entry, "blob"),
            label=entry.optional_text("label"),
            weight=entry.optional_text("weight"),
            features=entry.names("features", min_items=1, max_items=100_000)
            if "features" in entry
            else None,
        )
        state.check_new_data_name(spec.name, f"load: datasets[{position}]")
        if spec.name == group_name:
            raise UsageError(f"load: dataset {spec.name!r} has the name of its group")
        specs.append(spec)
    share = node_share(context.command, context.session.session_id)
    group = load_group(
        group_name,
        specs,
        session=context.session,
        blobs=context.blobs,
        share=share,
        sessions=context.command.session_ids,
    )
    state.add_group(group)
    _LOG.info(
        "load group=%s datasets=%d rows=%d features=%d share=%d/%d",
        group_name,
        len(group.datasets),
        group.table.num_rows,
        group.table.num_features,
        share.index + 1,
        share.count,
    )
    return []


def run_train(context: OperationContext) -> list[PlainOutput]:
    """``train``: train a model on a dataset group and keep it in the session."""
    arguments = Arguments(
        "train",
        context.command.arguments,
        required=("data", "params", "num_boost_round", "model"),
        optional=("evals", "early_stopping_rounds", "maximize", FEDERATION_ARGUMENT),
    )
    state = xgboost_state(context.workspace)
    model_name = arguments.name("model")
    state.check_new_model_name(model_name, "train")
    data = arguments.name("data")
    table = state.table(data, arguments.what("data"))
    check_same_nodes(state, data, context.command, arguments.what("data"))
    params = check_params(arguments.mapping("params"), arguments.what("params"))
    rounds = arguments.integer("num_boost_round", minimum=1, maximum=MAX_ROUNDS)
    evals = _evals(arguments, state, context) if "evals" in arguments else []
    early = arguments.optional_integer("early_stopping_rounds", minimum=1, maximum=MAX_ROUNDS)
    maximize = arguments.boolean("maximize", default=False) if "maximize" in arguments else None

    def on_round(iteration: int, metrics: Mapping[str, float]) -> None:
        state.record_round(TrainingRound(model_name, iteration, rounds, dict(metrics)))
        shown_metrics = " ".join(f"{name}={value:.6g}" for name, value in metrics.items())
        _LOG.info("train model=%s round %d/%d %s", model_name, iteration + 1, rounds, shown_metrics)

    state.forget_progress(model_name)
    with across_nodes(context, "train"):
        booster = train_booster(
            table,
            params,
            num_boost_round=rounds,
            nthread=state.nthread,
            evals=evals,
            early_stopping_rounds=early,
            maximize=maximize,
            on_round=on_round,
        )
    state.add_model(TrainedModel(model_name, booster, f"trained on {data}"))
    _LOG.info("train model=%s done after %d rounds", model_name, booster.num_boosted_rounds())
    return []


def _evals(
    arguments: Arguments, state: XGBoostState, context: OperationContext
) -> list[tuple[FeatureTable, str]]:
    evals = []
    labels: set[str] = set()
    for position, pair in enumerate(arguments.sequence("evals", min_items=1, max_items=16)):
        where = f"{arguments.what('evals')}[{position}]"
        if isinstance(pair, str) or not isinstance(pair, list | tuple) or len(pair) != 2:
            raise UsageError(f"{where} must be a pair [dataset name, label], got {shown(pair)}")
        data = check_name(pair[0], f"{where}[0]")
        label = check_name(pair[1], f"{where}[1]")
        if label in labels:
            raise UsageError(f"{where}: evaluation label {label!r} is used twice")
        labels.add(label)
        evals.append((state.table(data, where), label))
        check_same_nodes(state, data, context.command, where)
    return evals


def run_predict(context: OperationContext) -> list[PlainOutput]:
    """``predict``: predictions on one party's dataset, for that party (as the policy allows)."""
    arguments = Arguments(
        "predict",
        context.command.arguments,
        required=("model", "data", "data_owner"),
        optional=("output_margin", "iteration_range"),
    )
    state = xgboost_state(context.workspace)
    model = state.model(arguments.name("model"), arguments.what("model"))
    dataset = state.dataset(arguments.name("data"), arguments.what("data"))
    check_same_nodes(state, dataset.name, context.command, arguments.what("data"))
    owner = arguments.party("data_owner")
    if owner != dataset.owner:
        raise UsageError(
            f"predict: dataset {dataset.name!r} belongs to {dataset.owner}, but the command "
            f"names {owner} as 'data_owner'; predictions go only where the output policy "
            f"lets predictions on {dataset.owner}'s data go",
            hint=f"Propose predict with data_owner {dataset.owner!r}.",
        )
    recipients = _recipients(context, "predict")
    output_margin = arguments.boolean("output_margin", default=False)
    iteration_range = _iteration_range(arguments) if "iteration_range" in arguments else (0, 0)
    values = predict_table(
        model.booster,
        dataset.table(),
        nthread=state.nthread,
        output_margin=output_margin,
        iteration_range=iteration_range,
    )
    encoded = encode_predictions(values)
    _LOG.info("predict model=%s data=%s rows=%d", model.name, dataset.name, dataset.rows)
    return [PlainOutput(recipient, PREDICTIONS_OUTPUT, encoded) for recipient in recipients]


def _iteration_range(arguments: Arguments) -> tuple[int, int]:
    where = arguments.what("iteration_range")
    pair = arguments.sequence("iteration_range", min_items=2, max_items=2)
    if any(isinstance(v, bool) or not isinstance(v, int) for v in pair):
        raise UsageError(f"{where} must be two integers [start, stop]")
    start, stop = int(pair[0]), int(pair[1])
    if not 0 <= start <= stop <= MAX_ROUNDS:
        raise UsageError(f"{where} must satisfy 0 <= start <= stop <= {MAX_ROUNDS}")
    return start, stop


def run_evaluate(context: OperationContext) -> list[PlainOutput]:
    """``evaluate``: metrics of a model on a dataset or group, for the metrics recipients."""
    arguments = Arguments(
        "evaluate",
        context.command.arguments,
        required=("model", "data", "metrics"),
        optional=(FEDERATION_ARGUMENT,),
    )
    state = xgboost_state(context.workspace)
    model = state.model(arguments.name("model"), arguments.what("model"))
    data = arguments.name("data")
    table = state.table(data, arguments.what("data"))
    check_same_nodes(state, data, context.command, arguments.what("data"))
    items = arguments.sequence("metrics", min_items=1, max_items=_MAX_METRICS)
    metrics = [check_metric(m, f"{arguments.what('metrics')}[{i}]") for i, m in enumerate(items)]
    if len(set(metrics)) != len(metrics):
        raise UsageError(f"{arguments.what('metrics')} names a metric twice")
    recipients = _recipients(context, "evaluate")
    rows = table.num_rows
    with across_nodes(context, "evaluate") as run:
        values = evaluate_table(model.booster, table, metrics, nthread=state.nthread)
        if run is not None:
            rows = int(run.sum(rows))
    document = canonical_json(
        {
            "format": METRICS_FORMAT,
            "model": model.name,
            "data": data,
            "rows": rows,
            "metrics": values,
        }
    )
    return [PlainOutput(recipient, "metrics", document) for recipient in recipients]


def run_feature_importance(context: OperationContext) -> list[PlainOutput]:
    """``feature_importance``: a model's feature scores, for the feature importance recipients."""
    arguments = Arguments(
        "feature_importance",
        context.command.arguments,
        required=("model",),
        optional=("importance_type",),
    )
    state = xgboost_state(context.workspace)
    model = state.model(arguments.name("model"), arguments.what("model"))
    importance_type = arguments.choice("importance_type", IMPORTANCE_TYPES, default="weight")
    recipients = _recipients(context, "feature_importance")
    document = canonical_json(
        {
            "format": IMPORTANCE_FORMAT,
            "model": model.name,
            "importance_type": importance_type,
            "scores": feature_importance(model.booster, importance_type),
        }
    )
    return [PlainOutput(recipient, "feature_importance", document) for recipient in recipients]


def run_save_model(context: OperationContext) -> list[PlainOutput]:
    """``save_model``: the model as UBJSON, sealed for each recipient to store and load again."""
    arguments = Arguments("save_model", context.command.arguments, required=("model",))
    state = xgboost_state(context.workspace)
    model = state.model(arguments.name("model"), arguments.what("model"))
    recipients = _recipients(context, "save_model")
    data = model_bytes(model.booster, "ubj")
    return [PlainOutput(recipient, f"{model.name}.ubj", data) for recipient in recipients]


def run_release_model(context: OperationContext) -> list[PlainOutput]:
    """``release_model``: the model as XGBoost JSON (or UBJSON) for the parties allowed."""
    arguments = Arguments(
        "release_model", context.command.arguments, required=("model",), optional=("format",)
    )
    state = xgboost_state(context.workspace)
    model = state.model(arguments.name("model"), arguments.what("model"))
    model_format = arguments.choice("format", MODEL_FORMATS, default="json")
    recipients = _recipients(context, "release_model")
    data = model_bytes(model.booster, model_format)
    name = f"{model.name}.{model_format}"
    return [PlainOutput(recipient, name, data) for recipient in recipients]


def run_load_model(context: OperationContext) -> list[PlainOutput]:
    """``load_model``: a model saved earlier, from a blob sealed with its owner's key."""
    arguments = Arguments(
        "load_model", context.command.arguments, required=("model", "blob", "owner")
    )
    state = xgboost_state(context.workspace)
    name = arguments.name("model")
    state.check_new_model_name(name, "load_model")
    blob = _blob(arguments, "blob")
    owner = arguments.party("owner")
    where = f"load_model: blob {blob[:16]}.. ({owner})"
    data = read_sealed_model(
        context.blobs.path(blob), session=context.session, owner=owner, where=where
    )
    booster = booster_from_bytes(data, nthread=state.nthread, where=where)
    state.add_model(TrainedModel(name, booster, f"loaded from blob {blob}"))
    _LOG.info("load_model model=%s rounds=%d", name, booster.num_boosted_rounds())
    return []


XGBOOST_OPERATIONS: Final[Mapping[str, OperationHandler]] = MappingProxyType(
    {
        "evaluate": run_evaluate,
        "feature_importance": run_feature_importance,
        "load": run_load,
        "load_model": run_load_model,
        "predict": run_predict,
        "release_model": run_release_model,
        "save_model": run_save_model,
        "train": run_train,
    }
)
"""The XGBoost operations; give them to a node's executor with the built-in ones::

    CommandRunner(agreement, session, blobs,
                  operations={**BUILTIN_OPERATIONS, **XGBOOST_OPERATIONS})
"""
