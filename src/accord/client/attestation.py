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
session keys to this nonce. It always applies the agreement's own policy (callers may add
backend verifiers, never replace the policy), and returns a :class:`VerifiedEnclave` that
nothing else can make; ``release_data_key`` accepts nothing else, so a key is never released
on the strength of a laxer policy.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, NoReturn

from accord.agreement.attestation import agreement_verifier
from accord.agreement.signing import SignedAgreement
from accord.attest import BackendVerifier, SessionPublicKeys
from accord.attest.bundle import AttestationBundle
from accord.attest.verifier import VerifiedEvidence
from accord.crypto.keyrelease import seal_key_release
from accord.errors import KeyMaterialError, UsageError, VerificationError
from accord.party import PartyIdentity

__all__ = ["NONCE_BYTES", "VerifiedEnclave", "new_nonce", "release_data_key", "verify_enclave"]

_CONSTRUCTION_TOKEN: Final = object()


def _utc_now() -> datetime:
    return datetime.now(UTC)


class VerifiedEnclave:
    """An enclave session verified against a signed agreement's own enclave policy.

    Only :func:`verify_enclave` can make one; constructing it directly raises ``TypeError``.

    Attributes
    ----------
    agreement_digest
        The agreement whose policy accepted the evidence (and which the enclave runs).
    evidence
        The verified evidence (claims, session keys, nonce).
    """

    __slots__ = ("_agreement_digest", "_evidence")

    def __init__(self, token: object, agreement_digest: str, evidence: VerifiedEvidence) -> None:
        if token is not _CONSTRUCTION_TOKEN:
            raise TypeError("VerifiedEnclave is made only by accord.client.verify_enclave")
        self._agreement_digest = agreement_digest
        self._evidence = evidence

    @property
    def agreement_digest(self) -> str:
        """The digest of the agreement whose policy accepted this enclave."""
        return self._agreement_digest

    @property
    def evidence(self) -> VerifiedEvidence:
        """The verified evidence."""
        return self._evidence

    @property
    def session_keys(self) -> SessionPublicKeys:
        """The attested session's public keys."""
        return self._evidence.session_keys

    @property
    def session_id(self) -> str:
        """The attested session's id."""
        return self._evidence.session_keys.session_id

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("VerifiedEnclave cannot be pickled; verify the enclave again")

    def __repr__(self) -> str:
        return (
            f"VerifiedEnclave(session_id={self.session_id[:16]!r}, "
            f"agreement={self._agreement_digest[:16]!r}, backend={self._evidence.claims.backend!r})"
        )


def _require_signed(agreement: object) -> SignedAgreement:
    if not isinstance(agreement, SignedAgreement):
        raise UsageError(
            f"expected an agreement signed by every party, got {type(agreement).__name__}",
            hint="Load it with accord.load_signed_agreement(path), which checks the signatures.",
        )
    return agreement


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
    backends: Mapping[str, BackendVerifier] | None = None,
    now: Callable[[], datetime] = _utc_now,
) -> VerifiedEnclave:
    """Check an enclave's answer to ``nonce`` against a signed agreement.

    Parameters
    ----------
    bundle
        The enclave's attestation bundle (wire bytes or parsed).
    agreement
        The collaboration's agreement, signed by every party.
    nonce
        The challenge this party sent (see :func:`new_nonce`); never reuse one.
    backends
        Backend verifiers by name (for example hardware quote verifiers); Accord's defaults
        when None. The policy is always the agreement's own.
    now
        The clock for evidence age and certificate validity.

    Returns
    -------
    VerifiedEnclave
        Proof that the session keys belong to an enclave this agreement accepts.

    Raises
    ------
    VerificationError
        If the enclave runs another agreement, or the evidence fails any check.
    """
    agreement = _require_signed(agreement)
    parsed = (
        bundle if isinstance(bundle, AttestationBundle) else AttestationBundle.from_bytes(bundle)
    )
    _same_agreement(parsed.session_keys.agreement_digest, agreement)
    verifier = agreement_verifier(agreement, backends=backends, now=now)
    evidence = verifier.verify(parsed.evidence, nonce=nonce, expected=parsed.session_keys)
    return VerifiedEnclave(_CONSTRUCTION_TOKEN, agreement.digest, evidence)


def release_data_key(
    identity: PartyIdentity, verified: VerifiedEnclave, *, agreement: SignedAgreement
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
    agreement = _require_signed(agreement)
    if not isinstance(verified, VerifiedEnclave):
        raise VerificationError(
            "a data key is released only to an enclave checked by verify_enclave",
            hint="Call accord.verify_enclave(bundle, agreement=..., nonce=...) first.",
        )
    if not hmac.compare_digest(verified.agreement_digest, agreement.digest):
        raise VerificationError(
            f"the enclave was verified against agreement {verified.agreement_digest[:16]}.., "
            f"not {agreement.digest[:16]}..",
            hint="Verify the enclave against the agreement you release the key under.",
        )
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
