"""Feature tables in enclave memory and their conversion to XGBoost's ``DMatrix``.

A :class:`FeatureTable` is features, labels and optional weights for some rows: a dense
float32 matrix with named columns (CSV, Parquet) or a ``scipy.sparse`` CSR matrix (LibSVM,
absent entries missing). Missing dense values are NaN, which XGBoost treats as missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import scipy.sparse
import xgboost

from accord.crypto.sealed import LibSvmBatch
from accord.errors import UsageError

__all__ = ["FeatureTable", "column_as_float32", "stack_sparse"]

_FORBIDDEN_IN_NAMES: Final = ("[", "]", "<")
"""Characters XGBoost does not allow in feature names."""


@dataclass(frozen=True, eq=False)
class FeatureTable:
    """Features, labels and weights of some rows.

    Attributes
    ----------
    features
        A C-ordered float32 ``numpy`` matrix, or a ``scipy.sparse.csr_matrix`` (LibSVM).
    labels
        One float32 label per row.
    weights
        One float32 weight per row, or ``None``.
    feature_names
        The feature columns (dense data), or ``None`` (LibSVM: features are numbered).
    """

    features: Any
    labels: npt.NDArray[np.float32]
    weights: npt.NDArray[np.float32] | None
    feature_names: tuple[str, ...] | None

    @property
    def num_rows(self) -> int:
        """Number of rows."""
        return int(self.labels.shape[0])

    @property
    def num_features(self) -> int:
        """Number of feature columns (for LibSVM: one more than the largest index)."""
        return int(self.features.shape[1])

    @property
    def sparse(self) -> bool:
        """Whether the features are a sparse (LibSVM) matrix."""
        return self.feature_names is None

    def rows(self, start: int, stop: int) -> FeatureTable:
        """Return rows ``start`` to ``stop - 1`` (a view when dense)."""
        if start == 0 and stop == self.num_rows:
            return self
        return FeatureTable(
            self.features[start:stop],
            self.labels[start:stop],
            None if self.weights is None else self.weights[start:stop],
            self.feature_names,
        )

    def dmatrix(self, *, nthread: int, num_features: int | None = None) -> xgboost.DMatrix:
        """Return the rows as an XGBoost ``DMatrix`` (labels, weights and feature names set).

        Parameters
        ----------
        nthread
            Threads XGBoost may use to build it.
        num_features
            For sparse data, the column count to present (at least :attr:`num_features`), so
            that data with fewer columns than a model's fits it.
        """
        features = self.features
        if self.sparse and num_features is not None and num_features != self.num_features:
            features = scipy.sparse.csr_matrix(
                (features.data, features.indices, features.indptr),
                shape=(self.num_rows, num_features),
            )
        if self.feature_names is not None:
            for name in self.feature_names:
                if any(mark in name for mark in _FORBIDDEN_IN_NAMES):
                    raise UsageError(
                        f"feature column {name!r} has a character XGBoost does not allow in "
                        "feature names ('[', ']' or '<')",
                        hint="Rename the column before sealing, or leave it out of 'features'.",
                    )
        return xgboost.DMatrix(
            features,
            label=self.labels,
            weight=self.weights,
            feature_names=list(self.feature_names) if self.feature_names is not None else None,
            missing=np.nan,
            nthread=nthread,
        )


def column_as_float32(batch: Any, name: str, where: str) -> npt.NDArray[np.float32]:
    """Return column ``name`` of an Arrow table or record batch as float32 (null as NaN).

    Raises
    ------
    UsageError
        If the column is not numeric (integers, floats, decimals, booleans or all null);
        the message names the column and its type, never a value.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    column = batch.column(name)
    kind = column.type
    if pa.types.is_decimal(kind):
        column = pc.cast(column, pa.float64())
    elif not (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_null(kind)
    ):
        raise UsageError(
            f"{where}: column {name!r} holds {kind} values, not numbers",
            hint="List only numeric columns in 'features' (and as label and weight).",
        )
    values = pc.cast(column, pa.float32(), safe=False).to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=np.float32)


def stack_sparse(parts: Sequence[LibSvmBatch]) -> FeatureTable:
    """Join parsed LibSVM chunks, in order, into one CSR table.

    The column count is one more than the largest feature index of any part.
    """
    rows = sum(part.num_rows for part in parts)
    nnz = sum(int(part.indices.shape[0]) for part in parts)
    indptr = np.empty(rows + 1, dtype=np.int64)
    indptr[0] = 0
    indices = np.empty(nnz, dtype=np.int32)
    values = np.empty(nnz, dtype=np.float32)
    labels = np.empty(rows, dtype=np.float32)
    row = 0
    entry = 0
    for part in parts:
        count = int(part.indices.shape[0])
        indptr[row + 1 : row + part.num_rows + 1] = part.indptr[1:] + entry
        indices[entry : entry + count] = part.indices
        values[entry : entry + count] = part.values
        labels[row : row + part.num_rows] = part.labels
        row += part.num_rows
        entry += count
    columns = max((part.num_features for part in parts), default=0)
    matrix = scipy.sparse.csr_matrix((values, indices, indptr), shape=(rows, max(columns, 1)))
    if not matrix.has_sorted_indices:
        matrix.sort_indices()
    return FeatureTable(matrix, labels, None, None)
