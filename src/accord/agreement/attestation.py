"""The agreement's enclave policy as an attestation policy a :class:`~accord.attest.Verifier` runs.

Each accepted backend becomes one branch that checks everything the agreement says of it;
the branches are joined with :class:`~accord.attest.AnyOf`::

    AnyOf([
        AllOf([BackendIn(["sgx-dcap"]), MeasurementIn([...]), SignerIs(...),
               MinSecurityVersion(n), DebugForbidden(),
               TcbStatusAtLeast(min_tcb_status), AdvisoriesAllowed([...])]),
        AllOf([BackendIn(["tdx"]), MeasurementIn([...]), ..., RtmrsIn([...])]),
        AllOf([BackendIn(["sev-snp"]), MeasurementIn([...]), ..., VmplIs(vmpl),
               SnpTcbAtLeast(min_tcb)]),
        ...
    ])

For ``sgx-dcap`` and ``tdx`` the platform's TCB status must be at least the agreement's
``min_tcb_status`` (by default ``ConfigurationAndSWHardeningNeeded``) and every advisory
that applies to it must be listed in ``allowed_advisories`` (by default none); for ``tdx``
the RTMRs must match one of the agreement's ``rtmrs`` entries when it lists any; with
``min_tcb_evaluation_data_number`` the collateral's TCB info and QE identity must be at least
that release of Intel's TCB judgements. For ``sev-snp`` the report must be requested at the
agreement's ``vmpl`` (by default 0), and with ``min_tcb`` its reported TCB must reach each
listed level.

Simulated evidence is accepted only by a branch whose ``BackendIn`` lists ``simulated``, and
that branch also bounds the evidence's signed age (hardware quotes carry no trusted time:
their freshness comes from the verifier's nonce alone).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from accord.agreement.model import BackendPolicy, EnclavePolicy
from accord.agreement.signing import SignedAgreement
from accord.attest import (
    AllOf,
    AllowDebugEnclaves,
    AnyOf,
    BackendIn,
    BackendVerifier,
    DebugForbidden,
    FreshWithin,
    MeasurementIn,
    MinSecurityVersion,
    Policy,
    SignerIs,
    SnpTcbAtLeast,
    TcbEvaluationAtLeast,
    Verifier,
    VmplIs,
)
from accord.attest.backends import default_backend_verifiers
from accord.attest.policy import AdvisoriesAllowed, RtmrsIn, TcbStatusAtLeast

__all__ = ["agreement_verifier", "attestation_policy"]

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime (the default clock)."""
    return datetime.now(UTC)


def _branch(policy: BackendPolicy, *, max_age: timedelta, now: Clock) -> Policy:
    rules: list[Policy] = [
        BackendIn([policy.backend], source="agreement"),
        MeasurementIn(sorted(policy.measurements), source="agreement"),
    ]
    if policy.signer is not None:
        rules.append(SignerIs(policy.signer))
    rules.append(MinSecurityVersion(policy.min_security_version))
    rules.append(AllowDebugEnclaves() if policy.allow_debug else DebugForbidden())
    if policy.min_tcb_status is not None:
        rules.append(TcbStatusAtLeast(policy.min_tcb_status))
        rules.append(AdvisoriesAllowed(sorted(policy.allowed_advisories)))
    if policy.rtmrs:
        rules.append(RtmrsIn(policy.rtmrs))
    if policy.min_tcb_evaluation_data_number is not None:
        rules.append(TcbEvaluationAtLeast(policy.min_tcb_evaluation_data_number))
    if policy.vmpl is not None:
        rules.append(VmplIs(policy.vmpl))
    if policy.min_tcb is not None:
        rules.append(SnpTcbAtLeast(policy.min_tcb))
    if policy.is_simulated:
        rules.append(FreshWithin(max_age, now=now))
    return AllOf(rules)


def attestation_policy(enclave: EnclavePolicy, *, now: Clock = utc_now) -> Policy:
    """Build the attestation policy that the agreement's ``[enclave]`` tables describe.

    Parameters
    ----------
    enclave
        The agreement's enclave policy.
    now
        The clock used to judge the age of simulated evidence.

    Returns
    -------
    Policy
        An ``AnyOf`` over one ``AllOf`` branch per accepted backend.
    """
    max_age = timedelta(seconds=enclave.max_evidence_age_seconds)
    branches = [
        _branch(enclave.for_backend(name), max_age=max_age, now=now)
        for name in sorted(enclave.backends)
    ]
    return AnyOf(branches)


def agreement_verifier(
    agreement: SignedAgreement,
    *,
    backends: Mapping[str, BackendVerifier] | None = None,
    now: Clock = utc_now,
) -> Verifier:
    """Return a verifier that accepts exactly the enclaves a signed agreement accepts.

    Parameters
    ----------
    agreement
        An agreement every party has signed.
    backends
        Backend verifiers by name; Accord's defaults when None.
    now
        The clock for evidence age and certificate validity.
    """
    return Verifier(
        policy=attestation_policy(agreement.enclave, now=now),
        backends=dict(backends) if backends is not None else default_backend_verifiers(),
        now=now,
    )
