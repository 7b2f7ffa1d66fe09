"""An enclave session: fresh keys that exist only inside the attested enclave process.

When an enclave starts for an agreement it creates one :class:`EnclaveSession`. The session
makes three key pairs that never leave the process:

* an HPKE key (MLKEM768-X25519) to which parties wrap their data keys,
* an Ed25519 signing key for the enclave's outputs (audit log, results),
* a P-256 TLS key with a self-signed X.509 certificate for RA-TLS between nodes and parties.

Their public halves, with the agreement digest and the session id, form
:class:`~accord.attest.binding.SessionPublicKeys`, whose ``report_data`` goes into the
attestation evidence. A peer that verified the evidence trusts exactly these keys; a TLS peer
checks that the certificate's public key equals the attested ``tls_public_key``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NoReturn

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from accord.attest.binding import SessionPublicKeys
from accord.crypto.certificates import self_signed_tls_certificate
from accord.crypto.keyrelease import HpkePrivateKey, open_key_release
from accord.crypto.keys import DataKey, SecretKeyAccess, SigningKey, TlsPrivateKey, VerifyKey
from accord.enclave.keystore import SessionKeyStore
from accord.errors import KeyMaterialError, UsageError

__all__ = ["DEFAULT_SESSION_LIFETIME", "EnclaveSession", "tls_server_name"]

DEFAULT_SESSION_LIFETIME: Final = timedelta(hours=24)
MAX_SESSION_LIFETIME: Final = timedelta(days=30)
CLOCK_SKEW_ALLOWANCE: Final = timedelta(minutes=5)
SESSION_ID_BYTES: Final = 16
_CREATE_TOKEN: Final = object()


def _utc_now() -> datetime:
    return datetime.now(UTC)


class EnclaveSession:
    """The keys and released data keys of one enclave session; lives only inside the enclave.

    Create one with :meth:`create`. It refuses pickling and copying (its keys must never
    cross a process boundary), and its repr shows only the session id.
    """

    __slots__ = (
        "_agreement_digest",
        "_certificate",
        "_hpke_key",
        "_keys",
        "_public_keys",
        "_session_id",
        "_signing_key",
        "_tls_key",
    )

    def __init__(
        self,
        token: object,
        *,
        agreement_digest: str,
        session_id: str,
        hpke_key: HpkePrivateKey,
        signing_key: SigningKey,
        tls_key: TlsPrivateKey,
        certificate: x509.Certificate,
    ) -> None:
        if token is not _CREATE_TOKEN:
            raise UsageError("create an enclave session with EnclaveSession.create(...)")
        self._agreement_digest = agreement_digest
        self._session_id = session_id
        self._hpke_key = hpke_key
        self._signing_key = signing_key
        self._tls_key = tls_key
        self._certificate = certificate
        self._public_keys = SessionPublicKeys(
            agreement_digest=agreement_digest,
            session_id=session_id,
            hpke_public_key=hpke_key.public_bytes,
            signing_public_key=signing_key.verify_key.raw,
            tls_public_key=tls_key.public_key.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
        )
        self._keys = SessionKeyStore()

    @classmethod
    def create(
        cls,
        agreement_digest: str,
        *,
        now: Callable[[], datetime] = _utc_now,
        lifetime: timedelta = DEFAULT_SESSION_LIFETIME,
    ) -> EnclaveSession:
        """Start a session for an agreement with fresh random keys.

        Parameters
        ----------
        agreement_digest
            SHA-256 of the agreement's canonical form, 64 lowercase hex characters.
        now
            The clock (timezone-aware) that dates the TLS certificate.
        lifetime
            How long the TLS certificate is valid from ``now()``: at most 30 days.

        Returns
        -------
        EnclaveSession
            A session holding no data keys yet.

        Raises
        ------
        UsageError
            If the digest is malformed, the clock is naive or the lifetime is out of range.
        """
        if not timedelta(0) < lifetime <= MAX_SESSION_LIFETIME:
            raise UsageError(
                f"an enclave session lifetime must be positive and at most "
                f"{MAX_SESSION_LIFETIME.days} days, got {lifetime}"
            )
        issued_at = now()
        if issued_at.tzinfo is None or issued_at.utcoffset() is None:
            raise UsageError("the enclave session clock must return timezone-aware datetimes")
        session_id = os.urandom(SESSION_ID_BYTES).hex()
        tls_key = TlsPrivateKey.generate()
        return cls(
            _CREATE_TOKEN,
            agreement_digest=agreement_digest,
            session_id=session_id,
            hpke_key=HpkePrivateKey.generate(),
            signing_key=SigningKey.generate(),
            tls_key=tls_key,
            certificate=_self_signed_certificate(
                tls_key,
                server_name=tls_server_name(session_id),
                issued_at=issued_at,
                lifetime=lifetime,
            ),
        )

    @property
    def session_id(self) -> str:
        """The session id: 16 random bytes as 32 lowercase hex characters."""
        return self._session_id

    @property
    def agreement_digest(self) -> str:
        """The digest of the agreement this session enforces."""
        return self._agreement_digest

    @property
    def public_keys(self) -> SessionPublicKeys:
        """The public keys that the session's attestation evidence binds."""
        return self._public_keys

    @property
    def signing_key(self) -> SigningKey:
        """The session's Ed25519 key for signing its outputs (public half in the evidence)."""
        return self._signing_key

    @property
    def tls_certificate_pem(self) -> bytes:
        """The self-signed RA-TLS certificate (PEM) for the session's TLS key."""
        return self._certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def tls_server_name(self) -> str:
        """The DNS name in the certificate (``accord-enclave-<session id>``)."""
        return tls_server_name(self._session_id)

    @property
    def expires_at(self) -> datetime:
        """When the session's TLS certificate stops being valid."""
        return self._certificate.not_valid_after_utc

    def tls_private_key_pem(self, access: SecretKeyAccess) -> bytes:
        """Return the TLS private key as PKCS#8 PEM for the in-enclave TLS stack.

        Parameters
        ----------
        access
            :data:`accord.crypto.keys.SECRET_KEY_ACCESS`.

        Returns
        -------
        bytes
            The unencrypted PEM; hand it only to a TLS library inside the enclave.
        """
        return self._tls_key.export_pem(access)

    def accept_key_release(self, message: bytes, *, parties: Mapping[str, VerifyKey]) -> str:
        """Check a party's key release message and keep its data key in memory.

        Parameters
        ----------
        message
            The bytes from :func:`accord.crypto.keyrelease.seal_key_release`.
        parties
            The agreement's parties: name to signing public key.

        Returns
        -------
        str
            The released key's id. Releasing the same key again returns the same id.

        Raises
        ------
        VerificationError
            If the message is malformed, for another agreement or session, not from a party,
            not signed by the party it names, or names a key that another party released.
        IntegrityError
            If the wrapped key cannot be decrypted with this session's HPKE key.
        KeyMaterialError
            If the key does not have the key id that the party signed.
        """
        released = open_key_release(
            message,
            agreement_digest=self._agreement_digest,
            session_id=self._session_id,
            parties=parties,
            recipient=self._hpke_key,
        )
        return self._keys.add(released.party, released.data_key)

    def data_key(self, key_id: str, *, owner: str | None = None) -> DataKey:
        """Return a released data key; see :meth:`SessionKeyStore.data_key`.

        Raises
        ------
        KeyMaterialError
            If the key was not released to this session (the message names the key id and
            the party that must provision it), or was released by another party than ``owner``.
        """
        return self._keys.data_key(key_id, owner=owner)

    def party_data_key(self, party: str) -> DataKey:
        """Return the data key ``party`` provisioned to this session (its latest, if several).

        The enclave seals outputs for ``party`` with this key.

        Raises
        ------
        KeyMaterialError
            If ``party`` has not provisioned a key to this session.
        """
        data_key = self._keys.latest_for(party)
        if data_key is None:
            raise KeyMaterialError(
                f"recipient {party} has not provisioned a data key to session "
                f"{self._session_id[:8]}..; {party} must attest this node and provision",
                hint=(
                    f"{party} verifies this node's evidence (attest) and releases its data key "
                    "to the session (provision); then propose the command again."
                ),
            )
        return data_key

    @property
    def released_keys(self) -> Mapping[str, str]:
        """A read-only snapshot: key id to the party that released it."""
        return self._keys.owners

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError(
            "EnclaveSession holds secret key material and lives only inside the enclave "
            "process; it cannot be pickled"
        )

    def __copy__(self) -> NoReturn:
        raise TypeError("EnclaveSession cannot be copied")

    def __deepcopy__(self, memo: Any) -> NoReturn:
        raise TypeError("EnclaveSession cannot be copied")

    def __repr__(self) -> str:
        return f"EnclaveSession(session_id={self._session_id!r})"


def tls_server_name(session_id: str) -> str:
    """Return the DNS name that an enclave session's TLS certificate carries.

    Parameters
    ----------
    session_id
        The enclave session id (32 hex characters).

    Returns
    -------
    str
        ``accord-enclave-<session id>``, usable as a TLS server name override.
    """
    return f"accord-enclave-{session_id}"


def _self_signed_certificate(
    tls_key: TlsPrivateKey, *, server_name: str, issued_at: datetime, lifetime: timedelta
) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Accord enclave"),
            x509.NameAttribute(NameOID.COMMON_NAME, server_name),
        ]
    )
    return self_signed_tls_certificate(
        tls_key,
        subject=name,
        dns_names=[server_name],
        not_before=issued_at - CLOCK_SKEW_ALLOWANCE,
        not_after=issued_at + lifetime,
    )
