r"""The metadata of a sealed file's header: decoding it and the checks every reader makes.

The metadata (docs/sealed-format.md, section 5) is read before any chunk is authenticated,
so here it is untrusted text. Decoding refuses what no conforming writer produces: invalid
UTF-8, JSON that is not an object, a member named twice, ``NaN`` or ``Infinity``, nesting
deeper than :data:`MAX_METADATA_DEPTH` and lone surrogates (``"\ud800"``). The members a
content type needs must have the documented types, and the text a person reads (``name``,
column names and types, label and weight columns) must hold no control character. Every
check is iterative and linear in the size of the metadata, whatever its shape.

A file that passes is well formed, not authentic: readers still act on the metadata only
after a chunk has been authenticated (which authenticates the header).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any, Final, cast

__all__ = [
    "MAX_METADATA_DEPTH",
    "MetadataError",
    "check_metadata",
    "csv_delimiter_problem",
    "decode_metadata",
    "text_problem",
]

MAX_METADATA_DEPTH: Final = 16
"""Deepest nesting of JSON arrays and objects in the metadata (Accord writes 3 levels)."""

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SURROGATE: Final = re.compile(r"[\ud800-\udfff]")
_QUOTE: Final = '"'


class MetadataError(Exception):
    """Metadata that format v1 does not allow (internal: callers raise an Accord error).

    Attributes
    ----------
    reason
        What is wrong, phrased to follow "its metadata" (never quoting long values).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def decode_metadata(data: bytes) -> dict[str, Any]:
    """Parse the metadata bytes of a header into a JSON object.

    Raises
    ------
    MetadataError
        If the bytes are not UTF-8, not a JSON object, name a member twice, hold ``NaN`` or
        ``Infinity``, nest deeper than :data:`MAX_METADATA_DEPTH` or hold a lone surrogate.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise MetadataError("is not UTF-8 text") from None
    try:
        value = json.loads(text, object_pairs_hook=_unique_members, parse_constant=_no_constant)
    except RecursionError:
        raise MetadataError(f"nests deeper than {MAX_METADATA_DEPTH} levels") from None
    except _DuplicateMemberError as error:
        raise MetadataError(f"names member {_shown(error.name)} twice") from None
    except ValueError:
        raise MetadataError("is not valid JSON") from None
    if not isinstance(value, dict):
        raise MetadataError("is not a JSON object")
    for depth, item in _walk(value):
        if depth > MAX_METADATA_DEPTH:
            raise MetadataError(f"nests deeper than {MAX_METADATA_DEPTH} levels")
        if isinstance(item, str) and not item.isascii() and _SURROGATE.search(item):
            raise MetadataError("holds a lone surrogate (text that is not valid Unicode)")
    return value


class _DuplicateMemberError(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise _DuplicateMemberError(name)
            seen.add(name)
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _walk(value: Any) -> Iterator[tuple[int, Any]]:
    """Yield (depth, item) for every value and member name, without recursion."""
    stack: list[tuple[int, Any]] = [(1, value)]
    while stack:
        depth, item = stack.pop()
        yield depth, item
        if isinstance(item, dict):
            for name, member in item.items():
                yield depth, name
                stack.append((depth + 1, member))
        elif isinstance(item, list):
            stack.extend((depth + 1, member) for member in item)


def text_problem(value: object) -> str | None:
    """Say why ``value`` is not a text field of the header (None when it is one).

    A text field is a non-empty string with no control character (Unicode category Cc)
    and no lone surrogate.
    """
    if not isinstance(value, str):
        return "is not a string"
    if not value:
        return "is empty"
    if not value.isascii() and _SURROGATE.search(value):
        return "holds a lone surrogate"
    match = _CONTROL.search(value)
    if match:
        return f"holds control character U+{ord(match.group()):04X}"
    return None


def csv_delimiter_problem(delimiter: object) -> str | None:
    """Say why ``delimiter`` cannot delimit sealed CSV (None when it can).

    A delimiter is one ASCII character: tab, or a printable character other than ``"``.
    """
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        return "is not one character"
    if delimiter != "\t" and not (" " <= delimiter <= "~"):
        return "is not tab or a printable ASCII character"
    if delimiter == _QUOTE:
        return "is the quote character"
    return None


def check_metadata(content_type: str, metadata: Mapping[str, Any]) -> None:
    """Check the members that ``content_type`` (``csv``, ``arrow``...) defines (section 5).

    Members no content type defines are ignored, as the format requires.

    Raises
    ------
    MetadataError
        Naming the member that is missing or malformed.
    """
    if "name" in metadata:
        _require_text(metadata["name"], "member 'name'")
    if content_type == "csv":
        _check_csv(metadata)
    elif content_type == "arrow":
        _check_arrow(metadata)


def _require_text(value: object, what: str) -> str:
    problem = text_problem(value)
    if problem is not None:
        raise MetadataError(f"{what} {problem}")
    return cast(str, value)


def _check_csv(metadata: Mapping[str, Any]) -> None:
    columns = metadata.get("columns")
    if not isinstance(columns, list) or not columns:
        raise MetadataError("member 'columns' is not a non-empty array of column names")
    names = [_require_text(name, f"column {position}") for position, name in _numbered(columns)]
    _check_unique(names)
    problem = csv_delimiter_problem(metadata.get("delimiter"))
    if problem is not None:
        raise MetadataError(f"member 'delimiter' {problem}")
    line = metadata.get("header_line")
    if not isinstance(line, str) or not line.endswith("\n") or line.count("\n") != 1:
        raise MetadataError("member 'header_line' is not one line of text ending in a line feed")
    _check_label_columns(metadata, names)


def _check_arrow(metadata: Mapping[str, Any]) -> None:
    columns = metadata.get("columns")
    if not isinstance(columns, list) or not columns:
        raise MetadataError("member 'columns' is not a non-empty array of column objects")
    names = []
    for position, column in _numbered(columns):
        if not isinstance(column, dict):
            raise MetadataError(f"column {position} is not an object")
        names.append(_require_text(column.get("name"), f"column {position}'s name"))
        _require_text(column.get("type"), f"column {position}'s type")
        if not isinstance(column.get("nullable"), bool):
            raise MetadataError(f"column {position}'s 'nullable' is not true or false")
    _check_unique(names)
    schema = metadata.get("schema")
    if not isinstance(schema, str) or not schema:
        raise MetadataError("member 'schema' is missing (an Arrow file must record its schema)")
    try:
        base64.b64decode(schema, validate=True)
    except (binascii.Error, ValueError):
        raise MetadataError("member 'schema' is not base64") from None
    _check_label_columns(metadata, names)


def _numbered(columns: list[Any]) -> Iterator[tuple[int, Any]]:
    return enumerate(columns, start=1)


def _check_unique(names: list[str]) -> None:
    if len(set(names)) != len(names):
        seen: set[str] = set()
        for position, name in _numbered(names):
            if name in seen:
                raise MetadataError(f"column {position} repeats the name {_shown(name)}")
            seen.add(name)


def _check_label_columns(metadata: Mapping[str, Any], names: list[str]) -> None:
    for member in ("label_column", "weight_column"):
        if member in metadata:
            value = _require_text(metadata[member], f"member {member!r}")
            if value not in names:
                raise MetadataError(f"member {member!r} names no column of the file")


def _shown(text: str, limit: int = 40) -> str:
    """Return ``text`` quoted for a message: control characters escaped, at most ``limit``."""
    cut = text[:limit]
    shown = ascii(cut)
    return shown if len(cut) == len(text) else shown + "..."
