"""The ``tdx`` backend: Intel TDX quotes collected through Linux configfs-tsm.

The kernel's ``tdx_guest`` driver turns the 64 bytes of report data into a TDREPORT and has
the quoting service sign it; ``outblob`` holds the resulting quote (v4 or later). There is no
``auxblob``. Verification of TDX quotes is added by the hardware-verification work.
"""

from __future__ import annotations

from typing import Final

from accord.attest._fields import Clock, utc_now
from accord.attest.backends.configfs_tsm import ConfigfsTsmQuoter
from accord.attest.backends.device_files import DeviceFiles
from accord.attest.quoter import ReportParser

__all__ = ["TDX_PROVIDER", "TdxQuoter"]

TDX_PROVIDER: Final = "tdx_guest"


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
    """

    def __init__(
        self,
        *,
        files: DeviceFiles | None = None,
        parser: ReportParser | None = None,
        now: Clock = utc_now,
    ) -> None:
        super().__init__(backend="tdx", provider=TDX_PROVIDER, files=files, parser=parser, now=now)
