"""Chunk cryptography of sealed files (format v1): per-file key, nonces, AAD, frames.

::

    chunk_key = HKDF-SHA256(ikm=data key, salt=file id, info=b"accord/v1/sealed/chunk-key")
    nonce_i   = 00000000 || u64(i)
    aad_i     = SHA-256(preamble || header body) || u64(i) || u8(final) || u32(rows)
    frame_i   = u32(rows) || u32(len(ciphertext)) || AES-256-GCM(chunk_key, nonce_i, chunk, aad_i)

See docs/sealed-format.md, section 4.
"""

from __future__ import annotations

import struct
from typing import Final, NoReturn, SupportsIndex

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from accord.crypto.keys import SECRET_KEY_ACCESS, DataKey

__all__ = [
    "CHUNK_KEY_INFO",
    "FRAME_HEADER",
    "MAX_CIPHERTEXT",
    "MIN_CIPHERTEXT",
    "TAG_SIZE",
    "ChunkCipher",
    "ChunkTagError",
]

CHUNK_KEY_INFO: Final = b"accord/v1/sealed/chunk-key"
TAG_SIZE: Final = 16
MIN_CIPHERTEXT: Final = TAG_SIZE + 1
MAX_CIPHERTEXT: Final = 0xFFFFFFFF
FRAME_HEADER: Final = struct.Struct(">II")
_NONCE_PREFIX: Final = b"\x00\x00\x00\x00"
_INDEX_FINAL_ROWS: Final = struct.Struct(">QBI")
_U64: Final = struct.Struct(">Q")


class ChunkTagError(Exception):
    """A chunk's tag did not verify (internal: readers turn it into an IntegrityError)."""


class ChunkCipher:
    """AES-256-GCM over the chunks of one sealed file.

    Parameters
    ----------
    key
        The party's data key.
    file_id
        The 16-byte file id (the HKDF salt).
    header_digest
        SHA-256 of the file's preamble and header body.
    """

    __slots__ = ("_aead", "_header_digest")

    def __init__(self, key: DataKey, file_id: bytes, header_digest: bytes) -> None:
        chunk_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=file_id, info=CHUNK_KEY_INFO
        ).derive(key.export_bytes(SECRET_KEY_ACCESS))
        self._aead = AESGCM(chunk_key)
        self._header_digest = header_digest

    def __reduce_ex__(self, protocol: SupportsIndex) -> NoReturn:
        raise TypeError("ChunkCipher holds a secret key and cannot be pickled")

    def __repr__(self) -> str:
        return "ChunkCipher()"

    @staticmethod
    def nonce(index: int) -> bytes:
        """Return the 12-byte nonce of chunk ``index``."""
        return _NONCE_PREFIX + _U64.pack(index)

    def associated_data(self, index: int, *, final: bool, rows: int) -> bytes:
        """Return the 45-byte associated data of chunk ``index``."""
        return self._header_digest + _INDEX_FINAL_ROWS.pack(index, 1 if final else 0, rows)

    def seal(self, index: int, plaintext: bytes | memoryview, *, final: bool, rows: int) -> bytes:
        """Encrypt one chunk and return its ciphertext followed by the 16-byte tag."""
        return self._aead.encrypt(
            self.nonce(index), plaintext, self.associated_data(index, final=final, rows=rows)
        )

    def seal_into(
        self, index: int, plaintext: bytes | memoryview, out: memoryview, *, final: bool, rows: int
    ) -> None:
        """Encrypt one chunk into ``out`` (exactly ``len(plaintext) + 16`` bytes long)."""
        self._aead.encrypt_into(
            self.nonce(index), plaintext, self.associated_data(index, final=final, rows=rows), out
        )

    def open_into(
        self, index: int, ciphertext: bytes | memoryview, out: memoryview, *, final: bool, rows: int
    ) -> None:
        """Decrypt and authenticate one chunk into ``out`` (``len(ciphertext) - 16`` bytes).

        Raises
        ------
        ChunkTagError
            If the tag does not verify; ``out`` is zeroed so no unverified byte remains.
        """
        try:
            self._aead.decrypt_into(
                self.nonce(index),
                ciphertext,
                self.associated_data(index, final=final, rows=rows),
                out,
            )
        except InvalidTag:
            out[:] = bytes(len(out))
            raise ChunkTagError(index) from None

    def open(self, index: int, ciphertext: bytes | memoryview, *, final: bool, rows: int) -> bytes:
        """Decrypt and authenticate one chunk.

        Raises
        ------
        ChunkTagError
            If the tag does not verify for this index, final flag and row count.
        """
        try:
            return self._aead.decrypt(
                self.nonce(index), ciphertext, self.associated_data(index, final=final, rows=rows)
            )
        except InvalidTag:
            raise ChunkTagError(index) from None
