"""Typed access to parsed TOML values, with errors that name the file and the line."""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any, Final, NoReturn

from accord.agreement.locate import KeyPath, SourceLocator
from accord.errors import ConfigurationError

__all__ = ["Reader", "Table"]

Table = dict[str, Any]

_CONTROL: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_CONTROL_MULTILINE: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_MAX_TEXT: Final = 1000
_MAX_INTEGER: Final = 2**53 - 1  # the largest integer canonical JSON carries exactly


def type_name(value: object) -> str:
    """Return the TOML name of a parsed value's type."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, dt.datetime):
        return "a date-time"
    if isinstance(value, dt.date):
        return "a date"
    return "a time"


def table_name(path: KeyPath) -> str:
    """Return how a table is written in the file, e.g. ``[enclave.sgx-dcap]``."""
    if not path:
        return "the top level"
    if len(path) >= 2 and isinstance(path[1], int):
        rest = ".".join(str(part) for part in path[2:])
        return f"[[{path[0]}]] entry {path[1] + 1}" + (f" {rest}" if rest else "")
    return "[" + ".".join(str(part) for part in path) + "]"


@dataclass(frozen=True)
class Reader:
    """Reads typed values out of a parsed agreement and reports errors with line numbers.

    Parameters
    ----------
    source
        The file name to put in messages.
    locator
        Line numbers of the document's key paths.
    """

    source: str
    locator: SourceLocator

    def fail(self, path: KeyPath, message: str, *, hint: str | None = None) -> NoReturn:
        """Raise a :class:`ConfigurationError` for the line of ``path``."""
        line = self.locator.line_of(path)
        raise ConfigurationError(f"{self.source} line {line}: {message}", hint=hint)

    def line(self, path: KeyPath) -> int:
        """Return the line of ``path`` (or of its nearest ancestor)."""
        return self.locator.line_of(path)

    def check_keys(
        self,
        table: Table,
        path: KeyPath,
        *,
        allowed: Collection[str],
        required: Collection[str] = (),
    ) -> None:
        """Refuse unknown keys (with a suggestion) and missing required keys."""
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, list(allowed), n=1)
                suggestion = f"; did you mean '{close[0]}'?" if close else ""
                known = ", ".join(sorted(allowed))
                self.fail(
                    (*path, key),
                    f"unknown key '{key}' in {table_name(path)}{suggestion} (known: {known})",
                )
        for key in required:
            if key not in table:
                self.fail(path, f"{table_name(path)} is missing the required key '{key}'")

    def wrong_type(self, path: KeyPath, value: object, expected: str) -> NoReturn:
        """Raise for a value of the wrong type."""
        self.fail(
            path,
            f"'{path[-1]}' in {table_name(path[:-1])} must be {expected}, not {type_name(value)}",
        )

    def table(self, parent: Table, path: KeyPath) -> Table:
        """Return the sub-table at ``path`` (empty when absent)."""
        value = parent.get(str(path[-1]), {})
        if not isinstance(value, dict):
            self.wrong_type(path, value, "a table")
        return value

    def text(
        self, table: Table, path: KeyPath, *, required: bool = False, multiline: bool = False
    ) -> str | None:
        """Return a non-blank string (one line unless ``multiline``), or None when absent."""
        key = str(path[-1])
        if key not in table:
            if required:
                self.fail(path[:-1], f"{table_name(path[:-1])} is missing the required key '{key}'")
            return None
        value = table[key]
        if not isinstance(value, str):
            self.wrong_type(path, value, "a string")
        if not value.strip():
            self.fail(path, f"'{key}' in {table_name(path[:-1])} is empty; remove it or fill it in")
        control = _CONTROL_MULTILINE if multiline else _CONTROL
        if control.search(value) or len(value) > _MAX_TEXT:
            lines = "" if multiline else "one line of "
            self.fail(
                path,
                f"'{key}' in {table_name(path[:-1])} must be {lines}at most {_MAX_TEXT} "
                "characters without control characters",
            )
        return value

    def integer(self, table: Table, path: KeyPath, *, default: int, low: int, high: int) -> int:
        """Return an integer between ``low`` and ``high``, or ``default`` when absent."""
        key = str(path[-1])
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.wrong_type(path, value, "an integer")
        high = min(high, _MAX_INTEGER)
        if not low <= value <= high:
            self.fail(
                path,
                f"'{key}' in {table_name(path[:-1])} must be between {low} and {high}, not {value}",
            )
        return value

    def boolean(self, table: Table, path: KeyPath, *, default: bool) -> bool:
        """Return a boolean, or ``default`` when absent."""
        value = table.get(str(path[-1]), default)
        if not isinstance(value, bool):
            self.wrong_type(path, value, "true or false")
        return value

    def strings(self, value: object, path: KeyPath, what: str) -> Iterator[tuple[KeyPath, str]]:
        """Yield ``(element path, element)`` of an array of strings without duplicates."""
        if not isinstance(value, list):
            self.wrong_type(path, value, f"an array of {what}")
        seen: dict[str, int] = {}
        for index, element in enumerate(value):
            element_path = (*path, index)
            if not isinstance(element, str):
                self.fail(
                    element_path,
                    f"'{path[-1]}' in {table_name(path[:-1])} must hold only {what}; "
                    f"element {index + 1} is {type_name(element)}",
                )
            if element in seen:
                self.fail(
                    element_path,
                    f"'{path[-1]}' in {table_name(path[:-1])} lists {element!r} twice "
                    f"(elements {seen[element] + 1} and {index + 1})",
                )
            seen[element] = index
            yield element_path, element
