"""Loading the parties' sealed datasets into feature matrices in enclave memory.

Each dataset of a ``load`` command is one party's sealed blob. It is opened with the data key
that party released to this session, chosen by the key id in the file's header: a blob
sealed with any other party's key is refused (:class:`~accord.errors.KeyMaterialError`)
before anything is read, so no party can pass another party's data off as its own. Every
chunk is authenticated before it is parsed (:class:`~accord.crypto.sealed.SealedReader`).

The datasets of one command form a :class:`DatasetGroup`: one matrix holding every party's
rows in command order, then file order. LibSVM gives a ``scipy.sparse`` CSR matrix (absent
entries are *missing*, as in XGBoost); CSV and Parquet give a dense float32 matrix whose
columns are the feature columns, which must be the same, in the same order, for every party
of the group. Each :class:`LoadedDataset` is a row range of its group's matrix.

A node loads its :class:`NodeShare` of each file's chunks; one node (the default) loads all.
The split is chunk-granular: node ``r`` of ``N`` loads chunks ``[c * r // N, c * (r + 1) //
N)`` of a file of ``c`` chunks, so the shares of the ``N`` nodes are exactly the file's
chunks, each once, in order (node 0 the first ones). Concatenating the nodes' rows in rank
order gives the file's rows in file order. A file with fewer chunks than nodes leaves some
nodes without rows of it; such a node still takes part (XGBoost trains with empty shares).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from accord.crypto.sealed import ContentType, LibSvmBatch, SealedReader, inspect_file
from accord.enclave.executor import BlobSource
from accord.enclave.session import EnclaveSession
from accord.errors import IntegrityError, UsageError
from accord.workloads.xgboost.matrices import FeatureTable, column_as_float32, stack_sparse

__all__ = ["DatasetGroup", "DatasetSpec", "LoadedDataset", "NodeShare", "load_group"]

_DENSE: Final = (ContentType.CSV, ContentType.ARROW)


@dataclass(frozen=True)
class NodeShare:
    """Which part of each sealed file a node loads: contiguous chunk ranges, one per node.

    Parameters
    ----------
    index
        This node's position, from 0.
    count
        How many nodes share the rows (1: this node loads everything).
    """

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise UsageError(f"node share {self.index} of {self.count} is out of range")

    def chunks(self, total: int) -> range:
        """Return the chunk indices of a ``total``-chunk file that this node loads."""
        return range(total * self.index // self.count, total * (self.index + 1) // self.count)


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset of a ``load`` command, as its arguments name it.

    Parameters
    ----------
    name
        The dataset's name in this session.
    owner
        The party whose data it is (its released key must have sealed the blob).
    blob
        The sealed blob's id.
    label, weight
        The label and weight columns (CSV and Parquet); ``None`` takes the column the
        file's header declares.
    features
        The feature columns in order; ``None`` takes every other column in file order.
    """

    name: str
    owner: str
    blob: str
    label: str | None = None
    weight: str | None = None
    features: tuple[str, ...] | None = None


@dataclass(frozen=True, eq=False)
class LoadedDataset:
    """One party's dataset: a row range of its group's matrix.

    Attributes
    ----------
    name, owner
        As the ``load`` command named them.
    group
        The name of the group it was loaded in.
    start, stop
        Its rows within the group's table.
    """

    name: str
    owner: str
    group: str
    start: int
    stop: int
    _table: FeatureTable

    @property
    def rows(self) -> int:
        """Its row count."""
        return self.stop - self.start

    def table(self) -> FeatureTable:
        """Return its rows (a view of the group's matrix when dense)."""
        return self._table.rows(self.start, self.stop)


@dataclass(frozen=True, eq=False)
class DatasetGroup:
    """The datasets one ``load`` command named, as one table of all their rows.

    Attributes
    ----------
    name
        The group's name.
    datasets
        Its datasets, in command order.
    table
        Every row of every dataset, in that order (this node's share of them).
    sessions
        The node sessions whose shares make up the whole group (the ``load`` command's
        session ids); empty when loaded outside a command.
    """

    name: str
    datasets: tuple[LoadedDataset, ...]
    table: FeatureTable
    sessions: tuple[str, ...] = ()

    @property
    def owners(self) -> tuple[str, ...]:
        """The parties whose data the group holds, sorted, each once."""
        return tuple(sorted({dataset.owner for dataset in self.datasets}))


