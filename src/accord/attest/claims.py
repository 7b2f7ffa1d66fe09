"""Claims: what a backend verifier read from an authenticated report, and the verifier protocol.

A :class:`BackendVerifier` turns a backend's raw quote or report into :class:`Claims` after
checking its authenticity (for ``simulated``: the simulated platform signature; for hardware:
the vendor's certificate chain up to a pinned root, see docs/attestation.md). Only claims that a
backend verifier returned are ever given to a policy; the unsigned fields of
:class:`~accord.attest.evidence.Evidence` are compared with them and otherwise ignored.
Callers run a backend verifier through :func:`refuse_unparseable`, so that hostile evidence
that makes it fail unexpectedly is refused like any other, never surfacing as a traceback.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Final, Protocol, TypeVar

from accord.attest._fields import ErrorClass, check_bytes, check_hex, check_int, check_utc
from accord.errors import AccordError, UsageError, VerificationError

__all__ = [
    "BACKENDS",
    "HARDWARE_BACKENDS",
    "REPORT_DATA_BYTES",
    "SIMULATED",
    "BackendVerifier",
    "Claims",
    "check_backend",
    "refuse_unparseable",
]

_LOG: Final = logging.getLogger("accord.attest")
_T = TypeVar("_T")

SIMULATED: Final = "simulated"
HARDWARE_BACKENDS: Final = ("sgx-dcap", "tdx", "sev-snp")
BACKENDS: Final = (SIMULATED, *HARDWARE_BACKENDS)
REPORT_DATA_BYTES: Final = 64
MEASUREMENT_MIN_BYTES: Final = 16
MEASUREMENT_MAX_BYTES: Final = 64


def check_backend(value: object, *, error: ErrorClass = UsageError) -> str:
    """Return ``value`` if it names a known backend, else raise ``error`` listing the known ones."""
    if not isinstance(value, str) or value not in BACKENDS:
        raise error(f"unknown attestation backend {value!r}; known: {', '.join(BACKENDS)}")
    return value


@dataclass(frozen=True)
class Claims:
    """The claims of one report, as extracted by a :class:`BackendVerifier`.

    Constructing ``Claims`` proves nothing: only a backend verifier's output is authenticated,
    and only :class:`~accord.attest.verifier.VerifiedEvidence` says that checks passed.

    Parameters
    ----------
    backend
        One of :data:`BACKENDS`.
    measurement
        The code identity, lowercase hex: the simulated code-tree digest, SGX MRENCLAVE,
        TDX MRTD or the SEV-SNP launch measurement.
    signer
        The identity of the code's signer, lowercase hex, or ``None`` when the backend has
        none (SGX MRSIGNER; the simulated platform key fingerprint for ``simulated``).
    security_version
        The security version number of the code (SGX ISVSVN; set by the quoter when simulated).
    debug
        Whether the enclave runs in debug mode (its memory is readable by the host).
    report_data
        The 64 bytes the enclave bound into the report.
    issued_at
        The time signed into the report, or ``None`` when the backend signs no time
        (hardware quotes: their freshness rests on the verifier's nonce alone).
    tcb_status
        The platform's TCB status as its vendor reports it (e.g. ``"UpToDate"``), or ``None``.
    advisory_ids
        Security advisories that apply to the platform (e.g. ``"INTEL-SA-00615"``).
    extras
        Further backend-specific claims as text (e.g. ``"rtmr0"`` for TDX), read-only.
    """

    backend: str
    measurement: str
    signer: str | None
    security_version: int
    debug: bool
    report_data: bytes
    issued_at: datetime | None = None
    tcb_status: str | None = None
    advisory_ids: tuple[str, ...] = ()
    extras: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        check_backend(self.backend)
        _check_identity(self.measurement, "measurement")
        if self.signer is not None:
            _check_identity(self.signer, "signer")
        check_int(self.security_version, "security_version", error=UsageError)
        if not isinstance(self.debug, bool):
            raise UsageError(f"claim 'debug' must be a bool, got {self.debug!r}")
        check_bytes(
            self.report_data,
            "report_data",
            min_len=REPORT_DATA_BYTES,
            max_len=REPORT_DATA_BYTES,
            error=UsageError,
        )
        if self.issued_at is not None:
            object.__setattr__(
                self, "issued_at", check_utc(self.issued_at, "issued_at", error=UsageError)
            )
        if not all(isinstance(item, str) for item in self.advisory_ids):
            raise UsageError("claim 'advisory_ids' must be a tuple of strings")
        object.__setattr__(self, "advisory_ids", tuple(self.advisory_ids))
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in self.extras.items()):
            raise UsageError("claim 'extras' must map strings to strings")
        object.__setattr__(self, "extras", MappingProxyType(dict(self.extras)))


def _check_identity(value: object, name: str) -> None:
    check_hex(
        value,
        name,
        min_bytes=MEASUREMENT_MIN_BYTES,
        max_bytes=MEASUREMENT_MAX_BYTES,
        error=UsageError,
    )


class BackendVerifier(Protocol):
    """Checks one backend's raw reports and extracts their claims.

    Implementations are passed to :class:`~accord.attest.verifier.Verifier` in a mapping
    from backend name to verifier; there is no global registry. A verifier for hardware
    evidence is built with its trust anchors and collateral, so this method needs only the
    report, the backend's auxiliary data and the time at which to judge validity.
    """

    def verify_raw(self, raw: bytes, *, aux: bytes, at: datetime) -> Claims:
        """Authenticate ``raw`` and return its claims.

        Parameters
        ----------
        raw
            The quote or report exactly as the platform produced it.
        aux
            The backend's auxiliary data, empty when there is none (for SEV-SNP through
            configfs-tsm: the certificate table from ``auxblob``).
        at
            The time at which certificates, revocation lists and collateral are judged.

        Returns
        -------
        Claims
            What the authenticated report says.

        Raises
        ------
        VerificationError
            If the report is malformed or not authentic; the message names the failed check.
        """
        ...


def refuse_unparseable(what: str, authenticate: Callable[[], _T]) -> _T:
    """Run ``authenticate`` and turn any failure that is not an Accord error into a refusal.

    A backend verifier reports what it refuses as :class:`~accord.errors.VerificationError`.
    Hostile evidence that makes it (or a library it uses) fail in an unforeseen way must be
    refused just the same, never surface as a traceback: the failure becomes
    ``VerificationError("the <what> evidence could not be parsed: <ExceptionClass>")``.
    The exception's message may carry bytes of the evidence, so neither the error nor the
    log repeats it; the log records the class and where it was raised, for maintainers.

    Parameters
    ----------
    what
        What is being verified, for messages (e.g. the backend name ``"sev-snp"``).
    authenticate
        The verification to run.

    Returns
    -------
    object
        What ``authenticate`` returned.

    Raises
    ------
    AccordError
        What ``authenticate`` raised on purpose, unchanged.
    VerificationError
        For any other exception.
    """
    try:
        return authenticate()
    except AccordError:
        raise
    except Exception as exc:  # the backstop: evidence is hostile input
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        _LOG.warning(
            "refused %s evidence: its verifier raised %s at %s:%s",
            what,
            type(exc).__name__,
            frame.filename,
            frame.lineno,
        )
        raise VerificationError(
            f"the {what} evidence could not be parsed: {type(exc).__name__}",
            hint="Do not trust this evidence; collect it again from the platform.",
        ) from None
