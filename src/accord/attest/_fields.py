"""Strict checks and encodings shared by the evidence wire format and the simulated report.

Every check names the field it refuses and raises the error class its caller chooses:
:class:`~accord.errors.UsageError` for values built in Python, and
:class:`~accord.errors.VerificationError` for bytes that arrived from elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from accord.errors import AccordError

__all__ = [
    "Clock",
    "ErrorClass",
    "check_bytes",
    "check_hex",
    "check_int",
    "check_utc",
    "decode_base64",
    "encode_base64",
    "format_time",
    "load_json_object",
    "parse_time",
    "require_keys",
    "short_hex",
    "utc_now",
]

Clock = Callable[[], datetime]
ErrorClass = type[AccordError]

MAX_JSON_INT: Final = 2**53 - 1
_HEX: Final = re.compile(r"[0-9a-f]+")
_TIME: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z")


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime (the default clock)."""
    return datetime.now(UTC)


def short_hex(value: str) -> str:
    """Return the first 8 hex characters of ``value`` followed by ``..`` for messages."""
    return f"{value[:8]}.." if len(value) > 8 else value


def check_hex(
    value: object, field: str, *, min_bytes: int, max_bytes: int, error: ErrorClass
) -> str:
    """Return ``value`` if it is lowercase hex of ``min_bytes`` to ``max_bytes`` bytes."""
    if (
        not isinstance(value, str)
        or _HEX.fullmatch(value) is None
        or len(value) % 2
        or not min_bytes <= len(value) // 2 <= max_bytes
    ):
        raise error(
            f"evidence field {field!r} must be lowercase hex of {min_bytes} to {max_bytes} "
            f"bytes, got {str(value)[:40]!r}"
        )
    return value


def check_int(value: object, field: str, *, error: ErrorClass) -> int:
    """Return ``value`` if it is an integer from 0 to 2**53 - 1 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_JSON_INT:
        raise error(f"evidence field {field!r} must be an integer from 0 to 2**53-1, got {value!r}")
    return value


def check_bytes(
    value: object, field: str, *, min_len: int, max_len: int, error: ErrorClass
) -> bytes:
    """Return ``value`` if it is ``bytes`` of ``min_len`` to ``max_len`` bytes."""
    if not isinstance(value, bytes):
        raise error(f"evidence field {field!r} must be bytes, got {type(value).__name__}")
    if not min_len <= len(value) <= max_len:
        expected = str(min_len) if min_len == max_len else f"{min_len} to {max_len}"
        raise error(f"evidence field {field!r} must be {expected} bytes, got {len(value)}")
    return value


def check_utc(value: object, field: str, *, error: ErrorClass) -> datetime:
    """Return ``value`` converted to UTC if it is a timezone-aware datetime."""
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise error(f"evidence field {field!r} must be a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


def format_time(value: datetime) -> str:
    """Write an aware datetime as RFC 3339 UTC with microseconds (``...T03:04:05.000006Z``)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: object, field: str, *, error: ErrorClass) -> datetime:
    """Parse a timestamp written by :func:`format_time` (fraction optional, ``Z`` required)."""
    if not isinstance(value, str) or _TIME.fullmatch(value) is None:
        raise error(
            f"evidence field {field!r} must be an RFC 3339 UTC time like "
            f"2026-01-02T03:04:05Z, got {str(value)[:40]!r}"
        )
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise error(f"evidence field {field!r} is not a valid date and time: {value!r}") from None


def encode_base64(value: bytes) -> str:
    """Encode bytes as standard base64 with padding."""
    return base64.b64encode(value).decode("ascii")


def decode_base64(value: object, field: str, *, max_len: int, error: ErrorClass) -> bytes:
    """Decode standard padded base64, refusing any other spelling of the same bytes."""
    if not isinstance(value, str):
        raise error(f"evidence field {field!r} must be a base64 string, got {type(value).__name__}")
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise error(f"evidence field {field!r} is not valid base64") from None
    if encode_base64(raw) != value:
        raise error(f"evidence field {field!r} is not canonical base64 (standard, padded)")
    if len(raw) > max_len:
        raise error(f"evidence field {field!r} holds {len(raw)} bytes, more than {max_len}")
    return raw


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def load_json_object(data: bytes, what: str, *, max_len: int, error: ErrorClass) -> dict[str, Any]:
    """Parse ``data`` as one UTF-8 JSON object with no duplicate keys and no NaN/Infinity."""
    if not isinstance(data, bytes):
        raise error(f"{what} must be bytes, got {type(data).__name__}")
    if len(data) > max_len:
        raise error(f"{what} is {len(data)} bytes, more than the limit of {max_len}")
    try:
        value = json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_refuse_constant,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise error(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise error(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def require_keys(
    obj: dict[str, Any], expected: frozenset[str], what: str, *, error: ErrorClass
) -> None:
    """Refuse ``obj`` unless its keys are exactly ``expected``, naming the first difference."""
    missing = sorted(expected - obj.keys())
    if missing:
        raise error(f"{what} lacks field {missing[0]!r}")
    unknown = sorted(obj.keys() - expected)
    if unknown:
        raise error(f"{what} has unknown field {unknown[0]!r}")
