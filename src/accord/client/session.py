"""Connecting a party: the checks before it connects and the mutual-TLS channel it opens.

:func:`connect` (re-exported as ``accord.client.connect``) loads the agreement and the
party, checks them against each other and opens the channel; it returns a
:class:`~accord.client.Client`. :func:`require_party` makes sure the loaded identity is the
party the agreement lists: the same signing key (or the nodes would refuse its signatures)
and the same TLS certificate (or the orchestrator would refuse the connection).
:func:`open_orchestrator_channel` opens a channel that trusts only the orchestrator's pinned
certificate and presents the party's own.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

import grpc

from accord.agreement.signing import SignedAgreement, load_signed_agreement
from accord.attest import BackendVerifier
from accord.errors import KeyMaterialError, UsageError
from accord.party import PartyIdentity
from accord.transport import DEFAULT_CALL_TIMEOUT, TlsIdentity, pinned_channel

if TYPE_CHECKING:
    from accord.client.sdk import Client

__all__ = ["connect", "open_orchestrator_channel", "require_party"]

CLIENT_TOKEN: Final = object()
"""What :func:`connect` passes to the :class:`~accord.client.Client` it makes, so that a
Client is made only through :func:`connect` (a guard against misuse, not a secret)."""


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


def _utc_now() -> datetime:
    return datetime.now(UTC)


def connect(
    orchestrator: str,
    agreement: Path | SignedAgreement,
    party: Path | PartyIdentity,
    *,
    orchestrator_certificate: Path | bytes,
    timeout: float = DEFAULT_CALL_TIMEOUT,
    passphrase: str | None = None,
    backends: Mapping[str, BackendVerifier] | None = None,
    now: Callable[[], datetime] = _utc_now,
) -> Client:
    """Connect a party to a collaboration's orchestrator (mutual TLS; no call is made yet).

    Parameters
    ----------
    orchestrator
        ``host:port`` of the orchestrator.
    agreement
        The signed agreement (a file, or already loaded).
    party
        The party's directory (``accord party init``) or its loaded identity.
    orchestrator_certificate
        The orchestrator's TLS certificate (PEM file or bytes), received out of band: the
        only certificate the connection trusts.
    timeout
        Deadline in seconds of each network call.
    passphrase
        The passphrase of a protected party key (when ``party`` is a directory).
    backends
        Attestation backend verifiers by name (hardware quote verifiers); Accord's
        defaults when None. The agreement's own policy always applies.
    now
        The clock (timezone-aware), for command times and expiry checks.

    Returns
    -------
    Client
        The connected client; close it (or use it as a context manager).

    Raises
    ------
    KeyMaterialError
        If the party is not the one the agreement lists under its name (signing key or TLS
        certificate differ), or its key cannot be opened.
    UsageError
        If a file is missing, the address is malformed or the timeout is not positive.
    """
    if not timeout > 0:
        raise UsageError(f"the call timeout must be a positive number of seconds, not {timeout}")
    signed = (
        agreement if isinstance(agreement, SignedAgreement) else load_signed_agreement(agreement)
    )
    identity = (
        party
        if isinstance(party, PartyIdentity)
        else PartyIdentity.load(Path(party), passphrase=passphrase)
    )
    require_party(identity, signed)
    channel = open_orchestrator_channel(orchestrator, orchestrator_certificate, identity)
    from accord.client.sdk import Client  # the SDK module imports this one

    return Client(
        _token=CLIENT_TOKEN,
        orchestrator=orchestrator,
        channel=channel,
        agreement=signed,
        identity=identity,
        timeout=timeout,
        backends=backends,
        now=now,
    )
