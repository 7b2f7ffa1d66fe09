"""Evidence: an enclave's attestation report with its unverified description, and its wire format.

:class:`Evidence` is **unverified**: anyone (the host included) can build or edit one. Its
descriptive fields (measurement, signer, ...) are what the sender *claims* the raw report
says; :class:`~accord.attest.verifier.Verifier` authenticates ``raw`` with the backend's
verifier, refuses evidence whose description differs from the authenticated claims, and only
then returns :class:`~accord.attest.verifier.VerifiedEvidence`.

Wire format (``to_bytes``/``from_bytes``): one RFC 8785 canonical JSON object, UTF-8, at most
1 MiB, with exactly these members (bytes as standard padded base64; times as RFC 3339 UTC
ending in ``Z``)::

    {"type": "accord-evidence", "version": 1,
     "backend": "simulated" | "sgx-dcap" | "tdx" | "sev-snp",
     "measurement": hex | null, "signer": hex | null,
     "security_version": int | null, "debug": bool | null,
     "report_data": base64 (64 bytes), "raw": base64, "aux": base64 (may be ""),
     "issued_at": "2026-01-02T03:04:05.000000Z"}

A reader refuses duplicate or unknown members, any other type, non-canonical base64 and
NaN/Infinity, naming the field. Readers accept any JSON spelling; writers emit the canonical one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from accord._internal.canonical import canonical_json
from accord.attest._fields import (
    check_bytes,
    check_hex,
    check_int,
    check_utc,
    decode_base64,
    encode_base64,
    format_time,
    load_json_object,
    parse_time,
    require_keys,
)
from accord.attest.claims import (
    MEASUREMENT_MAX_BYTES,
    MEASUREMENT_MIN_BYTES,
    REPORT_DATA_BYTES,
    check_backend,
)
from accord.errors import UsageError, VerificationError

__all__ = ["EVIDENCE_TYPE", "EVIDENCE_VERSION", "MAX_EVIDENCE_BYTES", "Evidence"]

EVIDENCE_TYPE: Final = "accord-evidence"
EVIDENCE_VERSION: Final = 1
MAX_EVIDENCE_BYTES: Final = 1 << 20
MAX_RAW_BYTES: Final = 256 * 1024
_FIELDS: Final = frozenset(
    {
        "type",
        "version",
        "backend",
        "measurement",
        "signer",
        "security_version",
        "debug",
        "report_data",
        "raw",
        "aux",
        "issued_at",
    }
)


@dataclass(frozen=True)
class Evidence:
    """Attestation evidence as received: **unverified** until a Verifier accepts it.

    Parameters
    ----------
    backend
        ``"simulated"``, ``"sgx-dcap"``, ``"tdx"`` or ``"sev-snp"``.
    measurement
        The code identity the sender claims the report holds (lowercase hex), or ``None``
        when the collector did not parse the report.
    signer
        The claimed signer identity (lowercase hex), or ``None``.
    security_version
        The claimed security version, or ``None`` when not parsed.
    debug
        The claimed debug flag, or ``None`` when not parsed.
    report_data
        The 64 bytes the enclave asked the platform to bind into the report.
    raw
        The quote or report exactly as the platform produced it: the only part that counts.
    issued_at
        For ``simulated``, the time signed into the report; for hardware, the collection
        time claimed by the host (unauthenticated: freshness rests on the nonce).
    aux
        Backend auxiliary data supplied by the host: the SEV-SNP certificate table from
        ``auxblob``, or the Intel collateral JSON for SGX and TDX quotes (signed by Intel,
        so the host cannot forge it);
        empty when there is none.
    """

    backend: str
    measurement: str | None
    signer: str | None
    security_version: int | None
    debug: bool | None
    report_data: bytes
    raw: bytes = field(repr=False)
    issued_at: datetime
    aux: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        _check_fields(self)
        object.__setattr__(
            self, "issued_at", check_utc(self.issued_at, "issued_at", error=UsageError)
        )

    def to_bytes(self) -> bytes:
        """Return the canonical JSON wire form described in the module docstring."""
        return canonical_json(
            {
                "type": EVIDENCE_TYPE,
                "version": EVIDENCE_VERSION,
                "backend": self.backend,
                "measurement": self.measurement,
                "signer": self.signer,
                "security_version": self.security_version,
                "debug": self.debug,
                "report_data": encode_base64(self.report_data),
                "raw": encode_base64(self.raw),
                "aux": encode_base64(self.aux),
                "issued_at": format_time(self.issued_at),
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Evidence:
        """Parse the wire form strictly; the result is still unverified.

        Parameters
        ----------
        data
            Bytes written by :meth:`to_bytes` (or any JSON spelling of the same object).

        Returns
        -------
        Evidence
            The parsed, unverified evidence.

        Raises
        ------
        VerificationError
            If the bytes are not well-formed evidence; the message names the field.
        """
        error = VerificationError
        obj = load_json_object(
            data, "attestation evidence", max_len=MAX_EVIDENCE_BYTES, error=error
        )
        require_keys(obj, _FIELDS, "attestation evidence", error=error)
        if obj["type"] != EVIDENCE_TYPE:
            raise error(f"evidence field 'type' must be {EVIDENCE_TYPE!r}, got {obj['type']!r}")
        if obj["version"] != EVIDENCE_VERSION or isinstance(obj["version"], bool):
            raise error(
                f"evidence format version {obj['version']!r} is not supported "
                f"(this release reads version {EVIDENCE_VERSION})",
                hint="Upgrade Accord, or ask the enclave operator for version 1 evidence.",
            )
        values: dict[str, Any] = {
            "backend": obj["backend"],
            "measurement": obj["measurement"],
            "signer": obj["signer"],
            "security_version": obj["security_version"],
            "debug": obj["debug"],
            "report_data": decode_base64(
                obj["report_data"], "report_data", max_len=REPORT_DATA_BYTES, error=error
            ),
            "raw": decode_base64(obj["raw"], "raw", max_len=MAX_RAW_BYTES, error=error),
            "aux": decode_base64(obj["aux"], "aux", max_len=MAX_RAW_BYTES, error=error),
            "issued_at": parse_time(obj["issued_at"], "issued_at", error=error),
        }
        try:
            return cls(**values)
        except UsageError as exc:
            raise error(exc.message) from None


def _check_fields(evidence: Evidence) -> None:
    """Check every field of ``evidence``, raising UsageError that names the first bad one."""
    error = UsageError
    check_backend(evidence.backend, error=error)
    for name in ("measurement", "signer"):
        value = getattr(evidence, name)
        if value is not None:
            check_hex(
                value,
                name,
                min_bytes=MEASUREMENT_MIN_BYTES,
                max_bytes=MEASUREMENT_MAX_BYTES,
                error=error,
            )
    if evidence.security_version is not None:
        check_int(evidence.security_version, "security_version", error=error)
    if evidence.debug is not None and not isinstance(evidence.debug, bool):
        raise error(f"evidence field 'debug' must be true, false or null, got {evidence.debug!r}")
    check_bytes(
        evidence.report_data,
        "report_data",
        min_len=REPORT_DATA_BYTES,
        max_len=REPORT_DATA_BYTES,
        error=error,
    )
    check_bytes(evidence.raw, "raw", min_len=1, max_len=MAX_RAW_BYTES, error=error)
    check_bytes(evidence.aux, "aux", min_len=0, max_len=MAX_RAW_BYTES, error=error)
