"""Accord: confidential multi-party machine learning on sealed data in attested enclaves.

The names below are the supported public API; subpackages hold the details:

- identities: :class:`PartyIdentity`, :class:`PartyCard` (:mod:`accord.party`)
- sealed data: :func:`seal_file`, :func:`unseal_file`, :func:`inspect_file`,
  :class:`SealedReader` (:mod:`accord.crypto.sealed`)
- agreements: :func:`load_agreement`, :func:`load_signed_agreement`,
  :class:`SignedAgreement` (:mod:`accord.agreement`)
- the runtime: :func:`connect` returns a :class:`Client` (attest, provision, upload,
  propose, approve, wait, audit) and :class:`AccordXGBoost`, the XGBoost-style facade
  (:mod:`accord.client`)
- attestation and key release: :func:`new_nonce`, :func:`verify_enclave`,
  :func:`release_data_key`, :class:`VerifiedEnclave` (:mod:`accord.client`), :class:`Verifier`,
  :class:`VerifiedEvidence` (:mod:`accord.attest`)
- errors: :class:`AccordError` and its subclasses (:mod:`accord.errors`)
"""

from accord._version import __version__
from accord.agreement import SignedAgreement, load_agreement, load_signed_agreement
from accord.attest import AccordSecurityWarning, VerifiedEvidence, Verifier
from accord.client import (
    AccordXGBoost,
    Client,
    VerifiedEnclave,
    connect,
    new_nonce,
    release_data_key,
    verify_enclave,
)
from accord.crypto.sealed import SealedReader, inspect_file, seal_file, unseal_file
from accord.errors import (
    AccordError,
    ApprovalError,
    ConfigurationError,
    IntegrityError,
    KeyMaterialError,
    TransportError,
    UsageError,
    VerificationError,
)
from accord.party import PartyCard, PartyIdentity

__all__ = [
    "AccordError",
    "AccordSecurityWarning",
    "AccordXGBoost",
    "ApprovalError",
    "Client",
    "ConfigurationError",
    "IntegrityError",
    "KeyMaterialError",
    "PartyCard",
    "PartyIdentity",
    "SealedReader",
    "SignedAgreement",
    "TransportError",
    "UsageError",
    "VerificationError",
    "VerifiedEnclave",
    "VerifiedEvidence",
    "Verifier",
    "__version__",
    "connect",
    "inspect_file",
    "load_agreement",
    "load_signed_agreement",
    "new_nonce",
    "release_data_key",
    "seal_file",
    "unseal_file",
    "verify_enclave",
]
