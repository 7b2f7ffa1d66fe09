r"""The preamble and header of a sealed file (format v1): encoding, decoding, digest.

Byte layout (big-endian; see docs/sealed-format.md, sections 2 and 3)::

    preamble     magic "\x89ACSEAL\n" (8) | u16 version | u16 flags | u32 header body length
    header body  key id (16) | file id (16) | u32 chunk size | u8 len + content type (ASCII)
                 | u32 len + metadata (canonical JSON object)

Nothing in the header is secret, and nothing in it is authenticated on its own: its SHA-256
(:attr:`SealedHeader.digest`) is part of every chunk's associated data.
"""

from __future__ import annotations

import enum
import hashlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Final

from accord._internal.canonical import canonical_json
from accord.crypto.sealed.metadata import MetadataError, check_metadata, decode_metadata
from accord.errors import IntegrityError, UsageError

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "MAX_CHUNK_SIZE",
    "MAX_HEADER_BODY",
    "PREAMBLE_SIZE",
    "SUPPORTED_VERSIONS",
    "ContentType",
    "SealedHeader",
    "read_header",
]

MAGIC: Final = b"\x89ACSEAL\n"
FORMAT_VERSION: Final = 1
SUPPORTED_VERSIONS: Final = (1,)
PREAMBLE_SIZE: Final = 16
MAX_HEADER_BODY: Final = 1024 * 1024
MAX_CHUNK_SIZE: Final = 1 << 30
ID_BYTES: Final = 16

_PREAMBLE: Final = struct.Struct(">8sHHI")
_FIXED: Final = struct.Struct(">16s16sIB")
_U32: Final = struct.Struct(">I")


class ContentType(enum.StrEnum):
    """What the chunks of a sealed file hold."""

    CSV = "csv"
    """Data lines of a CSV file; the header line is kept in the metadata."""
    LIBSVM = "libsvm"
    """Lines of a LibSVM file."""
    ARROW = "arrow"
    """One Arrow IPC stream (one record batch) per chunk; the input was Parquet."""
    BYTES = "bytes"
    """Opaque data such as a model or a result."""


@dataclass(frozen=True)
class SealedHeader:
    """The parsed header of a sealed file.

    Attributes
    ----------
    key_id
        Hex id of the data key the file was sealed with.
    file_id
        Hex of the 16 random bytes that name this file.
    chunk_size
        The writer's target plaintext bytes per chunk.
    content_type
        What the chunks hold.
    metadata
        Format hints (column names, schema, label column, name): a JSON object.
    version
        Format version (always 1 here).
    """

    key_id: str
    file_id: str
    chunk_size: int
    content_type: ContentType
    metadata: Mapping[str, Any] = field(default_factory=dict)
    version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        for label, value in (("key id", self.key_id), ("file id", self.file_id)):
            if len(value) != 2 * ID_BYTES or not _is_hex(value):
                raise UsageError(f"a sealed header's {label} must be 32 hex digits, got {value!r}")
        if not 1 <= self.chunk_size <= MAX_CHUNK_SIZE:
            raise UsageError(
                f"chunk size {self.chunk_size} is out of range (1 to {MAX_CHUNK_SIZE} bytes)"
            )

    @property
    def name(self) -> str | None:
        """The optional free-form name the sealing party gave the file."""
        value = self.metadata.get("name")
        return value if isinstance(value, str) else None

    def encode(self) -> bytes:
        """Return the preamble followed by the header body."""
        body = self.encode_body()
        return _PREAMBLE.pack(MAGIC, self.version, 0, len(body)) + body

    def encode_body(self) -> bytes:
        """Return the header body (without the preamble)."""
        content_type = self.content_type.value.encode("ascii")
        metadata = canonical_json(dict(self.metadata))
        body = (
            _FIXED.pack(
                bytes.fromhex(self.key_id),
                bytes.fromhex(self.file_id),
                self.chunk_size,
                len(content_type),
            )
            + content_type
            + _U32.pack(len(metadata))
            + metadata
        )
        if len(body) > MAX_HEADER_BODY:
            raise UsageError(
                f"the sealed header would be {len(body)} bytes, above the limit of "
                f"{MAX_HEADER_BODY}: the metadata (schema or column names) is too large"
            )
        return body

    @property
    def digest(self) -> bytes:
        """SHA-256 of the encoded preamble and header body (bound into every chunk)."""
        return hashlib.sha256(self.encode()).digest()


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return text == text.lower()


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    return data if data is not None else b""


