"""The canonical form of an agreement and its digest, the collaboration's identifier.

The canonical form is a JSON object built from the normalised agreement and serialised as
RFC 8785 canonical JSON (object keys sorted, no whitespace, UTF-8). Its SHA-256, in
lower-case hex, is the *agreement digest*: parties sign it, enclaves bind it into their
attestation evidence, and commands name it. The ``[signatures]`` table is not part of it.

The form, where every list is sorted (their order in the file carries no meaning)::

    {
      "format": "accord-agreement/v1",
      "agreement": {"name": str, "created": "YYYY-MM-DDTHH:MM:SS[.ffffff]Z",
                    "description": str            (only when present)},
      "parties": [{"name": str, "signing_key": base64 of the raw 32-byte key,
                   "tls_certificate_fingerprint": 64 hex,
                   "contact": str                 (only when present)}, ...by name],
      "enclave": {"max_evidence_age_seconds": int,
                  "backends": {backend: {"measurements": [hex, ...],
                                         "signer": hex (only when present),
                                         "allow_debug": bool,
                                         "min_security_version": int,
                                         ...the members of BackendPolicy.canonical_extras,
                                         each only when it differs from its default}}},
      "approvals": {"default": rule,
                    "operations": {operation: rule (only where it differs from default)}},
      "outputs": {"models": [name], "metrics": [name], "feature_importance": [name],
                  "predictions": {every party: [names receiving predictions on its data]}}
    }

where ``rule`` is ``{"threshold": k, "among": [name, ...]}``. Defaults are written out, and
``"all"``, ``"owner"`` and omitted ``among`` lists are replaced by the names they stand for,
so two files that mean the same thing have the same digest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import TYPE_CHECKING, Any, Final

from accord._internal.canonical import canonical_json

if TYPE_CHECKING:
    from accord.agreement.model import Agreement, BackendPolicy, OutputPolicy

__all__ = ["AGREEMENT_FORMAT", "canonical_bytes", "canonical_form", "digest_of", "format_time"]

AGREEMENT_FORMAT: Final = "accord-agreement/v1"
"""The value of ``[agreement] format`` that this version reads and writes."""


def format_time(moment: dt.datetime) -> str:
    """Return ``moment`` in UTC as ``YYYY-MM-DDTHH:MM:SSZ`` (with ``.ffffff`` if needed)."""
    utc = moment.astimezone(dt.UTC)
    pattern = "%Y-%m-%dT%H:%M:%S.%fZ" if utc.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return utc.strftime(pattern)


def _optional(entries: dict[str, Any], key: str, value: object) -> dict[str, Any]:
    if value is not None:
        entries[key] = value
    return entries


def _backend_form(policy: BackendPolicy) -> dict[str, Any]:
    form: dict[str, Any] = {
        "measurements": sorted(policy.measurements),
        "allow_debug": policy.allow_debug,
        "min_security_version": policy.min_security_version,
    }
    form.update(policy.canonical_extras())
    return _optional(form, "signer", policy.signer)


def _outputs_form(outputs: OutputPolicy, party_names: tuple[str, ...]) -> dict[str, Any]:
    return {
        "models": sorted(outputs.models),
        "metrics": sorted(outputs.metrics),
        "feature_importance": sorted(outputs.feature_importance),
        "predictions": {
            owner: sorted(outputs.prediction_recipients(owner)) for owner in party_names
        },
    }


def canonical_form(agreement: Agreement) -> dict[str, Any]:
    """Return the JSON object whose canonical serialisation is signed.

    Parameters
    ----------
    agreement
        The agreement.

    Returns
    -------
    dict
        The object described in the module docstring.
    """
    header = _optional(
        {"name": agreement.name, "created": format_time(agreement.created)},
        "description",
        agreement.description,
    )
    parties = [
        _optional(
            {
                "name": party.name,
                "signing_key": party.verify_key.to_base64(),
                "tls_certificate_fingerprint": party.tls_certificate_fingerprint,
            },
            "contact",
            party.contact,
        )
        for party in sorted(agreement.parties, key=lambda party: party.name)
    ]
    enclave = {
        "max_evidence_age_seconds": agreement.enclave.max_evidence_age_seconds,
        "backends": {
            name: _backend_form(policy) for name, policy in agreement.enclave.backends.items()
        },
    }
    return {
        "format": AGREEMENT_FORMAT,
        "agreement": header,
        "parties": parties,
        "enclave": enclave,
        "approvals": agreement.approvals.to_canonical(),
        "outputs": _outputs_form(agreement.outputs, agreement.party_names),
    }


def canonical_bytes(agreement: Agreement) -> bytes:
    """Return the RFC 8785 canonical JSON of :func:`canonical_form`."""
    return canonical_json(canonical_form(agreement))


def digest_of(canonical: bytes) -> str:
    """Return the agreement digest (SHA-256, lower-case hex) of canonical bytes."""
    return hashlib.sha256(canonical).hexdigest()
