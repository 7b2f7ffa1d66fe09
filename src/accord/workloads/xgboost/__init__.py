"""XGBoost on the parties' joint sealed data, inside the enclave nodes.

The node side: :data:`XGBOOST_OPERATIONS` are the handlers of the operations ``load``,
``train``, ``predict``, ``evaluate``, ``feature_importance``, ``save_model``,
``release_model`` and ``load_model``; give them to the node's executor::

    runner = CommandRunner(agreement, session, blobs,
                           operations={**BUILTIN_OPERATIONS, **XGBOOST_OPERATIONS})

Their state (datasets, models, training progress) is an :class:`XGBoostState` in the
executor's workspace (:func:`xgboost_state`): enclave memory only, one per session.

The party side: :func:`decode_predictions` reads the plaintext of a ``predictions`` output
(:func:`join_predictions` joins the shares of several nodes), :func:`decode_progress` the
answer of ``GetProgress``, and :func:`federation_argument` builds the ``federation`` argument
of commands that run across several nodes (subpackage :mod:`.federation`).
Models come out as XGBoost JSON or UBJSON, never pickle; metrics and feature importance as
canonical JSON. docs/xgboost.md specifies every operation's arguments and outputs.
"""

from accord.workloads.xgboost.datasets import (
    DatasetGroup,
    DatasetSpec,
    LoadedDataset,
    NodeShare,
    load_group,
)
from accord.workloads.xgboost.federation import federation_argument, node_rank, node_share
from accord.workloads.xgboost.matrices import FeatureTable
from accord.workloads.xgboost.operations import (
    PREDICTIONS_OUTPUT,
    XGBOOST_OPERATIONS,
    xgboost_state,
)
from accord.workloads.xgboost.params import METRICS, OBJECTIVES, PARAMETERS, check_params
from accord.workloads.xgboost.prediction import (
    decode_predictions,
    encode_predictions,
    join_predictions,
)
from accord.workloads.xgboost.progress import (
    PROGRESS_FORMAT,
    decode_progress,
    progress_document,
    progress_response,
)
from accord.workloads.xgboost.state import TrainedModel, TrainingRound, XGBoostState
from accord.workloads.xgboost.training import train_booster

__all__ = [
    "METRICS",
    "OBJECTIVES",
    "PARAMETERS",
    "PREDICTIONS_OUTPUT",
    "PROGRESS_FORMAT",
    "XGBOOST_OPERATIONS",
    "DatasetGroup",
    "DatasetSpec",
    "FeatureTable",
    "LoadedDataset",
    "NodeShare",
    "TrainedModel",
    "TrainingRound",
    "XGBoostState",
    "check_params",
    "decode_predictions",
    "decode_progress",
    "encode_predictions",
    "federation_argument",
    "join_predictions",
    "load_group",
    "node_rank",
    "node_share",
    "progress_document",
    "progress_response",
    "train_booster",
    "xgboost_state",
]
