"""Whole files and in-memory blobs: seal and unseal them in one call.

:func:`seal_file` reads an input file (CSV, LibSVM, Parquet or opaque bytes), splits it on
record boundaries, validates every record and writes the sealed file atomically;
:func:`unseal_file` authenticates every chunk and writes the plaintext atomically (mode 0600).
On any error neither leaves anything behind. :func:`seal_bytes` and :func:`unseal_bytes` do
the same for opaque data held in memory (models, results).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal

from accord._internal.files import atomic_output
from accord.crypto.keys import DataKey
from accord.crypto.sealed.arrow_records import parquet_source
from accord.crypto.sealed.csv_records import csv_source
from accord.crypto.sealed.frames import FRAME_HEADER, TAG_SIZE
from accord.crypto.sealed.header import ContentType, SealedHeader
from accord.crypto.sealed.metadata import MetadataError, check_metadata, text_problem
from accord.crypto.sealed.reader import SealedReader
from accord.crypto.sealed.records import ChunkSource, bytes_source, libsvm_source
from accord.crypto.sealed.writer import DEFAULT_CHUNK_SIZE, SealedWriter, SealSummary
from accord.errors import IntegrityError, UsageError

__all__ = [
    "InputFormat",
    "ProgressCallback",
    "UnsealSummary",
    "guess_input_format",
    "seal_bytes",
    "seal_file",
    "unseal_bytes",
    "unseal_file",
]

InputFormat = Literal["csv", "libsvm", "parquet", "bytes"]
"""Input formats :func:`seal_file` reads (Parquet is stored as content type ``arrow``)."""

_EXTENSIONS: Final[dict[str, InputFormat]] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".libsvm": "libsvm",
    ".svm": "libsvm",
    ".svmlight": "libsvm",
    ".parquet": "parquet",
    ".pq": "parquet",
}

ProgressCallback = Callable[[int], None]
"""Called with the bytes processed so far (input bytes when sealing, sealed when unsealing)."""


def guess_input_format(path: Path) -> InputFormat:
    """Guess an input's format from its file name extension.

    Raises
    ------
    UsageError
        If the extension is not one Accord recognises.
    """
    suffix = Path(path).suffix.lower()
    guessed = _EXTENSIONS.get(suffix)
    if guessed is None:
        known = ", ".join(sorted(_EXTENSIONS))
        raise UsageError(
            f"cannot tell the format of {path} from its extension {suffix or '(none)'!r}; "
            f"known extensions: {known}",
            hint="Pass --format csv, libsvm, parquet or bytes.",
        )
    return guessed


@contextmanager
def _open_source(
    path: Path,
    input_format: InputFormat,
    *,
    chunk_size: int,
    delimiter: str | None,
    label_column: str | None,
    weight_column: str | None,
) -> Iterator[ChunkSource]:
    source = str(path)
    if input_format == "parquet":
        if delimiter is not None:
            raise UsageError("--delimiter applies to CSV input only")
        yield parquet_source(
            path,
            chunk_size=chunk_size,
            source=source,
            label_column=label_column,
            weight_column=weight_column,
        )
        return
    if input_format in ("libsvm", "bytes") and (label_column or weight_column or delimiter):
        raise UsageError(
            f"label, weight and delimiter options do not apply to {input_format} input"
            + (" (the label is the first field of each line)" if input_format == "libsvm" else "")
        )
    try:
        stream = open(path, "rb")  # noqa: SIM115 -- closed below, after the chunks are read
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    with stream:
        if input_format == "csv":
            yield csv_source(
                stream,
                chunk_size=chunk_size,
                source=source,
                delimiter=delimiter or ("\t" if path.suffix.lower() == ".tsv" else ","),
                label_column=label_column,
                weight_column=weight_column,
            )
        elif input_format == "libsvm":
            yield libsvm_source(stream, chunk_size=chunk_size, source=source)
        else:
            yield bytes_source(stream, chunk_size=chunk_size)


def seal_file(
    source: Path,
    destination: Path,
    key: DataKey,
    *,
    input_format: InputFormat | None = None,
    label_column: str | None = None,
    weight_column: str | None = None,
    delimiter: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    name: str | None = None,
    progress: ProgressCallback | None = None,
    random_bytes: Callable[[int], bytes] = os.urandom,
    overwrite: bool = True,
) -> SealSummary:
    """Seal an input file; the sealed file appears complete or not at all.

    Parameters
    ----------
    source
        The input file.
    destination
        The sealed file to write (through a temporary file and a rename).
    key
        The party's data key.
    input_format
        ``csv``, ``libsvm``, ``parquet`` or ``bytes``; guessed from the extension when None.
    label_column, weight_column
        For CSV and Parquet: columns that hold the label and the row weight.
    delimiter
        For CSV: the field delimiter (``,``; tab for ``.tsv``).
    chunk_size
        Target plaintext bytes per chunk.
    name
        A free-form label stored in the (public) header.
    progress
        Called with the number of input bytes processed so far.
    random_bytes
        Source of the file id (tests only; see :class:`SealedWriter`).
    overwrite
        When false, refuse if ``destination`` exists.

    Returns
    -------
    SealSummary
        Header, chunk and row counts, sizes.

    Raises
    ------
    UsageError
        For an unknown format, an empty input or a malformed record (naming line and chunk).
    """
    source, destination = Path(source), Path(destination)
    _check_name(name)
    if not source.is_file():
        raise UsageError(f"cannot read {source}: no such file")
    if destination.exists() and destination.resolve() == source.resolve():
        raise UsageError(f"the output {destination} is the input file; choose another path")
    fmt = input_format or guess_input_format(source)
    if fmt not in ("csv", "libsvm", "parquet", "bytes"):
        raise UsageError(f"unknown input format {fmt!r}; use csv, libsvm, parquet or bytes")
    with (
        _open_source(
            source,
            fmt,
            chunk_size=chunk_size,
            delimiter=delimiter,
            label_column=label_column,
            weight_column=weight_column,
        ) as input_chunks,
        atomic_output(destination, mode=0o644, overwrite=overwrite) as output,
    ):
        metadata = dict(input_chunks.metadata)
        if name is not None:
            metadata["name"] = name
        try:
            check_metadata(input_chunks.content_type, metadata)
        except MetadataError as error:
            raise UsageError(
                f"{source} cannot be sealed: its header metadata {error.reason}"
            ) from None
        writer = SealedWriter(
            output,
            key,
            content_type=input_chunks.content_type,
            metadata=metadata,
            chunk_size=chunk_size,
            random_bytes=random_bytes,
            source=str(source),
        )
        done = 0
        for chunk in input_chunks.chunks:
            writer.add_chunk(chunk.data, chunk.rows)
            done += chunk.input_bytes
            if progress is not None:
                progress(done)
        return writer.finish()


def seal_bytes(
    data: bytes,
    key: DataKey,
    *,
    name: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    random_bytes: Callable[[int], bytes] = os.urandom,
) -> bytes:
    """Seal opaque bytes (a model, a result) in memory and return the sealed file's bytes.

    Raises
    ------
    UsageError
        If ``data`` is empty, or ``name`` is not printable text.
    """
    _check_name(name)
    output = io.BytesIO()
    writer = SealedWriter(
        output,
        key,
        content_type=ContentType.BYTES,
        metadata={"name": name} if name is not None else {},
        chunk_size=chunk_size,
        random_bytes=random_bytes,
        source="the data",
    )
    view = memoryview(data)
    for start in range(0, len(view), chunk_size):
        writer.add_chunk(view[start : start + chunk_size], 0)
    writer.finish()
    return output.getvalue()


def _check_name(name: str | None) -> None:
    if name is None:
        return
    problem = text_problem(name)
    if problem is not None:
        raise UsageError(
            f"the name {name!r} for the sealed header {problem}",
            hint="Choose a name of printable text (it is stored in the public header).",
        )


@dataclass(frozen=True)
class UnsealSummary:
    """What :func:`unseal_file` wrote.

    Attributes
    ----------
    header
        The (now authenticated) header.
    chunks
        Number of chunks.
    rows
        Total authenticated rows.
    output_bytes
        Size of the plaintext file written.
    """

    header: SealedHeader
    chunks: int
    rows: int
    output_bytes: int


def unseal_file(
    source: Path,
    destination: Path,
    key: DataKey,
    *,
    expected_file_id: str | None = None,
    progress: ProgressCallback | None = None,
    overwrite: bool = True,
) -> UnsealSummary:
    """Authenticate and decrypt a sealed file to ``destination`` (mode 0600), atomically.

    CSV, LibSVM and bytes come back byte for byte as they were sealed; Arrow content comes
    back as a Parquet file with the same table. On any failure nothing is left behind.

    Parameters
    ----------
    source
        The sealed file.
    destination
        The plaintext file to write.
    key
        The party's data key.
    expected_file_id
        When given, a file with another id is refused as swapped.
    progress
        Called with the number of sealed bytes processed so far.
    overwrite
        When false, refuse if ``destination`` exists.

    Returns
    -------
    UnsealSummary
        Header, counts and output size.
    """
    with (
        SealedReader.open(Path(source), key, expected_file_id=expected_file_id) as reader,
        atomic_output(Path(destination), mode=0o600, overwrite=overwrite) as output,
    ):
        if reader.header.content_type is ContentType.ARROW:
            rows = _write_parquet(reader, output, progress)
        else:
            rows = _write_plaintext(reader, output, progress)
        return UnsealSummary(reader.header, reader.chunk_count, rows, output.tell())


def _write_plaintext(
    reader: SealedReader, output: BinaryIO, progress: Callable[[int], None] | None
) -> int:
    """Write the original bytes (CSV: header line first); return the rows.

    The header line comes from the metadata, so it is written only once the first chunk has
    been authenticated (which authenticates the header), never before.
    """
    rows = 0
    done = 0
    for chunk_rows, plaintext in reader.iter_views():
        if done == 0 and reader.header.content_type is ContentType.CSV:
            output.write(_header_line(reader))
        output.write(plaintext)
        rows += chunk_rows
        done += FRAME_HEADER.size + TAG_SIZE + len(plaintext)
        if progress is not None:
            progress(done)
    return rows


def _header_line(reader: SealedReader) -> bytes:
    """Return the authenticated CSV header line, refusing one that is not UTF-8 text."""
    line = reader.header.metadata.get("header_line")
    try:
        if isinstance(line, str):
            return line.encode("utf-8")
    except UnicodeEncodeError:
        pass
    raise IntegrityError(
        f"{reader.source}: the header's 'header_line' is not text (an authentic file from a "
        "writer that does not follow the format)",
        hint="Ask the file's owner to seal the data again.",
    )


def _write_parquet(
    reader: SealedReader, output: BinaryIO, progress: Callable[[int], None] | None
) -> int:
    """Write authenticated Arrow chunks as one Parquet file; return the rows."""
    import pyarrow.parquet as pq

    writer: Any = None
    rows = 0
    done = 0
    try:
        for batch in reader.iter_batches():
            if writer is None:
                writer = pq.ParquetWriter(output, batch.schema)
            writer.write_batch(batch)
            rows += batch.num_rows
            done += 1
            if progress is not None:
                progress(reader.sealed_bytes_before(done))
    finally:
        if writer is not None:
            writer.close()
    return rows


def unseal_bytes(sealed: bytes, key: DataKey, *, expected_file_id: str | None = None) -> bytes:
    """Authenticate and decrypt a sealed file held in memory; return its plaintext.

    For CSV the header line comes first, as in the input. Arrow content is refused (read
    it with :meth:`SealedReader.iter_batches`).
    """
    reader = SealedReader(io.BytesIO(sealed), key, expected_file_id=expected_file_id)
    if reader.header.content_type is ContentType.ARROW:
        raise UsageError(
            "the sealed data holds Arrow record batches; read them with iter_batches()"
        )
    output = io.BytesIO()
    _write_plaintext(reader, output, None)
    return output.getvalue()
