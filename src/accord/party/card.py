"""The party card: a party's public identity, self-signed, safe to publish.

A card is the JSON object below (``card.json``). Every field is checked when a card is
loaded; a :class:`PartyCard` object therefore always holds a consistent, self-signed card.

.. code-block:: text

    format                        "accord-party-card/v1"
    name                          party name, ^[a-z][a-z0-9_-]{0,62}$
    signing_key                   {"algorithm": "ed25519", "public_key": base64 of 32 raw bytes}
    signing_key_fingerprint       SHA-256 hex of the raw public key
    tls_certificate               PEM of the self-signed P-256 TLS certificate (CN = name)
    tls_certificate_fingerprint   SHA-256 hex of the certificate's DER encoding
    data_key_id                   32 hex characters: the id of the party's data key
    created_at                    RFC 3339 UTC, "YYYY-MM-DDTHH:MM:SSZ"
    self_signature                base64 Ed25519 signature, context "party-card", over the
                                  canonical JSON (RFC 8785) of all the other fields

The self-signature proves that whoever made the card holds the signing key; it does not
prove who that is. Parties confirm each other's fingerprints out of band (see
docs/identities.md) before listing them in an agreement.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import re
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from accord._internal.canonical import canonical_json, canonical_sha256
from accord.crypto.keys import SigningKey, VerifyKey
from accord.errors import AccordError, ConfigurationError, VerificationError
from accord.party.certificate import certificate_fingerprint, check_party_certificate

__all__ = [
    "CARD_FILE_NAME",
    "CARD_FORMAT",
    "CARD_SIGNATURE_CONTEXT",
    "MAX_CARD_BYTES",
    "PARTY_NAME_PATTERN",
    "PartyCard",
    "check_party_name",
]

CARD_FORMAT: Final = "accord-party-card/v1"
CARD_FILE_NAME: Final = "card.json"
CARD_SIGNATURE_CONTEXT: Final = "party-card"
MAX_CARD_BYTES: Final = 64 * 1024
"""The largest card read, in bytes (a real card is about 1.5 KiB, mostly its certificate)."""
PARTY_NAME_PATTERN: Final = re.compile(r"[a-z][a-z0-9_-]{0,62}")
"""Party names: a lower-case letter, then up to 62 lower-case letters, digits, ``_`` or ``-``."""

_TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"
_TIME_PATTERN: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_HEX_64: Final = re.compile(r"[0-9a-f]{64}")
_KEY_ID: Final = re.compile(r"[0-9a-f]{32}")
_FIELDS: Final = frozenset(
    {
        "format",
        "name",
        "signing_key",
        "signing_key_fingerprint",
        "tls_certificate",
        "tls_certificate_fingerprint",
        "data_key_id",
        "created_at",
        "self_signature",
    }
)


def check_party_name(name: str, *, where: str = "party name") -> None:
    """Check ``name`` against the party name rule.

    Raises
    ------
    ConfigurationError
        If the name does not match :data:`PARTY_NAME_PATTERN`.
    """
    if not isinstance(name, str) or PARTY_NAME_PATTERN.fullmatch(name) is None:
        raise ConfigurationError(
            f"{where}: {name!r} is not a valid party name",
            hint="Use 1-63 characters: a lower-case letter, then lower-case letters, "
            "digits, '_' or '-'.",
        )


def _too_large(source: str) -> ConfigurationError:
    return ConfigurationError(
        f"{source} is larger than the limit of {MAX_CARD_BYTES} bytes for a party card",
        hint="A party card is about 1.5 KiB; check that this is the card.json of a party.",
    )


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"key {key[:40]!r} is given twice")
        result[key] = value
    return result


def _format_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime(_TIME_FORMAT)


def _decode_base64(text: object, where: str) -> bytes:
    if not isinstance(text, str):
        raise ConfigurationError(f"{where} must be a base64 string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(f"{where} is not valid base64") from None
    if base64.b64encode(raw).decode() != text:
        raise ConfigurationError(f"{where} is not in canonical base64 form")
    return raw


def _check_fingerprints(document: dict[str, Any], verify_key: VerifyKey, source: str) -> None:
    """Compare the card's stated fingerprints with those of the keys it carries."""
    actual = {"signing_key_fingerprint": verify_key.fingerprint}
    with contextlib.suppress(ValueError, AttributeError):  # reported in detail later
        certificate = x509.load_pem_x509_certificate(document["tls_certificate"].encode())
        actual["tls_certificate_fingerprint"] = certificate_fingerprint(certificate)
    for field, described in (
        ("signing_key_fingerprint", "signing_key"),
        ("tls_certificate_fingerprint", "tls_certificate"),
    ):
        stated = document[field]
        if not isinstance(stated, str) or not _HEX_64.fullmatch(stated):
            raise ConfigurationError(f"{source}: field {field!r} must be 64 lower-case hex")
        if field in actual and stated != actual[field]:
            raise VerificationError(
                f"{source}: field {field!r} is {stated[:16]}..., but field {described!r} has "
                f"fingerprint {actual[field][:16]}...; the card was altered",
                hint="Fetch the card again from its owner and compare its fingerprints "
                "out of band.",
            )


