"""Agreements: the signed TOML file that is the root of trust of a collaboration.

An agreement names the parties (signing keys and TLS certificates), the enclaves they
accept (attestation backends and measurements), who must approve each operation, and who
receives which results. Its digest (SHA-256 of a canonical form) identifies the
collaboration everywhere; it is in force once every party has signed that digest.

Typical use::

    from accord.agreement import load_signed_agreement

    agreement = load_signed_agreement(Path("agreement.toml"))   # every party signed it
    rule = agreement.rule_for("train")
    rule.require(approving_parties, operation="train")          # raises ApprovalError

See docs/agreements.md for the file format, the checks and the canonical form.
"""

from accord.agreement.canonical import AGREEMENT_FORMAT, canonical_form
from accord.agreement.document import AgreementDocument, party_from_card
from accord.agreement.model import Agreement, BackendPolicy, EnclavePolicy, OutputPolicy, Party
from accord.agreement.parse import load_agreement, parse_agreement
from accord.agreement.rules import OPERATIONS, ApprovalPolicy, ApprovalRule
from accord.agreement.signing import (
    SIGNATURE_CONTEXT,
    SignatureState,
    SignedAgreement,
    load_signed_agreement,
    sign_agreement,
    signature_states,
    verify_signatures,
)
from accord.agreement.template import render_template

__all__ = [
    "AGREEMENT_FORMAT",
    "OPERATIONS",
    "SIGNATURE_CONTEXT",
    "Agreement",
    "AgreementDocument",
    "ApprovalPolicy",
    "ApprovalRule",
    "BackendPolicy",
    "EnclavePolicy",
    "OutputPolicy",
    "Party",
    "SignatureState",
    "SignedAgreement",
    "canonical_form",
    "load_agreement",
    "load_signed_agreement",
    "parse_agreement",
    "party_from_card",
    "render_template",
    "sign_agreement",
    "signature_states",
    "verify_signatures",
]
