"""Sealed data files (format v1): streaming, chunked AES-256-GCM over records.

A party seals its CSV, LibSVM or Parquet data (or any bytes) with its data key; only a holder
of that key (the party, or an attested enclave it released the key to) can open it. The byte
layout is specified in docs/sealed-format.md.

Writing::

    summary = seal_file(Path("train.csv"), Path("train.sealed"), key, label_column="y")

Reading, chunk by chunk (each chunk authenticated before it is returned)::

    with SealedReader.open(Path("train.sealed"), key, expected_file_id=file_id) as reader:
        for table in reader.iter_batches():
            ...

Looking at a file without its key (nothing shown is authenticated)::

    info = inspect_file(Path("train.sealed"))

Errors: :class:`~accord.errors.UsageError` (not a sealed file, unknown version, bad input),
:class:`~accord.errors.KeyMaterialError` (wrong key, naming the key id the file wants) and
:class:`~accord.errors.IntegrityError` (anything tampered, truncated, reordered, spliced or
swapped, naming the file and the chunk).
"""

from accord.crypto.sealed.files import (
    InputFormat,
    UnsealSummary,
    guess_input_format,
    seal_bytes,
    seal_file,
    unseal_bytes,
    unseal_file,
)
from accord.crypto.sealed.header import (
    FORMAT_VERSION,
    SUPPORTED_VERSIONS,
    ContentType,
    SealedHeader,
)
from accord.crypto.sealed.inspection import ChunkInfo, SealedFileInfo, inspect_file
from accord.crypto.sealed.libsvm import LibSvmBatch
from accord.crypto.sealed.reader import PlaintextChunk, SealedReader
from accord.crypto.sealed.writer import DEFAULT_CHUNK_SIZE, SealedWriter, SealSummary

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "FORMAT_VERSION",
    "SUPPORTED_VERSIONS",
    "ChunkInfo",
    "ContentType",
    "InputFormat",
    "LibSvmBatch",
    "PlaintextChunk",
    "SealSummary",
    "SealedFileInfo",
    "SealedHeader",
    "SealedReader",
    "SealedWriter",
    "UnsealSummary",
    "guess_input_format",
    "inspect_file",
    "seal_bytes",
    "seal_file",
    "unseal_bytes",
    "unseal_file",
]
