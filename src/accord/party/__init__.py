"""Party identities: the secret keys a party holds and the public card it shares.

* :class:`PartyIdentity` -- create, load and hold a party's signing key, TLS key and data key.
* :class:`PartyCard` -- the public, self-signed card other parties and agreements rely on.
* :class:`Argon2Parameters` -- the cost of the passphrase KDF that protects ``party.key``.

See docs/identities.md for the files, their formats and the choice of algorithms.
"""

from accord.party.card import CARD_FILE_NAME, CARD_FORMAT, PARTY_NAME_PATTERN, PartyCard
from accord.party.certificate import DEFAULT_VALID_DAYS
from accord.party.identity import CERTIFICATE_FILE_NAME, KEY_FILE_NAME, PartyIdentity
from accord.party.keystore import DEFAULT_ARGON2, Argon2Parameters, KeyFileHeader

__all__ = [
    "CARD_FILE_NAME",
    "CARD_FORMAT",
    "CERTIFICATE_FILE_NAME",
    "DEFAULT_ARGON2",
    "DEFAULT_VALID_DAYS",
    "KEY_FILE_NAME",
    "PARTY_NAME_PATTERN",
    "Argon2Parameters",
    "KeyFileHeader",
    "PartyCard",
    "PartyIdentity",
]
