"""Key material for libraries that insist on file paths, without ever writing it to a disk.

XGBoost's federated server and client read their TLS keys and certificates from paths.
:func:`memory_files` puts each in an anonymous memory file (``memfd_create``: memory that
belongs to this process and is on no file system) and yields ``/proc/self/fd/<n>`` paths,
which only this process can open. The files are sealed against changes, closed (their memory
freed) when the block ends, and never inherited by child processes (``MFD_CLOEXEC``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator, Mapping
from typing import Final

from accord.errors import ConfigurationError

__all__ = ["memory_files"]

_SEALS: Final = (
    getattr(fcntl, "F_SEAL_SEAL", 0x0001)
    | getattr(fcntl, "F_SEAL_SHRINK", 0x0002)
    | getattr(fcntl, "F_SEAL_GROW", 0x0004)
    | getattr(fcntl, "F_SEAL_WRITE", 0x0008)
)
_F_ADD_SEALS: Final = getattr(fcntl, "F_ADD_SEALS", 1033)


@contextlib.contextmanager
def memory_files(contents: Mapping[str, bytes]) -> Iterator[dict[str, str]]:
    """Hold ``contents`` in anonymous memory files and yield their paths by name.

    Parameters
    ----------
    contents
        Name (a label, not a path) to the bytes of each file.

    Yields
    ------
    dict[str, str]
        Name to ``/proc/self/fd/<n>`` path; the paths stop working when the block ends.

    Raises
    ------
    ConfigurationError
        If the platform has no anonymous memory files (Linux only).
    """
    create = getattr(os, "memfd_create", None)
    if create is None or not os.path.isdir("/proc/self/fd"):
        raise ConfigurationError(
            "running a command on several nodes needs anonymous memory files (memfd_create "
            "and /proc/self/fd), which this platform lacks",
            hint="Run enclave nodes on Linux.",
        )
    descriptors: list[int] = []
    try:
        paths: dict[str, str] = {}
        for name, data in contents.items():
            descriptor = create(f"accord-{name}", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
            descriptors.append(descriptor)
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view) :]
            fcntl.fcntl(descriptor, _F_ADD_SEALS, _SEALS)
            paths[name] = f"/proc/self/fd/{descriptor}"
        yield paths
    finally:
        for descriptor in descriptors:
            os.close(descriptor)
