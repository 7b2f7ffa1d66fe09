"""Party signatures over the agreement digest, and the verified :class:`SignedAgreement`.

Each party signs the 32 bytes of the agreement digest with its Ed25519 signing key, in the
signature context ``"agreement"`` (see :meth:`accord.crypto.keys.SigningKey.sign`). The
signatures live in the ``[signatures]`` table (party name = base64 signature), which is not
part of the signed content, so signing does not change the digest.

An agreement is in force only when *every* listed party has signed it:
:func:`verify_signatures` returns a :class:`SignedAgreement` (which user code cannot
construct) or raises :class:`~accord.errors.VerificationError` naming the party.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from accord.agreement.model import Agreement, EnclavePolicy, OutputPolicy, Party
from accord.agreement.parse import load_agreement
from accord.agreement.rules import ApprovalPolicy, ApprovalRule
from accord.crypto.keys import SigningKey, VerifyKey
from accord.errors import ConfigurationError, KeyMaterialError, VerificationError

__all__ = [
    "SIGNATURE_CONTEXT",
    "SignatureState",
    "SignedAgreement",
    "load_signed_agreement",
    "sign_agreement",
    "signature_states",
    "verify_signatures",
]

SIGNATURE_CONTEXT: Final = "agreement"
"""The signature context of agreement signatures."""

_VERIFIED: Final = object()


class SignatureState(enum.Enum):
    """The state of one entry of the signature table."""

    VALID = "valid"
    MISSING = "missing"
    INVALID = "invalid"
    NOT_A_PARTY = "not a party"


def sign_agreement(agreement: Agreement, signing_key: SigningKey, *, party: str) -> bytes:
    """Sign ``agreement``'s digest as ``party``.

    Parameters
    ----------
    agreement
        The agreement to sign.
    signing_key
        The party's signing key.
    party
        The name under which the agreement lists the signer.

    Returns
    -------
    bytes
        The 64-byte signature to store under ``[signatures] party``.

    Raises
    ------
    UsageError
        If ``party`` is not a party of the agreement.
    KeyMaterialError
        If the agreement lists another signing key for ``party``.
    """
    listed = agreement.party(party)
    if listed.verify_key != signing_key.verify_key:
        raise KeyMaterialError(
            f"{agreement.source} lists signing key {listed.signing_key_fingerprint[:16]}... for "
            f"{party!r}, but this key is {signing_key.verify_key.fingerprint[:16]}...",
            hint="Sign with the party directory whose card was added to the agreement.",
        )
    return signing_key.sign(bytes.fromhex(agreement.digest), context=SIGNATURE_CONTEXT)


def _is_valid(party: Party, signature: bytes, digest: str) -> bool:
    try:
        party.verify_key.verify(signature, bytes.fromhex(digest), context=SIGNATURE_CONTEXT)
    except VerificationError:
        return False
    return True


def signature_states(agreement: Agreement) -> dict[str, SignatureState]:
    """Return the state of every party's signature and of every other signature entry.

    Returns
    -------
    dict
        Party names (sorted) then non-party signers, each with its :class:`SignatureState`.
    """
    states: dict[str, SignatureState] = {}
    signatures = agreement.unverified_signatures
    for party in agreement.parties:
        signature = signatures.get(party.name)
        if signature is None:
            states[party.name] = SignatureState.MISSING
        elif _is_valid(party, signature, agreement.digest):
            states[party.name] = SignatureState.VALID
        else:
            states[party.name] = SignatureState.INVALID
    for name in signatures:
        states.setdefault(name, SignatureState.NOT_A_PARTY)
    return states


class SignedAgreement:
    """An agreement that every party has signed; only :func:`verify_signatures` makes one.

    It offers the agreement's content and the verified signatures; ``agreement`` is the
    underlying :class:`Agreement`.
    """

    __slots__ = ("_agreement", "_signatures")

    def __init__(
        self, agreement: Agreement, signatures: Mapping[str, bytes], *, _token: object = None
    ) -> None:
        if _token is not _VERIFIED:
            raise TypeError(
                "SignedAgreement cannot be constructed directly; use "
                "accord.agreement.verify_signatures(agreement)"
            )
        self._agreement = agreement
        self._signatures = types.MappingProxyType(dict(signatures))

    @property
    def agreement(self) -> Agreement:
        """The agreement whose signatures were verified."""
        return self._agreement

    @property
    def digest(self) -> str:
        """The agreement digest (SHA-256 hex) that every party signed."""
        return self._agreement.digest

    @property
    def name(self) -> str:
        """The collaboration's name."""
        return self._agreement.name

    @property
    def parties(self) -> tuple[Party, ...]:
        """The parties, sorted by name."""
        return self._agreement.parties

    @property
    def enclave(self) -> EnclavePolicy:
        """The enclave policy."""
        return self._agreement.enclave

    @property
    def approvals(self) -> ApprovalPolicy:
        """The approval rules."""
        return self._agreement.approvals

    @property
    def outputs(self) -> OutputPolicy:
        """The output policy."""
        return self._agreement.outputs

    @property
    def party_keys(self) -> Mapping[str, VerifyKey]:
        """Each party's signing public key by name (what key release and commands check)."""
        return types.MappingProxyType({party.name: party.verify_key for party in self.parties})

    @property
    def signatures(self) -> Mapping[str, bytes]:
        """Each party's verified signature over the digest."""
        return self._signatures

    def party(self, name: str) -> Party:
        """Return the party called ``name`` (raises UsageError if there is none)."""
        return self._agreement.party(name)

    def rule_for(self, operation: str) -> ApprovalRule:
        """Return the approval rule of ``operation``."""
        return self._agreement.rule_for(operation)

    def __repr__(self) -> str:
        return f"SignedAgreement(name={self.name!r}, digest={self.digest[:16]!r})"


