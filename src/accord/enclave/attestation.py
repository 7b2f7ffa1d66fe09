"""The enclave's side of attestation: answer a verifier's nonce with keys and evidence."""

from __future__ import annotations

from accord.attest.bundle import AttestationBundle
from accord.attest.quoter import Quoter
from accord.enclave.session import EnclaveSession

__all__ = ["attest_session"]


def attest_session(session: EnclaveSession, quoter: Quoter, nonce: bytes) -> AttestationBundle:
    """Produce evidence that binds this session's public keys to a verifier's nonce.

    Parameters
    ----------
    session
        The enclave's live session.
    quoter
        The attestation backend of the platform the enclave runs on.
    nonce
        The verifier's fresh challenge (16 to 64 bytes).

    Returns
    -------
    AttestationBundle
        The session's public keys and evidence whose report data is
        ``session.public_keys.report_data(nonce)``.
    """
    keys = session.public_keys
    return AttestationBundle(session_keys=keys, evidence=quoter.quote(keys.report_data(nonce)))
