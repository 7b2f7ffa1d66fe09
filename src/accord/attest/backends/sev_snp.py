"""The ``sev-snp`` backend: AMD SEV-SNP reports, collected through configfs-tsm, verified offline.

**Collecting.** The kernel's ``sev_guest`` driver asks the AMD secure processor for a report
over the 64 bytes of report data; ``outblob`` holds the report and ``auxblob``, when the host
supplies it, the certificate table (VCEK, ASK, ARK) that
:class:`~accord.attest.evidence.Evidence` carries as ``aux``. ``aux`` may also hold the
certificates themselves, DER or PEM (see :mod:`~accord.attest.backends.snp_cert_table`).

**Verifying** (:class:`SevSnpVerifier`), in this order, stopping at the first failure:

1. the report parses strictly (:mod:`~accord.attest.backends.snp_report`) and says it was
   signed by the chip's VCEK (not a VLEK, not unsigned, chip key not masked);
2. the VCEK is the one that came in ``aux``, or else the one given to the verifier for this
   chip (``vceks=``);
3. the VCEK chains to a pinned AMD ARK
   (:func:`~accord.attest.backends.snp_certs.verify_vcek_chain`): an ARK in the evidence
   must equal the pinned one, the ASK (from the evidence or the pinned one) is signed by the
   ARK and the VCEK by the ASK (RSASSA-PSS, SHA-384), and all three are valid at the
   verification time;
4. the VCEK was derived for this report: its hwID equals the report's CHIP_ID and its TCB
   extensions equal the report's REPORTED_TCB;
5. the report's signature (ECDSA P-384, SHA-384, over bytes ``000..29F``) verifies with the
   VCEK's key.

**Claims.** ``measurement`` is MEASUREMENT (48 bytes, hex); ``signer`` is the
AUTHOR_KEY_DIGEST when AUTHOR_KEY_EN is set, else the ID_KEY_DIGEST, and ``None`` when the VM
was launched without an ID block (both zero): the key that vouched for the launch digest,
as MRSIGNER does for SGX; ``security_version`` is the SNP firmware level of REPORTED_TCB
(``guest_svn`` is in the extras); ``debug`` is bit 19 of the guest policy; ``tcb_status`` is
``None`` and ``advisory_ids`` empty (AMD publishes no TCB status); ``extras`` holds
``product`` and every other report field (see
:meth:`~accord.attest.backends.snp_report.SnpReport.extras`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from accord.attest._fields import Clock, check_utc, short_hex, utc_now
from accord.attest.backends.configfs_tsm import ConfigfsTsmQuoter
from accord.attest.backends.device_files import DeviceFiles
from accord.attest.backends.snp_cert_table import load_certificate, parse_aux_certificates
from accord.attest.backends.snp_certs import (
    KDS_HINT,
    AmdRootOfTrust,
    EndorsedVcek,
    pinned_amd_roots,
    read_vcek_extensions,
    verify_vcek_chain,
)
from accord.attest.backends.snp_report import (
    SIGNING_KEY_NONE,
    SIGNING_KEY_VLEK,
    SnpReport,
    parse_unverified_snp_report,
)
from accord.attest.claims import Claims
from accord.attest.evidence import Evidence
from accord.attest.quoter import ReportParser
from accord.errors import UsageError, VerificationError

__all__ = [
    "SEV_SNP",
    "SEV_SNP_PROVIDER",
    "SevSnpQuoter",
    "SevSnpReportParser",
    "SevSnpVerifier",
    "evidence_from_report",
]

SEV_SNP: Final = "sev-snp"
SEV_SNP_PROVIDER: Final = "sev_guest"


class SevSnpQuoter(ConfigfsTsmQuoter):
    """Collects SEV-SNP reports through configfs-tsm (provider ``sev_guest``).

    Parameters
    ----------
    files
        The file system to use; defaults to the real one rooted at ``/``.
    parser
        Optional reader that fills the evidence's descriptive fields from the report
        (e.g. :class:`SevSnpReportParser`).
    now
        The clock that stamps the (unauthenticated) collection time.
    """

    def __init__(
        self,
        *,
        files: DeviceFiles | None = None,
        parser: ReportParser | None = None,
        now: Clock = utc_now,
    ) -> None:
        super().__init__(
            backend=SEV_SNP, provider=SEV_SNP_PROVIDER, files=files, parser=parser, now=now
        )


def _claims(report: SnpReport, *, product: str | None, vcek_sha256: str | None) -> Claims:
    extras = dict(report.extras())
    if product is not None:
        extras["product"] = product
    if vcek_sha256 is not None:
        extras["vcek_sha256"] = vcek_sha256
    signer = report.signer_digest
    return Claims(
        backend=SEV_SNP,
        measurement=report.measurement.hex(),
        signer=None if signer is None else signer.hex(),
        security_version=report.reported_tcb.snp,
        debug=report.policy.debug,
        report_data=report.report_data,
        extras=extras,
    )


class SevSnpReportParser:
    """Reads an SEV-SNP report's claims **without** authenticating it (for collectors)."""

    def parse_unverified(self, raw: bytes, *, aux: bytes) -> Claims:
        """Return the claims ``raw`` states; nothing is checked but the report's format.

        Parameters
        ----------
        raw
            The 1184-byte report.
        aux
            Ignored: the certificate table plays no part in what the report says.

        Raises
        ------
        VerificationError
            If the report is malformed.
        """
        return _claims(parse_unverified_snp_report(raw), product=None, vcek_sha256=None)


