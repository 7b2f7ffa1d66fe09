"""Strict reading of operation arguments: exact fields, types and ranges, clear messages.

Every refusal is a :class:`~accord.errors.UsageError` that names the operation and the
argument (``"train: argument 'num_boost_round' must be an integer from 1 to 100000, got
'10'"``). Command arguments arrive frozen (objects as read-only mappings, lists as tuples).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from accord.errors import UsageError

__all__ = ["NAME_PATTERN", "Arguments", "check_name", "shown"]

NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""Names of datasets, dataset groups, models and evaluation sets."""
_NAME_RULE: Final = "1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit"
_PARTY_MAX_CHARS: Final = 256


def shown(value: object, limit: int = 40) -> str:
    """Return ``value`` for a message: ``repr`` cut to ``limit`` characters, escaped."""
    text = ascii(value)
    return text if len(text) <= limit else text[:limit] + "..."


def check_name(value: object, where: str) -> str:
    """Return ``value`` if it is a name (see :data:`NAME_PATTERN`).

    Raises
    ------
    UsageError
        Naming ``where`` and the rule.
    """
    if not isinstance(value, str) or NAME_PATTERN.fullmatch(value) is None:
        raise UsageError(f"{where} must be a name ({_NAME_RULE}), got {shown(value)}")
    return value


class Arguments:
    """The arguments of one operation (or one nested object), read strictly.

    Parameters
    ----------
    where
        What the arguments belong to, for messages (``"load"``, ``"load: datasets[1]"``).
    arguments
        The JSON object.
    required, optional
        The argument names that must and may appear; any other name is refused.

    Raises
    ------
    UsageError
        If ``arguments`` is not an object, lacks a required argument or has an unknown one.
    """

    def __init__(
        self,
        where: str,
        arguments: object,
        *,
        required: Sequence[str],
        optional: Sequence[str] = (),
    ) -> None:
        self._where = where
        if not isinstance(arguments, Mapping):
            raise UsageError(f"{where} must be a JSON object, got {type(arguments).__name__}")
        known = (*required, *optional)
        for key in arguments:
            if key not in known:
                raise UsageError(
                    f"{where} does not take argument {shown(key)}; it takes "
                    f"{', '.join(repr(k) for k in known)}",
                    hint="docs/xgboost.md lists every operation's arguments.",
                )
        for key in required:
            if key not in arguments:
                raise UsageError(
                    f"{where} needs argument {key!r}",
                    hint="docs/xgboost.md lists every operation's arguments.",
                )
        self._arguments: Mapping[str, Any] = arguments

    def __contains__(self, key: str) -> bool:
        return key in self._arguments

    def what(self, key: str) -> str:
        """Return how messages name argument ``key``."""
        return f"{self._where}: argument {key!r}"

    def raw(self, key: str, default: Any = None) -> Any:
        """Return argument ``key`` unchecked (``default`` when absent)."""
        return self._arguments.get(key, default)

    def name(self, key: str) -> str:
        """Return argument ``key``, which must be a name."""
        return check_name(self._arguments.get(key), self.what(key))

    def optional_name(self, key: str) -> str | None:
        """Return argument ``key`` (a name) or ``None`` when absent."""
        return self.name(key) if key in self._arguments else None

    def party(self, key: str) -> str:
        """Return argument ``key``, which must be a party name (non-empty printable text)."""
        value = self._arguments.get(key)
        if (
            not isinstance(value, str)
            or not 0 < len(value) <= _PARTY_MAX_CHARS
            or not value.isprintable()
        ):
            raise UsageError(f"{self.what(key)} must be a party name, got {shown(value)}")
        return value

    def text(self, key: str, *, max_chars: int = 256) -> str:
        """Return argument ``key``, which must be non-empty printable text."""
        value = self._arguments.get(key)
        if not isinstance(value, str) or not 0 < len(value) <= max_chars or not value.isprintable():
            raise UsageError(
                f"{self.what(key)} must be printable text of 1 to {max_chars} characters, "
                f"got {shown(value)}"
            )
        return value

    def optional_text(self, key: str, *, max_chars: int = 256) -> str | None:
        """Return argument ``key`` (text) or ``None`` when absent."""
        return self.text(key, max_chars=max_chars) if key in self._arguments else None

    def integer(self, key: str, *, minimum: int, maximum: int) -> int:
        """Return argument ``key``, an integer from ``minimum`` to ``maximum``."""
        value = self._arguments.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise UsageError(
                f"{self.what(key)} must be an integer from {minimum} to {maximum}, "
                f"got {shown(value)}"
            )
        return value

    def optional_integer(self, key: str, *, minimum: int, maximum: int) -> int | None:
        """Return argument ``key`` (an integer in range) or ``None`` when absent."""
        if key not in self._arguments:
            return None
        return self.integer(key, minimum=minimum, maximum=maximum)

    def boolean(self, key: str, *, default: bool) -> bool:
        """Return argument ``key`` (``true`` or ``false``), ``default`` when absent."""
        value = self._arguments.get(key, default)
        if not isinstance(value, bool):
            raise UsageError(f"{self.what(key)} must be true or false, got {shown(value)}")
        return value

    def choice(self, key: str, choices: Sequence[str], *, default: str | None = None) -> str:
        """Return argument ``key``, one of ``choices`` (``default`` when absent, if given)."""
        value = self._arguments.get(key, default)
        if value not in choices:
            raise UsageError(
                f"{self.what(key)} must be one of {', '.join(choices)}, got {shown(value)}"
            )
        return str(value)

    def number(self, key: str) -> float:
        """Return argument ``key``, a finite JSON number."""
        value = self._arguments.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UsageError(f"{self.what(key)} must be a number, got {shown(value)}")
        if not math.isfinite(value):
            raise UsageError(f"{self.what(key)} must be a finite number")
        return float(value)

    def mapping(self, key: str) -> Mapping[str, Any]:
        """Return argument ``key``, a JSON object."""
        value = self._arguments.get(key)
        if not isinstance(value, Mapping):
            raise UsageError(f"{self.what(key)} must be a JSON object, got {shown(value)}")
        return value

    def sequence(self, key: str, *, min_items: int = 0, max_items: int = 1024) -> tuple[Any, ...]:
        """Return argument ``key``, a JSON list of ``min_items`` to ``max_items`` items."""
        value = self._arguments.get(key)
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            raise UsageError(f"{self.what(key)} must be a list, got {shown(value)}")
        if not min_items <= len(value) <= max_items:
            raise UsageError(
                f"{self.what(key)} must hold {min_items} to {max_items} items, "
                f"it holds {len(value)}"
            )
        return tuple(value)

    def names(self, key: str, *, min_items: int = 0, max_items: int = 1024) -> tuple[str, ...]:
        """Return argument ``key``, a list of distinct texts (column names)."""
        items = self.sequence(key, min_items=min_items, max_items=max_items)
        texts = []
        for position, item in enumerate(items):
            if not isinstance(item, str) or not item or not item.isprintable():
                raise UsageError(
                    f"{self.what(key)}[{position}] must be printable text, got {shown(item)}"
                )
            texts.append(item)
        if len(set(texts)) != len(texts):
            repeated = next(text for text in texts if texts.count(text) > 1)
            raise UsageError(f"{self.what(key)} names {shown(repeated)} twice")
        return tuple(texts)
