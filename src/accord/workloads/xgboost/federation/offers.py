"""Federation offers: each node's per-command TLS certificate, signed by its attested session.

For every command that runs on several nodes, each node creates a fresh P-256 TLS key inside
the enclave (:class:`FederationKey`) and publishes an **offer**: the key's self-signed
certificate, bound to the command and signed with the session signing key whose public half
is in the node's attestation evidence. A peer accepts the certificate only from an offer that
verifies with the signing key of the evidence it verified itself (:func:`verify_offer`), so
the certificate is tied to the attested enclave exactly as the session's own TLS key is.

Wire form (canonical JSON, RFC 8785)::

    {"offer": {"format": "accord-federation-offer/v1",
               "agreement_digest": <64 hex>,
               "command_digest": <64 hex>,      the command the nodes run together
               "session_id": <32 hex>,          the signing session
               "rank": <int>,                   its index among the command's session ids
               "world_size": <int>,             how many nodes run the command
               "certificate": <PEM text>,       the fresh certificate
               "server_port": <int> | null},    rank 0: the federated server's port
     "signature": <base64 Ed25519 over SHA-256(canonical offer), context "federation-offer">}
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from accord._internal.canonical import canonical_json
from accord.attest import SessionPublicKeys
from accord.attest._fields import load_json_object, require_keys
from accord.crypto.keys import SecretKeyAccess, SigningKey, TlsPrivateKey, VerifyKey
from accord.enclave._wire import check_hex, clip, decode_signature, encode_b64
from accord.errors import VerificationError
from accord.transport import load_certificate, self_signed_server_certificate

__all__ = [
    "OFFER_FORMAT",
    "OFFER_SIGNATURE_CONTEXT",
    "FederationKey",
    "FederationOffer",
    "sign_offer",
    "verify_offer",
]

OFFER_FORMAT: Final = "accord-federation-offer/v1"
OFFER_SIGNATURE_CONTEXT: Final = "federation-offer"
MAX_OFFER_BYTES: Final = 16 * 1024
_FIELDS: Final = frozenset(
    {
        "format",
        "agreement_digest",
        "command_digest",
        "session_id",
        "rank",
        "world_size",
        "certificate",
        "server_port",
    }
)
_CLOCK_SKEW: Final = dt.timedelta(minutes=5)


class FederationKey:
    """A fresh TLS key and its self-signed certificate for one command, in enclave memory.

    The certificate names ``accord-federation-<session id>`` (DNS and common name), is valid
    for a day and allows TLS server and client use. The key is exported only as PEM with
    :data:`~accord.crypto.keys.SECRET_KEY_ACCESS`, for the in-enclave TLS stacks.

    Parameters
    ----------
    session_id
        The session that makes it (named in the certificate).
    now
        The current time, timezone-aware.
    """

    __slots__ = ("_certificate_pem", "_key")

    def __init__(self, session_id: str, *, now: dt.datetime) -> None:
        self._key = TlsPrivateKey.generate()
        self._certificate_pem = self_signed_server_certificate(
            self._key, f"accord-federation-{session_id}", now=now, valid_days=1
        )

    @property
    def certificate_pem(self) -> bytes:
        """The certificate (PEM)."""
        return self._certificate_pem

    def private_key_pem(self, access: SecretKeyAccess) -> bytes:
        """Return the private key as PKCS#8 PEM; hand it only to a TLS stack in the enclave."""
        return self._key.export_pem(access)

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError("FederationKey holds a private key and cannot be pickled")

    def __repr__(self) -> str:
        return "FederationKey(...)"


@dataclass(frozen=True)
class FederationOffer:
    """A node's offer for one command, signed by its session (see the module docstring).

    Attributes
    ----------
    agreement_digest, command_digest, session_id, rank, world_size
        What the offer is bound to.
    certificate_pem
        The node's per-command TLS certificate.
    server_port
        Rank 0: the port of the federated server it hosts; ``None`` for other ranks.
    """

    agreement_digest: str
    command_digest: str
    session_id: str
    rank: int
    world_size: int
    certificate_pem: bytes
    server_port: int | None

    def to_object(self) -> dict[str, Any]:
        """Return the unsigned offer as a JSON object."""
        return {
            "format": OFFER_FORMAT,
            "agreement_digest": self.agreement_digest,
            "command_digest": self.command_digest,
            "session_id": self.session_id,
            "rank": self.rank,
            "world_size": self.world_size,
            "certificate": self.certificate_pem.decode("ascii"),
            "server_port": self.server_port,
        }


