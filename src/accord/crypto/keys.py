"""Key handles: secret key material that cannot be pickled, copied by accident or printed.

Three kinds of secret live in a party's hands and in an enclave's memory:

* :class:`DataKey` -- a 256-bit AES key that seals a party's files. Its *key id* is derived
  from the key (a hash commitment), so a file names the key it needs without revealing it
  and a wrong key is recognised before any decryption is tried.
* :class:`SigningKey` -- an Ed25519 key that signs party cards, agreements, commands and key
  release messages. Every signature is domain-separated by a *context* string, so a
  signature made for one purpose can never be replayed as another.
* :class:`TlsPrivateKey` -- an ECDSA P-256 key for TLS client/server authentication
  (P-256 because every TLS stack, gRPC's included, accepts it in certificates).

Exporting secret bytes requires passing :data:`SECRET_KEY_ACCESS`, which makes every place
that handles raw secrets easy to find (as in Tink's ``secret_key_access``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Any, Final, NoReturn

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from accord.errors import KeyMaterialError, UsageError, VerificationError

__all__ = [
    "SECRET_KEY_ACCESS",
    "DataKey",
    "SecretKeyAccess",
    "SigningKey",
    "TlsPrivateKey",
    "VerifyKey",
    "data_key_id",
]

DATA_KEY_BYTES: Final = 32
KEY_ID_BYTES: Final = 16
_KEY_ID_DOMAIN: Final = b"accord/v1/data-key-id\x00"
_SIGNATURE_DOMAIN: Final = b"accord/v1/signature\x00"

# Encodings of the Ed25519 points of small order (1, 2, 4, 8), compared with the sign bit
# cleared, as libsodium's ``has_small_order`` does. A public key of small order makes
# signatures forgeable by anyone (R = identity, S = 0 verifies for every message), so
# such keys are refused outright. Entries: 0, 1, the two order-8 y-coordinates,
# p - 1, p and p + 1 (the last three are non-canonical or order-2/4 encodings).
_SMALL_ORDER_ENCODINGS: Final = tuple(
    bytes.fromhex(h)
    for h in (
        "00" * 32,
        "01" + "00" * 31,
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "ec" + "ff" * 30 + "7f",
        "ed" + "ff" * 30 + "7f",
        "ee" + "ff" * 30 + "7f",
    )
)


def _has_small_order(raw: bytes) -> bool:
    unsigned = raw[:31] + bytes([raw[31] & 0x7F])
    return any(hmac.compare_digest(unsigned, bad) for bad in _SMALL_ORDER_ENCODINGS)


class SecretKeyAccess:
    """A token that grants export of secret key bytes; use :data:`SECRET_KEY_ACCESS`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "SECRET_KEY_ACCESS"


SECRET_KEY_ACCESS: Final = SecretKeyAccess()


def _require_access(access: object) -> None:
    if access is not SECRET_KEY_ACCESS:
        raise UsageError(
            "exporting secret key material requires the SECRET_KEY_ACCESS token",
            hint="Pass accord.crypto.keys.SECRET_KEY_ACCESS where raw key bytes are needed.",
        )


class _SecretHandle:
    """Behaviour shared by every secret handle: no pickling, no copying, no secret repr."""

    __slots__ = ()

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError(f"{type(self).__name__} holds secret key material and cannot be pickled")

    def __copy__(self) -> NoReturn:
        raise TypeError(f"{type(self).__name__} cannot be copied")

    def __deepcopy__(self, memo: Any) -> NoReturn:
        raise TypeError(f"{type(self).__name__} cannot be copied")


def data_key_id(raw_key: bytes) -> str:
    """Return the key id (32 hex characters) that commits to a raw data key.

    Parameters
    ----------
    raw_key
        The 32 raw key bytes.

    Returns
    -------
    str
        Hex of the first 16 bytes of SHA-256 over a domain tag and the key.
    """
    return hashlib.sha256(_KEY_ID_DOMAIN + raw_key).digest()[:KEY_ID_BYTES].hex()


class DataKey(_SecretHandle):
    """A 256-bit AES key that seals a party's data; prints only its key id."""

    __slots__ = ("_key", "_key_id")

    def __init__(self, raw_key: bytes, access: SecretKeyAccess) -> None:
        _require_access(access)
        if len(raw_key) != DATA_KEY_BYTES:
            raise KeyMaterialError(
                f"a data key must be {DATA_KEY_BYTES} bytes, got {len(raw_key)}",
                hint="The key file is damaged; restore the party directory from its backup.",
            )
        self._key = bytes(raw_key)
        self._key_id = data_key_id(self._key)

    @classmethod
    def generate(cls) -> DataKey:
        """Create a fresh random data key from the operating system's CSPRNG."""
        return cls(os.urandom(DATA_KEY_BYTES), SECRET_KEY_ACCESS)

    @property
    def key_id(self) -> str:
        """The public key id (hex) that sealed files record."""
        return self._key_id

    def export_bytes(self, access: SecretKeyAccess) -> bytes:
        """Return the raw key bytes; requires :data:`SECRET_KEY_ACCESS`."""
        _require_access(access)
        return self._key

    def __repr__(self) -> str:
        return f"DataKey(key_id={self._key_id!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DataKey):
            return NotImplemented
        return hmac.compare_digest(self._key, other._key)

    def __hash__(self) -> int:
        return hash(self._key_id)


