"""Characters that make text display differently from what it is: refused, or escaped.

An agreement's free text (name, description, contact) is signed and shown to the people who
decide whether to sign. Some characters change how the text *looks* without being visible
themselves: bidirectional overrides and isolates (U+202A..U+202E, U+2066..U+2069) reorder
what follows them, zero-width characters (U+200B..U+200D, U+2060, U+FEFF) hide, C0 and C1
control characters (U+0000..U+001F, U+007F..U+009F) move the cursor or end lines, and
U+2028/U+2029 break lines. A signer could then approve text that reads otherwise than it is.

The refused characters are those of the Unicode general categories ``Cc`` (control), ``Cf``
(format), ``Zl`` (line separator), ``Zp`` (paragraph separator) and ``Cs`` (lone surrogates,
which are not text at all); tab, and newline where several lines are allowed, are the only
exceptions. :func:`escape_unsafe` writes such characters as visible escapes instead, for text
that is printed without being checked (file names, error messages).
"""

from __future__ import annotations

import unicodedata
from typing import Final

__all__ = ["UNSAFE_CATEGORIES", "describe_character", "escape_unsafe", "find_unsafe_character"]

UNSAFE_CATEGORIES: Final = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
"""The Unicode general categories that free text may not contain."""

_UNNAMED: Final = {"Cc": "a control character", "Cs": "a lone surrogate"}


def find_unsafe_character(text: str, *, allowed: str = "") -> int | None:
    r"""Return the index of the first character of an unsafe category, or None.

    Parameters
    ----------
    text
        The text to check.
    allowed
        Characters accepted although their category is unsafe (e.g. ``"\t\n"``).

    Returns
    -------
    int or None
        The index of the first refused character; None when there is none.
    """
    for index, char in enumerate(text):
        if char not in allowed and unicodedata.category(char) in UNSAFE_CATEGORIES:
            return index
    return None


def describe_character(char: str) -> str:
    """Name one character for a message, e.g. ``U+202E RIGHT-TO-LEFT OVERRIDE``.

    Characters without a Unicode name (controls, surrogates) are described by their kind,
    e.g. ``U+0085 (a control character)``.
    """
    code = f"U+{ord(char):04X}"
    name = unicodedata.name(char, "")
    if name:
        return f"{code} {name}"
    kind = _UNNAMED.get(unicodedata.category(char), "an unnamed character")
    return f"{code} ({kind})"


def escape_unsafe(text: str) -> str:
    r"""Return ``text`` with every unsafe character written as a visible escape.

    Each character of :data:`UNSAFE_CATEGORIES` (tab and newline included) becomes
    ``\xNN``, ``\uNNNN`` or ``\UNNNNNNNN``, as Python writes it; a backslash stays as it
    is. Text without such characters is returned unchanged.
    """
    if find_unsafe_character(text) is None:
        return text
    return "".join(
        _escape(char) if unicodedata.category(char) in UNSAFE_CATEGORIES else char for char in text
    )


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