def evidence_from_report(raw: bytes, *, aux: bytes = b"", issued_at: datetime) -> Evidence:
    """Wrap an SEV-SNP report (and certificate table) as **unverified** evidence.

    The descriptive fields are read from the report without checking it; the
    :class:`~accord.attest.verifier.Verifier` authenticates it later.

    Parameters
    ----------
    raw
        The 1184-byte report (configfs-tsm ``outblob``, or a saved report file).
    aux
        The certificate table (``auxblob``), or empty.
    issued_at
        The collection time to record (unauthenticated).

    Raises
    ------
    VerificationError
        If the report is malformed.
    """
    claims = SevSnpReportParser().parse_unverified(raw, aux=aux)
    return Evidence(
        backend=SEV_SNP,
        measurement=claims.measurement,
        signer=claims.signer,
        security_version=claims.security_version,
        debug=claims.debug,
        report_data=claims.report_data,
        raw=raw,
        aux=aux,
        issued_at=issued_at,
    )


class SevSnpVerifier:
    """Verifies SEV-SNP reports offline against pinned AMD roots (see the module docstring).

    Parameters
    ----------
    vceks
        VCEK certificates (DER or PEM bytes) to use for reports whose evidence carries no
        certificate table, e.g. fetched from AMD's key distribution service. The one whose
        hwID is the report's chip id is chosen. A VCEK in the evidence takes precedence;
        either way it must chain to a pinned root.
    roots
        The trusted AMD roots; by default :func:`~accord.attest.backends.snp_certs.pinned_amd_roots`
        (Milan and Genoa, shipped with Accord). Give others only to trust another product.

    Raises
    ------
    UsageError
        If a VCEK does not parse, or ``roots`` is empty.
    """

    backend: Final = SEV_SNP

    def __init__(
        self,
        *,
        vceks: Iterable[bytes] = (),
        roots: Sequence[AmdRootOfTrust] | None = None,
    ) -> None:
        self._roots = pinned_amd_roots() if roots is None else tuple(roots)
        if not self._roots or not all(isinstance(r, AmdRootOfTrust) for r in self._roots):
            raise UsageError("SevSnpVerifier needs at least one AmdRootOfTrust in roots")
        loaded: list[x509.Certificate] = []
        for index, data in enumerate(vceks):
            try:
                loaded.append(load_certificate(bytes(data), f"VCEK #{index + 1}"))
            except VerificationError as exc:
                raise UsageError(
                    exc.message, hint="Give VCEK certificates as DER or PEM."
                ) from None
        self._vceks = tuple(loaded)

    @property
    def products(self) -> tuple[str, ...]:
        """The products whose reports this verifier can check (``("Milan", "Genoa")``)."""
        return tuple(root.product for root in self._roots)

    def verify_raw(self, raw: bytes, *, aux: bytes, at: datetime) -> Claims:
        """Authenticate an SEV-SNP report and return its claims.

        Parameters
        ----------
        raw
            The 1184-byte report.
        aux
            The certificate table (configfs-tsm ``auxblob``) or the certificates as DER or
            PEM; without a VCEK in it, the VCEKs given to the constructor are used.
        at
            The time at which the certificates must be valid.

        Returns
        -------
        Claims
            The report's claims; ``extras["product"]`` names the product whose root it
            chains to.

        Raises
        ------
        VerificationError
            If any check of the module docstring fails; the message names it.
        """
        when = check_utc(at, "at", error=UsageError)
        report = parse_unverified_snp_report(raw)
        _check_signing_key(report)
        table = parse_aux_certificates(aux)
        vcek = table.vcek if table.vcek is not None else self._vcek_for(report)
        endorsed = verify_vcek_chain(vcek, roots=self._roots, ask=table.ask, ark=table.ark, at=when)
        _check_vcek_is_for_report(endorsed, report)
        _check_report_signature(endorsed, report)
        return _claims(report, product=endorsed.product, vcek_sha256=endorsed.sha256)

    def _vcek_for(self, report: SnpReport) -> x509.Certificate:
        if not self._vceks:
            raise VerificationError(
                "no VCEK certificate to check the SEV-SNP report with: the evidence carries no "
                "certificate table and none was given to SevSnpVerifier(vceks=...)",
                hint=KDS_HINT,
            )
        for_chip = [v for v in self._vceks if read_vcek_extensions(v).hwid == report.chip_id]
        for vcek in for_chip:
            if read_vcek_extensions(vcek).tcb == report.reported_tcb:
                return vcek
        if for_chip:
            return for_chip[0]  # the TCB check names the difference
        return self._vceks[0]  # the chip id check names the difference