@dataclass(frozen=True)
class _Source:
    spec: DatasetSpec
    reader: SealedReader
    chunks: range
    label: str | None
    weight: str | None
    features: tuple[str, ...] | None

    @property
    def where(self) -> str:
        return f"dataset {self.spec.name!r} ({self.spec.owner})"

    @property
    def rows(self) -> int:
        return sum(self.reader.chunk_rows(index) for index in self.chunks)

    @property
    def file_rows(self) -> int:
        return sum(self.reader.chunk_rows(index) for index in range(self.reader.chunk_count))


def load_group(
    name: str,
    specs: Sequence[DatasetSpec],
    *,
    session: EnclaveSession,
    blobs: BlobSource,
    share: NodeShare = NodeShare(),
    sessions: Sequence[str] = (),
) -> DatasetGroup:
    """Open, authenticate and parse every dataset of a ``load`` command into one group.

    Parameters
    ----------
    name
        The group's name.
    specs
        The datasets, in command order.
    session
        The enclave session holding the parties' released data keys.
    blobs
        The node's blob store.
    share
        The part of each file this node loads.
    sessions
        The sessions of all nodes that load a share (recorded in the group).

    Returns
    -------
    DatasetGroup
        The group (this node's share of it, possibly no rows when several nodes share
        it); nothing is kept anywhere when loading fails.

    Raises
    ------
    KeyMaterialError
        A blob sealed with a key its named owner did not release to this session.
    IntegrityError
        A blob that is damaged, tampered with or does not parse as its content type says.
    UsageError
        Unknown blob, opaque bytes, unknown or non-numeric columns, missing or non-finite
        labels, or datasets whose features differ.
    """
    with ExitStack() as stack:
        sources = [_open(spec, session, blobs, share, stack) for spec in specs]
        _check_consistent(sources)
        if sum(source.file_rows for source in sources) == 0:
            raise UsageError(f"load: the datasets of group {name!r} hold no rows")
        sparse = sources[0].features is None
        table = _read_sparse(sources) if sparse else _read_dense(sources)
    datasets = []
    start = 0
    for source in sources:
        stop = start + source.rows
        spec = source.spec
        datasets.append(LoadedDataset(spec.name, spec.owner, name, start, stop, table))
        start = stop
    return DatasetGroup(name=name, datasets=tuple(datasets), table=table, sessions=tuple(sessions))


def _open(
    spec: DatasetSpec,
    session: EnclaveSession,
    blobs: BlobSource,
    share: NodeShare,
    stack: ExitStack,
) -> _Source:
    path = blobs.path(spec.blob)
    where = f"dataset {spec.name!r} ({spec.owner})"
    header = inspect_file(path).header  # unauthenticated: only its key id and file id are used
    key = session.data_key(header.key_id, owner=spec.owner)
    reader = stack.enter_context(SealedReader.open(path, key, expected_file_id=header.file_id))
    reader.verify_last_chunk()  # authenticates the header before its metadata is used
    content_type = reader.header.content_type
    metadata = reader.header.metadata
    if content_type not in (*_DENSE, ContentType.LIBSVM):
        raise UsageError(
            f"{where}: blob {spec.blob[:16]}.. holds {content_type.value} content, not a "
            "dataset (CSV, LibSVM or Parquet)"
        )
    chunks = share.chunks(reader.chunk_count)
    if content_type is ContentType.LIBSVM:
        for argument in ("label", "weight", "features"):
            if getattr(spec, argument) is not None:
                raise UsageError(
                    f"{where}: LibSVM data has its own labels; argument {argument!r} applies "
                    "to CSV and Parquet only"
                )
        return _Source(spec, reader, chunks, None, None, None)
    columns = [c if isinstance(c, str) else c["name"] for c in metadata["columns"]]
    label = _declared(spec.label, metadata.get("label_column"), "label", where)
    weight = _declared(spec.weight, metadata.get("weight_column"), "weight", where)
    if label is None:
        raise UsageError(
            f"{where}: name the label column in argument 'label' (the file declares none)"
        )
    used = [label] + ([weight] if weight is not None else [])
    features = spec.features or tuple(c for c in columns if c not in used)
    for column in (*used, *features):
        if column not in columns:
            raise UsageError(f"{where}: the file has no column {column!r}")
    clash = set(features) & set(used)
    if clash:
        raise UsageError(f"{where}: column {sorted(clash)[0]!r} cannot be a feature and a label")
    if not features:
        raise UsageError(f"{where}: the file has no feature column")
    return _Source(spec, reader, chunks, label, weight, features)


