"""Collect TDX and SEV-SNP reports through Linux configfs-tsm (``/sys/kernel/config/tsm/report``).

The kernel interface (Linux 6.7+, ``Documentation/ABI/testing/configfs-tsm``) is a directory
per request. For each quote this collector:

1. creates a fresh entry ``/sys/kernel/config/tsm/report/accord-<random>``; the kernel fills
   it with attribute files;
2. reads ``provider`` and refuses the entry unless it names the expected guest driver
   (``tdx_guest`` for TDX, ``sev_guest`` for SEV-SNP);
3. writes the 64 bytes of report data to ``inblob``;
4. reads ``generation``, then ``outblob`` (the quote or report) and ``auxblob`` when present
   (for SEV-SNP, the certificate table), then ``generation`` again; if it changed, another
   writer raced this request and the outblob may not carry our report data, so it fails;
5. removes the entry, whatever happened.

Verification of the resulting reports is added by the hardware-verification work.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Final

from accord.attest._fields import Clock, utc_now
from accord.attest.backends._hardware import (
    MAX_BLOB_BYTES,
    check_report_data,
    device_failure,
    hardware_evidence,
)
from accord.attest.backends.device_files import DeviceFiles, SystemFiles
from accord.attest.claims import HARDWARE_BACKENDS
from accord.attest.evidence import Evidence
from accord.attest.quoter import ReportParser
from accord.errors import ConfigurationError, UsageError, VerificationError

__all__ = ["TSM_REPORT_DIR", "ConfigfsTsmQuoter"]

logger: Final = logging.getLogger("accord.attest")

TSM_REPORT_DIR: Final = PurePosixPath("/sys/kernel/config/tsm/report")
_HINT: Final = (
    "Run inside a confidential VM on Linux 6.7 or later with configfs mounted "
    "(mount -t configfs none /sys/kernel/config) and the guest driver loaded, "
    "or use the simulated backend for development."
)


def _random_entry_name() -> str:
    return f"accord-{secrets.token_hex(8)}"


class ConfigfsTsmQuoter:
    """Collects one backend's reports through configfs-tsm (see the module docstring).

    Parameters
    ----------
    backend
        ``"tdx"`` or ``"sev-snp"``.
    provider
        The ``provider`` text the kernel must report (``"tdx_guest"`` or ``"sev_guest"``).
    files
        The file system to use; defaults to the real one rooted at ``/``.
    parser
        Optional reader that fills the evidence's descriptive fields from the report.
    now
        The clock that stamps the (unauthenticated) collection time.
    entry_name
        Returns a fresh entry name (random by default).
    """

    def __init__(
        self,
        *,
        backend: str,
        provider: str,
        files: DeviceFiles | None = None,
        parser: ReportParser | None = None,
        now: Clock = utc_now,
        entry_name: Callable[[], str] = _random_entry_name,
    ) -> None:
        if backend not in HARDWARE_BACKENDS or backend == "sgx-dcap":
            raise UsageError(f"configfs-tsm collects tdx or sev-snp reports, not {backend!r}")
        self._backend = backend
        self._provider = provider
        self._files: DeviceFiles = files if files is not None else SystemFiles()
        self._parser = parser
        self._now = now
        self._entry_name = entry_name

    @property
    def backend(self) -> str:
        """The backend name of the evidence this quoter produces."""
        return self._backend

    def quote(self, report_data: bytes) -> Evidence:
        """Return evidence holding a report that binds ``report_data`` (64 bytes).

        Raises
        ------
        ConfigurationError
            If configfs-tsm is missing, the provider is wrong, or a file operation fails.
        VerificationError
            If the entry's generation changed while it was read (a concurrent writer), or
            the platform returned an empty report.
        """
        check_report_data(report_data)
        files = self._files
        if not files.exists(TSM_REPORT_DIR):
            raise ConfigurationError(
                f"{TSM_REPORT_DIR} is not available: configfs-tsm is missing, so this machine "
                f"cannot produce {self._backend} reports",
                hint=_HINT,
            )
        entry = TSM_REPORT_DIR / self._entry_name()
        try:
            files.make_directory(entry)
        except OSError as exc:
            raise device_failure("create the report entry", entry, exc, hint=_HINT) from exc
        try:
            outblob, auxblob = self._collect(entry, report_data)
            issued_at = self._now()
        finally:
            try:
                files.remove_directory(entry)
            except OSError as exc:
                logger.warning("could not remove configfs-tsm entry %s: %s", entry, exc)
        return hardware_evidence(
            backend=self._backend,
            raw=outblob,
            aux=auxblob,
            report_data=report_data,
            issued_at=issued_at,
            parser=self._parser,
        )

    def _collect(self, entry: PurePosixPath, report_data: bytes) -> tuple[bytes, bytes]:
        provider = self._read(entry / "provider", limit=256).decode("ascii", "replace").strip()
        if provider != self._provider:
            raise ConfigurationError(
                f"the configfs-tsm provider is {provider!r}, but {self._backend} evidence needs "
                f"{self._provider!r}: this is not the kind of confidential VM expected",
                hint=f"Choose the backend that matches this machine's TEE ({provider!r}).",
            )
        try:
            self._files.write(entry / "inblob", report_data)
        except OSError as exc:
            raise device_failure("write", entry / "inblob", exc, hint=_HINT) from exc
        before = self._generation(entry)
        outblob = self._read(entry / "outblob", limit=MAX_BLOB_BYTES)
        auxblob = b""
        if self._files.exists(entry / "auxblob"):
            auxblob = self._read(entry / "auxblob", limit=MAX_BLOB_BYTES)
        after = self._generation(entry)
        if before != after:
            raise VerificationError(
                f"configfs-tsm entry {entry} changed while it was read (generation {before} "
                f"became {after}): another writer raced this request, so the report may not "
                "carry this enclave's report data",
                hint="Collect the evidence again; find what else writes to configfs-tsm.",
            )
        return outblob, auxblob

    def _generation(self, entry: PurePosixPath) -> int:
        text = self._read(entry / "generation", limit=32).decode("ascii", "replace").strip()
        if not text.isdigit():
            raise ConfigurationError(
                f"{entry / 'generation'} holds {text!r}, not a number", hint=_HINT
            )
        return int(text)

    def _read(self, path: PurePosixPath, *, limit: int) -> bytes:
        try:
            return self._files.read(path, limit=limit)
        except OSError as exc:
            raise device_failure("read", path, exc, hint=_HINT) from exc
