"""Canonical JSON (RFC 8785, JCS): one byte string per value, so digests and signatures agree."""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785

from accord.errors import UsageError

__all__ = ["canonical_json", "canonical_sha256"]


def canonical_json(value: Any) -> bytes:
    """Serialise ``value`` as RFC 8785 canonical JSON.

    Parameters
    ----------
    value
        JSON-compatible data: dict with str keys, list, str, int, float, bool or None.

    Returns
    -------
    bytes
        UTF-8 canonical JSON.

    Raises
    ------
    UsageError
        If the value holds something JSON cannot carry (bytes, NaN, integers beyond 2**53).
    """
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise UsageError(f"value cannot be written as canonical JSON: {exc}") from exc


def canonical_sha256(value: Any) -> str:
    """Return the SHA-256 (hex) of :func:`canonical_json` of ``value``."""
    return hashlib.sha256(canonical_json(value)).hexdigest()
