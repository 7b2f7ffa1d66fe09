"""The private key file ``party.key`` and its optional passphrase protection.

The file is JSON (indented, keys sorted). Its non-secret fields are::

    format        "accord-party-key/v1"
    party         the party name
    card_digest   SHA-256 hex of the canonical party card the keys belong to
    kdf           {"algorithm": "none"}, or
                  {"algorithm": "argon2id", "version": 19, "iterations": t, "lanes": p,
                   "memory_cost_kib": m, "salt": base64 of 16 random bytes}

An unprotected file adds ``"payload"``: the private payload object in the clear (the file
is still written with mode 0600). A protected file adds instead::

    encryption    {"algorithm": "aes-256-gcm", "nonce": base64 of 12 random bytes,
                   "ciphertext": base64 of AES-256-GCM(key, nonce, payload, aad)}

where ``key`` is Argon2id(passphrase as NFC UTF-8, salt, t, p, m) with a 32-byte output,
``payload`` is the canonical JSON (RFC 8785) of the private payload object and ``aad`` is
the canonical JSON of ``{"format", "party", "card_digest", "kdf"}`` as stored. Changing any
of those fields, the nonce or the ciphertext makes decryption fail. The private payload is
an object of strings; this module does not interpret it.

The file should be readable by its owner only (mode 0600, as it is written). Loading one
that is readable or writable by others logs a warning that names it and says to run
``chmod 600``; it is not refused (the keys still work, and refusing would lock the party
out of its own data until the mode is fixed).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import logging
import os
import stat
import unicodedata
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from accord._internal.canonical import canonical_json
from accord.errors import KeyMaterialError, UsageError

__all__ = [
    "DEFAULT_ARGON2",
    "KEY_FILE_FORMAT",
    "Argon2Parameters",
    "KeyFileHeader",
    "decode_key_file",
    "encode_key_file",
    "read_key_file_header",
    "warn_if_others_can_access",
]

KEY_FILE_FORMAT: Final = "accord-party-key/v1"
ARGON2_VERSION: Final = 19
SALT_BYTES: Final = 16
NONCE_BYTES: Final = 12
_MAX_MEMORY_COST_KIB: Final = 4 * 1024 * 1024
_MAX_ITERATIONS: Final = 64
_MAX_LANES: Final = 64
_DAMAGED_HINT: Final = "Restore the party directory from its backup."

_log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Argon2Parameters:
    """Argon2id cost parameters for deriving a key-file key from a passphrase.

    Parameters
    ----------
    iterations
        Number of passes over memory (t), 1 to 64.
    lanes
        Degree of parallelism (p), 1 to 64.
    memory_cost_kib
        Memory in KiB (m), at least ``8 * lanes`` and at most 4 GiB.

    Raises
    ------
    KeyMaterialError
        If a parameter is outside the accepted range (a key file that asks for absurd costs
        is refused rather than allowed to exhaust the machine).
    """

    iterations: int
    lanes: int
    memory_cost_kib: int

    def __post_init__(self) -> None:
        values = (self.iterations, self.lanes, self.memory_cost_kib)
        if (
            any(type(value) is not int for value in values)
            or not 1 <= self.iterations <= _MAX_ITERATIONS
            or not 1 <= self.lanes <= _MAX_LANES
            or not 8 * self.lanes <= self.memory_cost_kib <= _MAX_MEMORY_COST_KIB
        ):
            raise KeyMaterialError(
                f"Argon2id parameters t={self.iterations}, p={self.lanes}, "
                f"m={self.memory_cost_kib} KiB are outside the accepted range",
                hint=_DAMAGED_HINT,
            )

    @classmethod
    def rfc9106_low_memory(cls) -> Argon2Parameters:
        """Return RFC 9106's second recommended option: t=3, p=4, m=64 MiB."""
        return cls(iterations=3, lanes=4, memory_cost_kib=64 * 1024)

    def describe(self) -> str:
        """Return a short human-readable description, e.g. ``argon2id t=3 p=4 m=64 MiB``."""
        return (
            f"argon2id t={self.iterations} p={self.lanes} m={self.memory_cost_kib // 1024} MiB"
            if self.memory_cost_kib >= 1024
            else f"argon2id t={self.iterations} p={self.lanes} m={self.memory_cost_kib} KiB"
        )


