"""The XGBoost workload's state in one enclave session: datasets, models and progress.

One :class:`XGBoostState` lives in the executor's workspace
(:class:`accord.enclave.executor.Workspace`), in enclave memory only: it is never written,
pickled or copied, and it goes when the session's executor goes (or :meth:`clear` is
called). Names are unique within a session: a dataset and a group never share a name, and a
name is never reused for other data or another model (so a command approved for one dataset
cannot silently run on another).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NoReturn

import xgboost

from accord.errors import UsageError
from accord.workloads.xgboost.datasets import DatasetGroup, LoadedDataset
from accord.workloads.xgboost.matrices import FeatureTable

__all__ = ["TrainedModel", "TrainingRound", "XGBoostState", "default_nthread"]


def default_nthread() -> int:
    """Return the CPUs this process may run on (its affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover -- platforms without affinity
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class TrainingRound:
    """The evaluation results of one boosting round (metric values only, never data).

    Attributes
    ----------
    model
        The model being trained.
    round
        The round, from 0.
    total
        The rounds asked for (``num_boost_round``).
    metrics
        ``"<eval name>-<metric>"`` to its value after this round (empty without ``evals``).
    """

    model: str
    round: int
    total: int
    metrics: Mapping[str, float]

    def to_json(self) -> dict[str, Any]:
        """Return the round as a JSON object (for progress reports)."""
        return {
            "model": self.model,
            "round": self.round,
            "total": self.total,
            "metrics": dict(self.metrics),
        }


@dataclass(frozen=True, eq=False)
class TrainedModel:
    """A model kept in the session.

    Attributes
    ----------
    name
        Its name in the session.
    booster
        The XGBoost booster (never pickled; saved only as JSON or UBJSON).
    origin
        Where it came from: ``"trained on <group>"`` or ``"loaded from blob <id>"``.
    """

    name: str
    booster: xgboost.Booster
    origin: str


class XGBoostState:
    """Datasets, dataset groups, models and training progress of one session.

    Parameters
    ----------
    nthread
        Threads XGBoost uses unless a command's ``params`` set ``nthread``; by default the
        CPUs this process may run on (restrict the node's CPU affinity to share a host).
    """

    def __init__(self, *, nthread: int | None = None) -> None:
        if nthread is not None and not 1 <= nthread <= 256:
            raise UsageError(f"nthread must be from 1 to 256, got {nthread}")
        self.nthread = nthread if nthread is not None else default_nthread()
        self._groups: dict[str, DatasetGroup] = {}
        self._datasets: dict[str, LoadedDataset] = {}
        self._models: dict[str, TrainedModel] = {}
        self._rounds: list[TrainingRound] = []
        self._lock = threading.Lock()

    @property
    def groups(self) -> Mapping[str, DatasetGroup]:
        """Dataset groups by name (read-only view)."""
        return MappingProxyType(self._groups)

    @property
    def datasets(self) -> Mapping[str, LoadedDataset]:
        """Datasets by name (read-only view)."""
        return MappingProxyType(self._datasets)

    @property
    def models(self) -> Mapping[str, TrainedModel]:
        """Models by name (read-only view)."""
        return MappingProxyType(self._models)

    def check_new_data_name(self, name: str, where: str) -> None:
        """Refuse ``name`` for a new dataset or group if the session already uses it."""
        if name in self._groups or name in self._datasets:
            kind = "dataset group" if name in self._groups else "dataset"
            raise UsageError(
                f"{where}: {kind} {name!r} is already loaded in this session; choose another name"
            )

    def add_group(self, group: DatasetGroup) -> None:
        """Keep a loaded group and its datasets.

        Raises
        ------
        UsageError
            If a name is already in use.
        """
        self.check_new_data_name(group.name, "load")
        for dataset in group.datasets:
            self.check_new_data_name(dataset.name, "load")
        self._groups[group.name] = group
        for dataset in group.datasets:
            self._datasets[dataset.name] = dataset

    def group(self, name: str, where: str) -> DatasetGroup:
        """Return group ``name``.

        Raises
        ------
        UsageError
            If there is no such group (naming what there is).
        """
        group = self._groups.get(name)
        if group is None:
            if name in self._datasets:
                raise UsageError(
                    f"{where}: {name!r} is a dataset of group {self._datasets[name].group!r}; "
                    "name a dataset group"
                )
            raise UsageError(
                f"{where}: no dataset group {name!r} is loaded in this session "
                f"(groups: {', '.join(sorted(self._groups)) or 'none'})"
            )
        return group

    def dataset(self, name: str, where: str) -> LoadedDataset:
        """Return dataset ``name`` (one party's data).

        Raises
        ------
        UsageError
            If there is no such dataset; a group's name is refused too, naming its datasets.
        """
        dataset = self._datasets.get(name)
        if dataset is None:
            if name in self._groups:
                members = ", ".join(d.name for d in self._groups[name].datasets)
                raise UsageError(
                    f"{where}: {name!r} is a dataset group; name one of its datasets ({members})"
                )
            raise UsageError(
                f"{where}: no dataset {name!r} is loaded in this session "
                f"(datasets: {', '.join(sorted(self._datasets)) or 'none'})"
            )
        return dataset

    def table(self, name: str, where: str) -> FeatureTable:
        """Return the rows of dataset or group ``name``.

        Raises
        ------
        UsageError
            If neither exists.
        """
        if name in self._groups:
            return self._groups[name].table
        return self.dataset(name, where).table()

    def model(self, name: str, where: str) -> TrainedModel:
        """Return model ``name``.

        Raises
        ------
        UsageError
            If there is no such model.
        """
        model = self._models.get(name)
        if model is None:
            raise UsageError(
                f"{where}: no model {name!r} is in this session "
                f"(models: {', '.join(sorted(self._models)) or 'none'})"
            )
        return model

    def check_new_model_name(self, name: str, where: str) -> None:
        """Refuse ``name`` for a new model if the session already has a model of that name."""
        if name in self._models:
            raise UsageError(f"{where}: model {name!r} already exists; choose another name")

    def add_model(self, model: TrainedModel) -> None:
        """Keep a model.

        Raises
        ------
        UsageError
            If the name is taken.
        """
        self.check_new_model_name(model.name, "model")
        self._models[model.name] = model

    def record_round(self, entry: TrainingRound) -> None:
        """Append one round's evaluation results to the progress record."""
        with self._lock:
            self._rounds.append(entry)

    def progress(self, model: str | None = None, *, start: int = 0) -> tuple[TrainingRound, ...]:
        """Return the recorded rounds (of ``model`` only, if given) from round ``start`` on.

        Safe to call from another thread while a model trains (a progress RPC).
        """
        with self._lock:
            rounds = tuple(self._rounds)
        return tuple(r for r in rounds if (model is None or r.model == model) and r.round >= start)

    def forget_progress(self, model: str) -> None:
        """Drop the rounds recorded for ``model`` (a new training under a name that failed)."""
        with self._lock:
            self._rounds = [r for r in self._rounds if r.model != model]

    def sessions_of(self, name: str) -> tuple[str, ...]:
        """Return the sessions that share dataset or group ``name`` (empty if not recorded)."""
        group = self._groups.get(name)
        if group is None and name in self._datasets:
            group = self._groups.get(self._datasets[name].group)
        return group.sessions if group is not None else ()

    def clear(self) -> None:
        """Drop every dataset, model and progress record."""
        with self._lock:
            self._rounds.clear()
        self._groups.clear()
        self._datasets.clear()
        self._models.clear()

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("XGBoostState holds the parties' data and cannot be pickled")

    def __copy__(self) -> NoReturn:
        raise TypeError("XGBoostState cannot be copied")

    def __deepcopy__(self, memo: Any) -> NoReturn:
        raise TypeError("XGBoostState cannot be copied")

    def __repr__(self) -> str:
        return (
            f"XGBoostState({len(self._groups)} groups, {len(self._datasets)} datasets, "
            f"{len(self._models)} models)"
        )
