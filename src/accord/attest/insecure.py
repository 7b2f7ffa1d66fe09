"""Loud reporting of insecure choices: a dedicated warning class and one function that uses it.

Every acceptance of ``simulated`` evidence, and every use of
:class:`~accord.attest.policy.AllowDebugEnclaves`, calls :func:`warn_insecure`, which both
issues an :class:`AccordSecurityWarning` and logs the same text on the ``accord.attest``
logger at WARNING level. The warning is shown every time, not once per call site (a filter
appended after the user's own, as urllib3 does), so a user can still silence it or turn it
into an error with ``warnings.filterwarnings``.
"""

from __future__ import annotations

import logging
import warnings
from typing import Final

__all__ = ["AccordSecurityWarning", "warn_insecure"]

logger: Final = logging.getLogger("accord.attest")


class AccordSecurityWarning(UserWarning):
    """An insecure setting is in use: the result protects less than it appears to."""


warnings.simplefilter("always", AccordSecurityWarning, append=True)


def warn_insecure(message: str, *, stacklevel: int = 3) -> None:
    """Issue ``message`` as an :class:`AccordSecurityWarning` and log it.

    Parameters
    ----------
    message
        What is insecure and why; it must not contain secret values.
    stacklevel
        Passed to :func:`warnings.warn` so the warning points at the caller's caller.
    """
    logger.warning("%s", message)
    warnings.warn(message, AccordSecurityWarning, stacklevel=stacklevel)
