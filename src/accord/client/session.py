"""What a party checks before it connects, and the mutual-TLS channel to the orchestrator.

:func:`require_party` makes sure the loaded identity is the party the agreement lists: the
same signing key (or the nodes would refuse its signatures) and the same TLS certificate (or
the orchestrator would refuse the connection). :func:`open_orchestrator_channel` opens a
channel that trusts only the orchestrator's pinned certificate and presents the party's own.
"""

from __future__ import annotations

import hmac
from pathlib import Path

import grpc

from accord.agreement.signing import SignedAgreement
from accord.errors import KeyMaterialError, UsageError
from accord.party import PartyIdentity
from accord.transport import TlsIdentity, pinned_channel

__all__ = ["open_orchestrator_channel", "require_party"]


def require_party(identity: PartyIdentity, agreement: SignedAgreement) -> None:
    """Check that ``identity`` is the party the agreement lists under its name.

    Raises
    ------
    KeyMaterialError
        If the agreement has no such party, or lists another signing key or TLS certificate.
    """
    listed = agreement.party_keys.get(identity.name)
    if listed is None:
        raise KeyMaterialError(
            f"{identity.name!r} is not a party of agreement {agreement.digest[:16]}.. (its "
            f"parties: {', '.join(sorted(agreement.party_keys))})",
            hint="Use the party directory whose card was added to the agreement.",
        )
    if listed != identity.signing_key.verify_key:
        raise KeyMaterialError(
            f"the signing key of {identity.directory} is not the key the agreement lists for "
            f"{identity.name!r}",
            hint="Use the party directory whose card was added to the agreement.",
        )
    expected = agreement.party(identity.name).tls_certificate_fingerprint
    actual = identity.card.tls_certificate_fingerprint
    if not hmac.compare_digest(actual, expected):
        raise KeyMaterialError(
            f"the TLS certificate of {identity.directory} ({actual[:16]}..) "
            f"is not the one the agreement lists for {identity.name!r} ({expected[:16]}..); the "
            "orchestrator would refuse the connection",
            hint="Use the party directory whose card was added to the agreement.",
        )


def open_orchestrator_channel(
    address: str, certificate: Path | bytes, identity: PartyIdentity
) -> grpc.Channel:
    """Open the mutual-TLS channel to the orchestrator at ``address``.

    Parameters
    ----------
    address
        ``host:port``.
    certificate
        The orchestrator's certificate (PEM bytes or a file): the only one trusted.
    identity
        The party, whose TLS key and certificate are presented.

    Returns
    -------
    grpc.Channel
        The channel (it connects on the first call).

    Raises
    ------
    UsageError
        If the certificate file cannot be read or the address is malformed.
    VerificationError
        If the certificate is not one PEM certificate.
    """
    if isinstance(certificate, Path | str):
        path = Path(certificate)
        try:
            certificate = path.read_bytes()
        except OSError as exc:
            raise UsageError(
                f"cannot read the orchestrator certificate {path}: {exc.strerror}",
                hint="Ask the orchestrator's operator for its tls-cert.pem.",
            ) from None
    client = TlsIdentity.from_key(identity.tls_key, identity.tls_certificate_pem)
    return pinned_channel(address, certificate, client=client)
