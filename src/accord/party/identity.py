"""A party's secret identity: its signing key, TLS key and certificate, and data key.

A party directory holds three files:

* ``party.key`` (mode 0600) -- the private keys (see :mod:`accord.party.keystore`);
* ``card.json`` (mode 0644) -- the public :class:`~accord.party.card.PartyCard`;
* ``tls-cert.pem`` (mode 0644) -- the TLS certificate again, as a PEM file for TLS stacks.

:class:`PartyIdentity` holds the keys in handles from :mod:`accord.crypto.keys`; like them
it cannot be pickled or copied, and it prints only the party name and public fingerprints.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, NoReturn

from cryptography.hazmat.primitives import serialization

from accord._internal.files import write_atomically
from accord.crypto.keys import SECRET_KEY_ACCESS, DataKey, SigningKey, TlsPrivateKey
from accord.errors import AccordError, ConfigurationError, KeyMaterialError, UsageError
from accord.party.card import CARD_FILE_NAME, PartyCard, check_party_name
from accord.party.certificate import DEFAULT_VALID_DAYS, issue_party_certificate
from accord.party.keystore import (
    DEFAULT_ARGON2,
    Argon2Parameters,
    KeyFileHeader,
    decode_key_file,
    encode_key_file,
    read_key_file_header,
)

__all__ = ["CERTIFICATE_FILE_NAME", "KEY_FILE_NAME", "PartyIdentity", "utc_now"]

KEY_FILE_NAME: Final = "party.key"
CERTIFICATE_FILE_NAME: Final = "tls-cert.pem"
_IDENTITY_FILES: Final = (KEY_FILE_NAME, CARD_FILE_NAME, CERTIFICATE_FILE_NAME)


def utc_now() -> dt.datetime:
    """Return the current time in UTC (the default clock)."""
    return dt.datetime.now(dt.UTC)


def _no_identity(directory: Path, missing: str) -> KeyMaterialError:
    return KeyMaterialError(
        f"{directory} holds no party identity ({missing} not found)",
        hint="Give the directory made by `accord party init NAME --dir DIR`, or create one.",
    )


def _decode_secret(payload: dict[str, str], field: str, path: Path) -> bytes:
    try:
        return base64.b64decode(payload[field], validate=True)
    except (KeyError, binascii.Error, ValueError):
        raise KeyMaterialError(
            f"{path}: the private payload has no valid {field!r}",
            hint="Restore the party directory from its backup.",
        ) from None


class PartyIdentity:
    """A party's private keys together with its public card.

    Make one with :meth:`create` or :meth:`load`; the constructor is not public.
    """

    __slots__ = ("_card", "_data_key", "_directory", "_protected", "_signing_key", "_tls_key")

    def __init__(
        self,
        *,
        directory: Path,
        card: PartyCard,
        signing_key: SigningKey,
        tls_key: TlsPrivateKey,
        data_key: DataKey,
        protected: bool,
    ) -> None:
        self._directory = directory
        self._card = card
        self._signing_key = signing_key
        self._tls_key = tls_key
        self._data_key = data_key
        self._protected = protected

    @classmethod
    def create(
        cls,
        name: str,
        directory: Path,
        *,
        passphrase: str | None,
        now: Callable[[], dt.datetime] = utc_now,
        valid_days: int = DEFAULT_VALID_DAYS,
        argon2: Argon2Parameters = DEFAULT_ARGON2,
        overwrite: bool = False,
    ) -> PartyIdentity:
        """Create a new identity and write it to ``directory``.

        Parameters
        ----------
        name
            The party name (``^[a-z][a-z0-9_-]{0,62}$``).
        directory
            Where to write ``party.key``, ``card.json`` and ``tls-cert.pem``; created with
            mode 0700 if it does not exist.
        passphrase
            Protects ``party.key``; None writes it unprotected (still mode 0600).
        now
            The clock (timezone-aware); sets the card time and certificate validity.
        valid_days
            Lifetime of the TLS certificate in days.
        argon2
            The passphrase KDF cost.
        overwrite
            Replace an identity already in ``directory`` (its keys are lost).

        Returns
        -------
        PartyIdentity
            The new identity.

        Raises
        ------
        UsageError
            If the name is invalid, ``valid_days`` is not positive, the passphrase is empty,
            or the directory already holds an identity and ``overwrite`` is false.
        """
        directory = Path(directory)
        try:
            check_party_name(name)
        except ConfigurationError as exc:
            raise UsageError(exc.message, hint=exc.hint) from None
        if valid_days < 1:
            raise UsageError(f"the certificate lifetime must be at least 1 day, not {valid_days}")
        if passphrase is not None and not passphrase:
            raise UsageError("an empty passphrase protects nothing", hint="Choose a passphrase.")
        moment = now()
        if moment.utcoffset() is None:
            raise UsageError("the clock must return timezone-aware times")
        existing = [n for n in _IDENTITY_FILES if (directory / n).exists()]
        if existing and not overwrite:
            raise UsageError(
                f"{directory} already holds a party identity ({', '.join(existing)})",
                hint="Choose another directory, or pass --force to replace it "
                "(the old keys are lost unless you have a backup).",
            )
        signing_key = SigningKey.generate()
        tls_key = TlsPrivateKey.generate()
        data_key = DataKey.generate()
        certificate = issue_party_certificate(name, tls_key, now=moment, valid_days=valid_days)
        card = PartyCard.create(
            name=name,
            signing_key=signing_key,
            tls_certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
            data_key_id=data_key.key_id,
            created_at=moment,
        )
        identity = cls(
            directory=directory,
            card=card,
            signing_key=signing_key,
            tls_key=tls_key,
            data_key=data_key,
            protected=passphrase is not None,
        )
        key_file = identity._encode_key_file(passphrase, argon2)
        if not directory.exists():
            directory.mkdir(parents=True, mode=0o700)
            directory.chmod(0o700)
        written: list[Path] = []
        try:
            for file_name, data, mode in (
                (KEY_FILE_NAME, key_file, 0o600),
                (CARD_FILE_NAME, card.to_json(), 0o644),
                (CERTIFICATE_FILE_NAME, card.tls_certificate_pem.encode(), 0o644),
            ):
                write_atomically(directory / file_name, data, mode=mode, overwrite=overwrite)
                written.append(directory / file_name)
        except BaseException:
            if not overwrite:
                for path in written:
                    with contextlib.suppress(OSError):
                        path.unlink()
            raise
        return identity

    @staticmethod
    def needs_passphrase(directory: Path) -> bool:
        """Return whether the identity in ``directory`` is protected by a passphrase.

        Raises
        ------
        KeyMaterialError
            If the directory holds no readable key file.
        """
        path = Path(directory) / KEY_FILE_NAME
        if not path.is_file():
            raise _no_identity(Path(directory), KEY_FILE_NAME)
        return read_key_file_header(path).protected

    @staticmethod
    def read_key_file_header(directory: Path) -> KeyFileHeader:
        """Return the non-secret fields of ``party.key`` (for display; needs no passphrase)."""
        path = Path(directory) / KEY_FILE_NAME
        if not path.is_file():
            raise _no_identity(Path(directory), KEY_FILE_NAME)
        return read_key_file_header(path)

    @classmethod
    def load(cls, directory: Path, *, passphrase: str | None) -> PartyIdentity:
        """Load the identity in ``directory`` and check that its keys match its card.

        Parameters
        ----------
        directory
            The party directory.
        passphrase
            The passphrase of ``party.key``; ignored when the file is not protected.

        Returns
        -------
        PartyIdentity
            The loaded identity.

        Raises
        ------
        KeyMaterialError
            If files are missing, the passphrase is wrong, or the private keys do not belong
            to the card.
        ConfigurationError, VerificationError
            If the card is malformed or altered, or ``tls-cert.pem`` differs from the card.
        """
        directory = Path(directory)
        for file_name in _IDENTITY_FILES:
            if not (directory / file_name).is_file():
                raise _no_identity(directory, file_name)
        card = PartyCard.load(directory / CARD_FILE_NAME)
        key_path = directory / KEY_FILE_NAME
        try:
            key_bytes = key_path.read_bytes()
        except OSError as exc:
            raise KeyMaterialError(f"cannot read {key_path}: {exc.strerror}") from None
        header, payload = decode_key_file(key_bytes, path=key_path, passphrase=passphrase)
        if header.party != card.name or header.card_digest != card.digest:
            raise KeyMaterialError(
                f"{key_path} belongs to another card than {directory / CARD_FILE_NAME} "
                f"(party {header.party!r}, card digest {header.card_digest[:16]}...)",
                hint="Keep party.key and card.json of one identity together; restore both "
                "from the same backup.",
            )
        identity = cls._from_payload(directory, card, payload, protected=header.protected)
        certificate_path = directory / CERTIFICATE_FILE_NAME
        if certificate_path.read_bytes() != card.tls_certificate_pem.encode():
            raise ConfigurationError(
                f"{certificate_path} is not the certificate of {directory / CARD_FILE_NAME}",
                hint="Restore it from a backup, or write the card's 'tls_certificate' field to it.",
            )
        return identity

    @classmethod
    def _from_payload(
        cls, directory: Path, card: PartyCard, payload: dict[str, str], *, protected: bool
    ) -> PartyIdentity:
        key_path = directory / KEY_FILE_NAME
        try:
            signing_key = SigningKey.from_raw(
                _decode_secret(payload, "signing_key", key_path), SECRET_KEY_ACCESS
            )
            tls_key = TlsPrivateKey.from_pem(payload.get("tls_key", "").encode(), SECRET_KEY_ACCESS)
            data_key = DataKey(_decode_secret(payload, "data_key", key_path), SECRET_KEY_ACCESS)
        except AccordError as exc:
            raise KeyMaterialError(f"{key_path}: {exc.message}", hint=exc.hint) from None
        mismatches = []
        if signing_key.verify_key != card.verify_key:
            mismatches.append("signing key")
        if tls_key.public_key != card.tls_certificate.public_key():
            mismatches.append("TLS key")
        if data_key.key_id != card.data_key_id:
            mismatches.append(f"data key (id {data_key.key_id})")
        if mismatches:
            raise KeyMaterialError(
                f"{key_path} does not match {directory / CARD_FILE_NAME}: "
                f"{', '.join(mismatches)} differ",
                hint="The key file or the card was altered or replaced; restore the party "
                "directory from its backup.",
            )
        return cls(
            directory=directory,
            card=card,
            signing_key=signing_key,
            tls_key=tls_key,
            data_key=data_key,
            protected=protected,
        )

    def _encode_key_file(self, passphrase: str | None, argon2: Argon2Parameters) -> bytes:
        payload = {
            "signing_key": base64.b64encode(
                self._signing_key.export_raw(SECRET_KEY_ACCESS)
            ).decode(),
            "tls_key": self._tls_key.export_pem(SECRET_KEY_ACCESS).decode(),
            "data_key": base64.b64encode(self._data_key.export_bytes(SECRET_KEY_ACCESS)).decode(),
        }
        return encode_key_file(
            payload,
            party=self.name,
            card_digest=self._card.digest,
            passphrase=passphrase,
            argon2=argon2,
        )

    def save_key_file(
        self, *, passphrase: str | None, argon2: Argon2Parameters = DEFAULT_ARGON2
    ) -> None:
        """Rewrite ``party.key`` atomically with a new passphrase (or none).

        Parameters
        ----------
        passphrase
            The new passphrase; None stores the keys unprotected.
        argon2
            The passphrase KDF cost.
        """
        if passphrase is not None and not passphrase:
            raise UsageError("an empty passphrase protects nothing", hint="Choose a passphrase.")
        data = self._encode_key_file(passphrase, argon2)
        write_atomically(self._directory / KEY_FILE_NAME, data, mode=0o600, overwrite=True)
        self._protected = passphrase is not None

    @property
    def name(self) -> str:
        """The party name."""
        return self._card.name

    @property
    def directory(self) -> Path:
        """The party directory."""
        return self._directory

    @property
    def card(self) -> PartyCard:
        """The public party card."""
        return self._card

    @property
    def protected(self) -> bool:
        """Whether ``party.key`` is protected by a passphrase."""
        return self._protected

    @property
    def signing_key(self) -> SigningKey:
        """The Ed25519 signing key."""
        return self._signing_key

    @property
    def tls_key(self) -> TlsPrivateKey:
        """The P-256 TLS private key."""
        return self._tls_key

    @property
    def tls_certificate_pem(self) -> bytes:
        """The TLS certificate as PEM bytes (what TLS stacks such as gRPC take)."""
        return self._card.tls_certificate_pem.encode()

    @property
    def data_key(self) -> DataKey:
        """The data key that seals this party's files."""
        return self._data_key

    def __repr__(self) -> str:
        return (
            f"PartyIdentity(name={self.name!r}, "
            f"signing_key_fingerprint={self._card.signing_key_fingerprint!r}, "
            f"tls_certificate_fingerprint={self._card.tls_certificate_fingerprint!r}, "
            f"data_key_id={self._card.data_key_id!r})"
        )

    __str__ = __repr__

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("PartyIdentity holds secret key material and cannot be pickled")

    def __copy__(self) -> NoReturn:
        raise TypeError("PartyIdentity cannot be copied")

    def __deepcopy__(self, memo: Any) -> NoReturn:
        raise TypeError("PartyIdentity cannot be copied")