def _check_signing_key(report: SnpReport) -> None:
    if report.signing_key == SIGNING_KEY_VLEK:
        raise VerificationError(
            "the SEV-SNP report is signed with a VLEK (a key the cloud provider loaded); this "
            "release verifies reports signed with the chip's VCEK only",
            hint="Ask the host for a VCEK-signed report.",
        )
    if report.signing_key == SIGNING_KEY_NONE:
        raise VerificationError("the SEV-SNP report is not signed (its SIGNING_KEY is 'none')")
    if report.mask_chip_key:
        raise VerificationError(
            "the SEV-SNP report is not signed: the platform masks its chip key (MASK_CHIP_KEY)",
            hint="Ask the host to produce reports signed with the chip's VCEK.",
        )


def _check_vcek_is_for_report(endorsed: EndorsedVcek, report: SnpReport) -> None:
    extensions = endorsed.extensions
    if extensions.hwid != report.chip_id:
        raise VerificationError(
            f"the VCEK was issued for chip {short_hex(extensions.hwid.hex())}, but the report "
            f"comes from chip {short_hex(report.chip_id.hex())}: the VCEK belongs to another "
            "processor",
            hint=KDS_HINT,
        )
    if extensions.tcb != report.reported_tcb:
        raise VerificationError(
            f"the VCEK was issued for TCB {extensions.tcb.describe()}, but the report's "
            f"reported TCB is {report.reported_tcb.describe()}: the VCEK is for another "
            "firmware version",
            hint=KDS_HINT,
        )


def _check_report_signature(endorsed: EndorsedVcek, report: SnpReport) -> None:
    signature = encode_dss_signature(report.signature_r, report.signature_s)
    try:
        endorsed.public_key.verify(signature, report.signed_bytes, ec.ECDSA(hashes.SHA384()))
    except InvalidSignature:
        raise VerificationError(
            f"the SEV-SNP report's signature does not verify with the VCEK of chip "
            f"{short_hex(report.chip_id.hex())} ({endorsed.product}): the report was altered "
            "after the AMD secure processor signed it",
            hint="Do not trust this evidence; ask the enclave for a fresh report.",
        ) from None
