"""Line numbers for TOML key paths, so that errors can name the line of the problem.

:mod:`tomllib` reports positions only for syntax errors. :class:`SourceLocator` scans a
document that :mod:`tomllib` has already accepted and records the line of every table
header, every key (dotted keys and keys of inline tables included) and every array
element. A path is a tuple of keys and array indices, e.g. ``("parties", 1, "name")`` or
``("outputs", "models", 0)``; ``[[parties]]`` entries count from 0 in file order.

The scanner understands the whole TOML 1.0 lexical grammar that can span or hide lines:
the four kinds of strings (a ``#`` or ``[`` inside a string is not a comment or header),
multi-line arrays with comments, and inline tables.
"""

from __future__ import annotations

import bisect
import tomllib
from dataclasses import dataclass
from typing import Final

__all__ = ["Header", "KeyPath", "SourceLocator"]

KeyPath = tuple[str | int, ...]
"""A key path: table and key names, and indices into arrays and arrays of tables."""

_BARE_KEY: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_SCALAR_END: Final = frozenset(",]}#\r\n")


@dataclass(frozen=True)
class Header:
    """A table header in the source.

    Parameters
    ----------
    line
        Its line number (from 1).
    path
        The path of the table it opens (with the index for ``[[...]]`` entries).
    is_array
        Whether it is an array-of-tables header (``[[...]]``).
    """

    line: int
    path: KeyPath
    is_array: bool


