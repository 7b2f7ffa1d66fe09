r"""The ``simulated`` backend: software attestation for development, like SGX simulation mode.

**It gives NO protection against the host.** Reports are signed by the *simulated platform
key*, an Ed25519 key whose seed is published here, so anyone (the host included) can sign a
simulated report claiming any measurement. It exists so that the whole system, verifiers
and policies included, runs on machines without TEE hardware. A policy accepts it only when
it lists ``"simulated"`` in :class:`~accord.attest.policy.BackendIn`, and every acceptance
warns (:class:`~accord.attest.insecure.AccordSecurityWarning`).

The platform key's seed is ``SHA-256("accord/v1/simulated-platform-key\x00public, anyone
can forge simulated evidence")`` (:data:`SIMULATED_PLATFORM_SEED`). The signer claim is the
fingerprint (SHA-256 of the raw public key) of that key, :data:`SIMULATED_SIGNER`.

The raw report is canonical JSON ``{"report": R, "signature": S}`` where ``R`` is::

    {"type": "accord-simulated-report", "version": 1, "measurement": hex,
     "security_version": int, "debug": bool, "report_data": base64 (64 bytes),
     "issued_at": "2026-01-02T03:04:05.000000Z"}

and ``S`` is the base64 Ed25519 signature, made as
:meth:`~accord.crypto.keys.SigningKey.sign` does with context
``"simulated-attestation-report"``, over the canonical JSON of ``R``.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any, Final

from accord._internal.canonical import canonical_json
from accord.attest._fields import (
    Clock,
    check_bytes,
    check_hex,
    check_int,
    decode_base64,
    encode_base64,
    format_time,
    load_json_object,
    parse_time,
    require_keys,
    utc_now,
)
from accord.attest.claims import (
    MEASUREMENT_MAX_BYTES,
    MEASUREMENT_MIN_BYTES,
    REPORT_DATA_BYTES,
    SIMULATED,
    Claims,
)
from accord.attest.evidence import MAX_RAW_BYTES, Evidence
from accord.attest.measurement import measure_installed_package
from accord.crypto.keys import SECRET_KEY_ACCESS, SigningKey, VerifyKey
from accord.errors import AccordError, UsageError, VerificationError

__all__ = [
    "SIMULATED_PLATFORM_PUBLIC_KEY",
    "SIMULATED_PLATFORM_SEED",
    "SIMULATED_SIGNER",
    "SimulatedQuoter",
    "SimulatedVerifier",
    "simulated_platform_key",
]

logger: Final = logging.getLogger("accord.attest")

SIMULATED_PLATFORM_SEED: Final = hashlib.sha256(
    b"accord/v1/simulated-platform-key\x00public, anyone can forge simulated evidence"
).digest()
REPORT_TYPE: Final = "accord-simulated-report"
REPORT_VERSION: Final = 1
SIGNATURE_CONTEXT: Final = "simulated-attestation-report"
_REPORT_FIELDS: Final = frozenset(
    {"type", "version", "measurement", "security_version", "debug", "report_data", "issued_at"}
)


def simulated_platform_key() -> SigningKey:
    """Return the simulated platform's signing key. It is public: anyone can build it."""
    return SigningKey.from_raw(SIMULATED_PLATFORM_SEED, SECRET_KEY_ACCESS)


SIMULATED_PLATFORM_PUBLIC_KEY: Final[VerifyKey] = simulated_platform_key().verify_key
SIMULATED_SIGNER: Final = SIMULATED_PLATFORM_PUBLIC_KEY.fingerprint


