"""Attestation backends: a quoter (enclave side) and, where available, a verifier for each.

========== =============================== ================================
backend    quoter (collects evidence)      verifier in this release
========== =============================== ================================
simulated  :class:`SimulatedQuoter`        :class:`SimulatedVerifier`
sgx-dcap   :class:`GramineSgxQuoter`       none yet (hardware-verification work)
tdx        :class:`TdxQuoter`              none yet
sev-snp    :class:`SevSnpQuoter`           none yet
========== =============================== ================================

Nothing here is registered globally: :func:`quoter_for` builds a quoter by name, and
:func:`default_backend_verifiers` returns a fresh mapping to pass to
:class:`~accord.attest.verifier.Verifier`, which callers may extend with their own.
"""

from __future__ import annotations

from accord.attest._fields import Clock, utc_now
from accord.attest.backends.device_files import DeviceFiles, SystemFiles
from accord.attest.backends.sev_snp import SevSnpQuoter
from accord.attest.backends.sgx_dcap import GramineSgxQuoter
from accord.attest.backends.simulated import SimulatedQuoter, SimulatedVerifier
from accord.attest.backends.tdx import TdxQuoter
from accord.attest.claims import BACKENDS, SIMULATED, BackendVerifier
from accord.attest.quoter import Quoter
from accord.errors import UsageError

__all__ = [
    "DeviceFiles",
    "GramineSgxQuoter",
    "SevSnpQuoter",
    "SimulatedQuoter",
    "SimulatedVerifier",
    "SystemFiles",
    "TdxQuoter",
    "default_backend_verifiers",
    "quoter_for",
]


def quoter_for(backend: str, *, files: DeviceFiles | None = None, now: Clock = utc_now) -> Quoter:
    """Return the quoter for ``backend`` with its defaults.

    Parameters
    ----------
    backend
        ``"simulated"``, ``"sgx-dcap"``, ``"tdx"`` or ``"sev-snp"``.
    files
        The file system hardware collectors use (default: the real one at ``/``);
        ignored by ``simulated``.
    now
        The clock that stamps ``issued_at``.

    Returns
    -------
    Quoter
        A new quoter; ``simulated`` measures the installed ``accord`` package.

    Raises
    ------
    UsageError
        If the backend name is unknown.
    """
    if backend == SIMULATED:
        return SimulatedQuoter(now=now)
    if backend == "sgx-dcap":
        return GramineSgxQuoter(files=files, now=now)
    if backend == "tdx":
        return TdxQuoter(files=files, now=now)
    if backend == "sev-snp":
        return SevSnpQuoter(files=files, now=now)
    raise UsageError(f"unknown attestation backend {backend!r}; known: {', '.join(BACKENDS)}")


def default_backend_verifiers() -> dict[str, BackendVerifier]:
    """Return a new mapping of the backend verifiers this release ships: ``simulated`` only.

    Returns
    -------
    dict
        Backend name to verifier. Hardware verifiers need trust anchors and collateral,
        so callers add them explicitly.
    """
    return {SIMULATED: SimulatedVerifier()}
