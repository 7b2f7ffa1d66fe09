"""The ``sgx-dcap`` backend: collect SGX DCAP quotes inside a Gramine enclave, and verify them.

Gramine exposes attestation as files under ``/dev/attestation``:

1. ``attestation_type`` must read ``dcap`` (set ``sgx.remote_attestation = "dcap"`` in the
   manifest);
2. writing the 64 bytes of report data to ``user_report_data`` sets the report's
   REPORTDATA;
3. reading ``quote`` returns the ECDSA quote (v3 or later) binding it.

The device is global to the enclave, so requests in one process are serialised with a lock.
The quote alone cannot be verified: Intel's collateral for the platform is needed too. The
quoter attaches it as the evidence's ``aux`` when given a ``collateral`` source (the host
supplies it; Intel signs it, so the host cannot forge it); a verifier may also be configured
with collateral of its own.

:class:`SgxDcapVerifier` checks a quote offline (see :mod:`accord.attest.backends.dcap`) and
returns its claims: measurement = MRENCLAVE, signer = MRSIGNER, security version = ISVSVN,
debug = the DEBUG attribute, the report data, the platform's TCB status and advisory ids, and
as extras ``isv_prod_id``, ``cpu_svn``, ``attributes``, ``misc_select``, ``config_id``,
``config_svn``, ``isv_ext_prod_id``, ``isv_family_id``, ``quote_version``, ``fmspc``,
``qe_tcb_status``, ``platform_tcb_status``, ``tcb_evaluation_data_number`` and
``qe_identity_tcb_evaluation_data_number``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import ClassVar, Final

from accord.attest._fields import Clock, utc_now
from accord.attest.backends._hardware import (
    MAX_BLOB_BYTES,
    check_report_data,
    device_failure,
    hardware_evidence,
)
from accord.attest.backends.dcap import (
    VerifiedQuote,
)
from accord.attest.backends.dcap_quote import SGX, QuoteBody
from accord.attest.backends.dcap_verifier import DcapQuoteVerifier
from accord.attest.backends.device_files import DeviceFiles, SystemFiles
from accord.attest.claims import Claims
from accord.attest.evidence import Evidence
from accord.attest.quoter import ReportParser
from accord.errors import ConfigurationError

__all__ = ["ATTESTATION_DIR", "CollateralSource", "GramineSgxQuoter", "SgxDcapVerifier"]

CollateralSource = Callable[[bytes], bytes]
"""Given a quote, returns the collateral JSON for its platform (supplied by the host)."""

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
    collateral
        Optional source of the collateral JSON for a quote, attached as the evidence's
        ``aux`` so that verifiers need no collateral of their own.
    """

    backend: Final = "sgx-dcap"

    def __init__(
        self,
        *,
        files: DeviceFiles | None = None,
        parser: ReportParser | None = None,
        now: Clock = utc_now,
        collateral: CollateralSource | None = None,
    ) -> None:
        self._files: DeviceFiles = files if files is not None else SystemFiles()
        self._parser = parser
        self._now = now
        self._collateral = collateral

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
            aux=self._collateral(quote) if self._collateral is not None and quote else b"",
            report_data=report_data,
            issued_at=issued_at,
            parser=self._parser,
        )


def _sgx_claims(body: QuoteBody, verified: VerifiedQuote | None) -> Claims:
    fields = dict(body.fields)
    extras = {
        name: fields[name]
        for name in (
            "isv_prod_id",
            "cpu_svn",
            "attributes",
            "misc_select",
            "config_id",
            "config_svn",
            "isv_ext_prod_id",
            "isv_family_id",
        )
    }
    extras["quote_version"] = str(body.version)
    if verified is not None:
        extras.update(verified.extras())
    return Claims(
        backend="sgx-dcap",
        measurement=fields["mr_enclave"],
        signer=fields["mr_signer"],
        security_version=int(fields["isv_svn"]),
        debug=body.debug,
        report_data=body.report_data,
        tcb_status=None if verified is None else verified.tcb_status,
        advisory_ids=() if verified is None else verified.advisory_ids,
        extras=extras,
    )


class SgxDcapVerifier(DcapQuoteVerifier):
    """Verifies SGX DCAP quotes offline against the pinned Intel SGX Root CA.

    Claims: measurement MRENCLAVE, signer MRSIGNER, security version ISVSVN, the DEBUG
    attribute, report data, TCB status and advisories (see :class:`DcapQuoteVerifier`).
    """

    backend: ClassVar[str] = "sgx-dcap"
    tee: ClassVar[str] = SGX
    quote_name: ClassVar[str] = "an SGX quote"

    def claims(self, body: QuoteBody, verified: VerifiedQuote | None) -> Claims:
        """Map an SGX quote body to claims."""
        return _sgx_claims(body, verified)
