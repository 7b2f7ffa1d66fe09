"""The LibSVM parser: one chunk of lines to labels and a CSR matrix (numpy arrays).

A record is ``<label> <index>:<value> ...`` separated by spaces or tabs; labels and values are
decimal numbers (read as float32), indices non-negative integers below 2**31. Blank lines are
skipped. The same parser validates lines when a file is sealed and parses chunks when it is
read, so a file that seals always parses.

Parsing runs in Arrow's compute kernels (C++); only when a chunk fails does a slower search
find the first bad line, so that the error can name it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

__all__ = ["LibSvmBatch", "LibSvmSyntaxError", "parse_libsvm"]

_MAX_INDEX: Final = 2**31 - 1


@dataclass(frozen=True, eq=False)
class LibSvmBatch:
    """Parsed LibSVM records: labels and a CSR (compressed sparse row) feature matrix.

    Row ``r`` has features ``indices[indptr[r]:indptr[r + 1]]`` with values
    ``values[indptr[r]:indptr[r + 1]]``, in the order the line listed them.

    Attributes
    ----------
    labels
        One float32 label per row.
    indptr
        int64 row offsets into ``indices`` and ``values``; ``len(labels) + 1`` entries.
    indices
        int32 feature indices, as written in the file (0- or 1-based alike).
    values
        float32 feature values.
    """

    labels: npt.NDArray[np.float32]
    indptr: npt.NDArray[np.int64]
    indices: npt.NDArray[np.int32]
    values: npt.NDArray[np.float32]

    @property
    def num_rows(self) -> int:
        """Number of records."""
        return int(self.labels.shape[0])

    @property
    def num_features(self) -> int:
        """One more than the largest feature index (0 when there is no feature)."""
        return int(self.indices.max()) + 1 if self.indices.size else 0


class LibSvmSyntaxError(Exception):
    """A line that is not a LibSVM record.

    Attributes
    ----------
    line
        Zero-based line number within the parsed text.
    reason
        What is wrong, without quoting the line (it may hold private data).
    """

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


def parse_libsvm(data: bytes) -> LibSvmBatch:
    """Parse LibSVM text.

    Parameters
    ----------
    data
        Whole lines of LibSVM text (the last line may lack its line break).

    Returns
    -------
    LibSvmBatch
        Labels and CSR matrix of the non-blank lines.

    Raises
    ------
    LibSvmSyntaxError
        Naming the first line (zero-based) that does not parse, and why.
    """
    lines = data.split(b"\n")
    try:
        return _parse_lines(lines)
    except _InvalidChunkError:
        pass
    bad = _first_bad_line(lines)
    raise LibSvmSyntaxError(bad, _diagnose(lines[bad]))


class _InvalidChunkError(Exception):
    pass


def _parse_lines(lines: list[bytes]) -> LibSvmBatch:
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        text = pc.ascii_trim_whitespace(pa.array(lines, type=pa.binary()).cast(pa.string()))
        tokens = pc.ascii_split_whitespace(text.filter(pc.greater(pc.binary_length(text), 0)))
        counts = pc.subtract(pc.list_value_length(tokens), 1).to_numpy(zero_copy_only=False)
        labels = pc.cast(pc.list_element(tokens, 0), pa.float32())
        pairs = pc.split_pattern(pc.list_flatten(pc.list_slice(tokens, 1)), ":")
        if len(pairs) and not pc.all(pc.equal(pc.list_value_length(pairs), 2)).as_py():
            raise _InvalidChunkError
        indices = pc.cast(pc.list_element(pairs, 0), pa.int64()).to_numpy(zero_copy_only=False)
        values = pc.cast(pc.list_element(pairs, 1), pa.float32())
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        raise _InvalidChunkError from None
    if indices.size and (indices.min() < 0 or indices.max() > _MAX_INDEX):
        raise _InvalidChunkError
    indptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return LibSvmBatch(
        labels=_as_numpy(labels, np.float32),
        indptr=indptr,
        indices=indices.astype(np.int32),
        values=_as_numpy(values, np.float32),
    )


def _as_numpy(array: Any, dtype: type[np.generic]) -> Any:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=dtype)


def _first_bad_line(lines: list[bytes]) -> int:
    """Return the smallest ``k`` such that ``lines[k]`` does not parse (binary search)."""
    low, high = 0, len(lines) - 1
    while low < high:
        middle = (low + high) // 2
        try:
            _parse_lines(lines[low : middle + 1])
        except _InvalidChunkError:
            high = middle
        else:
            low = middle + 1
    return low


def _diagnose(line: bytes) -> str:
    """Say what is wrong with one line, without quoting it."""
    try:
        tokens = line.decode("utf-8").split()
    except UnicodeDecodeError:
        return "it is not UTF-8 text"
    if not _parses(tokens[:1], "float32"):
        return "its label is not a number"
    for position, token in enumerate(tokens[1:], start=2):
        index, separator, value = token.partition(":")
        if not separator or ":" in value or not index or not value:
            return f"field {position} is not <index>:<value>"
        if not _parses([index], "int64") or not 0 <= int(index) <= _MAX_INDEX:
            return f"field {position} has an index that is not an integer from 0 to {_MAX_INDEX}"
        if not _parses([value], "float32"):
            return f"field {position} has a value that is not a number"
    return "it does not parse"


def _parses(texts: list[str], type_name: str) -> bool:
    import pyarrow as pa

    try:
        pa.array(texts, type=pa.string()).cast(pa.type_for_alias(type_name))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return False
    return True
