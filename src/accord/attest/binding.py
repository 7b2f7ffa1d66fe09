r"""What an enclave's evidence binds: its session's public keys and the verifier's nonce.

The enclave puts ``report_data`` into the hardware (or simulated) report. A verifier that
recomputes it from the public keys the enclave presents, and from the nonce it chose itself,
knows that those keys were created by the attested code for this agreement and are fresh.

Layout of the transcript hashed with SHA-512 (all integers big-endian)::

    b"accord/v1/report-data\\x00"
    for each field, in this order:
        u32 length || field bytes
    fields: agreement digest (32 bytes), session id (16 bytes),
            HPKE public key (KEM encoding), signing public key (32 bytes Ed25519 raw),
            TLS public key (DER SubjectPublicKeyInfo), verifier nonce (16..64 bytes)

The result is 64 bytes: the size of the report-data field of SGX, TDX and SEV-SNP reports.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass
from typing import Final

from accord.errors import UsageError

__all__ = ["NONCE_MAX_BYTES", "NONCE_MIN_BYTES", "SessionPublicKeys"]

_DOMAIN: Final = b"accord/v1/report-data\x00"
NONCE_MIN_BYTES: Final = 16
NONCE_MAX_BYTES: Final = 64
_LOWER_HEX: Final = re.compile(r"[0-9a-f]*")


@dataclass(frozen=True)
class SessionPublicKeys:
    """The public half of an enclave session, as the enclave presents it to verifiers.

    Parameters
    ----------
    agreement_digest
        SHA-256 of the agreement's canonical form, 64 hex characters.
    session_id
        The enclave session id, 32 hex characters (16 random bytes).
    hpke_public_key
        The session's HPKE (key-wrapping) public key, in its KEM's encoding.
    signing_public_key
        The session's Ed25519 public key, 32 raw bytes.
    tls_public_key
        The session's TLS public key, DER SubjectPublicKeyInfo.
    """

    agreement_digest: str
    session_id: str
    hpke_public_key: bytes
    signing_public_key: bytes
    tls_public_key: bytes

    def __post_init__(self) -> None:
        _require_hex(self.agreement_digest, 32, "agreement digest")
        _require_hex(self.session_id, 16, "session id")
        if len(self.signing_public_key) != 32:
            raise UsageError("a session signing public key must be 32 bytes (Ed25519)")
        if not self.hpke_public_key or not self.tls_public_key:
            raise UsageError("session public keys must not be empty")

    def report_data(self, nonce: bytes) -> bytes:
        """Return the 64-byte report data binding these keys to ``nonce``.

        Parameters
        ----------
        nonce
            The verifier's fresh random challenge, 16 to 64 bytes.

        Returns
        -------
        bytes
            SHA-512 of the domain-separated transcript described in the module docstring.
        """
        if not NONCE_MIN_BYTES <= len(nonce) <= NONCE_MAX_BYTES:
            raise UsageError(
                f"an attestation nonce must be {NONCE_MIN_BYTES} to {NONCE_MAX_BYTES} bytes, "
                f"got {len(nonce)}"
            )
        transcript = hashlib.sha512(_DOMAIN)
        for field in (
            bytes.fromhex(self.agreement_digest),
            bytes.fromhex(self.session_id),
            self.hpke_public_key,
            self.signing_public_key,
            self.tls_public_key,
            nonce,
        ):
            transcript.update(struct.pack(">I", len(field)))
            transcript.update(field)
        return transcript.digest()


def _require_hex(value: str, size: int, what: str) -> None:
    """Refuse anything but exactly ``2 * size`` lowercase hex digits.

    ``bytes.fromhex`` alone would also accept spaces between the digits: another spelling of
    the same bytes, which other checks compare as text.
    """
    if not isinstance(value, str) or len(value) != 2 * size or not _LOWER_HEX.fullmatch(value):
        shown = repr(value[:80]) if isinstance(value, str) else type(value).__name__
        raise UsageError(f"{what} must be {2 * size} lowercase hex characters, got {shown}")
