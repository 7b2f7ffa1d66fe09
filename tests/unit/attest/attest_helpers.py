"""Shared helpers for attestation tests: real session keys, a settable clock, evidence makers."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519

from accord.attest import AllOf, BackendIn, DebugForbidden, MeasurementIn, SessionPublicKeys
from accord.attest.backends import SimulatedQuoter, default_backend_verifiers
from accord.attest.verifier import Verifier
from accord.crypto.keys import SigningKey, TlsPrivateKey

AGREEMENT = hashlib.sha256(b"accord attest test agreement").hexdigest()
OTHER_AGREEMENT = hashlib.sha256(b"another agreement").hexdigest()
MEASUREMENT = hashlib.sha256(b"the enclave code the parties reviewed").hexdigest()
OTHER_MEASUREMENT = hashlib.sha256(b"code the host would rather run").hexdigest()
PREVIOUS_MEASUREMENT = hashlib.sha256(b"the previous reviewed release").hexdigest()
T0 = dt.datetime(2026, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


@dataclass
class SettableClock:
    """A clock the test moves by hand."""

    now: dt.datetime = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += dt.timedelta(**kwargs)


def make_session_keys(
    agreement: str = AGREEMENT, session_id: str | None = None
) -> SessionPublicKeys:
    """Fresh real public keys, as an enclave session would present them."""
    hpke = x25519.X25519PrivateKey.generate().public_key()
    tls = TlsPrivateKey.generate().public_key
    return SessionPublicKeys(
        agreement_digest=agreement,
        session_id=session_id or os.urandom(16).hex(),
        hpke_public_key=hpke.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        ),
        signing_public_key=SigningKey.generate().verify_key.raw,
        tls_public_key=tls.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )


def dev_policy(measurement: str = MEASUREMENT) -> AllOf:
    """The policy of a development agreement: simulated allowed, one measurement, no debug."""
    return AllOf(
        [
            BackendIn(["simulated"], source="agreement"),
            MeasurementIn([measurement, PREVIOUS_MEASUREMENT], source="agreement"),
            DebugForbidden(),
        ]
    )


def dev_verifier(policy: object | None = None, clock: SettableClock | None = None) -> Verifier:
    return Verifier(
        policy=policy if policy is not None else dev_policy(),  # type: ignore[arg-type]
        backends=default_backend_verifiers(),
        now=clock or SettableClock(),
    )


def quoter(clock: SettableClock | None = None, **kwargs: object) -> SimulatedQuoter:
    kwargs.setdefault("measurement", MEASUREMENT)
    return SimulatedQuoter(now=clock or SettableClock(), **kwargs)  # type: ignore[arg-type]