def read_header(stream: BinaryIO, *, source: str) -> tuple[SealedHeader, bytes, int]:
    """Read and parse the preamble and header body at the start of ``stream``.

    Parameters
    ----------
    stream
        A binary stream positioned at the start of a sealed file.
    source
        The file name used in error messages.

    Returns
    -------
    tuple[SealedHeader, bytes, int]
        The header, its digest (SHA-256 of the exact bytes read) and its length in bytes
        (where the first chunk frame starts).

    Raises
    ------
    UsageError
        If the file is not a sealed file, or uses a version or flags this release does not read.
    IntegrityError
        If the header is cut short or malformed.
    """
    preamble = _read_exact(stream, PREAMBLE_SIZE)
    if preamble[: len(MAGIC)] != MAGIC[: len(preamble)] or not preamble:
        raise UsageError(
            f"{source} is not an Accord sealed file (its first bytes are not the sealed-file "
            "magic)",
            hint="Check the file name; `accord seal` creates sealed files.",
        )
    if len(preamble) < PREAMBLE_SIZE:
        raise _damaged(source, f"the file ends inside its preamble ({len(preamble)} bytes)")
    _, version, flags, body_length = _PREAMBLE.unpack(preamble)
    if version not in SUPPORTED_VERSIONS:
        readable = ", ".join(str(v) for v in SUPPORTED_VERSIONS)
        raise UsageError(
            f"{source} uses sealed-file format version {version}; this release of Accord reads "
            f"version {readable} only",
            hint="Open the file with the Accord release that sealed it, or a newer one.",
        )
    if flags != 0:
        raise UsageError(
            f"{source} sets header flags 0x{flags:04x}, which format version {version} does not "
            "define",
            hint="The file comes from a newer Accord or is damaged; open it with a newer release.",
        )
    if body_length > MAX_HEADER_BODY:
        raise _damaged(source, f"its header claims {body_length} bytes (limit {MAX_HEADER_BODY})")
    body = _read_exact(stream, body_length)
    if len(body) < body_length:
        raise _damaged(source, "the file ends inside its header")
    header = _parse_body(body, version=version, source=source)
    return header, hashlib.sha256(preamble + body).digest(), PREAMBLE_SIZE + body_length


def _parse_body(body: bytes, *, version: int, source: str) -> SealedHeader:
    if len(body) < _FIXED.size:
        raise _damaged(source, "its header body is too short")
    key_id, file_id, chunk_size, type_length = _FIXED.unpack_from(body)
    offset = _FIXED.size
    content_type_raw = body[offset : offset + type_length]
    offset += type_length
    if len(body) < offset + _U32.size:
        raise _damaged(source, "its header body is too short")
    (metadata_length,) = _U32.unpack_from(body, offset)
    offset += _U32.size
    if offset + metadata_length != len(body):
        raise _damaged(source, "its header field lengths do not add up to the header length")
    try:
        content_type = ContentType(content_type_raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise _damaged(source, "its content type is not one format v1 defines") from None
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise _damaged(source, f"its chunk size {chunk_size} is out of range")
    try:
        metadata = decode_metadata(body[offset:])
        check_metadata(content_type, metadata)
    except MetadataError as error:
        raise _damaged(source, f"its metadata {error.reason}") from None
    return SealedHeader(
        key_id=key_id.hex(),
        file_id=file_id.hex(),
        chunk_size=chunk_size,
        content_type=content_type,
        metadata=metadata,
        version=version,
    )


def _damaged(source: str, reason: str) -> IntegrityError:
    return IntegrityError(
        f"{source}: the header (before chunk 0) is damaged or malformed: {reason}",
        hint="The file was altered or cut short, or written by a tool that does not follow "
        "the sealed-file format; fetch a fresh copy from its owner.",
    )