def verify_signatures(agreement: Agreement) -> SignedAgreement:
    """Check that every party, and nobody else, signed ``agreement``'s digest.

    Returns
    -------
    SignedAgreement
        The agreement, now known to be signed by all its parties.

    Raises
    ------
    ConfigurationError
        If the agreement lists no parties.
    VerificationError
        If a signature does not verify (naming the party), a signer is not a party, or a
        party has not signed ("unsigned by bob").
    """
    source = agreement.source
    if not agreement.parties:
        raise ConfigurationError(
            f"{source} lists no parties, so nobody can have agreed to it",
            hint="Add the parties with `accord agreement add-party`, then let each sign.",
        )
    states = signature_states(agreement)
    strangers = [name for name, state in states.items() if state is SignatureState.NOT_A_PARTY]
    if strangers:
        raise VerificationError(
            f"{source} carries a signature by {strangers[0]!r}, who is not a party of this "
            "agreement",
            hint="Remove that line from [signatures]; only listed parties sign.",
        )
    invalid = [name for name, state in states.items() if state is SignatureState.INVALID]
    if invalid:
        raise VerificationError(
            f"{source}: the signature of {invalid[0]!r} does not verify for agreement "
            f"{agreement.digest[:16]}...; the content changed after it was signed, or the "
            "signature was forged",
            hint=f"Do not use this agreement until {invalid[0]} signs the current content again.",
        )
    missing = [name for name, state in states.items() if state is SignatureState.MISSING]
    if missing:
        raise VerificationError(
            f"{source} is unsigned by {', '.join(missing)}",
            hint="Each listed party must run `accord agreement sign FILE --party DIR`.",
        )
    signatures = {name: agreement.unverified_signatures[name] for name in agreement.party_names}
    return SignedAgreement(agreement, signatures, _token=_VERIFIED)


def load_signed_agreement(path: Path) -> SignedAgreement:
    """Read an agreement file and verify that every party signed it.

    Raises
    ------
    ConfigurationError
        If the file is malformed (see :func:`accord.agreement.parse.load_agreement`).
    VerificationError
        If a signature is missing, invalid or not a party's.
    """
    return verify_signatures(load_agreement(path))
