"""The vocabulary of Intel TCB statuses and security advisories, and their order.

Intel's collateral (TCB info and QE identity) assigns the platform of an SGX or TDX quote a
*TCB status*. Accord ranks them from best to worst; a policy's minimum accepts its status
and every better one:

=====  ========================================  ==================================================
rank   status                                    meaning
=====  ========================================  ==================================================
0      ``UpToDate``                              all platform components are current
1      ``SWHardeningNeeded``                     current, but the enclave software must mitigate
                                                 the listed advisories itself
2      ``ConfigurationNeeded``                   current, but a platform setting (e.g. SMT) exposes
                                                 it to the listed advisories
3      ``ConfigurationAndSWHardeningNeeded``     both of the above
4      ``TDRelaunchAdvised``                     (TDX) the TDX module was updated; the TD still
                                                 runs the old one until relaunched
5      ``TDRelaunchAdvisedConfigurationNeeded``  (TDX) the above, plus a configuration advisory
6      ``OutOfDate``                             microcode or firmware with known vulnerabilities
7      ``OutOfDateConfigurationNeeded``          the above, plus a configuration advisory
8      ``Revoked``                               the platform's keys are revoked: never accepted
=====  ========================================  ==================================================

The default minimum, :data:`DEFAULT_MIN_TCB_STATUS`, is ``ConfigurationAndSWHardeningNeeded``:
out-of-date platforms (and TDs that should be relaunched) are refused unless an agreement
lowers the bar explicitly. Advisories are judged separately: a platform whose status lists
advisories (for example ``INTEL-SA-00615``) is accepted only if each is allowed explicitly.
"""

from __future__ import annotations

import re
from typing import Final

from accord.errors import UsageError

__all__ = [
    "ADVISORY_ID_PATTERN",
    "DEFAULT_MIN_TCB_STATUS",
    "MINIMUM_CHOICES",
    "REVOKED",
    "TCB_STATUSES",
    "check_advisory_id",
    "check_min_tcb_status",
    "tcb_status_rank",
]

TCB_STATUSES: Final = (
    "UpToDate",
    "SWHardeningNeeded",
    "ConfigurationNeeded",
    "ConfigurationAndSWHardeningNeeded",
    "TDRelaunchAdvised",
    "TDRelaunchAdvisedConfigurationNeeded",
    "OutOfDate",
    "OutOfDateConfigurationNeeded",
    "Revoked",
)
"""Every TCB status Accord knows, best first."""

REVOKED: Final = "Revoked"
MINIMUM_CHOICES: Final = TCB_STATUSES[:-1]
"""The statuses a policy may name as its minimum (``Revoked`` is never acceptable)."""
DEFAULT_MIN_TCB_STATUS: Final = "ConfigurationAndSWHardeningNeeded"

ADVISORY_ID_PATTERN: Final = re.compile(r"[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+")
"""An advisory id such as ``INTEL-SA-00615``: upper-case words joined by hyphens."""
_MAX_ADVISORY_ID: Final = 64


def tcb_status_rank(status: str) -> int | None:
    """Return the rank of ``status`` (0 is best), or None for a status Accord does not know."""
    try:
        return TCB_STATUSES.index(status)
    except ValueError:
        return None


def check_min_tcb_status(value: object) -> str:
    """Return ``value`` if it may be a policy's minimum TCB status, else raise UsageError."""
    if not isinstance(value, str) or value not in MINIMUM_CHOICES:
        raise UsageError(
            f"{value!r} is not a TCB status a policy can require; choose one of "
            f"{', '.join(MINIMUM_CHOICES)}"
        )
    return value


def check_advisory_id(value: object) -> str:
    """Return ``value`` if it looks like an advisory id (``INTEL-SA-00615``), else raise."""
    if (
        not isinstance(value, str)
        or len(value) > _MAX_ADVISORY_ID
        or ADVISORY_ID_PATTERN.fullmatch(value) is None
    ):
        shown = repr(value[:_MAX_ADVISORY_ID]) if isinstance(value, str) else repr(value)
        raise UsageError(
            f"{shown} is not an advisory id: write it as Intel publishes it, upper case, "
            "e.g. INTEL-SA-00615"
        )
    return value