class SimulatedQuoter:
    """Produces simulated evidence for the code this process runs (development only).

    Parameters
    ----------
    measurement
        The measurement to claim; by default that of the installed ``accord`` package,
        computed on first use (see :mod:`accord.attest.measurement`).
    security_version
        The security version to claim.
    debug
        The debug flag to claim.
    now
        The clock that stamps ``issued_at`` (injectable for tests).
    """

    backend: Final = SIMULATED

    def __init__(
        self,
        *,
        measurement: str | None = None,
        security_version: int = 1,
        debug: bool = False,
        now: Clock = utc_now,
    ) -> None:
        if measurement is not None:
            measurement = _check_measurement(
                measurement.lower() if isinstance(measurement, str) else measurement, UsageError
            )
        check_int(security_version, "security_version", error=UsageError)
        if not isinstance(debug, bool):
            raise UsageError(f"debug must be a bool, got {debug!r}")
        self._measurement = measurement
        self._security_version = security_version
        self._debug = debug
        self._now = now

    @property
    def measurement(self) -> str:
        """The measurement this quoter claims (computed from the installed code if not given)."""
        if self._measurement is None:
            self._measurement = measure_installed_package().digest
        return self._measurement

    def quote(self, report_data: bytes) -> Evidence:
        """Return simulated evidence binding ``report_data``, signed by the simulated platform key.

        Parameters
        ----------
        report_data
            The 64 bytes to bind (``SessionPublicKeys.report_data(nonce)``).

        Returns
        -------
        Evidence
            Evidence whose descriptive fields equal the signed report's.
        """
        check_bytes(
            report_data,
            "report_data",
            min_len=REPORT_DATA_BYTES,
            max_len=REPORT_DATA_BYTES,
            error=UsageError,
        )
        issued_at = self._now()
        report: dict[str, Any] = {
            "type": REPORT_TYPE,
            "version": REPORT_VERSION,
            "measurement": self.measurement,
            "security_version": self._security_version,
            "debug": self._debug,
            "report_data": encode_base64(report_data),
            "issued_at": format_time(issued_at),
        }
        signature = simulated_platform_key().sign(canonical_json(report), context=SIGNATURE_CONTEXT)
        raw = canonical_json({"report": report, "signature": encode_base64(signature)})
        logger.info("produced simulated attestation evidence (no protection against the host)")
        return Evidence(
            backend=SIMULATED,
            measurement=self.measurement,
            signer=SIMULATED_SIGNER,
            security_version=self._security_version,
            debug=self._debug,
            report_data=report_data,
            raw=raw,
            issued_at=parse_time(report["issued_at"], "issued_at", error=UsageError),
        )


class SimulatedVerifier:
    """Checks simulated reports: the signature of the (public) simulated platform key.

    This proves only that the report was made by someone who knows a public seed, i.e. by
    anyone. The :class:`~accord.attest.verifier.Verifier` warns on every acceptance.
    """

    def verify_raw(self, raw: bytes, *, aux: bytes, at: datetime) -> Claims:
        """Check the simulated platform signature on ``raw`` and return its claims.

        Parameters
        ----------
        raw
            The raw simulated report (see the module docstring).
        aux
            Must be empty: simulated reports have no auxiliary data.
        at
            Unused: the simulated platform key does not expire.

        Returns
        -------
        Claims
            The signed claims; ``signer`` is :data:`SIMULATED_SIGNER`.

        Raises
        ------
        VerificationError
            If the report is malformed or its signature does not verify.
        """
        error = VerificationError
        if aux:
            raise error("simulated evidence must not carry auxiliary data ('aux' is not empty)")
        outer = load_json_object(raw, "the simulated report", max_len=MAX_RAW_BYTES, error=error)
        require_keys(outer, frozenset({"report", "signature"}), "the simulated report", error=error)
        report = outer["report"]
        if not isinstance(report, dict):
            raise error("simulated report field 'report' must be a JSON object")
        require_keys(report, _REPORT_FIELDS, "the simulated report", error=error)
        if report["type"] != REPORT_TYPE or report["version"] != REPORT_VERSION:
            raise error(
                f"not a version {REPORT_VERSION} simulated report "
                f"(type {report['type']!r}, version {report['version']!r})"
            )
        signature = decode_base64(outer["signature"], "signature", max_len=64, error=error)
        try:
            signed = canonical_json(report)
        except AccordError:
            raise error("the simulated report holds values canonical JSON cannot carry") from None
        try:
            SIMULATED_PLATFORM_PUBLIC_KEY.verify(signature, signed, context=SIGNATURE_CONTEXT)
        except VerificationError:
            raise error(
                "the simulated report's signature does not verify with the simulated platform "
                "key: the report was altered after it was signed",
                hint="Do not trust this evidence; ask the enclave for a fresh report.",
            ) from None
        debug = report["debug"]
        if not isinstance(debug, bool):
            raise error(f"simulated report field 'debug' must be a bool, got {debug!r}")
        report_data = decode_base64(
            report["report_data"], "report_data", max_len=REPORT_DATA_BYTES, error=error
        )
        try:
            return Claims(
                backend=SIMULATED,
                measurement=_check_measurement(report["measurement"], error),
                signer=SIMULATED_SIGNER,
                security_version=check_int(
                    report["security_version"], "security_version", error=error
                ),
                debug=debug,
                report_data=report_data,
                issued_at=parse_time(report["issued_at"], "issued_at", error=error),
            )
        except UsageError as exc:
            raise error(f"malformed simulated report: {exc.message}") from None


def _check_measurement(value: object, error: type[AccordError]) -> str:
    return check_hex(
        value,
        "measurement",
        min_bytes=MEASUREMENT_MIN_BYTES,
        max_bytes=MEASUREMENT_MAX_BYTES,
        error=error,
    )
