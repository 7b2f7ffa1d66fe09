"""The ``sgx-dcap`` backend: collect SGX DCAP quotes inside a Gramine enclave.

Gramine exposes attestation as files under ``/dev/attestation``:

1. ``attestation_type`` must read ``dcap`` (set ``sgx.remote_attestation = "dcap"`` in the
   manifest);
2. writing the 64 bytes of report data to ``user_report_data`` sets the report's
   REPORTDATA;
3. reading ``quote`` returns the ECDSA quote (v3 or later) binding it.

The device is global to the enclave, so requests in one process are serialised with a lock.
Verification of SGX quotes (certificate chain, TCB, QE identity) is added by the
hardware-verification work as a :class:`~accord.attest.claims.BackendVerifier`; this release
has none, and :class:`~accord.attest.verifier.Verifier` says so when such evidence arrives.
"""

from __future__ import annotations

import threading
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
from accord.attest.evidence import Evidence
from accord.attest.quoter import ReportParser
from accord.errors import ConfigurationError

__all__ = ["ATTESTATION_DIR", "GramineSgxQuoter"]

ATTESTATION_DIR: Final = PurePosixPath("/dev/attestation")
_TYPE_FILE: Final = ATTESTATION_DIR / "attestation_type"
_REPORT_DATA_FILE: Final = ATTESTATION_DIR / "user_report_data"
_QUOTE_FILE: Final = ATTESTATION_DIR / "quote"
_HINT: Final = (
    'Run the enclave with gramine-sgx and sgx.remote_attestation = "dcap" in its manifest, '
    "or use the simulated backend for development."
)
_DEVICE_LOCK: Final = threading.Lock()


class GramineSgxQuoter:
    """Collects SGX DCAP quotes through Gramine's ``/dev/attestation`` files.

    Parameters
    ----------
    files
        The file system to use; defaults to the real one rooted at ``/``.
    parser
        Optional reader that fills the evidence's descriptive fields from the quote.
    now
        The clock that stamps the (unauthenticated) collection time.
    """

    backend: Final = "sgx-dcap"

    def __init__(
        self,
        *,
        files: DeviceFiles | None = None,
        parser: ReportParser | None = None,
        now: Clock = utc_now,
    ) -> None:
        self._files: DeviceFiles = files if files is not None else SystemFiles()
        self._parser = parser
        self._now = now

    def quote(self, report_data: bytes) -> Evidence:
        """Return evidence holding a DCAP quote that binds ``report_data`` (64 bytes).

        Raises
        ------
        ConfigurationError
            If ``/dev/attestation`` is missing, its type is not ``dcap``, or a file fails.
        VerificationError
            If Gramine returns an empty quote or (with a parser) one for other report data.
        """
        check_report_data(report_data)
        files = self._files
        if not files.exists(_TYPE_FILE):
            raise ConfigurationError(
                f"{ATTESTATION_DIR} is not available: this process is not running inside a "
                "Gramine SGX enclave with remote attestation enabled",
                hint=_HINT,
            )
        with _DEVICE_LOCK:
            try:
                kind = files.read(_TYPE_FILE, limit=64).decode("ascii", "replace").strip()
            except OSError as exc:
                raise device_failure("read", _TYPE_FILE, exc, hint=_HINT) from exc
            if kind != "dcap":
                raise ConfigurationError(
                    f"Gramine's attestation type is {kind!r}, not 'dcap': this enclave cannot "
                    "produce DCAP quotes",
                    hint=_HINT,
                )
            try:
                files.write(_REPORT_DATA_FILE, report_data)
            except OSError as exc:
                raise device_failure("write", _REPORT_DATA_FILE, exc, hint=_HINT) from exc
            try:
                quote = files.read(_QUOTE_FILE, limit=MAX_BLOB_BYTES)
            except OSError as exc:
                raise device_failure("read", _QUOTE_FILE, exc, hint=_HINT) from exc
            issued_at = self._now()
        return hardware_evidence(
            backend=self.backend,
            raw=quote,
            aux=b"",
            report_data=report_data,
            issued_at=issued_at,
            parser=self._parser,
        )
