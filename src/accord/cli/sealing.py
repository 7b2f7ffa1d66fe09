"""``accord seal``, ``unseal`` and ``inspect``: sealed data files on the command line."""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Final, TextIO

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from accord.cli.common import DEFAULT_PASSPHRASE_ENV, make_console, open_party
from accord.crypto.sealed import (
    InputFormat,
    SealedFileInfo,
    inspect_file,
    seal_file,
    unseal_file,
)
from accord.crypto.sealed.header import MAX_CHUNK_SIZE
from accord.errors import UsageError

__all__ = ["parse_size", "printable", "register"]

PROGRESS_THRESHOLD: Final = 32 * 1024 * 1024
"""Inputs at least this large get a progress bar (on a terminal)."""

_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)(i?b)?\s*$", re.IGNORECASE)
_UNITS: Final = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_CHUNK_ROWS_SHOWN: Final = 20
_COLUMNS_SHOWN: Final = 50
"""``inspect`` lists at most this many column names (then says how many more there are)."""
_TEXT_SHOWN: Final = 200
"""``inspect`` shows at most this many characters of one header text (a name, a column)."""
_JSON_CHUNKS_PER_WRITE: Final = 4096
_CELL_SHOWN: Final = 4000
"""``inspect`` shows at most this many characters in one cell of its table."""

_Party = Annotated[
    Path,
    typer.Option("--party", metavar="DIR", help="The party directory holding the data key."),
]
_PassphraseEnv = Annotated[
    str,
    typer.Option(
        "--passphrase-env",
        metavar="VAR",
        help="Environment variable holding the party key's passphrase, if it has one.",
    ),
]
_Force = Annotated[bool, typer.Option("--force", help="Replace OUTPUT if it exists.")]


def parse_size(text: str) -> int:
    """Parse a byte size such as ``65536``, ``64K``, ``4MiB`` or ``1G`` (powers of 1024).

    Raises
    ------
    UsageError
        If the text is not a size.
    """
    match = _SIZE.match(text)
    if match is None:
        raise UsageError(f"{text!r} is not a size; write for example 65536, 64K or 4MiB")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def _check_output(output: Path, force: bool) -> None:
    if output.exists() and not force:
        raise UsageError(
            f"{output} already exists",
            hint="Choose another --out path, or pass --force to replace it.",
        )


@contextmanager
def _progress(description: str, total: int) -> Iterator[Callable[[int], None] | None]:
    """Yield a progress callback that drives a bar on a terminal, or None when none is shown."""
    console = make_console(stderr=True)
    if total < PROGRESS_THRESHOLD or not console.is_terminal:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda done: bar.update(task, completed=done)


def seal(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="The file to seal.")],
    party: _Party,
    output: Annotated[Path, typer.Option("--out", metavar="OUTPUT", help="The sealed file.")],
    input_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="csv|libsvm|parquet|bytes",
            help="The input's format; guessed from its extension when left out.",
        ),
    ] = None,
    label: Annotated[
        str | None, typer.Option("--label", metavar="COL", help="CSV/Parquet label column.")
    ] = None,
    weight: Annotated[
        str | None, typer.Option("--weight", metavar="COL", help="CSV/Parquet weight column.")
    ] = None,
    delimiter: Annotated[
        str | None,
        typer.Option("--delimiter", metavar="CHAR", help="CSV delimiter (',' or tab for .tsv)."),
    ] = None,
    chunk_size: Annotated[
        str,
        typer.Option("--chunk-size", metavar="N", help="Target chunk size, e.g. 4MiB or 65536."),
    ] = "4MiB",
    name: Annotated[
        str | None,
        typer.Option("--name", help="A label stored in the (public, unencrypted) header."),
    ] = None,
    passphrase_env: _PassphraseEnv = DEFAULT_PASSPHRASE_ENV,
    force: _Force = False,
) -> None:
    """Seal INPUT with the party's data key into OUTPUT (chunked AES-256-GCM)."""
    size = parse_size(chunk_size)
    if not 1 <= size <= MAX_CHUNK_SIZE:
        raise UsageError(f"--chunk-size must be 1 byte to 1GiB, not {chunk_size}")
    if input_format is not None and input_format not in ("csv", "libsvm", "parquet", "bytes"):
        raise UsageError(f"--format must be csv, libsvm, parquet or bytes, not {input_format!r}")
    if not input_path.is_file():
        raise UsageError(f"cannot read {input_path}: no such file")
    _check_output(output, force)
    identity = open_party(party, passphrase_env=passphrase_env)
    fmt: InputFormat | None = input_format  # type: ignore[assignment]
    with _progress(f"sealing {input_path.name}", input_path.stat().st_size) as progress:
        summary = seal_file(
            input_path,
            output,
            identity.data_key,
            input_format=fmt,
            label_column=label,
            weight_column=weight,
            delimiter=delimiter,
            chunk_size=size,
            name=name,
            progress=progress,
            overwrite=force,
        )
    header = summary.header
    rows = f"{summary.rows} rows in " if header.content_type != "bytes" else ""
    make_console().print(
        f"sealed {_path(input_path)} -> {_path(output)}: {rows}"
        f"{summary.chunks} chunk(s), {header.content_type}, key id {header.key_id}, "
        f"file id {header.file_id}",
        soft_wrap=True,
    )