DEFAULT_ARGON2: Final = Argon2Parameters.rfc9106_low_memory()
"""The production cost: RFC 9106 second recommended option (about 0.3 s on one core)."""


@dataclasses.dataclass(frozen=True)
class KeyFileHeader:
    """The non-secret fields of a key file.

    Parameters
    ----------
    path
        The file they were read from (or will be written to).
    party
        The party name.
    card_digest
        The digest of the card the keys belong to.
    argon2
        The KDF parameters, or None when the file is not protected by a passphrase.
    """

    path: Path
    party: str
    card_digest: str
    argon2: Argon2Parameters | None

    @property
    def protected(self) -> bool:
        """Whether a passphrase is needed to open the file."""
        return self.argon2 is not None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: object, path: Path, field: str) -> bytes:
    if not isinstance(text, str):
        raise KeyMaterialError(
            f"{path}: field {field!r} must be a base64 string", hint=_DAMAGED_HINT
        )
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise KeyMaterialError(f"{path}: field {field!r} is not valid base64") from None


def _derive_key(passphrase: str, salt: bytes, params: Argon2Parameters) -> bytes:
    if not passphrase:
        raise UsageError("an empty passphrase protects nothing", hint="Choose a passphrase.")
    kdf = Argon2id(
        salt=salt,
        length=32,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_cost_kib,
    )
    return kdf.derive(unicodedata.normalize("NFC", passphrase).encode())


def _kdf_field(argon2: Argon2Parameters | None, salt: bytes) -> dict[str, Any]:
    if argon2 is None:
        return {"algorithm": "none"}
    return {
        "algorithm": "argon2id",
        "version": ARGON2_VERSION,
        "iterations": argon2.iterations,
        "lanes": argon2.lanes,
        "memory_cost_kib": argon2.memory_cost_kib,
        "salt": _b64(salt),
    }


def encode_key_file(
    payload: dict[str, str],
    *,
    party: str,
    card_digest: str,
    passphrase: str | None,
    argon2: Argon2Parameters = DEFAULT_ARGON2,
) -> bytes:
    """Return the bytes of a key file holding ``payload``.

    Parameters
    ----------
    payload
        The private payload: an object of strings.
    party
        The party name.
    card_digest
        The digest of the card the keys belong to.
    passphrase
        The passphrase that protects the file, or None to store the payload in the clear.
    argon2
        The KDF cost (used only with a passphrase).

    Returns
    -------
    bytes
        Indented JSON with a final newline.
    """
    salt = os.urandom(SALT_BYTES)
    header: dict[str, Any] = {
        "format": KEY_FILE_FORMAT,
        "party": party,
        "card_digest": card_digest,
        "kdf": _kdf_field(argon2 if passphrase is not None else None, salt),
    }
    document = dict(header)
    if passphrase is None:
        document["payload"] = payload
    else:
        key = _derive_key(passphrase, salt, argon2)
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(key).encrypt(nonce, canonical_json(payload), canonical_json(header))
        document["encryption"] = {
            "algorithm": "aes-256-gcm",
            "nonce": _b64(nonce),
            "ciphertext": _b64(ciphertext),
        }
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def _load_json(data: bytes, path: Path, *, what: str) -> Any:
    """Parse JSON, turning every failure (including absurd nesting) into KeyMaterialError."""
    try:
        return json.loads(data)
    except RecursionError:
        raise KeyMaterialError(
            f"{path} {what} (its JSON is nested too deeply)", hint=_DAMAGED_HINT
        ) from None
    except (ValueError, UnicodeDecodeError):
        raise KeyMaterialError(f"{path} {what} (not JSON)", hint=_DAMAGED_HINT) from None


def warn_if_others_can_access(path: Path) -> None:
    """Log a warning when the key file at ``path`` is accessible to other users.

    Nothing happens on systems without POSIX permission bits or when ``path`` cannot be
    inspected (the caller reports unreadable files itself).
    """
    if os.name != "posix":
        return
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return
    if mode & 0o077:
        _log.warning(
            "%s has mode %04o: other users can access the party's private keys; "
            "run `chmod 600 %s` to make it private again",
            path,
            mode,
            path,
        )