def sign_offer(offer: FederationOffer, signing_key: SigningKey) -> bytes:
    """Return the signed wire form of ``offer``, signed with the session's key."""
    body = offer.to_object()
    signature = signing_key.sign(
        hashlib.sha256(canonical_json(body)).digest(), context=OFFER_SIGNATURE_CONTEXT
    )
    return canonical_json({"offer": body, "signature": encode_b64(signature)})


def verify_offer(
    data: bytes,
    *,
    session: SessionPublicKeys,
    agreement_digest: str,
    command_digest: str,
    rank: int,
    world_size: int,
    now: dt.datetime,
) -> FederationOffer:
    """Check a peer's signed offer with the session keys the caller attested.

    Parameters
    ----------
    data
        The signed offer as received.
    session
        The peer's attested session keys.
    agreement_digest, command_digest
        The agreement and the command this node runs.
    rank, world_size
        The peer's rank in the command and the number of nodes.
    now
        The current time, timezone-aware (the certificate must be valid now).

    Returns
    -------
    FederationOffer
        The offer, signed by that session for this command and rank.

    Raises
    ------
    VerificationError
        If the offer is malformed, for another agreement, command, session or rank, carries
        an unusable certificate or port, or its signature does not verify with the attested
        signing key.
    """
    error = VerificationError
    who = f"the federation offer of session {session.session_id[:8]}.."
    wrapper = load_json_object(data, who, max_len=MAX_OFFER_BYTES, error=error)
    require_keys(wrapper, frozenset({"offer", "signature"}), who, error=error)
    body = wrapper["offer"]
    if not isinstance(body, dict):
        raise error(f"{who}: field 'offer' must be an object")
    require_keys(body, _FIELDS, who, error=error)
    signature = decode_signature(wrapper["signature"], f"{who}: signature", error)
    try:
        VerifyKey(session.signing_public_key).verify(
            signature,
            hashlib.sha256(canonical_json(body)).digest(),
            context=OFFER_SIGNATURE_CONTEXT,
        )
    except VerificationError:
        raise VerificationError(
            f"{who} is not signed by the session's attested signing key",
            hint="Something between the nodes altered it; the command fails and nothing was "
            "exchanged.",
        ) from None
    expected = {
        "format": OFFER_FORMAT,
        "agreement_digest": agreement_digest,
        "command_digest": command_digest,
        "session_id": session.session_id,
        "rank": rank,
        "world_size": world_size,
    }
    for field, value in expected.items():
        if body[field] != value or isinstance(body[field], bool):
            raise error(f"{who} has {field} {_shown(body[field])}; expected {_shown(value)}")
    check_hex(body["command_digest"], f"{who}: command_digest", 32, error)
    port = body["server_port"]
    if rank == 0:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port <= 65535:
            raise error(f"{who} (rank 0) must name its server port, got {_shown(port)}")
    elif port is not None:
        raise error(f"{who} (rank {rank}) names a server port; only rank 0 hosts the server")
    certificate = body["certificate"]
    if not isinstance(certificate, str) or not certificate.isascii():
        raise error(f"{who}: field 'certificate' must be PEM text")
    certificate_pem = certificate.encode("ascii")
    _check_certificate(certificate_pem, who, now)
    return FederationOffer(
        agreement_digest=agreement_digest,
        command_digest=command_digest,
        session_id=session.session_id,
        rank=rank,
        world_size=world_size,
        certificate_pem=certificate_pem,
        server_port=port,
    )


def _shown(value: object) -> str:
    return str(value) if isinstance(value, int) else ascii(clip(value))


def _check_certificate(certificate_pem: bytes, who: str, now: dt.datetime) -> None:
    parsed = load_certificate(certificate_pem, where=f"{who}: certificate")
    public_key = parsed.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise VerificationError(f"{who}: the certificate's key is not a P-256 key")
    if not parsed.not_valid_before_utc - _CLOCK_SKEW <= now <= parsed.not_valid_after_utc:
        raise VerificationError(f"{who}: the certificate is not valid now")
    try:
        parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        raise VerificationError(f"{who}: the certificate names no server") from None
