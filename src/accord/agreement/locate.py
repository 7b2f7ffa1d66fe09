"""Line numbers for TOML key paths, so that errors can name the line of the problem.

:mod:`tomllib` reports positions only for syntax errors. :class:`SourceLocator` scans a
document and records the line of every table header, every key (dotted keys and keys of
inline tables included) and every array element. A path is a tuple of keys and array
indices, e.g. ``("parties", 1, "name")`` or ``("outputs", "models", 0)``; ``[[parties]]``
entries count from 0 in file order.

The scanner understands the whole TOML 1.0 lexical grammar that can span or hide lines:
the four kinds of strings (a ``#`` or ``[`` inside a string is not a comment or header),
multi-line arrays with comments, and inline tables.

It runs *before* :mod:`tomllib`, in time and memory linear in the size of the text, and
measures what would make parsing costly: a dotted key of more than :data:`MAX_KEY_PARTS`
parts (:mod:`tomllib` takes time quadratic in their number) or arrays and inline tables
nested more than :data:`MAX_NESTING` deep (:mod:`tomllib` recurses once per level). The
first such place is :attr:`SourceLocator.limit_exceeded`, and scanning stops there. Any text
can be scanned; for text that is not valid TOML the lines recorded are meaningless, but the
scan ends.
"""

from __future__ import annotations

import bisect
import contextlib
import tomllib
from dataclasses import dataclass, field
from typing import Final, NoReturn

__all__ = ["MAX_KEY_PARTS", "MAX_NESTING", "Header", "KeyPath", "LimitExceeded", "SourceLocator"]

KeyPath = tuple[str | int, ...]
"""A key path: table and key names, and indices into arrays and arrays of tables."""

MAX_KEY_PARTS: Final = 16
"""The most parts a dotted key or table header may have (``a.b.c`` has 3)."""
MAX_NESTING: Final = 16
"""The deepest that arrays and inline tables may be nested in one another."""

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


@dataclass(frozen=True)
class LimitExceeded:
    """Where a document exceeds :data:`MAX_KEY_PARTS` or :data:`MAX_NESTING`.

    Parameters
    ----------
    line
        The line (from 1) where the limit was passed.
    problem
        What exceeds which limit, as a phrase for a message.
    """

    line: int
    problem: str


@dataclass
class _Node:
    """One key or array element of the document: its line, children and scalar text."""

    line: int | None = None
    children: dict[str | int, _Node] = field(default_factory=dict)
    last_index: int | None = None  # the current entry of an array of tables ([[...]])
    span: tuple[int, int] | None = None  # where a scalar value (not a string) is written


class _LimitError(Exception):
    """Ends the scan when a limit is exceeded."""


