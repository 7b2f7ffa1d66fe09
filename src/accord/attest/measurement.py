r"""The ``simulated`` backend's measurement: SHA-256 of a canonical listing of the enclave's code.

The enclave's code is the directory of the installed ``accord`` package (or any tree given
explicitly, e.g. an unpacked release). The listing is UTF-8 text::

    accord-measurement-v1\n
    <sha256 of file content, 64 lowercase hex>  <relative POSIX path>\n   (one line per file)

with two spaces between digest and path (the ``sha256sum`` layout), lines sorted by the
UTF-8 bytes of the path. The measurement is the SHA-256 (lowercase hex) of those bytes, so::

    cd unpacked/accord && { printf 'accord-measurement-v1\n'; \
      find . -type f ! -path '*/__pycache__/*' ! -name '*.pyc' ! -name '*.pyo' \
      | sed 's|^\./||' | LC_ALL=C sort | xargs -d '\n' sha256sum; } | sha256sum

reproduces it. Every regular file is listed except build litter: directories named
``__pycache__`` and files ending in ``.pyc`` or ``.pyo``. Symbolic links, special files,
paths that are not UTF-8 and paths containing a line break or backslash are refused, not
skipped, so that nothing the enclave could load escapes the listing unnoticed.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from accord.errors import UsageError

__all__ = [
    "LISTING_HEADER",
    "CodeMeasurement",
    "MeasuredFile",
    "installed_package_root",
    "measure_installed_package",
    "measure_tree",
]

LISTING_HEADER: Final = b"accord-measurement-v1\n"
EXCLUDED_DIRECTORIES: Final = frozenset({"__pycache__"})
EXCLUDED_SUFFIXES: Final = (".pyc", ".pyo")
_READ_CHUNK: Final = 1 << 20


@dataclass(frozen=True)
class MeasuredFile:
    """One line of the listing: a file's relative POSIX path and the SHA-256 of its content."""

    path: str
    sha256: str


@dataclass(frozen=True)
class CodeMeasurement:
    """The measured files of one tree, with the listing and digest derived from them.

    Parameters
    ----------
    root
        The directory that was measured.
    files
        Its files, sorted by the UTF-8 bytes of their paths.
    """

    root: Path
    files: tuple[MeasuredFile, ...]

    def listing(self) -> bytes:
        """Return the exact bytes whose SHA-256 is the measurement."""
        lines = [f"{item.sha256}  {item.path}\n".encode() for item in self.files]
        return LISTING_HEADER + b"".join(lines)

    @property
    def digest(self) -> str:
        """The measurement: SHA-256 of :meth:`listing`, 64 lowercase hex characters."""
        return hashlib.sha256(self.listing()).hexdigest()


def installed_package_root() -> Path:
    """Return the directory of the installed ``accord`` package (the enclave code)."""
    return Path(__file__).resolve().parent.parent


def measure_installed_package() -> CodeMeasurement:
    """Measure the installed ``accord`` package: the code a simulated enclave runs."""
    return measure_tree(installed_package_root())


def measure_tree(root: Path) -> CodeMeasurement:
    """Measure every file under ``root`` as the module docstring describes.

    Parameters
    ----------
    root
        The directory to measure: the package directory itself (the one that holds
        ``__init__.py``), e.g. ``unpacked-wheel/accord``.

    Returns
    -------
    CodeMeasurement
        The sorted file list; ``.digest`` is the measurement.

    Raises
    ------
    UsageError
        If ``root`` is not a directory, holds nothing to measure, or holds a symbolic link,
        a special file or a path that cannot be listed.
    """
    root = Path(root)
    if not root.is_dir():
        raise UsageError(
            f"cannot measure {root}: it is not a directory",
            hint="Pass the package directory, e.g. --root unpacked-release/accord.",
        )
    files: list[MeasuredFile] = []
    _walk(root, root, files)
    if not files:
        raise UsageError(f"cannot measure {root}: it contains no files")
    files.sort(key=lambda item: item.path.encode("utf-8"))
    return CodeMeasurement(root=root, files=tuple(files))


def _walk(root: Path, directory: Path, out: list[MeasuredFile]) -> None:
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError as exc:
        raise UsageError(f"cannot measure {directory}: {exc.strerror}") from exc
    for entry in entries:
        path = Path(entry.path)
        relative = _relative_name(root, path)
        if entry.is_symlink():
            raise UsageError(
                f"cannot measure {root}: {relative} is a symbolic link",
                hint="Measure a tree of regular files, e.g. an unpacked release.",
            )
        if entry.is_dir(follow_symlinks=False):
            if entry.name not in EXCLUDED_DIRECTORIES:
                _walk(root, path, out)
        elif entry.is_file(follow_symlinks=False):
            if not entry.name.endswith(EXCLUDED_SUFFIXES):
                out.append(MeasuredFile(path=relative, sha256=_file_sha256(path)))
        else:
            raise UsageError(f"cannot measure {root}: {relative} is not a regular file")


def _relative_name(root: Path, path: Path) -> str:
    relative = path.relative_to(root).as_posix()
    try:
        relative.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"cannot measure {root}: a file name under it is not UTF-8") from None
    if any(char in relative for char in "\n\r\\"):
        raise UsageError(
            f"cannot measure {root}: file name {relative!r} contains a line break or backslash"
        )
    return relative


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_READ_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise UsageError(f"cannot measure {path}: {exc.strerror}") from exc
    return digest.hexdigest()
