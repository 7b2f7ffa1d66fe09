r"""Attested key release: a party wraps its data key for one enclave session with HPKE.

A party that verified an enclave's evidence calls :func:`seal_key_release` with the session's
public keys; inside the enclave :func:`open_key_release` checks the message and returns the key.
The protocol, with every check and what it prevents, is in docs/key-release.md.

HPKE (RFC 9180, base mode, single shot): KEM ``MLKEM768-X25519`` (0x647A, the X-Wing hybrid of
ML-KEM-768 and X25519), KDF ``HKDF-SHA256`` (0x0001), AEAD ``AES-256-GCM`` (0x0002).
The recipient public key is encoded as the ML-KEM-768 encapsulation key (1184 bytes)
followed by the X25519 public key (32 bytes): 1216 bytes. ``enc`` is 1120 bytes.

Message (UTF-8, RFC 8785 canonical JSON)::

    {"payload": {"format": "accord-key-release/v1",
                 "agreement_digest": <64 hex>, "session_id": <32 hex>,
                 "party": <party name>, "key_id": <32 hex>,
                 "enc": <base64 of HPKE enc>, "ciphertext": <base64 of sealed 32-byte key>},
     "signature": <base64 of the party's Ed25519 signature, context "key-release",
                   over the canonical JSON of "payload">}

HPKE ``info`` (the single-shot API's authenticated context, RFC 9180 section 8.1)::

    b"accord/v1/key-release\x00"
    || u32 len || agreement digest (32 bytes) || u32 len || session id (16 bytes)
    || u32 len || party name (ASCII)         || u32 len || key id (16 bytes)

with big-endian lengths. The plaintext is the 32 raw bytes of the data key.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, NoReturn

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from accord._internal.canonical import canonical_json
from accord.crypto.keys import (
    DATA_KEY_BYTES,
    SECRET_KEY_ACCESS,
    DataKey,
    SigningKey,
    VerifyKey,
)
from accord.errors import (
    ConfigurationError,
    IntegrityError,
    KeyMaterialError,
    UsageError,
    VerificationError,
)
from accord.party.card import PARTY_NAME_PATTERN

if TYPE_CHECKING:
    from accord.attest.binding import SessionPublicKeys

__all__ = [
    "HPKE_PUBLIC_KEY_BYTES",
    "KEY_RELEASE_FORMAT",
    "KEY_RELEASE_SIGNATURE_CONTEXT",
    "MAX_KEY_RELEASE_BYTES",
    "HpkePrivateKey",
    "ReleasedKey",
    "key_release_info",
    "open_key_release",
    "seal_key_release",
]

KEY_RELEASE_FORMAT: Final = "accord-key-release/v1"
KEY_RELEASE_SIGNATURE_CONTEXT: Final = "key-release"
MAX_KEY_RELEASE_BYTES: Final = 16 * 1024
_INFO_DOMAIN: Final = b"accord/v1/key-release\x00"
_MLKEM768_PUBLIC_BYTES: Final = 1184
HPKE_PUBLIC_KEY_BYTES: Final = _MLKEM768_PUBLIC_BYTES + 32
_ENC_BYTES: Final = hpke.KEM.MLKEM768_X25519.enc_length()
_SIGNATURE_BYTES: Final = 64
_PAYLOAD_FIELDS: Final = frozenset(
    {"format", "agreement_digest", "session_id", "party", "key_id", "enc", "ciphertext"}
)
_HEX_FIELDS: Final = {"agreement_digest": 32, "session_id": 16, "key_id": 16}
_HEX: Final = {size: re.compile(f"[0-9a-f]{{{2 * size}}}") for size in set(_HEX_FIELDS.values())}


class HpkePrivateKey:
    """An enclave session's HPKE (key-wrapping) private key; it never leaves the process.

    Like the handles in :mod:`accord.crypto.keys` it refuses pickling and copying and prints
    no secret. Create one with :meth:`generate`.
    """

    __slots__ = ("_private", "_public_bytes")

    def __init__(
        self, mlkem_key: mlkem.MLKEM768PrivateKey, x25519_key: x25519.X25519PrivateKey
    ) -> None:
        self._private = hpke.MLKEM768X25519PrivateKey(mlkem_key, x25519_key)
        self._public_bytes = (
            mlkem_key.public_key().public_bytes_raw() + x25519_key.public_key().public_bytes_raw()
        )

    @classmethod
    def generate(cls) -> HpkePrivateKey:
        """Create a fresh MLKEM768-X25519 key pair from the operating system's CSPRNG.

        Raises
        ------
        ConfigurationError
            If the installed ``cryptography`` backend has no ML-KEM.
        """
        try:
            mlkem_key = mlkem.MLKEM768PrivateKey.generate()
        except UnsupportedAlgorithm as exc:
            raise _mlkem_missing() from exc
        return cls(mlkem_key, x25519.X25519PrivateKey.generate())

    @property
    def public_bytes(self) -> bytes:
        """The public key: ML-KEM-768 encapsulation key || X25519 public key (1216 bytes)."""
        return self._public_bytes

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("HpkePrivateKey holds secret key material and cannot be pickled")

    def __copy__(self) -> NoReturn:
        raise TypeError("HpkePrivateKey cannot be copied")

    def __deepcopy__(self, memo: Any) -> NoReturn:
        raise TypeError("HpkePrivateKey cannot be copied")

    def __repr__(self) -> str:
        return "HpkePrivateKey(kem='MLKEM768-X25519')"


@dataclass(frozen=True)
class ReleasedKey:
    """A data key that passed every check of :func:`open_key_release`.

    Parameters
    ----------
    party
        The agreement party that signed the release.
    data_key
        The released key; its key id equals the one the party signed.
    """

    party: str
    data_key: DataKey


def key_release_info(*, agreement_digest: str, session_id: str, party: str, key_id: str) -> bytes:
    """Return the HPKE ``info`` that binds a wrapped key to its agreement, session, party and id.

    Parameters
    ----------
    agreement_digest
        The agreement digest, 64 lowercase hex characters.
    session_id
        The enclave session id, 32 lowercase hex characters.
    party
        The releasing party's name.
    key_id
        The data key's id, 32 lowercase hex characters.

    Returns
    -------
    bytes
        The domain tag followed by each field as a big-endian u32 length and its bytes.

    Raises
    ------
    UsageError
        If a hex field is not exactly its number of lowercase hex digits, or ``party`` is
        not a party name (:data:`accord.party.PARTY_NAME_PATTERN`).
    """
    hex_fields = {"agreement_digest": agreement_digest, "session_id": session_id, "key_id": key_id}
    for name, value in hex_fields.items():
        if not _is_hex(value, _HEX_FIELDS[name]):
            raise UsageError(
                f"{name} must be {2 * _HEX_FIELDS[name]} lowercase hex digits, got {_clip(value)!r}"
            )
    if not _is_party_name(party):
        raise UsageError(_party_name_rule(party))
    fields = (
        bytes.fromhex(agreement_digest),
        bytes.fromhex(session_id),
        party.encode("utf-8"),
        bytes.fromhex(key_id),
    )
    return _INFO_DOMAIN + b"".join(struct.pack(">I", len(field)) + field for field in fields)


def seal_key_release(
    *, data_key: DataKey, party: str, signing_key: SigningKey, session: SessionPublicKeys
) -> bytes:
    """Wrap ``data_key`` for one enclave session and sign it as ``party``.

    **Call this only with SessionPublicKeys taken from attestation evidence that you have
    verified** against your agreement's enclave policy, with your own fresh nonce. The evidence
    is what proves that the HPKE key belongs to measured enclave code running your agreement;
    keys from anywhere else (a message from the orchestrator, a cache, a host) may be the
    host's own, and sealing to them hands the host your data key.

    Parameters
    ----------
    data_key
        The party's data key to release.
    party
        The party's name exactly as the agreement lists it.
    signing_key
        The party's signing key (the agreement lists its public key).
    session
        The verified enclave session's public keys.

    Returns
    -------
    bytes
        The key release message (canonical JSON, layout in the module docstring).

    Raises
    ------
    KeyMaterialError
        If the session's HPKE public key is not a valid MLKEM768-X25519 key.
    UsageError
        If ``party`` is not a party name (:data:`accord.party.PARTY_NAME_PATTERN`).
    """
    if not _is_party_name(party):
        raise UsageError(_party_name_rule(party))
    public_key = _load_public_key(session.hpke_public_key)
    info = key_release_info(
        agreement_digest=session.agreement_digest,
        session_id=session.session_id,
        party=party,
        key_id=data_key.key_id,
    )
    sealed = _suite().encrypt(data_key.export_bytes(SECRET_KEY_ACCESS), public_key, info=info)
    payload = {
        "format": KEY_RELEASE_FORMAT,
        "agreement_digest": session.agreement_digest,
        "session_id": session.session_id,
        "party": party,
        "key_id": data_key.key_id,
        "enc": _b64(sealed[:_ENC_BYTES]),
        "ciphertext": _b64(sealed[_ENC_BYTES:]),
    }
    signature = signing_key.sign(canonical_json(payload), context=KEY_RELEASE_SIGNATURE_CONTEXT)
    return canonical_json({"payload": payload, "signature": _b64(signature)})


def open_key_release(
    message: bytes,
    *,
    agreement_digest: str,
    session_id: str,
    parties: Mapping[str, VerifyKey],
    recipient: HpkePrivateKey,
) -> ReleasedKey:
    """Check a key release message and unwrap its data key (enclave side).

    The checks run in this order, so nothing unauthenticated is ever decrypted: message
    format; agreement digest; session id; the party is one of ``parties``; the signature
    verifies with *that* party's key; HPKE decryption; the key's id equals the signed key id.

    Parameters
    ----------
    message
        The bytes produced by :func:`seal_key_release`.
    agreement_digest
        The digest of the agreement this enclave runs.
    session_id
        This enclave session's id.
    parties
        The agreement's parties: name to signing public key.
    recipient
        This enclave session's HPKE private key.

    Returns
    -------
    ReleasedKey
        The releasing party and its data key.

    Raises
    ------
    UsageError
        If ``message`` is not ``bytes``.
    VerificationError
        If the message is malformed, for another agreement or session, from a name that is
        not a party, or its signature does not verify with the named party's key.
    IntegrityError
        If the signed ciphertext cannot be decrypted with this session's key.
    KeyMaterialError
        If the decrypted key does not have the key id the party signed.
    """
    release = _parse_unverified(message)
    if release.payload["agreement_digest"] != agreement_digest:
        raise VerificationError(
            f"key release is for agreement {release.payload['agreement_digest'][:16]}..., "
            f"this enclave runs agreement {agreement_digest[:16]}...",
            hint="The party must release its key to an enclave verified for the same agreement.",
        )
    if release.payload["session_id"] != session_id:
        raise VerificationError(
            f"key release is for another session ({release.payload['session_id']}); "
            f"this enclave session is {session_id}",
            hint="Verify this enclave session's evidence and release the key to it anew.",
        )
    party = release.payload["party"]
    verify_key = parties.get(party)
    if verify_key is None:
        names = ", ".join(repr(name) for name in sorted(parties)) or "none"
        raise VerificationError(
            f"party {party!r} is not a party of this agreement (its parties: {names})"
        )
    try:
        verify_key.verify(
            release.signature, release.signed_bytes, context=KEY_RELEASE_SIGNATURE_CONTEXT
        )
    except VerificationError:
        raise VerificationError(
            f"key release signature does not verify with party {party!r}'s key "
            f"{verify_key.fingerprint[:16]}: another key signed it or it was altered after "
            "signing",
        ) from None
    key_id = release.payload["key_id"]
    info = key_release_info(
        agreement_digest=agreement_digest, session_id=session_id, party=party, key_id=key_id
    )
    try:
        raw = _suite().decrypt(release.enc + release.ciphertext, recipient._private, info=info)
    except (InvalidTag, ValueError):
        raise IntegrityError(
            f"key release from party {party!r} (key {key_id}) cannot be decrypted by this "
            "enclave session's key: it was sealed to another key or its ciphertext is damaged",
            hint="The party must verify this enclave's evidence and seal to the key it attests.",
        ) from None
    if len(raw) != DATA_KEY_BYTES:
        raise KeyMaterialError(
            f"key release from party {party!r} carries {len(raw)} bytes, not a "
            f"{DATA_KEY_BYTES}-byte data key"
        )
    data_key = DataKey(raw, SECRET_KEY_ACCESS)
    if data_key.key_id != key_id:
        raise KeyMaterialError(
            f"key release from party {party!r} names key {key_id} but carries key "
            f"{data_key.key_id}",
            hint="The party must release the key it sealed its data with.",
        )
    return ReleasedKey(party=party, data_key=data_key)


@dataclass(frozen=True)
class _UnverifiedKeyRelease:
    """A well-formed key release whose signature and ciphertext have not been checked yet."""

    payload: Mapping[str, str]
    signed_bytes: bytes
    enc: bytes
    ciphertext: bytes
    signature: bytes


def _parse_unverified(message: bytes) -> _UnverifiedKeyRelease:
    if not isinstance(message, bytes):
        raise UsageError(
            f"a key release message must be bytes, not {type(message).__name__}",
            hint="Pass the bytes that seal_key_release returned, e.g. read from the wire.",
        )
    if len(message) > MAX_KEY_RELEASE_BYTES:
        _malformed(f"it is {len(message)} bytes; at most {MAX_KEY_RELEASE_BYTES} are accepted")
    try:
        document = json.loads(message.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except RecursionError:
        _malformed("it is nested too deeply to be JSON of the key release format")
    except (UnicodeDecodeError, ValueError) as exc:
        _malformed(f"it is not UTF-8 JSON ({exc})")
    if not isinstance(document, dict) or set(document) != {"payload", "signature"}:
        _malformed("it must be an object with exactly 'payload' and 'signature'")
    payload = document["payload"]
    if not isinstance(payload, dict) or set(payload) != _PAYLOAD_FIELDS:
        _malformed(f"its payload must have exactly the fields {', '.join(sorted(_PAYLOAD_FIELDS))}")
    for name, value in payload.items():
        if not isinstance(value, str):
            _malformed(f"payload field {name!r} must be a string")
    if payload["format"] != KEY_RELEASE_FORMAT:
        _malformed(
            f"format {_clip(payload['format'])!r} is not supported (expected {KEY_RELEASE_FORMAT})"
        )
    for name, size in _HEX_FIELDS.items():
        if not _is_hex(payload[name], size):
            _malformed(f"{name!r} must be {2 * size} lowercase hex characters")
    if not _is_party_name(payload["party"]):
        _malformed(f"'party' is not a party name: {_party_name_rule(payload['party'])}")
    signature = document["signature"]
    if not isinstance(signature, str):
        _malformed("its signature must be a base64 string")
    enc = _unb64(payload["enc"], "enc")
    if len(enc) != _ENC_BYTES:
        _malformed(f"'enc' is {len(enc)} bytes; MLKEM768-X25519 needs {_ENC_BYTES}")
    ciphertext = _unb64(payload["ciphertext"], "ciphertext")
    raw_signature = _unb64(signature, "signature")
    if len(raw_signature) != _SIGNATURE_BYTES:
        _malformed(f"its signature is {len(raw_signature)} bytes, not {_SIGNATURE_BYTES}")
    return _UnverifiedKeyRelease(
        payload=payload,
        signed_bytes=canonical_json(payload),  # every field is now checked ASCII or base64
        enc=enc,
        ciphertext=ciphertext,
        signature=raw_signature,
    )


def _malformed(reason: str) -> NoReturn:
    raise VerificationError(
        f"not a valid {KEY_RELEASE_FORMAT} message: {reason}",
        hint="Ask the party to send the message that seal_key_release produced, unchanged.",
    )


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate field {key!r}")
        result[key] = value
    return result


def _is_hex(value: str, size: int) -> bool:
    """Whether ``value`` is exactly ``2 * size`` lowercase hex digits (no other spelling)."""
    return isinstance(value, str) and _HEX[size].fullmatch(value) is not None


def _is_party_name(party: str) -> bool:
    return isinstance(party, str) and PARTY_NAME_PATTERN.fullmatch(party) is not None


def _party_name_rule(party: object) -> str:
    shown = _clip(party) if isinstance(party, str) else type(party).__name__
    return (
        f"party name {shown!r} must be a lower-case letter followed by up to 62 lower-case "
        "letters, digits, '_' or '-'"
    )


def _clip(text: str) -> str:  # for messages, which show it with !r (escaping controls)
    return text if len(text) <= 40 else text[:40] + "..."


def _mlkem_missing() -> ConfigurationError:
    return ConfigurationError(
        "this installation of 'cryptography' has no ML-KEM, which key release needs "
        "(HPKE with MLKEM768-X25519)",
        hint="Install the official wheel: pip install --upgrade 'cryptography>=48'.",
    )


def _suite() -> hpke.Suite:
    try:
        return hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
    except UnsupportedAlgorithm as exc:
        raise _mlkem_missing() from exc


def _load_public_key(raw: bytes) -> hpke.MLKEM768X25519PublicKey:
    if len(raw) != HPKE_PUBLIC_KEY_BYTES:
        raise KeyMaterialError(
            f"the enclave session's HPKE public key is {len(raw)} bytes; an MLKEM768-X25519 "
            f"key is {HPKE_PUBLIC_KEY_BYTES}",
            hint="Take the session keys from evidence you verified, unchanged.",
        )
    try:
        return hpke.MLKEM768X25519PublicKey(
            mlkem.MLKEM768PublicKey.from_public_bytes(raw[:_MLKEM768_PUBLIC_BYTES]),
            x25519.X25519PublicKey.from_public_bytes(raw[_MLKEM768_PUBLIC_BYTES:]),
        )
    except UnsupportedAlgorithm as exc:
        raise _mlkem_missing() from exc
    except ValueError as exc:
        raise KeyMaterialError(
            "the enclave session's HPKE public key is not a valid MLKEM768-X25519 key"
        ) from exc


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str, name: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        _malformed(f"{name!r} is not valid base64")
