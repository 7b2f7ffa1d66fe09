"""The verifier shared by SGX and TDX quotes: the same DCAP chain, different claims.

:class:`DcapQuoteVerifier` authenticates a quote against the pinned Intel SGX Root CA with
collateral, then hands the verified quote body to its subclass's claim mapping
(:class:`~accord.attest.backends.sgx_dcap.SgxDcapVerifier`,
:class:`~accord.attest.backends.tdx.TdxVerifier`).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from accord.attest._fields import check_utc
from accord.attest.backends.dcap import (
    DcapCollateral,
    VerifiedQuote,
    resolve_collateral,
    verify_dcap_quote,
)
from accord.attest.backends.dcap_quote import QuoteBody, parse_quote_body
from accord.attest.claims import Claims
from accord.errors import UsageError, VerificationError

__all__ = ["DcapQuoteVerifier"]


class DcapQuoteVerifier:
    """Verifies DCAP quotes of one TEE type offline against the pinned Intel SGX Root CA.

    A :class:`~accord.attest.claims.BackendVerifier` for its backend's evidence, and a
    :class:`~accord.attest.quoter.ReportParser` for collectors.

    Parameters
    ----------
    collateral
        Intel's collateral for the platforms to accept. When None, each piece of evidence
        must carry its own in ``aux`` (collateral JSON); when given, it is used instead.
    """

    backend: ClassVar[str]
    tee: ClassVar[str]
    quote_name: ClassVar[str]

    def __init__(self, *, collateral: DcapCollateral | None = None) -> None:
        if collateral is not None and not isinstance(collateral, DcapCollateral):
            raise UsageError("collateral must be a DcapCollateral (see DcapCollateral.from_file)")
        self._collateral = collateral

    def claims(self, body: QuoteBody, verified: VerifiedQuote | None) -> Claims:
        """Map a quote body (verified, or not when ``verified`` is None) to claims."""
        raise NotImplementedError

    def verify_raw(self, raw: bytes, *, aux: bytes, at: datetime) -> Claims:
        """Authenticate the quote ``raw`` at time ``at`` and return its claims.

        Raises
        ------
        VerificationError
            If the quote is malformed, of another TEE type, lacks collateral, or fails a
            check; the message names the check.
        """
        when = check_utc(at, "at", error=UsageError)
        parse_quote_body(raw)  # a malformed quote is named as such before collateral is sought
        collateral = resolve_collateral(self._collateral, aux, tee=self.tee)
        verified = verify_dcap_quote(raw, tee=self.tee, collateral=collateral, at=when)
        return self.claims(verified.body, verified)

    def parse_unverified(self, raw: bytes, *, aux: bytes) -> Claims:
        """Return what the quote states, **without** checking it (no TCB status).

        Raises
        ------
        VerificationError
            If ``raw`` is not a quote of this verifier's TEE type.
        """
        body = parse_quote_body(raw)
        if body.tee != self.tee:
            raise VerificationError(f"this is a {body.tee} quote, not {self.quote_name}")
        return self.claims(body, None)
