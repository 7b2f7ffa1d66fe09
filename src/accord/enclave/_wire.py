"""Strict field checks shared by the command, audit entry and receipt formats.

Every check names what it refuses and raises the error class its caller chooses:
:class:`~accord.errors.UsageError` for values built in Python and
:class:`~accord.errors.VerificationError` for bytes that arrived from elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

from accord.errors import AccordError, UsageError

__all__ = [
    "MAX_JSON_INT",
    "ErrorClass",
    "check_hex",
    "clip",
    "decode_signature",
    "encode_b64",
    "format_timestamp",
    "freeze",
    "parse_timestamp",
    "plain_json",
    "printable",
    "utc_now",
]

ErrorClass = type[AccordError]
MAX_JSON_INT: Final = 2**53 - 1
MAX_JSON_DEPTH: Final = 32
SIGNATURE_BYTES: Final = 64
_HEX: Final = re.compile(r"[0-9a-f]+")
_TIME: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime (the default clock)."""
    return datetime.now(UTC)


def format_timestamp(value: datetime) -> str:
    """Write an aware datetime as RFC 3339 UTC to the second (``2026-01-02T03:04:05Z``).

    Raises
    ------
    UsageError
        If ``value`` is naive or has a fraction of a second.
    """
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise UsageError("a document time must be a timezone-aware datetime")
    if value.microsecond:
        raise UsageError("a document time must be a whole second")
    return value.astimezone(UTC).strftime(_TIME_FORMAT)


def parse_timestamp(value: object, what: str, *, error: ErrorClass) -> datetime:
    """Parse a time written by :func:`format_timestamp`; nothing else is accepted.

    Parameters
    ----------
    value
        The JSON value read from a document.
    what
        The field, for messages (``"command field 'expires_at'"``).
    error
        The error class to raise.

    Returns
    -------
    datetime
        The aware UTC datetime.
    """
    if not isinstance(value, str) or _TIME.fullmatch(value) is None:
        raise error(
            f"{what} must be an RFC 3339 UTC time like 2026-01-02T03:04:05Z, got {clip(value)!r}"
        )
    try:
        return datetime.strptime(value, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise error(f"{what} is not a valid date and time: {value!r}") from None


def check_hex(value: object, what: str, size: int, error: ErrorClass) -> str:
    """Return ``value`` if it is exactly ``size`` bytes as lowercase hex, else raise."""
    if not isinstance(value, str) or len(value) != 2 * size or _HEX.fullmatch(value) is None:
        raise error(f"{what} must be {2 * size} lowercase hex characters, got {clip(value)!r}")
    return value


def encode_b64(raw: bytes) -> str:
    """Encode bytes as standard padded base64."""
    return base64.b64encode(raw).decode("ascii")


def decode_signature(value: object, what: str, error: ErrorClass) -> bytes:
    """Decode a 64-byte Ed25519 signature from standard padded base64, refusing other spellings."""
    if not isinstance(value, str):
        raise error(f"{what} must be a base64 string")
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise error(f"{what} is not valid base64") from None
    if encode_b64(raw) != value or len(raw) != SIGNATURE_BYTES:
        raise error(f"{what} must be a 64-byte Ed25519 signature in standard padded base64")
    return raw


def plain_json(value: object, where: str, error: ErrorClass, depth: int = 0) -> Any:
    """Return a plain-JSON copy of ``value`` (dicts, lists, text, numbers, booleans, null).

    Integers must lie within +-(2**53 - 1), floats be finite, keys be strings, and nesting
    at most 32 levels deep; anything else raises ``error`` naming ``where``.
    """
    if depth > MAX_JSON_DEPTH:
        raise error(f"{where} nest deeper than {MAX_JSON_DEPTH} levels")
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if abs(value) > MAX_JSON_INT:
            raise error(f"{where} holds an integer beyond 2**53-1")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise error(f"{where} holds a number that is not finite")
        return value
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise error(f"{where} has a key that is not a string")
            result[key] = plain_json(item, f"{where}.{key}", error, depth + 1)
        return result
    if isinstance(value, list | tuple):
        return [plain_json(item, f"{where}[]", error, depth + 1) for item in value]
    raise error(f"{where} holds a {type(value).__name__}, which JSON cannot carry")


def freeze(value: Any) -> Any:
    """Return plain JSON made read-only: objects as mapping proxies, lists as tuples."""
    if isinstance(value, dict):
        return MappingProxyType({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(freeze(item) for item in value)
    return value


def printable(text: str) -> str:
    """Return ``text`` unchanged if printable, else its escaped ``ascii()`` form."""
    return text if text.isprintable() else ascii(text)


def clip(value: object) -> str:
    """Return ``str(value)`` cut to 40 characters, for messages."""
    text = str(value)
    return text if len(text) <= 40 else f"{text[:40]}..."
