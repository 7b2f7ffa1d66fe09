"""Shared helpers for party identity tests: a fixed clock, a cheap KDF, secret forms."""

from __future__ import annotations

import base64
import datetime as dt

from accord.crypto.keys import SECRET_KEY_ACCESS
from accord.party import Argon2Parameters, PartyIdentity

FIXED_NOW = dt.datetime(2025, 3, 14, 15, 9, 26, 535897, tzinfo=dt.UTC)
FAST_ARGON2 = Argon2Parameters(iterations=1, lanes=1, memory_cost_kib=8)
PASSPHRASE = "correct horse battery staple"


def fixed_clock() -> dt.datetime:
    return FIXED_NOW


def secret_forms(identity: PartyIdentity) -> list[str]:
    """Return the hex and base64 forms of every secret an identity holds."""
    tls_private = identity.tls_key.sign_certificate_with()
    scalar = tls_private.private_numbers().private_value.to_bytes(32, "big")
    pem_lines = identity.tls_key.export_pem(SECRET_KEY_ACCESS).decode().splitlines()[1:-1]
    forms: list[str] = [line for line in pem_lines if len(line) >= 32]
    for raw in (
        identity.signing_key.export_raw(SECRET_KEY_ACCESS),
        identity.data_key.export_bytes(SECRET_KEY_ACCESS),
        scalar,
    ):
        forms += [
            raw.hex(),
            raw.hex().upper(),
            base64.b64encode(raw).decode(),
            base64.urlsafe_b64encode(raw).decode(),
        ]
    return forms
