import pytest

from accord._internal.canonical import canonical_json, canonical_sha256
from accord.errors import UsageError


def test_key_order_and_whitespace_do_not_matter():
    assert canonical_json({"b": 1, "a": [1, "x"]}) == b'{"a":[1,"x"],"b":1}'
    assert canonical_sha256({"b": 1, "a": 2}) == canonical_sha256({"a": 2, "b": 1})


def test_values_json_cannot_carry_are_refused():
    with pytest.raises(UsageError, match="canonical JSON"):
        canonical_json({"a": float("nan")})
    with pytest.raises(UsageError):
        canonical_json({"a": b"bytes"})
