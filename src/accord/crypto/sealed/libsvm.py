"""The LibSVM parser: one chunk of lines to labels and a CSR matrix (numpy arrays).

A record is ``<label> <index>:<value> ...``, its fields separated by runs of spaces or tabs
(no other whitespace); lines end in LF or CRLF and blank lines are skipped. Labels and
values are decimal numbers read as float32, and must be finite: ``inf``, ``nan`` and numbers
beyond the float32 range are refused, and so is a non-zero number so small it would read as
0. Indices are plain decimal digits (no sign, no ``0x``) for an integer below 2**31, and a
line names each index at most once. The same parser validates lines when a file is sealed
and parses chunks when it is read, so a file that seals always parses.

Parsing runs in Arrow's compute kernels (C++); only when a chunk fails does a slower search
find the first bad line, so that the error can name it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

__all__ = ["LibSvmBatch", "LibSvmSyntaxError", "parse_libsvm"]

_MAX_INDEX: Final = 2**31 - 1
_SEPARATORS: Final = " \t"
_SEPARATOR_RUN: Final = "[ \t]+"
_OTHER_WHITESPACE: Final = (b"\r", b"\x0b", b"\x0c")
"""ASCII whitespace that does not separate fields (a CR is allowed only before a LF)."""
_ZERO: Final = r"^[+-]?0*\.?0*([eE][+-]?[0-9]+)?$"
"""A number whose digits are all 0 (so reading it as 0 loses nothing)."""
_ZERO_TEXT: Final = re.compile(_ZERO)


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
    text = data.replace(b"\r\n", b"\n") if b"\r" in data else data
    lines = text.split(b"\n")
    try:
        return _parse_lines(lines, text)
    except _InvalidChunkError:
        pass
    bad = _first_bad_line(lines)
    raise LibSvmSyntaxError(bad, _diagnose(lines[bad]))


class _InvalidChunkError(Exception):
    pass


def _parse_lines(lines: list[bytes], joined: bytes) -> LibSvmBatch:
    """Parse ``lines`` (``joined`` is the same lines joined by LF, to look for whitespace)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if any(other in joined for other in _OTHER_WHITESPACE):
        raise _InvalidChunkError
    try:
        text = pc.ascii_trim(pa.array(lines, type=pa.binary()).cast(pa.string()), _SEPARATORS)
        tokens = pc.ascii_split_whitespace(text.filter(pc.greater(pc.binary_length(text), 0)))
        counts = pc.subtract(pc.list_value_length(tokens), 1).to_numpy(zero_copy_only=False)
        label_text = pc.list_element(tokens, 0)
        pairs = pc.split_pattern(pc.list_flatten(pc.list_slice(tokens, 1)), ":")
        if len(pairs) and not pc.all(pc.equal(pc.list_value_length(pairs), 2)).as_py():
            raise _InvalidChunkError
        index_text = pc.list_element(pairs, 0)
        if len(index_text) and not pc.all(pc.ascii_is_decimal(index_text)).as_py():
            raise _InvalidChunkError
        indices = pc.cast(index_text, pa.int64()).to_numpy(zero_copy_only=False)
        labels = _finite_numbers(label_text)
        values = _finite_numbers(pc.list_element(pairs, 1))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        raise _InvalidChunkError from None
    if indices.size and (indices.min() < 0 or indices.max() > _MAX_INDEX):
        raise _InvalidChunkError
    indptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    if _has_repeated_index(indices, indptr):
        raise _InvalidChunkError
    return LibSvmBatch(
        labels=labels, indptr=indptr, indices=indices.astype(np.int32), values=values
    )


def _finite_numbers(texts: Any) -> npt.NDArray[np.float32]:
    """Read decimal texts as float32; refuse non-finite numbers and non-zero ones read as 0."""
    import pyarrow as pa
    import pyarrow.compute as pc

    numbers = np.asarray(
        pc.cast(texts, pa.float32()).to_numpy(zero_copy_only=False), dtype=np.float32
    )
    if not np.isfinite(numbers).all():
        raise _InvalidChunkError
    zeros = np.flatnonzero(numbers == 0)
    if zeros.size:
        zero_texts = pc.take(texts, pa.array(zeros))
        if not pc.all(pc.match_substring_regex(zero_texts, _ZERO)).as_py():
            raise _InvalidChunkError
    return numbers


def _has_repeated_index(indices: npt.NDArray[np.int64], indptr: npt.NDArray[np.int64]) -> bool:
    """Whether some row names one index twice (fast when rows list indices in order)."""
    if indices.size < 2:
        return False
    rising = indices[1:] > indices[:-1]
    starts = indptr[1:-1]
    starts = starts[(starts > 0) & (starts < indices.size)]
    rising[starts - 1] = True
    if rising.all():
        return False
    rows = np.repeat(np.arange(indptr.size - 1, dtype=np.int64), np.diff(indptr))
    keys = np.sort((rows << 32) | indices)
    return bool((keys[1:] == keys[:-1]).any())


def _first_bad_line(lines: list[bytes]) -> int:
    """Return the smallest ``k`` such that ``lines[k]`` does not parse (binary search)."""
    low, high = 0, len(lines) - 1
    while low < high:
        middle = (low + high) // 2
        part = lines[low : middle + 1]
        try:
            _parse_lines(part, b"\n".join(part))
        except _InvalidChunkError:
            high = middle
        else:
            low = middle + 1
    return low


def _diagnose(line: bytes) -> str:
    """Say what is wrong with one line, without quoting it."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return "it is not UTF-8 text"
    if any(other in line for other in _OTHER_WHITESPACE):
        return (
            "it holds a carriage return, vertical tab or form feed (fields are separated by "
            "spaces or tabs only, and lines end in LF or CRLF)"
        )
    tokens = re.split(_SEPARATOR_RUN, text.strip(_SEPARATORS))
    problem = _number_problem(tokens[0])
    if problem is not None:
        return f"its label {problem}"
    seen: set[str] = set()
    for position, token in enumerate(tokens[1:], start=2):
        index, separator, value = token.partition(":")
        if not separator or ":" in value or not index or not value:
            return f"field {position} is not <index>:<value>"
        if not (index.isascii() and index.isdigit()) or int(index) > _MAX_INDEX:
            return (
                f"field {position} has an index that is not a decimal integer from 0 to "
                f"{_MAX_INDEX} (digits only)"
            )
        if str(int(index)) in seen:
            return f"field {position} repeats the index of an earlier field"
        seen.add(str(int(index)))
        problem = _number_problem(value)
        if problem is not None:
            return f"field {position} has a value that {problem}"
    return "it does not parse"


def _number_problem(token: str) -> str | None:
    """Say why ``token`` is not a label or value (None when it is one)."""
    import pyarrow as pa

    try:
        number = pa.array([token], type=pa.string()).cast(pa.float32())[0].as_py()
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return "is not a number"
    if number is None or not np.isfinite(number):
        return "is not a finite number"
    if number == 0 and not _ZERO_TEXT.match(token):
        return "is too small for a 32-bit float (it would read as 0)"
    return None
