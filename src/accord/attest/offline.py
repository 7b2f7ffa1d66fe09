"""Verify one piece of attestation evidence offline, as ``accord attest verify`` does.

:func:`verify_offline` takes evidence in any of the forms an enclave or a platform produces,
authenticates it with the backend's verifier at a given time, and applies a policy:

================ ============================================================ ==============
kind             what the bytes are                                            detected by
================ ============================================================ ==============
``evidence``     Accord evidence (JSON wire form); ``aux`` may carry collateral ``type``
``configfs-tsm`` a saved Linux configfs-tsm entry (``provider``, ``outblob``,   ``outblob``
                 ``auxblob``), TDX or SEV-SNP
``sgx-dcap``     a raw SGX DCAP quote (v3, v4, v5)                             header
``tdx``          a raw TDX quote (v4, v5)                                      header
``sev-snp``      a raw SEV-SNP attestation report                              ``--backend``
``ra-tls``       an RA-TLS certificate, PEM or DER                             PEM / DER
================ ============================================================ ==============

This checks *authenticity and policy* only. It does not check freshness or what the report
data binds (no nonce is involved): a party releasing keys uses
:meth:`accord.attest.Verifier.verify` with its nonce and the enclave's session keys. The
unsigned description of Accord evidence is ignored; only the authenticated report counts.

Without an agreement the *baseline policy* applies: hardware evidence only, no debug enclave,
for SGX and TDX a TCB status of at least :data:`~accord.attest.tcb.DEFAULT_MIN_TCB_STATUS`,
and for SEV-SNP a report requested at VMPL 0.
Advisories are reported, not judged (an agreement judges them with ``allowed_advisories``).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from accord.attest._fields import check_utc
from accord.attest._policy_base import Policy, apply_policy
from accord.attest.backends import default_backend_verifiers
from accord.attest.backends.configfs_tsm import ConfigfsTsmCapture
from accord.attest.backends.dcap import DcapCollateral
from accord.attest.claims import HARDWARE_BACKENDS, SIMULATED, Claims, refuse_unparseable
from accord.attest.evidence import Evidence
from accord.attest.hardware_policy import VmplIs
from accord.attest.insecure import warn_insecure
from accord.attest.policy import AllOf, BackendIn, DebugForbidden, TcbStatusAtLeast
from accord.attest.ratls import RaTlsVerifier
from accord.attest.tcb import DEFAULT_MIN_TCB_STATUS
from accord.errors import UsageError, VerificationError

__all__ = [
    "EVIDENCE_KINDS",
    "OfflineVerification",
    "baseline_policy",
    "detect_kind",
    "resolve_kind",
    "verify_offline",
]

EVIDENCE_KINDS: Final = ("evidence", "configfs-tsm", "sgx-dcap", "tdx", "sev-snp", "ra-tls")
_BACKEND_KINDS: Final = ("sgx-dcap", "tdx", "sev-snp", "ra-tls")
_DCAP_KINDS: Final = {0x00: "sgx-dcap", 0x81: "tdx"}


@dataclass(frozen=True)
class OfflineVerification:
    """The result of :func:`verify_offline`: authenticated claims that the policy accepted.

    Parameters
    ----------
    claims
        The authenticated claims.
    kind
        The kind of evidence read (one of :data:`EVIDENCE_KINDS`).
    verified_at
        The time at which certificates and collateral were judged.
    policy
        What judged the claims, in words (``"baseline policy"`` or the agreement).
    """

    claims: Claims
    kind: str
    verified_at: datetime
    policy: str


def detect_kind(data: bytes) -> str:
    """Return the kind of evidence ``data`` holds (see the module docstring).

    Raises
    ------
    UsageError
        If the kind cannot be told from the bytes (e.g. an SEV-SNP report: name it).
    """
    head = data.lstrip()[:32]
    if head.startswith(b"{"):
        try:
            members = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            members = None
        if isinstance(members, dict) and "outblob" in members:
            return "configfs-tsm"
        return "evidence"
    if head.startswith(b"-----BEGIN CERTIFICATE-----") or data[:2] == b"\x30\x82":
        return "ra-tls"
    if len(data) >= 8:
        version, key_type, tee_type = struct.unpack_from("<HHI", data, 0)
        if version in (3, 4, 5) and key_type in (2, 3) and tee_type in _DCAP_KINDS:
            return _DCAP_KINDS[tee_type]
    raise UsageError(
        "cannot tell what kind of evidence this is (not Accord evidence, a DCAP quote or an "
        "RA-TLS certificate)",
        hint="Name it with --backend sgx-dcap, tdx, sev-snp or ra-tls.",
    )


def resolve_kind(data: bytes, backend: str | None = None) -> tuple[str, str]:
    """Return the kind of ``data`` and the backend of the report it holds.

    Parameters
    ----------
    data
        The evidence bytes.
    backend
        What the caller says the bytes are (``sgx-dcap``, ``tdx``, ``sev-snp``, ``ra-tls``);
        detected when None. For JSON forms it must agree with the backend they state.

    Raises
    ------
    UsageError
        If the kind cannot be detected, or ``backend`` contradicts the evidence.
    VerificationError
        If JSON evidence is malformed.
    """
    if backend is not None and backend not in _BACKEND_KINDS:
        raise UsageError(f"unknown backend {backend!r}; known: {', '.join(_BACKEND_KINDS)}")
    if backend is not None and not data.lstrip().startswith(b"{"):
        return backend, "sgx-dcap" if backend == "ra-tls" else backend
    detected = detect_kind(data)
    if detected == "evidence":
        stated = Evidence.from_bytes(data).backend
    elif detected == "configfs-tsm":
        stated = ConfigfsTsmCapture.from_json(data).backend
    else:
        return detected, "sgx-dcap" if detected == "ra-tls" else detected
    if backend is not None and backend != stated:
        raise UsageError(f"--backend {backend} was given, but the evidence is {stated} evidence")
    return detected, stated


def baseline_policy(backend: str) -> Policy:
    """Return the policy applied without an agreement.

    Hardware backends only (``simulated`` evidence, which anyone can forge, needs an
    agreement that lists it); no debug enclave; for SGX and TDX a TCB status of at least
    :data:`~accord.attest.tcb.DEFAULT_MIN_TCB_STATUS`; for SEV-SNP, VMPL 0.
    """
    rules: list[Policy] = [
        BackendIn(HARDWARE_BACKENDS, source="baseline policy"),
        DebugForbidden(),
    ]
    if backend in ("sgx-dcap", "tdx"):
        rules.append(TcbStatusAtLeast(DEFAULT_MIN_TCB_STATUS))
    if backend == "sev-snp":
        rules.append(VmplIs(0))
    return AllOf(rules)


def _authenticate(
    data: bytes, kind: str, collateral: DcapCollateral | None, aux: bytes, at: datetime
) -> Claims:
    if kind == "ra-tls":
        return RaTlsVerifier(collateral=collateral).verify(data, at=at).claims
    verifiers = default_backend_verifiers(collateral=collateral)
    if kind == "evidence":
        evidence = Evidence.from_bytes(data)
        kind, data, aux = evidence.backend, evidence.raw, aux or evidence.aux
    elif kind == "configfs-tsm":
        capture = ConfigfsTsmCapture.from_json(data)
        kind, data, aux = capture.backend, capture.outblob, aux or capture.auxblob
    verifier = verifiers.get(kind)
    if verifier is None:
        raise VerificationError(f"this release has no verifier for {kind} evidence")
    return verifier.verify_raw(data, aux=aux, at=at)


def verify_offline(
    data: bytes,
    *,
    at: datetime,
    kind: str | None = None,
    collateral: DcapCollateral | None = None,
    aux: bytes = b"",
    policy: Policy | None = None,
    policy_name: str = "the agreement",
) -> OfflineVerification:
    """Authenticate ``data`` at time ``at`` and apply ``policy`` (the baseline by default).

    Parameters
    ----------
    data
        The evidence bytes.
    at
        When to judge certificates and collateral (timezone-aware).
    kind
        One of :data:`EVIDENCE_KINDS`; detected from the bytes when None.
    collateral
        Intel collateral for SGX and TDX quotes (takes precedence over the evidence's own).
    aux
        Auxiliary data for the backend verifier (e.g. the SEV-SNP certificate table).
    policy
        The policy to apply; :func:`baseline_policy` of the evidence's backend when None.
    policy_name
        How to name ``policy`` in messages.

    Returns
    -------
    OfflineVerification
        The authenticated, accepted claims.

    Raises
    ------
    VerificationError
        If the evidence is not authentic (the message names the failed check) or the
        policy refuses it.
    UsageError
        If the kind is unknown or cannot be detected.
    """
    when = check_utc(at, "at", error=UsageError)
    chosen = resolve_kind(data)[0] if kind is None else kind
    if chosen not in EVIDENCE_KINDS:
        raise UsageError(f"unknown evidence kind {chosen!r}; known: {', '.join(EVIDENCE_KINDS)}")
    claims = refuse_unparseable(chosen, lambda: _authenticate(data, chosen, collateral, aux, when))
    name = policy_name if policy is not None else "the baseline policy"
    judge = policy if policy is not None else baseline_policy(claims.backend)
    try:
        explicit = apply_policy(judge, claims)
    except VerificationError as refused:
        raise VerificationError(
            f"the {claims.backend} evidence is authentic, but {name} refuses it: {refused.message}",
            hint=refused.hint,
        ) from None
    if claims.backend == SIMULATED:
        if not explicit:
            raise VerificationError(f"simulated evidence is refused: {name} does not allow it")
        warn_insecure("accepted simulated evidence: it gives NO protection against the host")
    return OfflineVerification(claims=claims, kind=chosen, verified_at=when, policy=name)
