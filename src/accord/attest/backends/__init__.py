"""Attestation backends: a quoter (enclave side) and, where available, a verifier for each.

========== =============================== ================================
backend    quoter (collects evidence)      verifier
========== =============================== ================================
simulated  :class:`SimulatedQuoter`        :class:`SimulatedVerifier`
sgx-dcap   :class:`GramineSgxQuoter`       :class:`SgxDcapVerifier`
tdx        :class:`TdxQuoter`              :class:`TdxVerifier`
sev-snp    :class:`SevSnpQuoter`           :class:`SevSnpVerifier`
========== =============================== ================================

Nothing here is registered globally: :func:`quoter_for` builds a quoter by name, and
:func:`default_backend_verifiers` returns a fresh mapping to pass to
:class:`~accord.attest.verifier.Verifier`, which callers may extend with their own.
SGX and TDX quotes are verified offline against the pinned Intel SGX Root CA with the
collateral the evidence carries (``aux``), or with collateral given to the verifier
(:class:`~accord.attest.backends.dcap.DcapCollateral`). Accord never fetches collateral.
"""

from __future__ import annotations

from accord.attest._fields import Clock, utc_now
from accord.attest.backends.dcap import DcapCollateral
from accord.attest.backends.device_files import DeviceFiles, SystemFiles
from accord.attest.backends.sev_snp import SevSnpQuoter, SevSnpVerifier
from accord.attest.backends.sgx_dcap import GramineSgxQuoter, SgxDcapVerifier
from accord.attest.backends.simulated import SimulatedQuoter, SimulatedVerifier
from accord.attest.backends.tdx import TdxQuoter, TdxVerifier
from accord.attest.claims import BACKENDS, SIMULATED, BackendVerifier
from accord.attest.quoter import Quoter
from accord.errors import UsageError

__all__ = [
    "DcapCollateral",
    "DeviceFiles",
    "GramineSgxQuoter",
    "SevSnpQuoter",
    "SevSnpVerifier",
    "SgxDcapVerifier",
    "SimulatedQuoter",
    "SimulatedVerifier",
    "SystemFiles",
    "TdxQuoter",
    "TdxVerifier",
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


def default_backend_verifiers(
    *, collateral: DcapCollateral | None = None
) -> dict[str, BackendVerifier]:
    """Return a new mapping of the backend verifiers this release ships.

    Parameters
    ----------
    collateral
        Intel collateral for SGX and TDX quotes. When None (the default), each piece of
        ``sgx-dcap`` or ``tdx`` evidence must carry its own collateral in ``aux``.

    Returns
    -------
    dict
        Backend name to verifier: ``simulated``, ``sgx-dcap``, ``tdx`` and ``sev-snp``
        (with the pinned AMD roots; its VCEK comes with the evidence). Each verifier checks
        authenticity only; the policy (e.g. the agreement's) decides what is accepted, and
        ``simulated`` evidence needs a policy that allows it explicitly.
    """
    return {
        SIMULATED: SimulatedVerifier(),
        "sgx-dcap": SgxDcapVerifier(collateral=collateral),
        "tdx": TdxVerifier(collateral=collateral),
        "sev-snp": SevSnpVerifier(),
    }
