"""Typed access to parsed TOML values, with errors that name the file and the line."""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any, Final, NoReturn

from accord.agreement.display import describe_character, escape_unsafe, find_unsafe_character
from accord.agreement.locate import KeyPath, SourceLocator
from accord.errors import ConfigurationError

__all__ = ["Reader", "Table", "quoted"]

Table = dict[str, Any]

_MAX_TEXT: Final = 1000
_MAX_INTEGER: Final = 2**53 - 1  # the largest integer canonical JSON carries exactly
_MAX_QUOTED: Final = 40


def quoted(value: str) -> str:
    """Quote text from the file for a message: ``repr``, cut after 40 characters."""
    if len(value) <= _MAX_QUOTED:
        return repr(value)
    return repr(value[:_MAX_QUOTED]) + f"... ({len(value)} characters)"


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
        """Raise a :class:`ConfigurationError` for the line of ``path``.

        Invisible and control characters that the message quotes from the file are escaped
        (:func:`~accord.agreement.display.escape_unsafe`), so that printing it cannot reorder
        or hide what the terminal shows.
        """
        line = self.locator.line_of(path)
        raise ConfigurationError(
            escape_unsafe(f"{self.source} line {line}: {message}"),
            hint=None if hint is None else escape_unsafe(hint),
        )

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
                    f"unknown key {quoted(key)} in {table_name(path)}{suggestion} (known: {known})",
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
        """Return a non-blank string (one line unless ``multiline``), or None when absent.

        The string must be at most 1000 characters and hold no character of the categories
        in :data:`~accord.agreement.display.UNSAFE_CATEGORIES` other than tab (and newline
        when ``multiline``): no control, bidirectional, zero-width or line-separator
        character.
        """
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
        where = f"'{key}' in {table_name(path[:-1])}"
        if len(value) > _MAX_TEXT or (not multiline and "\n" in value):
            lines = "" if multiline else "one line of "
            self.fail(path, f"{where} must be {lines}at most {_MAX_TEXT} characters")
        index = find_unsafe_character(value, allowed="\t\n" if multiline else "\t")
        if index is not None:
            self.fail(
                path,
                f"{where} contains {describe_character(value[index])} (character {index + 1}), "
                "an invisible or control character that can make the text display otherwise "
                "than it is signed",
                hint="Remove the character; text may contain tabs, and newlines only where "
                "several lines are allowed.",
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
