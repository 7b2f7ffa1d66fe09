"""A small strict reader of DER (X.690) TLV structure, for RA-TLS certificates.

RA-TLS certificates made by some enclave SDKs are not accepted by strict X.509 parsers (for
example Gramine writes ``ecdsa-with-SHA256`` with NULL parameters), so Accord walks their
structure itself. Only what RA-TLS needs is read: nested TLVs, object identifiers, and the
raw bytes of a TLV. Indefinite lengths, lengths past the end and non-minimal length
encodings are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from accord.errors import VerificationError

__all__ = ["Tlv", "children", "decode_oid", "read_tlv"]

_MAX_LENGTH_OCTETS: Final = 4


@dataclass(frozen=True)
class Tlv:
    """One DER element of ``data``: its tag byte and where its header and content lie."""

    tag: int
    start: int
    content_start: int
    end: int

    def content(self, data: bytes) -> bytes:
        """Return the content octets of this element in ``data``."""
        return data[self.content_start : self.end]

    def encoding(self, data: bytes) -> bytes:
        """Return the whole encoding (header and content) of this element in ``data``."""
        return data[self.start : self.end]


def _malformed(what: str, detail: str) -> VerificationError:
    return VerificationError(f"{what} is not valid DER: {detail}")


def read_tlv(data: bytes, offset: int, limit: int, *, what: str) -> Tlv:
    """Read the element that starts at ``offset`` and must end by ``limit``.

    Raises
    ------
    VerificationError
        If the element is truncated, uses a multi-byte tag, an indefinite or non-minimal
        length, or runs past ``limit``.
    """
    if offset + 2 > limit:
        raise _malformed(what, f"an element header at byte {offset} is truncated")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise _malformed(what, f"multi-byte tags are not supported (byte {offset})")
    first = data[offset + 1]
    position = offset + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > _MAX_LENGTH_OCTETS:
            raise _malformed(what, f"unsupported length encoding at byte {offset}")
        if position + count > limit:
            raise _malformed(what, f"a length at byte {offset} is truncated")
        length = int.from_bytes(data[position : position + count], "big")
        if length < 0x80 or data[position] == 0:
            raise _malformed(what, f"a non-minimal length at byte {offset}")
        position += count
    end = position + length
    if end > limit:
        raise _malformed(what, f"an element at byte {offset} runs past its container")
    return Tlv(tag=tag, start=offset, content_start=position, end=end)


def children(data: bytes, parent: Tlv, *, what: str) -> list[Tlv]:
    """Return the elements inside the constructed element ``parent``, in order."""
    if not parent.tag & 0x20:
        raise _malformed(what, f"expected a constructed element at byte {parent.start}")
    items = []
    offset = parent.content_start
    while offset < parent.end:
        item = read_tlv(data, offset, parent.end, what=what)
        items.append(item)
        offset = item.end
    return items


def decode_oid(content: bytes, *, what: str) -> str:
    """Return the dotted form of OBJECT IDENTIFIER content octets (``2.23.133.5.4.9``)."""
    if not content or content[-1] & 0x80:
        raise _malformed(what, "an object identifier is empty or truncated")
    arcs: list[int] = []
    value = 0
    for index, octet in enumerate(content):
        if value == 0 and octet == 0x80:
            raise _malformed(what, f"an object identifier has a padded arc (octet {index})")
        value = (value << 7) | (octet & 0x7F)
        if not octet & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in (first, arcs[0] - 40 * first, *arcs[1:]))
