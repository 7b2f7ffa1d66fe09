"""The file operations hardware collectors use, behind a Protocol so tests can fake the kernel.

Gramine's ``/dev/attestation`` and Linux configfs-tsm are driven entirely through files.
Collectors reach them only through :class:`DeviceFiles`; :class:`SystemFiles` is the real
implementation, rooted at ``/`` by default or at any directory (a fake tree in tests). A test
double can subclass :class:`SystemFiles` to add what the kernel does on ``mkdir`` or
``write`` (create attribute files, bump ``generation``) while still using real files.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Protocol

from accord.errors import UsageError

__all__ = ["DeviceFiles", "SystemFiles"]


class DeviceFiles(Protocol):
    """File operations on absolute platform paths such as ``/dev/attestation/quote``.

    Each method raises :class:`OSError` as the operating system does; collectors turn
    those into Accord errors that name the path.
    """

    def exists(self, path: PurePosixPath) -> bool:
        """Return whether ``path`` exists."""
        ...

    def read(self, path: PurePosixPath, *, limit: int) -> bytes:
        """Return the content of ``path`` (at most ``limit`` bytes; more is an error)."""
        ...

    def write(self, path: PurePosixPath, data: bytes) -> None:
        """Write ``data`` to ``path`` in one call, replacing its content."""
        ...

    def make_directory(self, path: PurePosixPath) -> None:
        """Create the directory ``path``; fail if it exists."""
        ...

    def remove_directory(self, path: PurePosixPath) -> None:
        """Remove the directory ``path``."""
        ...


class SystemFiles:
    """The real file system, seen from ``root`` (``/`` in production).

    Parameters
    ----------
    root
        The directory that stands for ``/``; tests pass a fake tree under ``tmp_path``.
    """

    def __init__(self, root: Path = Path("/")) -> None:
        self.root = Path(root)

    def locate(self, path: PurePosixPath) -> Path:
        """Return the real path for the absolute platform path ``path``."""
        if not path.is_absolute() or ".." in path.parts:
            raise UsageError(f"device path {path} must be absolute and must not contain '..'")
        return self.root.joinpath(*path.parts[1:])

    def exists(self, path: PurePosixPath) -> bool:
        """Return whether ``path`` exists."""
        return self.locate(path).exists()

    def read(self, path: PurePosixPath, *, limit: int) -> bytes:
        """Return the content of ``path``; raise OSError if it holds more than ``limit`` bytes."""
        with self.locate(path).open("rb", buffering=0) as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise OSError(f"{path} holds more than {limit} bytes")
        return data

    def write(self, path: PurePosixPath, data: bytes) -> None:
        """Write ``data`` to ``path`` with a single write call."""
        fd = os.open(self.locate(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            written = os.write(fd, data)
        finally:
            os.close(fd)
        if written != len(data):
            raise OSError(f"short write to {path}: {written} of {len(data)} bytes")

    def make_directory(self, path: PurePosixPath) -> None:
        """Create the directory ``path`` (mode 0700); fail if it exists."""
        os.mkdir(self.locate(path), 0o700)

    def remove_directory(self, path: PurePosixPath) -> None:
        """Remove the (empty, or configfs) directory ``path``."""
        os.rmdir(self.locate(path))