def unseal(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="The sealed file.")],
    party: _Party,
    output: Annotated[
        Path, typer.Option("--out", metavar="OUTPUT", help="The plaintext file (mode 0600).")
    ],
    expect_file_id: Annotated[
        str | None,
        typer.Option(
            "--expect-file-id",
            metavar="ID",
            help="Refuse the file unless its file id is ID (detects swapped files).",
        ),
    ] = None,
    passphrase_env: _PassphraseEnv = DEFAULT_PASSPHRASE_ENV,
    force: _Force = False,
) -> None:
    """Authenticate and decrypt INPUT into OUTPUT; nothing is written if any check fails."""
    if not input_path.is_file():
        raise UsageError(f"cannot read {input_path}: no such file")
    _check_output(output, force)
    identity = open_party(party, passphrase_env=passphrase_env)
    with _progress(f"unsealing {input_path.name}", input_path.stat().st_size) as progress:
        summary = unseal_file(
            input_path,
            output,
            identity.data_key,
            expected_file_id=expect_file_id,
            progress=progress,
            overwrite=force,
        )
    rows = f"{summary.rows} rows, " if summary.header.content_type != "bytes" else ""
    make_console().print(
        f"unsealed {_path(input_path)} -> {_path(output)}: {rows}"
        f"{summary.chunks} chunk(s) authenticated, {summary.output_bytes} bytes written",
        soft_wrap=True,
    )


def inspect(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="A sealed file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the details as JSON.")] = False,
) -> None:
    """Show a sealed file's header and chunks without any key (nothing shown is authenticated)."""
    info = inspect_file(path)
    if as_json:
        _write_info_json(info, sys.stdout)
        return
    console = make_console()
    console.print(_header_table(path, info))
    console.print(_chunk_table(info))
    console.print(
        "[yellow]Not authenticated:[/] inspect reads the header and frame headers without "
        "the key; `accord unseal` verifies every chunk."
    )


def _write_info_json(info: SealedFileInfo, out: TextIO) -> None:
    """Write the details as indented JSON (keys sorted), one chunk at a time.

    The same text as ``json.dumps(details, indent=2, sort_keys=True)``, without building a
    list of every chunk first: a file of a million small chunks prints in bounded memory.
    The output is ASCII (``json`` escapes everything else, control characters included).
    """
    header = info.header
    details: dict[str, Any] = {
        "authenticated": False,
        "version": header.version,
        "key_id": header.key_id,
        "file_id": header.file_id,
        "content_type": str(header.content_type),
        "chunk_size": header.chunk_size,
        "metadata": dict(header.metadata),
        "total_rows": info.total_rows,
        "plaintext_bytes": info.plaintext_bytes,
        "file_size": info.file_size,
    }
    keys = sorted([*details, "chunks"])
    out.write("{\n")
    for position, key in enumerate(keys):
        out.write(f"  {json.dumps(key)}: ")
        if key == "chunks":
            _write_chunks_json(info, out)
        else:
            out.write(json.dumps(details[key], indent=2, sort_keys=True).replace("\n", "\n  "))
        out.write(",\n" if position < len(keys) - 1 else "\n")
    out.write("}\n")


def _write_chunks_json(info: SealedFileInfo, out: TextIO) -> None:
    if not info.chunks:
        out.write("[]")
        return
    chunks = info.chunks
    entry = "\n".join(
        (
            "    {{",
            '      "bytes": {},',
            '      "index": {},',
            '      "offset": {},',
            '      "rows": {}',
            "    }}",
        )
    )
    out.write("[\n")
    for first in range(0, len(chunks), _JSON_CHUNKS_PER_WRITE):
        if first:
            out.write(",\n")
        out.write(
            ",\n".join(
                entry.format(c.plaintext_length, c.index, c.offset, c.rows)
                for c in chunks[first : first + _JSON_CHUNKS_PER_WRITE]
            )
        )
    out.write("\n  ]")