def _declared(named: str | None, declared: Any, what: str, where: str) -> str | None:
    if named is not None and declared is not None and named != declared:
        raise UsageError(
            f"{where}: the command names {what} column {named!r}, but its owner sealed the "
            f"file declaring {what} column {declared!r}"
        )
    return named if named is not None else declared


def _check_consistent(sources: Sequence[_Source]) -> None:
    first = sources[0]
    names: set[str] = set()
    for source in sources:
        if source.spec.name in names:
            raise UsageError(f"load: dataset name {source.spec.name!r} is used twice")
        names.add(source.spec.name)
        if (source.features is None) != (first.features is None):
            raise UsageError(
                f"load: {first.where} and {source.where} mix LibSVM with CSV or Parquet; "
                "one group holds one kind of data"
            )
        if (source.weight is None) != (first.weight is None):
            raise UsageError(
                f"load: {first.where} and {source.where} differ in having a weight column; "
                "either every dataset of a group has one or none has"
            )
        if source.features != first.features:
            assert first.features is not None and source.features is not None
            position = next(
                (
                    i
                    for i, pair in enumerate(zip(first.features, source.features, strict=False))
                    if pair[0] != pair[1]
                ),
                min(len(first.features), len(source.features)),
            )
            raise UsageError(
                f"load: the feature columns of {source.where} differ from those of "
                f"{first.where} at position {position} ({len(source.features)} and "
                f"{len(first.features)} features); every party's features must match in "
                "name and order",
                hint="Name the same columns in each dataset's 'features' argument.",
            )


def _batches(source: _Source) -> Iterator[Any]:
    if source.chunks:
        yield from source.reader.iter_batches(source.chunks.start, source.chunks.stop)


def _read_dense(sources: Sequence[_Source]) -> FeatureTable:
    features = sources[0].features
    assert features is not None
    total = sum(source.rows for source in sources)
    matrix = np.empty((total, len(features)), dtype=np.float32)
    labels = np.empty(total, dtype=np.float32)
    weights = np.empty(total, dtype=np.float32) if sources[0].weight is not None else None
    offset = 0
    for source in sources:
        end = offset + source.rows
        for index, batch in zip(source.chunks, _batches(source), strict=True):
            stop = offset + batch.num_rows
            if stop > end:
                raise IntegrityError(f"{source.where}: chunk {index} has more rows than framed")
            where = f"{source.where}, chunk {index}"
            for column, name in enumerate(features):
                matrix[offset:stop, column] = column_as_float32(batch, name, where)
            labels[offset:stop] = _finite(batch, source.label, where, "label")
            if weights is not None:
                weights[offset:stop] = _finite(batch, source.weight, where, "weight")
            offset = stop
        if offset != end:
            raise IntegrityError(f"{source.where}: its chunks hold fewer rows than framed")
    if weights is not None and bool((weights < 0).any()):
        raise UsageError("load: a weight column holds a negative weight")
    return FeatureTable(matrix, labels, weights, tuple(features))


def _finite(batch: Any, column: str | None, where: str, what: str) -> npt.NDArray[np.float32]:
    assert column is not None
    values = column_as_float32(batch, column, where)
    if not bool(np.isfinite(values).all()):
        raise UsageError(
            f"{where}: the {what} column {column!r} holds a missing or non-finite value",
            hint=f"Every row needs a finite {what}.",
        )
    return values


def _read_sparse(sources: Sequence[_Source]) -> FeatureTable:
    parts: list[LibSvmBatch] = []
    for source in sources:
        for index, batch in zip(source.chunks, _batches(source), strict=True):
            if not bool(np.isfinite(batch.labels).all()):
                raise UsageError(f"{source.where}, chunk {index}: a label is not finite")
            parts.append(batch)
    return stack_sparse(parts)
