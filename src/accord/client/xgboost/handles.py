"""Names of things inside the enclaves, as a party holds them: datasets and dataset groups.

A :class:`Dataset` is one party's sealed file on the orchestrator (its blob id) with the name
it gets when loaded. A :class:`RemoteDMatrix` names a dataset group (or one dataset) that a
``load`` command put into the enclave sessions: the counterpart of ``xgboost.DMatrix``,
except that its rows never leave the enclaves. Both are plain values: they hold names and
blob ids, never data, and any party may build them (for example from a ``load`` command it
approved, see :meth:`RemoteDMatrix.from_load_arguments`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from accord.errors import UsageError

__all__ = ["Dataset", "RemoteDMatrix"]

_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_BLOB: Final = re.compile(r"[0-9a-f]{64}")
_NAME_RULE: Final = "1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit"


def check_name(value: str, what: str) -> str:
    """Return ``value`` if it is a valid enclave-side name (docs/xgboost.md, section 2).

    Raises
    ------
    UsageError
        Naming ``what`` and the rule.
    """
    if not isinstance(value, str) or _NAME.fullmatch(value) is None:
        raise UsageError(f"{what} must be a name ({_NAME_RULE}), got {value!r}")
    return value


@dataclass(frozen=True)
class Dataset:
    """One party's sealed dataset, uploaded to the orchestrator, as ``load`` names it.

    Attributes
    ----------
    name
        The dataset's name once loaded (unique in the enclave session).
    owner
        The party whose data key sealed it (only that party's released key opens it).
    blob
        The blob id of the sealed file (SHA-256, as :meth:`accord.client.Client.upload`
        returns it).
    label, weight
        CSV and Parquet: the label and weight columns (default: the ones the sealed file's
        header declares).
    features
        CSV and Parquet: the feature columns in order (default: every other column).
    """

    name: str
    owner: str
    blob: str
    label: str | None = None
    weight: str | None = None
    features: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        check_name(self.name, "a dataset name")
        if not isinstance(self.owner, str) or not self.owner:
            raise UsageError(f"dataset {self.name!r} needs an owner (a party name)")
        if not isinstance(self.blob, str) or _BLOB.fullmatch(self.blob) is None:
            raise UsageError(
                f"dataset {self.name!r}: {self.blob!r} is not a blob id (64 lowercase hex digits)",
                hint="Use the id that client.upload(sealed_file) returned.",
            )
        if self.features is not None:
            object.__setattr__(self, "features", tuple(self.features))

    def to_argument(self) -> dict[str, Any]:
        """Return the dataset as one item of a ``load`` command's ``datasets`` list."""
        item: dict[str, Any] = {"name": self.name, "owner": self.owner, "blob": self.blob}
        if self.label is not None:
            item["label"] = self.label
        if self.weight is not None:
            item["weight"] = self.weight
        if self.features is not None:
            item["features"] = list(self.features)
        return item

    @classmethod
    def from_argument(cls, item: Mapping[str, Any]) -> Dataset:
        """Read one item of a ``load`` command's ``datasets`` list.

        Raises
        ------
        UsageError
            If the item is not a dataset as ``load`` takes it.
        """
        try:
            features = item.get("features")
            return cls(
                name=item["name"],
                owner=item["owner"],
                blob=item["blob"],
                label=item.get("label"),
                weight=item.get("weight"),
                features=tuple(features) if features is not None else None,
            )
        except (KeyError, TypeError, AttributeError):
            raise UsageError(f"{item!r} is not a dataset of a load command") from None


@dataclass(frozen=True)
class RemoteDMatrix:
    """A dataset group (or one dataset) loaded into the enclave sessions.

    The counterpart of ``xgboost.DMatrix`` for data that stays sealed: it names rows that
    exist only inside the enclaves. ``train``, ``evaluate`` and evaluation sets take a group
    or a dataset; ``predict`` takes one party's dataset (given a group, the facade picks the
    dataset that belongs to the predicting party).

    Attributes
    ----------
    name
        The group's (or the dataset's) name in the enclave sessions.
    datasets
        Its datasets, in the order their rows are concatenated.
    """

    name: str
    datasets: tuple[Dataset, ...]

    def __post_init__(self) -> None:
        check_name(self.name, "a dataset group name")
        object.__setattr__(self, "datasets", tuple(self.datasets))
        if not self.datasets:
            raise UsageError(f"dataset group {self.name!r} holds no dataset")
        names = [dataset.name for dataset in self.datasets]
        if len(set(names)) != len(names) or (self.is_group and self.name in names):
            raise UsageError(f"dataset group {self.name!r} repeats a name: {', '.join(names)}")

    @property
    def is_group(self) -> bool:
        """Whether this names a group (not a single dataset)."""
        return not (len(self.datasets) == 1 and self.datasets[0].name == self.name)

    @property
    def owners(self) -> tuple[str, ...]:
        """The parties whose rows it holds, in order of first appearance."""
        return tuple(dict.fromkeys(dataset.owner for dataset in self.datasets))

    def __getitem__(self, name: str) -> RemoteDMatrix:
        """Return the member dataset ``name`` as a handle of its own (for ``predict``)."""
        for dataset in self.datasets:
            if dataset.name == name:
                return RemoteDMatrix(dataset.name, (dataset,))
        raise UsageError(
            f"dataset group {self.name!r} has no dataset {name!r}; it has "
            f"{', '.join(d.name for d in self.datasets)}"
        )

    def owned_by(self, party: str) -> RemoteDMatrix:
        """Return the one dataset of ``party`` in this group.

        Raises
        ------
        UsageError
            If ``party`` has no dataset here, or several (name one with ``group[name]``).
        """
        mine = [dataset for dataset in self.datasets if dataset.owner == party]
        if len(mine) != 1:
            listed = ", ".join(f"{d.name} ({d.owner})" for d in self.datasets)
            raise UsageError(
                f"{self.name!r} holds {len(mine)} datasets of {party}, not one ({listed})",
                hint="Predictions are made on one party's dataset: pass group['<dataset>'].",
            )
        return self[mine[0].name]

    @classmethod
    def from_load_arguments(cls, arguments: Mapping[str, Any]) -> RemoteDMatrix:
        """Rebuild the handle from the arguments of a ``load`` command (e.g. one approved).

        Raises
        ------
        UsageError
            If the arguments are not those of a ``load`` command.
        """
        name = arguments.get("as")
        items = arguments.get("datasets")
        if not isinstance(name, str) or not isinstance(items, Sequence) or isinstance(items, str):
            raise UsageError("these are not the arguments of a load command")
        return cls(name, tuple(Dataset.from_argument(item) for item in items))

    def describe(self) -> str:
        """Return ``name [dataset (owner), ...]`` for messages."""
        inner = ", ".join(f"{d.name} ({d.owner})" for d in self.datasets)
        return f"{self.name} [{inner}]" if self.is_group else inner