def _header_table(path: Path, info: SealedFileInfo) -> Table:
    header = info.header
    table = Table(title=Text(f"sealed file {printable(str(path), 1000)}"), show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("format version", str(header.version))
    table.add_row("key id", header.key_id)
    table.add_row("file id", header.file_id)
    table.add_row("content type", str(header.content_type))
    table.add_row("chunk size", f"{header.chunk_size} bytes")
    for label, value in _format_hints(header.metadata):
        table.add_row(label, Text(value))
    table.add_row("chunks", str(len(info.chunks)))
    if header.content_type != "bytes":
        table.add_row("total rows", str(info.total_rows))
    table.add_row("plaintext bytes", str(info.plaintext_bytes))
    table.add_row("file size", f"{info.file_size} bytes")
    return table


def printable(text: str, limit: int = _TEXT_SHOWN) -> str:
    r"""Return ``text`` safe to print on a terminal: escaped, and cut to ``limit`` characters.

    Every character that is not printable (control and format characters such as ESC, the
    bidirectional overrides and the zero-width ones; lone surrogates; line and paragraph
    separators; private-use and unassigned code points) is written as a Python escape
    (``\x1b``, ``\u202e``, ``\ud800``), so a header cannot move the cursor, change colours,
    reach the clipboard (OSC 52) or reorder what is shown. Longer text is cut and says how
    many characters were left out.
    """
    shown = text[:limit]
    if not shown.isprintable():
        shown = "".join(
            char if char.isprintable() or unicodedata.category(char) == "Zs" else ascii(char)[1:-1]
            for char in shown
        )
    if len(text) > limit:
        shown += f"... ({len(text) - limit} more characters)"
    return shown


def _path(path: Path) -> str:
    """Return a path for rich markup: printable and with markup escaped."""
    return escape(printable(str(path), 1000))


def _format_hints(metadata: Any) -> Iterator[tuple[str, str]]:
    """Yield (label, text) for the metadata members ``inspect`` shows, escaped and bounded."""
    if isinstance(metadata.get("name"), str):
        yield "name", printable(metadata["name"])
    columns = metadata.get("columns")
    if isinstance(columns, list):
        yield "columns", _describe_columns(columns)
    if isinstance(metadata.get("delimiter"), str):
        yield "delimiter", ascii(metadata["delimiter"][:_TEXT_SHOWN])
    for member, label in (("label_column", "label column"), ("weight_column", "weight column")):
        if isinstance(metadata.get(member), str):
            yield label, printable(metadata[member])


def _describe_columns(columns: list[Any]) -> str:
    """Return at most :data:`_COLUMNS_SHOWN` columns as "name (type)", at most a cell long."""
    parts = []
    length = 0
    for column in columns[:_COLUMNS_SHOWN]:
        name: Any = column.get("name") if isinstance(column, dict) else column
        kind: Any = column.get("type") if isinstance(column, dict) else None
        part = printable(name) if isinstance(name, str) else "?"
        if isinstance(kind, str):
            part += f" ({printable(kind)})"
        length += len(part) + 2
        if length > _CELL_SHOWN:
            break
        parts.append(part)
    text = ", ".join(parts)
    if len(parts) < len(columns):
        text += f", ... ({len(columns) - len(parts)} more, {len(columns)} in all)"
    return text


def _chunk_table(info: SealedFileInfo) -> Table:
    table = Table(title="chunks")
    table.add_column("chunk", justify="right")
    table.add_column("rows", justify="right")
    table.add_column("plaintext bytes", justify="right")
    chunks = info.chunks
    if len(chunks) <= 2 * _CHUNK_ROWS_SHOWN:
        shown = list(chunks)
    else:
        shown = list(chunks[:_CHUNK_ROWS_SHOWN]) + list(chunks[-_CHUNK_ROWS_SHOWN:])
    bytes_only = info.header.content_type == "bytes"
    for position, chunk in enumerate(shown):
        if position == _CHUNK_ROWS_SHOWN and len(shown) < len(chunks):
            table.add_row("...", f"({len(chunks) - len(shown)} more)", "...")
        rows = "-" if bytes_only else str(chunk.rows)
        table.add_row(str(chunk.index), rows, str(chunk.plaintext_length))
    return table


def register(app: typer.Typer) -> None:
    """Add the ``seal``, ``unseal`` and ``inspect`` commands to ``app``."""
    app.command()(seal)
    app.command()(unseal)
    app.command()(inspect)