@dataclasses.dataclass(frozen=True, kw_only=True)
class PartyCard:
    """A party's public identity; constructing one checks every field and the self-signature.

    Use :meth:`from_json` or :meth:`load` to read a card and :meth:`create` to make one.

    Parameters
    ----------
    name
        The party name.
    verify_key
        The party's Ed25519 public signing key.
    tls_certificate_pem
        The PEM text of the party's self-signed TLS certificate.
    data_key_id
        The id of the party's data key (32 hex characters).
    created_at
        When the card was made (UTC, whole seconds).
    self_signature
        Ed25519 signature (context ``"party-card"``) over the other fields.
    source
        Where the card came from, for error messages; not part of the card.

    Raises
    ------
    ConfigurationError
        If a field is malformed.
    VerificationError
        If the certificate does not belong to this party or the self-signature fails.
    """

    name: str
    verify_key: VerifyKey
    tls_certificate_pem: str
    data_key_id: str
    created_at: dt.datetime
    self_signature: bytes
    source: str = dataclasses.field(default="party card", compare=False, repr=False)
    _certificate: x509.Certificate = dataclasses.field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        where = self.source
        check_party_name(self.name, where=f"{where}: field 'name'")
        if not isinstance(self.verify_key, VerifyKey):
            raise ConfigurationError(f"{where}: field 'signing_key' must be an Ed25519 key")
        if not isinstance(self.data_key_id, str) or not _KEY_ID.fullmatch(self.data_key_id):
            raise ConfigurationError(f"{where}: field 'data_key_id' must be 32 lower-case hex")
        offset = self.created_at.utcoffset() if isinstance(self.created_at, dt.datetime) else None
        if offset != dt.timedelta(0) or self.created_at.microsecond:
            raise ConfigurationError(
                f"{where}: field 'created_at' must be a UTC time in whole seconds"
            )
        certificate = self._parse_certificate(where)
        object.__setattr__(self, "_certificate", certificate)
        try:
            self.verify_key.verify(
                self.self_signature,
                canonical_json(self._unsigned_fields()),
                context=CARD_SIGNATURE_CONTEXT,
            )
        except VerificationError:
            raise VerificationError(
                f"{where}: field 'self_signature' does not verify with the card's signing key "
                f"{self.verify_key.fingerprint[:16]}; the card was altered",
                hint="Fetch the card again from its owner and compare its fingerprints "
                "out of band.",
            ) from None

    def _parse_certificate(self, where: str) -> x509.Certificate:
        field = f"{where}: field 'tls_certificate'"
        if not isinstance(self.tls_certificate_pem, str):
            raise ConfigurationError(f"{field} must be PEM text")
        try:
            certificates = x509.load_pem_x509_certificates(self.tls_certificate_pem.encode())
        except ValueError:
            raise ConfigurationError(f"{field} is not a readable PEM certificate") from None
        if len(certificates) != 1:
            raise ConfigurationError(f"{field} must hold exactly one certificate")
        certificate = certificates[0]
        pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
        if pem != self.tls_certificate_pem:
            raise ConfigurationError(f"{field} has text around or inside the PEM block")
        check_party_certificate(certificate, self.name, where=field)
        return certificate

    @classmethod
    def create(
        cls,
        *,
        name: str,
        signing_key: SigningKey,
        tls_certificate_pem: str,
        data_key_id: str,
        created_at: dt.datetime,
    ) -> PartyCard:
        """Make and self-sign a card.

        Parameters
        ----------
        name
            The party name.
        signing_key
            The party's signing key; it signs the card.
        tls_certificate_pem
            The party's TLS certificate (PEM).
        data_key_id
            The id of the party's data key.
        created_at
            The creation time; sub-second precision is dropped.

        Returns
        -------
        PartyCard
            The signed card.
        """
        created = created_at.astimezone(dt.UTC).replace(microsecond=0)
        unsigned = cls._fields_without_signature(
            name, signing_key.verify_key, tls_certificate_pem, data_key_id, created
        )
        signature = signing_key.sign(canonical_json(unsigned), context=CARD_SIGNATURE_CONTEXT)
        return cls(
            name=name,
            verify_key=signing_key.verify_key,
            tls_certificate_pem=tls_certificate_pem,
            data_key_id=data_key_id,
            created_at=created,
            self_signature=signature,
        )

    @staticmethod
    def _fields_without_signature(
        name: str,
        verify_key: VerifyKey,
        tls_certificate_pem: str,
        data_key_id: str,
        created_at: dt.datetime,
    ) -> dict[str, Any]:
        certificate = x509.load_pem_x509_certificate(tls_certificate_pem.encode())
        return {
            "format": CARD_FORMAT,
            "name": name,
            "signing_key": {"algorithm": "ed25519", "public_key": verify_key.to_base64()},
            "signing_key_fingerprint": verify_key.fingerprint,
            "tls_certificate": tls_certificate_pem,
            "tls_certificate_fingerprint": certificate_fingerprint(certificate),
            "data_key_id": data_key_id,
            "created_at": _format_time(created_at),
        }

    def _unsigned_fields(self) -> dict[str, Any]:
        return self._fields_without_signature(
            self.name, self.verify_key, self.tls_certificate_pem, self.data_key_id, self.created_at
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the card as the JSON object described in the module docstring."""
        fields = self._unsigned_fields()
        fields["self_signature"] = base64.b64encode(self.self_signature).decode()
        return fields

    def to_json(self) -> bytes:
        """Return the card as indented JSON with sorted keys and a final newline."""
        return (json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes | str, *, source: str) -> PartyCard:
        """Parse and check a card.

        Parameters
        ----------
        data
            The JSON text of the card, at most :data:`MAX_CARD_BYTES` bytes.
        source
            Where it came from (a file name), used in error messages.

        Returns
        -------
        PartyCard
            The checked card.

        Raises
        ------
        ConfigurationError
            If the input is too large, the JSON (nested too deeply, a key given twice) or a
            field is malformed, or a field is missing or unknown.
        VerificationError
            If a fingerprint does not match, the certificate is not the party's, or the
            self-signature does not verify.
        """
        if not isinstance(data, bytes | str):
            raise ConfigurationError(
                f"{source}: a party card must be JSON bytes or text, not {type(data).__name__}"
            )
        if len(data) > MAX_CARD_BYTES or (
            isinstance(data, str) and len(data.encode("utf-8", "surrogatepass")) > MAX_CARD_BYTES
        ):
            raise _too_large(source)
        try:
            document = json.loads(data, object_pairs_hook=_no_duplicate_keys)
        except RecursionError:
            raise ConfigurationError(
                f"{source} is not a party card: its JSON is nested too deeply"
            ) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"{source} is not valid JSON: {exc}") from None
        if not isinstance(document, dict):
            raise ConfigurationError(f"{source}: a party card must be a JSON object")
        missing = sorted(_FIELDS - document.keys())
        unknown = sorted(document.keys() - _FIELDS)
        if missing or unknown:
            problem = (
                f"missing field '{missing[0]}'" if missing else f"unknown field '{unknown[0]}'"
            )
            raise ConfigurationError(f"{source}: {problem}")
        if document["format"] != CARD_FORMAT:
            raise ConfigurationError(
                f"{source}: field 'format' is {document['format']!r}, not {CARD_FORMAT!r}",
                hint="The card was made by a newer or different tool; upgrade Accord.",
            )
        signing_key = document["signing_key"]
        if not isinstance(signing_key, dict) or signing_key.get("algorithm") != "ed25519":
            raise ConfigurationError(f"{source}: field 'signing_key' must be an ed25519 key")
        if set(signing_key) != {"algorithm", "public_key"}:
            raise ConfigurationError(f"{source}: field 'signing_key' has unexpected members")
        raw_key = _decode_base64(signing_key["public_key"], f"{source}: field 'signing_key'")
        try:
            verify_key = VerifyKey(raw_key)
        except AccordError as exc:
            raise ConfigurationError(f"{source}: field 'signing_key': {exc.message}") from None
        created_at = document["created_at"]
        if not isinstance(created_at, str) or not _TIME_PATTERN.fullmatch(created_at):
            raise ConfigurationError(
                f"{source}: field 'created_at' must look like 2025-01-31T12:00:00Z"
            )
        try:
            created = dt.datetime.strptime(created_at, _TIME_FORMAT).replace(tzinfo=dt.UTC)
        except ValueError:
            raise ConfigurationError(f"{source}: field 'created_at' is not a real time") from None
        _check_fingerprints(document, verify_key, source)
        return cls(
            name=document["name"],
            verify_key=verify_key,
            tls_certificate_pem=document["tls_certificate"],
            data_key_id=document["data_key_id"],
            created_at=created,
            self_signature=_decode_base64(
                document["self_signature"], f"{source}: field 'self_signature'"
            ),
            source=source,
        )

    @classmethod
    def load(cls, path: Path) -> PartyCard:
        """Read and check a card file, or the ``card.json`` of a party directory.

        Raises
        ------
        ConfigurationError
            If the file cannot be read, is larger than :data:`MAX_CARD_BYTES` or the card is
            malformed.
        VerificationError
            If the card is not consistent (see :meth:`from_json`).
        """
        path = Path(path)
        if path.is_dir():
            path = path / CARD_FILE_NAME
        try:
            with path.open("rb") as file:
                data = file.read(MAX_CARD_BYTES + 1)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read party card {path}: {exc.strerror}",
                hint="Give the card file or the party directory made by `accord party init`.",
            ) from None
        return cls.from_json(data, source=str(path))

    @property
    def signing_key_fingerprint(self) -> str:
        """SHA-256 hex of the raw Ed25519 public key."""
        return self.verify_key.fingerprint

    @property
    def tls_certificate(self) -> x509.Certificate:
        """The parsed TLS certificate."""
        return self._certificate

    @property
    def tls_certificate_der(self) -> bytes:
        """The DER encoding of the TLS certificate."""
        return self._certificate.public_bytes(serialization.Encoding.DER)

    @property
    def tls_certificate_fingerprint(self) -> str:
        """SHA-256 hex of the TLS certificate's DER encoding."""
        return hashlib.sha256(self.tls_certificate_der).hexdigest()

    @property
    def digest(self) -> str:
        """SHA-256 hex of the canonical JSON (RFC 8785) of the whole card."""
        return canonical_sha256(self.to_dict())