class SourceLocator:
    """Map key paths of a valid TOML document to line numbers.

    Parameters
    ----------
    text
        The document; it must already have been accepted by :func:`tomllib.loads`.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._newlines = [index for index, char in enumerate(text) if char == "\n"]
        self._pos = 0
        self._lines: dict[KeyPath, int] = {}
        self._array_index: dict[KeyPath, int] = {}
        self.headers: list[Header] = []
        """The table headers, in file order."""
        self.comment_lines: set[int] = set()
        """The lines on which a comment (not a ``#`` inside a string) starts."""
        self._scan()

    def line_at(self, position: int) -> int:
        """Return the line number (from 1) of a character offset."""
        return bisect.bisect_left(self._newlines, position) + 1

    def line_of(self, path: KeyPath) -> int:
        """Return the line of ``path``, or of its nearest ancestor that appears in the file.

        A path absent from the file (a missing key) gives the line of the table that should
        hold it; a path with no ancestor in the file gives line 1.
        """
        for end in range(len(path), 0, -1):
            line = self._lines.get(path[:end])
            if line is not None:
                return line
        return 1

    def has(self, path: KeyPath) -> bool:
        """Whether ``path`` itself appears in the file."""
        return path in self._lines

    # -- scanning -----------------------------------------------------------------------

    def _peek(self, offset: int = 0) -> str:
        index = self._pos + offset
        return self._text[index] if index < len(self._text) else ""

    def _record(self, path: KeyPath, position: int) -> None:
        self._lines.setdefault(path, self.line_at(position))

    def _skip_blank(self, *, newlines: bool) -> None:
        """Skip spaces, tabs, comments and (if ``newlines``) line breaks."""
        while self._pos < len(self._text):
            char = self._text[self._pos]
            if char in " \t" or (newlines and char in "\r\n"):
                self._pos += 1
            elif char == "#":
                self.comment_lines.add(self.line_at(self._pos))
                end = self._text.find("\n", self._pos)
                self._pos = len(self._text) if end < 0 else end
            else:
                return

    def _scan(self) -> None:
        table: KeyPath = ()
        while True:
            self._skip_blank(newlines=True)
            if self._pos >= len(self._text):
                return
            start = self._pos
            if self._text.startswith("[[", self._pos):
                self._pos += 2
                table = self._array_header(self._read_key(), start)
                self._pos = self._after(self._text.find("]]", self._pos), 2)
            elif self._peek() == "[":
                self._pos += 1
                table = self._resolve(self._read_key())
                self._record(table, start)
                self.headers.append(Header(self.line_at(start), table, is_array=False))
                self._pos = self._after(self._text.find("]", self._pos), 1)
            else:
                self._key_value(table)
            if self._pos <= start:  # not valid TOML: stop rather than loop
                return

    def _after(self, found: int, width: int) -> int:
        return len(self._text) if found < 0 else found + width

    def _resolve(self, keys: list[str]) -> KeyPath:
        """Insert the current index after every array-of-tables prefix of ``keys``."""
        path: KeyPath = ()
        for key in keys:
            path = (*path, key)
            if path in self._array_index:
                path = (*path, self._array_index[path])
        return path

    def _array_header(self, keys: list[str], start: int) -> KeyPath:
        array = (*self._resolve(keys[:-1]), keys[-1])
        index = self._array_index.get(array, -1) + 1
        self._array_index[array] = index
        self._record(array, start)
        path = (*array, index)
        self._record(path, start)
        self.headers.append(Header(self.line_at(start), path, is_array=True))
        return path

    def _read_key(self) -> list[str]:
        keys: list[str] = []
        while True:
            self._skip_blank(newlines=False)
            char = self._peek()
            if char in ('"', "'"):
                start = self._pos
                self._skip_string()
                keys.append(_decode_string(self._text[start : self._pos]))
            else:
                start = self._pos
                while self._peek() and self._peek() in _BARE_KEY:
                    self._pos += 1
                keys.append(self._text[start : self._pos])
            self._skip_blank(newlines=False)
            if self._peek() != ".":
                return keys
            self._pos += 1

    def _key_value(self, table: KeyPath) -> None:
        start = self._pos
        keys = self._read_key()
        for end in range(1, len(keys) + 1):
            self._record((*table, *keys[:end]), start)
        if self._peek() != "=":  # not valid TOML: stop here
            return
        self._pos += 1
        self._skip_blank(newlines=False)
        self._value((*table, *keys))

    def _value(self, path: KeyPath) -> None:
        char = self._peek()
        if char in ('"', "'"):
            self._skip_string()
        elif char == "[":
            self._array(path)
        elif char == "{":
            self._inline_table(path)
        else:
            while self._peek() and self._peek() not in _SCALAR_END:
                self._pos += 1

    def _array(self, path: KeyPath) -> None:
        self._pos += 1
        index = 0
        while self._pos < len(self._text):
            self._skip_blank(newlines=True)
            if self._peek() == "]":
                self._pos += 1
                return
            if self._peek() == ",":
                self._pos += 1
                continue
            start = self._pos
            self._record((*path, index), start)
            self._value((*path, index))
            index += 1
            if self._pos <= start:
                return

    def _inline_table(self, path: KeyPath) -> None:
        self._pos += 1
        while self._pos < len(self._text):
            self._skip_blank(newlines=False)
            if self._peek() == "}":
                self._pos += 1
                return
            if self._peek() == ",":
                self._pos += 1
                continue
            start = self._pos
            self._key_value(path)
            if self._pos <= start:
                return

    def _skip_string(self) -> None:
        quote = self._peek()
        if self._text.startswith(quote * 3, self._pos):
            self._pos += 3
            while True:
                if quote == '"' and self._peek() == "\\":
                    self._pos += 2
                elif self._text.startswith(quote * 3, self._pos):
                    self._pos += 3
                    while self._peek() == quote:  # up to two quotes may end the content
                        self._pos += 1
                    return
                elif self._pos >= len(self._text):
                    return
                else:
                    self._pos += 1
        self._pos += 1
        while self._peek() not in (quote, ""):
            self._pos += 2 if quote == '"' and self._peek() == "\\" else 1
        self._pos += 1


def _decode_string(literal: str) -> str:
    """Decode a quoted TOML key with TOML's own rules (the literal itself if it is invalid)."""
    try:
        value = tomllib.loads(f"k = {literal}")["k"]
    except tomllib.TOMLDecodeError:
        return literal
    return value if isinstance(value, str) else literal