def _parse(data: bytes, path: Path) -> tuple[dict[str, Any], KeyFileHeader, bytes]:
    document = _load_json(data, path, what="is not a party key file")
    if not isinstance(document, dict) or document.get("format") != KEY_FILE_FORMAT:
        raise KeyMaterialError(
            f"{path} is not a party key file of format {KEY_FILE_FORMAT!r}",
            hint="Give the directory made by `accord party init`, or upgrade Accord.",
        )
    party, card_digest, kdf = (document.get(k) for k in ("party", "card_digest", "kdf"))
    if not isinstance(party, str) or not isinstance(card_digest, str):
        raise KeyMaterialError(f"{path}: fields 'party' and 'card_digest' must be text")
    if not isinstance(kdf, dict):
        raise KeyMaterialError(f"{path}: field 'kdf' must be an object", hint=_DAMAGED_HINT)
    argon2: Argon2Parameters | None = None
    salt = b""
    if kdf.get("algorithm") == "argon2id":
        version = kdf.get("version")
        if type(version) is not int or version != ARGON2_VERSION:
            raise KeyMaterialError(f"{path}: unsupported Argon2 version {version!r}")
        argon2 = Argon2Parameters(
            iterations=kdf.get("iterations"),  # type: ignore[arg-type]
            lanes=kdf.get("lanes"),  # type: ignore[arg-type]
            memory_cost_kib=kdf.get("memory_cost_kib"),  # type: ignore[arg-type]
        )
        salt = _unb64(kdf.get("salt"), path, "kdf.salt")
        if len(salt) < SALT_BYTES:
            raise KeyMaterialError(f"{path}: the Argon2 salt is shorter than 16 bytes")
    elif kdf.get("algorithm") != "none":
        raise KeyMaterialError(f"{path}: unknown key derivation {kdf.get('algorithm')!r}")
    header = KeyFileHeader(path=path, party=party, card_digest=card_digest, argon2=argon2)
    return document, header, salt


def read_key_file_header(path: Path) -> KeyFileHeader:
    """Read the non-secret fields of a key file (no passphrase needed).

    Raises
    ------
    KeyMaterialError
        If the file cannot be read or is not a key file.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyMaterialError(f"cannot read {path}: {exc.strerror}") from None
    return _parse(data, path)[1]


def decode_key_file(
    data: bytes, *, path: Path, passphrase: str | None
) -> tuple[KeyFileHeader, dict[str, str]]:
    """Parse a key file and return its header and private payload.

    Parameters
    ----------
    data
        The file's bytes.
    path
        The file's name, for error messages.
    passphrase
        The passphrase; needed only if the file is protected (ignored otherwise).

    Returns
    -------
    tuple[KeyFileHeader, dict[str, str]]
        The non-secret fields and the private payload.

    Raises
    ------
    KeyMaterialError
        If the file is malformed, protected and no passphrase was given, or the passphrase
        is wrong (or the file was altered: the two cannot be told apart).

    Notes
    -----
    When a file exists at ``path`` and other users can access it, a warning is logged
    (see :func:`warn_if_others_can_access`).
    """
    document, header, salt = _parse(data, path)
    warn_if_others_can_access(path)
    if header.argon2 is None:
        payload = document.get("payload")
    else:
        if not passphrase:
            raise KeyMaterialError(
                f"{path} is protected by a passphrase and none was given",
                hint="Provide the passphrase the identity was created with.",
            )
        encryption = document.get("encryption")
        if not isinstance(encryption, dict) or encryption.get("algorithm") != "aes-256-gcm":
            raise KeyMaterialError(f"{path}: field 'encryption' must be aes-256-gcm")
        nonce = _unb64(encryption.get("nonce"), path, "encryption.nonce")
        ciphertext = _unb64(encryption.get("ciphertext"), path, "encryption.ciphertext")
        aad = canonical_json({k: document[k] for k in ("format", "party", "card_digest", "kdf")})
        key = _derive_key(passphrase, salt, header.argon2)
        try:
            if len(nonce) != NONCE_BYTES:
                raise InvalidTag
            plaintext = AESGCM(key).decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise KeyMaterialError(
                f"wrong passphrase for {path}, or the file was altered",
                hint="Check the passphrase; if it is right, restore party.key from a backup.",
            ) from None
        payload = _load_json(plaintext, path, what="holds a malformed private payload")
    if not isinstance(payload, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in payload.items()
    ):
        raise KeyMaterialError(f"{path}: the private payload is malformed", hint=_DAMAGED_HINT)
    return header, payload