class SourceLocator:
    """Map key paths of a TOML document to line numbers.

    Parameters
    ----------
    text
        The document. Line numbers are meaningful for text that :func:`tomllib.loads`
        accepts; any other text is scanned to its end (or to the first exceeded limit)
        without error.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._newlines = [index for index, char in enumerate(text) if char == "\n"]
        self._pos = 0
        self._depth = 0
        self._root = _Node()
        self.headers: list[Header] = []
        """The table headers, in file order."""
        self.comment_lines: set[int] = set()
        """The lines on which a comment (not a ``#`` inside a string) starts."""
        self.limit_exceeded: LimitExceeded | None = None
        """The first place that exceeds a limit, or None; scanning stopped there."""
        with contextlib.suppress(_LimitError):  # self.limit_exceeded says where
            self._scan()

    def line_at(self, position: int) -> int:
        """Return the line number (from 1) of a character offset."""
        return bisect.bisect_left(self._newlines, position) + 1

    def line_of(self, path: KeyPath) -> int:
        """Return the line of ``path``, or of its nearest ancestor that appears in the file.

        A path absent from the file (a missing key) gives the line of the table that should
        hold it; a path with no ancestor in the file gives line 1.
        """
        line = 1
        node = self._root
        for key in path:
            child = node.children.get(key)
            if child is None:
                break
            node = child
            if node.line is not None:
                line = node.line
        return line

    def has(self, path: KeyPath) -> bool:
        """Whether ``path`` itself appears in the file."""
        node = self._find(path)
        return node is not None and node.line is not None

    def value_text(self, path: KeyPath) -> str | None:
        """Return the source text of the scalar at ``path`` (not a string, array or table).

        This is how a number, boolean or date-time is written, e.g. ``2025-06-01T12:00:00Z``;
        None when ``path`` is absent or its value is a string, array or table.
        """
        node = self._find(path)
        if node is None or node.span is None:
            return None
        return self._text[node.span[0] : node.span[1]].rstrip(" \t")

    def _find(self, path: KeyPath) -> _Node | None:
        node = self._root
        for key in path:
            child = node.children.get(key)
            if child is None:
                return None
            node = child
        return node

    # -- scanning -----------------------------------------------------------------------

    def _peek(self, offset: int = 0) -> str:
        index = self._pos + offset
        return self._text[index] if index < len(self._text) else ""

    def _stop(self, position: int, problem: str) -> NoReturn:
        self.limit_exceeded = LimitExceeded(self.line_at(position), problem)
        raise _LimitError

    def _child(self, node: _Node, key: str | int, position: int | None) -> _Node:
        """Return the child ``key`` of ``node``, recording its line if not yet known."""
        child = node.children.get(key)
        if child is None:
            child = node.children[key] = _Node()
        if child.line is None and position is not None:
            child.line = self.line_at(position)
        return child

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
        table = self._root
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
                table, path = self._resolve(self._read_key())
                if table.line is None:
                    table.line = self.line_at(start)
                self.headers.append(Header(self.line_at(start), path, is_array=False))
                self._pos = self._after(self._text.find("]", self._pos), 1)
            else:
                self._key_value(table)
            if self._pos <= start:  # not valid TOML: stop rather than loop
                return

    def _after(self, found: int, width: int) -> int:
        return len(self._text) if found < 0 else found + width

    def _resolve(self, keys: list[str]) -> tuple[_Node, KeyPath]:
        """Follow ``keys`` from the top, entering the current entry of every array of tables."""
        node = self._root
        path: list[str | int] = []
        for key in keys:
            node = self._child(node, key, None)
            path.append(key)
            if node.last_index is not None:
                path.append(node.last_index)
                node = self._child(node, node.last_index, None)
        return node, tuple(path)

    def _array_header(self, keys: list[str], start: int) -> _Node:
        parent, parent_path = self._resolve(keys[:-1])
        array = self._child(parent, keys[-1], start)
        index = 0 if array.last_index is None else array.last_index + 1
        array.last_index = index
        entry = self._child(array, index, start)
        path = (*parent_path, keys[-1], index)
        self.headers.append(Header(self.line_at(start), path, is_array=True))
        return entry

    def _read_key(self) -> list[str]:
        keys: list[str] = []
        while True:
            self._skip_blank(newlines=False)
            start = self._pos
            if self._peek() in ('"', "'"):
                self._skip_string()
                keys.append(_decode_string(self._text[start : self._pos]))
            else:
                while self._peek() and self._peek() in _BARE_KEY:
                    self._pos += 1
                keys.append(self._text[start : self._pos])
            self._skip_blank(newlines=False)
            if self._peek() != ".":
                return keys
            if len(keys) >= MAX_KEY_PARTS:
                self._stop(start, f"a dotted key or table name has more than {MAX_KEY_PARTS} parts")
            self._pos += 1

    def _key_value(self, table: _Node) -> None:
        start = self._pos
        node = table
        for key in self._read_key():
            node = self._child(node, key, start)
        if self._peek() != "=":  # not valid TOML: stop here
            return
        self._pos += 1
        self._skip_blank(newlines=False)
        self._value(node)

    def _value(self, node: _Node) -> None:
        char = self._peek()
        if char in ('"', "'"):
            self._skip_string()
        elif char in ("[", "{"):
            self._depth += 1
            if self._depth > MAX_NESTING:
                self._stop(
                    self._pos, f"arrays and inline tables are nested more than {MAX_NESTING} deep"
                )
            if char == "[":
                self._array(node)
            else:
                self._inline_table(node)
            self._depth -= 1
        else:
            start = self._pos
            while self._peek() and self._peek() not in _SCALAR_END:
                self._pos += 1
            node.span = (start, self._pos)

    def _array(self, node: _Node) -> None:
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
            self._value(self._child(node, index, start))
            index += 1
            if self._pos <= start:
                return

    def _inline_table(self, node: _Node) -> None:
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
            self._key_value(node)
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
