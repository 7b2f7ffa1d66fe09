"""The ``tdx`` backend: Intel TDX quotes collected through Linux configfs-tsm, and verified offline.

The kernel's ``tdx_guest`` driver turns the 64 bytes of report data into a TDREPORT and has
the quoting service sign it; ``outblob`` holds the resulting quote (v4 or later). There is no
``auxblob``: given a ``collateral`` source, the quoter attaches Intel's collateral for the
platform as the evidence's ``aux`` instead (supplied by the host; Intel signs it).

:class:`TdxVerifier` checks a quote offline (see :mod:`accord.attest.backends.dcap`) and
returns its claims: measurement = MRTD, no signer, security version 0 (a TD has no ISVSVN;
judge the platform by its TCB status), debug = TDATTRIBUTES bit 0, the report data, the TCB
status and advisory ids, and as extras ``rtmr0`` .. ``rtmr3``, ``mr_seam``,
``mr_signer_seam``, ``mr_config_id``, ``mr_owner``, ``mr_owner_config``, ``td_attributes``,
``seam_attributes``, ``xfam``, ``tee_tcb_svn`` (and ``tee_tcb_svn2``, ``mr_service_td`` for
TD report 1.5), ``quote_version``, ``fmspc``, ``qe_tcb_status``, ``platform_tcb_status``,
``tcb_evaluation_data_number`` and ``qe_identity_tcb_evaluation_data_number``.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Final

from accord.attest._fields import Clock, utc_now
from accord.attest.backends.configfs_tsm import ConfigfsTsmQuoter
from accord.attest.backends.dcap import (
    VerifiedQuote,
)
from accord.attest.backends.dcap_quote import TDX, QuoteBody
from accord.attest.backends.dcap_verifier import DcapQuoteVerifier
from accord.attest.backends.device_files import DeviceFiles
from accord.attest.backends.sgx_dcap import CollateralSource
from accord.attest.claims import Claims
from accord.attest.evidence import Evidence
from accord.attest.quoter import ReportParser

__all__ = ["TDX_PROVIDER", "TdxQuoter", "TdxVerifier"]

TDX_PROVIDER: Final = "tdx_guest"
_MEASUREMENT_FIELD: Final = "mr_td"


class TdxQuoter(ConfigfsTsmQuoter):
    """Collects TDX quotes through configfs-tsm (provider ``tdx_guest``).

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
        ``aux``.
    """

    def __init__(
        self,
        *,
        files: DeviceFiles | None = None,
        parser: ReportParser | None = None,
        now: Clock = utc_now,
        collateral: CollateralSource | None = None,
    ) -> None:
        super().__init__(backend="tdx", provider=TDX_PROVIDER, files=files, parser=parser, now=now)
        self._collateral = collateral

    def quote(self, report_data: bytes) -> Evidence:
        """Return evidence holding a TDX quote that binds ``report_data`` (64 bytes).

        With a ``collateral`` source, the evidence's ``aux`` is the collateral JSON for the
        quote. Raises what :meth:`ConfigfsTsmQuoter.quote` raises.
        """
        evidence = super().quote(report_data)
        if self._collateral is None:
            return evidence
        return dataclasses.replace(evidence, aux=self._collateral(evidence.raw))


def _tdx_claims(body: QuoteBody, verified: VerifiedQuote | None) -> Claims:
    extras = {name: value for name, value in body.fields.items() if name != _MEASUREMENT_FIELD}
    extras["quote_version"] = str(body.version)
    if verified is not None:
        extras.update(verified.extras())
    return Claims(
        backend="tdx",
        measurement=body.fields[_MEASUREMENT_FIELD],
        signer=None,
        security_version=0,
        debug=body.debug,
        report_data=body.report_data,
        tcb_status=None if verified is None else verified.tcb_status,
        advisory_ids=() if verified is None else verified.advisory_ids,
        extras=extras,
    )


class TdxVerifier(DcapQuoteVerifier):
    """Verifies TDX quotes offline against the pinned Intel SGX Root CA.

    Claims: measurement MRTD, the TD DEBUG attribute, report data, RTMRs in the extras, TCB
    status and advisories (see :class:`DcapQuoteVerifier`).
    """

    backend: ClassVar[str] = "tdx"
    tee: ClassVar[str] = TDX
    quote_name: ClassVar[str] = "a TDX quote"

    def claims(self, body: QuoteBody, verified: VerifiedQuote | None) -> Claims:
        """Map a TDX quote body to claims."""
        return _tdx_claims(body, verified)