def _signed_message(context: str, message: bytes) -> bytes:
    if not context or "\x00" in context:
        raise UsageError(f"invalid signature context {context!r}: it must be non-empty text")
    return _SIGNATURE_DOMAIN + context.encode() + b"\x00" + message


class VerifyKey:
    """An Ed25519 public key that checks domain-separated signatures.

    Parameters
    ----------
    raw
        The 32-byte raw public key.
    """

    __slots__ = ("_key", "_raw")

    def __init__(self, raw: bytes) -> None:
        if len(raw) == 32 and _has_small_order(raw):
            raise KeyMaterialError(
                "refusing an Ed25519 public key of small order: anyone could forge its signatures",
                hint="Check the party card or agreement that supplied this key; a genuine "
                "key never has this form.",
            )
        try:
            self._key = ed25519.Ed25519PublicKey.from_public_bytes(raw)
        except ValueError as exc:
            raise KeyMaterialError(
                f"not an Ed25519 public key ({len(raw)} bytes; 32 expected)",
                hint="Check the party card or agreement that supplied this key.",
            ) from exc
        self._raw = bytes(raw)

    @classmethod
    def from_base64(cls, text: str) -> VerifyKey:
        """Parse a key written by :meth:`to_base64`."""
        try:
            raw = base64.b64decode(text, validate=True)
        except ValueError as exc:
            raise KeyMaterialError(f"public key {text[:16]!r}... is not valid base64") from exc
        return cls(raw)

    def to_base64(self) -> str:
        """Return the raw public key as standard base64."""
        return base64.b64encode(self._raw).decode()

    @property
    def raw(self) -> bytes:
        """The 32 raw public key bytes."""
        return self._raw

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the raw public key, as 64 hex characters."""
        return hashlib.sha256(self._raw).hexdigest()

    def verify(self, signature: bytes, message: bytes, *, context: str) -> None:
        """Check a signature made by :meth:`SigningKey.sign` with the same context.

        Raises
        ------
        VerificationError
            If the signature does not verify for this key, message and context.
        """
        try:
            self._key.verify(signature, _signed_message(context, message))
        except InvalidSignature:
            raise VerificationError(
                f"signature does not verify for key {self.fingerprint[:16]} (context {context!r})"
            ) from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VerifyKey) and self._raw == other._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return f"VerifyKey(fingerprint={self.fingerprint[:16]!r})"


class SigningKey(_SecretHandle):
    """An Ed25519 private key; every signature carries a context string."""

    __slots__ = ("_key", "_verify_key")

    def __init__(self, key: ed25519.Ed25519PrivateKey) -> None:
        self._key = key
        self._verify_key = VerifyKey(
            key.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
        )

    @classmethod
    def generate(cls) -> SigningKey:
        """Create a fresh Ed25519 key pair."""
        return cls(ed25519.Ed25519PrivateKey.generate())

    @classmethod
    def from_raw(cls, raw: bytes, access: SecretKeyAccess) -> SigningKey:
        """Load a key from its 32-byte raw private form."""
        _require_access(access)
        try:
            return cls(ed25519.Ed25519PrivateKey.from_private_bytes(raw))
        except ValueError as exc:
            raise KeyMaterialError("the stored signing key is not a valid Ed25519 key") from exc

    def export_raw(self, access: SecretKeyAccess) -> bytes:
        """Return the 32-byte raw private key; requires :data:`SECRET_KEY_ACCESS`."""
        _require_access(access)
        return self._key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )

    @property
    def verify_key(self) -> VerifyKey:
        """The matching public key."""
        return self._verify_key

    def sign(self, message: bytes, *, context: str) -> bytes:
        """Sign ``message`` for the purpose named by ``context``.

        Parameters
        ----------
        message
            The bytes to sign (usually a digest or canonical JSON).
        context
            A short purpose label such as ``"party-card"`` or ``"command"``.

        Returns
        -------
        bytes
            The 64-byte Ed25519 signature.
        """
        return self._key.sign(_signed_message(context, message))

    def __repr__(self) -> str:
        return f"SigningKey(fingerprint={self._verify_key.fingerprint[:16]!r})"


class TlsPrivateKey(_SecretHandle):
    """An ECDSA P-256 private key for TLS; its PEM is released only with the access token."""

    __slots__ = ("_key",)

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(key.curve, ec.SECP256R1):
            raise KeyMaterialError(f"TLS keys must use P-256, not {key.curve.name}")
        self._key = key

    @classmethod
    def generate(cls) -> TlsPrivateKey:
        """Create a fresh P-256 key."""
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_pem(cls, pem: bytes, access: SecretKeyAccess) -> TlsPrivateKey:
        """Load an unencrypted PKCS#8 PEM key."""
        _require_access(access)
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyMaterialError("the stored TLS key is not a readable PEM key") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise KeyMaterialError("the stored TLS key is not an ECDSA key")
        return cls(key)

    def export_pem(self, access: SecretKeyAccess) -> bytes:
        """Return the unencrypted PKCS#8 PEM (for a TLS stack); requires the access token."""
        _require_access(access)
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The matching public key."""
        return self._key.public_key()

    def sign_certificate_with(self) -> ec.EllipticCurvePrivateKey:
        """Return the underlying key for signing an X.509 certificate (crypto layer only)."""
        return self._key

    def __repr__(self) -> str:
        return "TlsPrivateKey(curve='P-256')"
