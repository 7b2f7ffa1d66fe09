"""The enclave side of attestation: a :class:`Quoter` turns 64 bytes of report data into evidence.

The enclave computes ``report_data = session_keys.report_data(nonce)`` and asks its
platform for a report binding those bytes. Each backend has a quoter:
:class:`~accord.attest.backends.simulated.SimulatedQuoter`,
:class:`~accord.attest.backends.sgx_dcap.GramineSgxQuoter`,
:class:`~accord.attest.backends.tdx.TdxQuoter` and
:class:`~accord.attest.backends.sev_snp.SevSnpQuoter`;
:func:`~accord.attest.backends.quoter_for` picks one by backend name.

Hardware collectors return the platform's quote as ``raw`` without interpreting it. A
:class:`ReportParser`, when given, fills the evidence's descriptive fields from the quote;
parsing alone proves nothing (the verifier authenticates the quote itself).
"""

from __future__ import annotations

from typing import Protocol

from accord.attest.claims import Claims
from accord.attest.evidence import Evidence

__all__ = ["Quoter", "ReportParser"]


class Quoter(Protocol):
    """Produces attestation evidence for report data chosen by the enclave."""

    @property
    def backend(self) -> str:
        """The backend name of the evidence this quoter produces."""
        ...

    def quote(self, report_data: bytes) -> Evidence:
        """Return evidence whose report binds ``report_data`` (exactly 64 bytes).

        Raises
        ------
        ConfigurationError
            If the platform interface is missing or of the wrong kind.
        VerificationError
            If the platform returned a report that cannot be trusted to carry the request.
        """
        ...


class ReportParser(Protocol):
    """Reads a hardware quote's fields without authenticating it (used by collectors)."""

    def parse_unverified(self, raw: bytes, *, aux: bytes) -> Claims:
        """Return the fields ``raw`` states; raise VerificationError if it is malformed."""
        ...
