"""LibSVM: only what the format allows parses (sealing and reading use the same parser).

Arrow's number parsing alone would take ``0x10`` and ``-0`` as indices, split on vertical
tab and form feed, turn ``1e400`` into infinity and ``1e-400`` into 0, and a line could name
one index twice (which sparse-matrix consumers resolve differently). Each is refused with a
reason, naming the line (and, when sealing, the file and chunk).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sealed_helpers import KEY_A, leftovers

from accord.crypto.sealed import seal_file
from accord.crypto.sealed.libsvm import LibSvmSyntaxError, parse_libsvm
from accord.errors import UsageError


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"1 0x10:1", "field 2 has an index that is not a decimal integer"),
        (b"1 -0:1", "field 2 has an index that is not a decimal integer"),
        (b"1 +5:1", "field 2 has an index that is not a decimal integer"),
        (b"1 1\xe2\x80\x83:1", "field 2 has an index that is not a decimal integer"),
        (b"1 \xd9\xa3:1", "field 2 has an index that is not a decimal integer"),
        (b"1 1:1 2:2 1:3", "field 4 repeats the index of an earlier field"),
        (b"1 7:1 007:2", "field 3 repeats the index of an earlier field"),
        (b"1\x0b5:1", "vertical tab or form feed (fields are separated by spaces or tabs"),
        (b"1 5:1\x0c2:1", "vertical tab or form feed"),
        (b"1 5:1\r2:1", "carriage return"),
        (b"1e400 1:1", "its label is not a finite number"),
        (b"nan 1:1", "its label is not a finite number"),
        (b"1 1:inf", "field 2 has a value that is not a finite number"),
        (b"1 1:-Infinity", "field 2 has a value that is not a finite number"),
        (b"1 1:1e39", "field 2 has a value that is not a finite number"),
        (b"1 1:1e-400", "field 2 has a value that is too small for a 32-bit float"),
        (b"1e-50 1:1", "its label is too small for a 32-bit float"),
    ],
)
def test_lines_outside_the_format_are_refused_with_a_reason(line: bytes, reason: str):
    with pytest.raises(LibSvmSyntaxError) as caught:
        parse_libsvm(b"1 1:1\n\n" + line + b"\n0 2:1\n")
    assert caught.value.line == 2
    assert reason in caught.value.reason


def test_what_the_format_allows_parses():
    batch = parse_libsvm(
        b"+1 5:+1 3:0 4:-0.0 6:0e5 2:1e-40\t\t9:.5  \r\n \t \n-1.5e2 0:1. 2147483647:3\n0"
    )
    assert batch.num_rows == 3
    np.testing.assert_array_equal(batch.labels, np.array([1, -150, 0], dtype=np.float32))
    np.testing.assert_array_equal(batch.indices, [5, 3, 4, 6, 2, 9, 0, 2147483647])
    assert batch.values[4] > 0  # 1e-40 is a float32 subnormal, not 0
    np.testing.assert_array_equal(batch.indptr, [0, 6, 8, 8])


def test_a_carriage_return_ends_a_line_only_before_a_line_feed():
    assert parse_libsvm(b"1 5:1\r\n0 2:1\r\n").num_rows == 2
    with pytest.raises(LibSvmSyntaxError, match="carriage return"):
        parse_libsvm(b"1 5:1\r")


def test_indices_out_of_order_but_distinct_are_fine():
    batch = parse_libsvm(b"1 9:1 3:1 5:1\n0 5:1 3:1\n")
    np.testing.assert_array_equal(batch.indices, [9, 3, 5, 5, 3])


def test_the_same_index_on_different_lines_is_fine():
    assert parse_libsvm(b"1 3:1\n0 3:2\n").num_rows == 2


@pytest.mark.parametrize("chunk_size", [16, 1 << 20])
def test_sealing_names_file_line_and_chunk(tmp_path: Path, chunk_size: int):
    plain = tmp_path / "bad.libsvm"
    plain.write_bytes(b"1 1:1\n" * 5 + b"1 0x1f:1\n")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(UsageError) as caught:
        seal_file(plain, out / "bad.sealed", KEY_A, chunk_size=chunk_size)
    message = str(caught.value)
    assert str(plain) in message
    assert "line 6 (chunk " in message
    assert "index that is not a decimal integer" in message
    assert "0x1f" not in message  # records are never quoted
    assert leftovers(out) == []
