"""What an enclave answers to a verifier's nonce: its session's public keys and evidence.

Wire form (canonical JSON, RFC 8785; bytes as standard base64)::

    {"format": "accord-attestation/v1",
     "session": {"agreement_digest": hex, "session_id": hex, "hpke_public_key": b64,
                 "signing_public_key": b64, "tls_public_key": b64},
     "evidence": b64 of Evidence.to_bytes()}

Nothing in a bundle is trusted until :meth:`accord.attest.Verifier.verify` has checked that
the evidence is authentic, satisfies the policy, and binds exactly these keys and the nonce.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from accord._internal.canonical import canonical_json
from accord.attest._fields import decode_base64, encode_base64, load_json_object, require_keys
from accord.attest.binding import SessionPublicKeys
from accord.attest.evidence import MAX_EVIDENCE_BYTES, Evidence
from accord.errors import UsageError, VerificationError

__all__ = ["BUNDLE_FORMAT", "AttestationBundle"]

BUNDLE_FORMAT: Final = "accord-attestation/v1"
_MAX_KEY_BYTES: Final = 8192
_SESSION_FIELDS: Final = frozenset(
    {"agreement_digest", "session_id", "hpke_public_key", "signing_public_key", "tls_public_key"}
)


@dataclass(frozen=True)
class AttestationBundle:
    """An enclave's (unverified) answer to an attestation request.

    Parameters
    ----------
    session_keys
        The public keys the enclave says its session holds.
    evidence
        The evidence whose report data should bind those keys and the verifier's nonce.
    """

    session_keys: SessionPublicKeys
    evidence: Evidence

    def to_bytes(self) -> bytes:
        """Return the canonical JSON wire form."""
        keys = self.session_keys
        return canonical_json(
            {
                "format": BUNDLE_FORMAT,
                "session": {
                    "agreement_digest": keys.agreement_digest,
                    "session_id": keys.session_id,
                    "hpke_public_key": encode_base64(keys.hpke_public_key),
                    "signing_public_key": encode_base64(keys.signing_public_key),
                    "tls_public_key": encode_base64(keys.tls_public_key),
                },
                "evidence": encode_base64(self.evidence.to_bytes()),
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> AttestationBundle:
        """Parse the wire form strictly.

        Raises
        ------
        VerificationError
            If the bundle is malformed, naming the field.
        """
        error = VerificationError
        obj = load_json_object(
            data, "attestation bundle", max_len=2 * MAX_EVIDENCE_BYTES, error=error
        )
        require_keys(
            obj, frozenset({"format", "session", "evidence"}), "attestation bundle", error=error
        )
        if obj["format"] != BUNDLE_FORMAT:
            raise VerificationError(
                f"attestation bundle has format {obj['format']!r}, expected {BUNDLE_FORMAT!r}"
            )
        session: Any = obj["session"]
        if not isinstance(session, dict):
            raise VerificationError("attestation bundle field 'session' must be an object")
        require_keys(session, _SESSION_FIELDS, "attestation bundle session", error=error)
        evidence = Evidence.from_bytes(
            decode_base64(obj["evidence"], "evidence", max_len=MAX_EVIDENCE_BYTES, error=error)
        )
        try:
            keys = SessionPublicKeys(
                agreement_digest=_text(session["agreement_digest"], "agreement_digest"),
                session_id=_text(session["session_id"], "session_id"),
                hpke_public_key=decode_base64(
                    session["hpke_public_key"],
                    "hpke_public_key",
                    max_len=_MAX_KEY_BYTES,
                    error=error,
                ),
                signing_public_key=decode_base64(
                    session["signing_public_key"],
                    "signing_public_key",
                    max_len=_MAX_KEY_BYTES,
                    error=error,
                ),
                tls_public_key=decode_base64(
                    session["tls_public_key"], "tls_public_key", max_len=_MAX_KEY_BYTES, error=error
                ),
            )
        except UsageError as exc:
            raise VerificationError(f"attestation bundle session: {exc.message}") from None
        return cls(session_keys=keys, evidence=evidence)


def _text(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise VerificationError(f"attestation bundle field {field!r} must be a string")
    return value
