"""A party checks an enclave and releases its data key to it, in three calls.

::

    agreement = load_signed_agreement(Path("agreement.toml"))   # every party signed it
    me = PartyIdentity.load(Path("alice/"), passphrase=None)

    nonce = new_nonce()
    bundle = ...  # send nonce to the enclave, receive its AttestationBundle bytes
    verified = verify_enclave(bundle, agreement=agreement, nonce=nonce)
    message = release_data_key(me, verified, agreement=agreement)
    ...  # send message to the enclave; only that attested session can open it

``verify_enclave`` refuses an enclave that runs another agreement, evidence that the
agreement's enclave policy does not accept, and evidence that does not bind the presented
session keys to this nonce. ``release_data_key`` accepts only a
:class:`~accord.attest.VerifiedEvidence`, which nothing but a verifier can make.
"""

from __future__ import annotations

import hmac
import os
from typing import Final

from accord.agreement.attestation import agreement_verifier
from accord.agreement.signing import SignedAgreement
from accord.attest import Verifier
from accord.attest.bundle import AttestationBundle
from accord.attest.verifier import VerifiedEvidence
from accord.crypto.keyrelease import seal_key_release
from accord.errors import KeyMaterialError, VerificationError
from accord.party import PartyIdentity

__all__ = ["NONCE_BYTES", "new_nonce", "release_data_key", "verify_enclave"]

NONCE_BYTES: Final = 32


def new_nonce() -> bytes:
    """Return a fresh random attestation challenge (32 bytes from the OS CSPRNG)."""
    return os.urandom(NONCE_BYTES)


def _same_agreement(presented: str, agreement: SignedAgreement) -> None:
    if not hmac.compare_digest(presented, agreement.digest):
        raise VerificationError(
            f"the enclave runs agreement {presented[:16]}.., not this collaboration's "
            f"agreement {agreement.digest[:16]}..",
            hint="Do not release keys to it: it would enforce other rules. Check which "
            "agreement the node was started with.",
        )


def verify_enclave(
    bundle: bytes | AttestationBundle,
    *,
    agreement: SignedAgreement,
    nonce: bytes,
    verifier: Verifier | None = None,
) -> VerifiedEvidence:
    """Check an enclave's answer to ``nonce`` against a signed agreement.

    Parameters
    ----------
    bundle
        The enclave's attestation bundle (wire bytes or parsed).
    agreement
        The collaboration's agreement, signed by every party.
    nonce
        The challenge this party sent (see :func:`new_nonce`); never reuse one.
    verifier
        A verifier to use instead of the agreement's default (for example one with
        hardware backend verifiers or an injected clock).

    Returns
    -------
    VerifiedEvidence
        Proof that the session keys belong to an enclave the agreement accepts.

    Raises
    ------
    VerificationError
        If the enclave runs another agreement, or the evidence fails any check.
    """
    parsed = (
        bundle if isinstance(bundle, AttestationBundle) else AttestationBundle.from_bytes(bundle)
    )
    _same_agreement(parsed.session_keys.agreement_digest, agreement)
    verifier = verifier or agreement_verifier(agreement)
    return verifier.verify(parsed.evidence, nonce=nonce, expected=parsed.session_keys)


def release_data_key(
    identity: PartyIdentity, verified: VerifiedEvidence, *, agreement: SignedAgreement
) -> bytes:
    """Seal this party's data key to a verified enclave session, signed by the party.

    Parameters
    ----------
    identity
        The party's own identity (its data and signing keys).
    verified
        The result of :func:`verify_enclave` for the session to provision.
    agreement
        The agreement the enclave was verified against.

    Returns
    -------
    bytes
        The key release message to hand to the enclave.

    Raises
    ------
    KeyMaterialError
        If this identity is not the one the agreement lists under its name.
    VerificationError
        If the verified session belongs to another agreement.
    """
    if not isinstance(verified, VerifiedEvidence):
        raise VerificationError("a data key is released only to evidence that was verified")
    _same_agreement(verified.session_keys.agreement_digest, agreement)
    listed = agreement.party_keys.get(identity.name)
    if listed is None or listed != identity.signing_key.verify_key:
        raise KeyMaterialError(
            f"identity {identity.name!r} is not the party the agreement lists under that name",
            hint="Load the party directory whose card was added to the agreement.",
        )
    return seal_key_release(
        data_key=identity.data_key,
        party=identity.name,
        signing_key=identity.signing_key,
        session=verified.session_keys,
    )
