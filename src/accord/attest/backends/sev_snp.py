"""The ``sev-snp`` backend: AMD SEV-SNP attestation reports collected through configfs-tsm.

The kernel's ``sev_guest`` driver asks the AMD secure processor for a report over the 64
bytes of report data; ``outblob`` holds the report and ``auxblob``, when the host supplies
it, the certificate table (VCEK, ASK, ARK) that :class:`~accord.attest.evidence.Evidence`
carries as ``aux``. Verification of SEV-SNP reports is added by the hardware-verification work.
"""

from __future__ import annotations

from typing import Final

from accord.attest._fields import Clock, utc_now
from accord.attest.backends.configfs_tsm import ConfigfsTsmQuoter
from accord.attest.backends.device_files import DeviceFiles
from accord.attest.quoter import ReportParser

__all__ = ["SEV_SNP_PROVIDER", "SevSnpQuoter"]

SEV_SNP_PROVIDER: Final = "sev_guest"


class SevSnpQuoter(ConfigfsTsmQuoter):
    """Collects SEV-SNP reports through configfs-tsm (provider ``sev_guest``).

    Parameters
    ----------
    files
        The file system to use; defaults to the real one rooted at ``/``.
    parser
        Optional reader that fills the evidence's descriptive fields from the report.
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
            backend="sev-snp", provider=SEV_SNP_PROVIDER, files=files, parser=parser, now=now
        )
