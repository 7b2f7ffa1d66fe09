"""Atomic file output: a file appears complete under its final name, or not at all."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Final

from accord.errors import UsageError

__all__ = ["atomic_output", "write_atomically"]

_NO_HARD_LINKS: Final = frozenset(
    {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EXDEV}
)
"""Errors of link() that mean the file system has no hard links (FAT, some network mounts)."""


@contextlib.contextmanager
def atomic_output(path: Path, *, mode: int = 0o644, overwrite: bool = True) -> Iterator[BinaryIO]:
    """Write a file through a temporary sibling that is renamed into place on success.

    If the block raises, the temporary file is removed and ``path`` is untouched, so no
    partial output (for example half-decrypted plaintext) is ever left behind.

    Parameters
    ----------
    path
        The final file name.
    mode
        Permission bits of the new file (``0o600`` for private material). The file is
        created with these bits, never wider, before any byte is written.
    overwrite
        When false, refuse if ``path`` already exists, also when another process creates
        it while this one writes: the finished file is then put in place with ``link()``,
        which never replaces a file, instead of a rename. (On a file system without hard
        links, the existence check and the rename are two steps.)

    Yields
    ------
    BinaryIO
        A binary file object to write to.
    """
    path = Path(path)
    if not overwrite and (path.exists() or path.is_symlink()):
        raise UsageError(
            f"{path} already exists",
            hint="Choose another output path or remove the existing file first.",
        )
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise UsageError(
            f"cannot write {path}: folder {directory} does not exist",
            hint="Create the folder first or choose another output path.",
        )
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=directory)
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            _place_new(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _place_new(tmp: Path, path: Path) -> None:
    """Give the finished ``tmp`` the name ``path`` unless that name exists; remove ``tmp``."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise _appeared(path) from None
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise UsageError(f"cannot write {path}: {exc.strerror}") from None
        if path.exists() or path.is_symlink():
            raise _appeared(path) from None
        os.replace(tmp, path)
        return
    tmp.unlink()


def _appeared(path: Path) -> UsageError:
    return UsageError(
        f"{path} already exists (it appeared while the output was being written); nothing "
        "was changed",
        hint="Choose another output path or remove the existing file first.",
    )


def write_atomically(path: Path, data: bytes, *, mode: int = 0o644, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_output`)."""
    with atomic_output(path, mode=mode, overwrite=overwrite) as handle:
        handle.write(data)
