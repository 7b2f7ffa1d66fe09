"""Pieces shared by the hardware collectors: building evidence and naming file failures."""

from __future__ import annotations

import hmac
from datetime import datetime
from pathlib import PurePosixPath
from typing import Final

from accord.attest._fields import check_bytes
from accord.attest.claims import REPORT_DATA_BYTES
from accord.attest.evidence import Evidence
from accord.attest.quoter import ReportParser
from accord.errors import ConfigurationError, UsageError, VerificationError

__all__ = ["MAX_BLOB_BYTES", "check_report_data", "device_failure", "hardware_evidence"]

MAX_BLOB_BYTES: Final = 256 * 1024


def check_report_data(report_data: bytes) -> bytes:
    """Refuse report data that is not exactly 64 bytes."""
    return check_bytes(
        report_data,
        "report_data",
        min_len=REPORT_DATA_BYTES,
        max_len=REPORT_DATA_BYTES,
        error=UsageError,
    )


def device_failure(
    action: str, path: PurePosixPath, exc: OSError, *, hint: str
) -> ConfigurationError:
    """Return the error for a platform file operation that failed."""
    reason = exc.strerror or str(exc)
    return ConfigurationError(f"cannot {action} {path}: {reason}", hint=hint)


def hardware_evidence(
    *,
    backend: str,
    raw: bytes,
    aux: bytes,
    report_data: bytes,
    issued_at: datetime,
    parser: ReportParser | None,
) -> Evidence:
    """Wrap a collected quote as evidence, describing it with ``parser`` when one is given.

    Without a parser the descriptive fields are ``None`` (the verifier reads the quote
    itself). With one, the quote must carry the report data this enclave asked for.
    """
    if not raw:
        raise VerificationError(
            f"the platform returned an empty {backend} quote",
            hint="Check the platform's attestation service (e.g. the quote generation enclave).",
        )
    if parser is None:
        return Evidence(
            backend=backend,
            measurement=None,
            signer=None,
            security_version=None,
            debug=None,
            report_data=report_data,
            raw=raw,
            aux=aux,
            issued_at=issued_at,
        )
    claims = parser.parse_unverified(raw, aux=aux)
    if claims.backend != backend or not hmac.compare_digest(claims.report_data, report_data):
        raise VerificationError(
            f"the {backend} quote the platform returned does not carry the report data this "
            "enclave wrote: another request raced this one",
            hint="Collect the evidence again.",
        )
    return Evidence(
        backend=backend,
        measurement=claims.measurement,
        signer=claims.signer,
        security_version=claims.security_version,
        debug=claims.debug,
        report_data=report_data,
        raw=raw,
        aux=aux,
        issued_at=issued_at,
    )
