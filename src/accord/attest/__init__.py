"""Remote attestation: evidence, verification, policies and backends.

A party checks an enclave in a few lines::

    from accord.attest import AllOf, BackendIn, DebugForbidden, MeasurementIn, Verifier
    from accord.attest.backends import default_backend_verifiers

    verifier = Verifier(
        policy=AllOf([BackendIn(["sgx-dcap"]), MeasurementIn([expected]), DebugForbidden()]),
        backends=default_backend_verifiers(),
    )
    verified = verifier.verify(evidence_bytes, nonce=nonce, expected=session_keys)
    # verified.session_keys.hpke_public_key is now safe to seal a data key to.

:class:`Evidence` is unverified input; :class:`VerifiedEvidence` is what passed every check
and can only be made by :meth:`Verifier.verify`. See ``docs/attestation.md``.
"""

from accord.attest.binding import SessionPublicKeys
from accord.attest.claims import BACKENDS, BackendVerifier, Claims
from accord.attest.evidence import Evidence
from accord.attest.hardware_policy import (
    SnpTcbAtLeast,
    SnpTcbMinimum,
    TcbEvaluationAtLeast,
    VmplIs,
)
from accord.attest.insecure import AccordSecurityWarning
from accord.attest.measurement import CodeMeasurement, measure_installed_package, measure_tree
from accord.attest.policy import (
    AdvisoriesAllowed,
    AllOf,
    AllowDebugEnclaves,
    AnyOf,
    BackendIn,
    DebugForbidden,
    FreshWithin,
    MeasurementIn,
    MinSecurityVersion,
    Policy,
    ReportDataMatches,
    RtmrsIn,
    SignerIs,
    TcbStatusAtLeast,
)
from accord.attest.quoter import Quoter, ReportParser
from accord.attest.verifier import VerifiedEvidence, Verifier

__all__ = [
    "BACKENDS",
    "AccordSecurityWarning",
    "AdvisoriesAllowed",
    "AllOf",
    "AllowDebugEnclaves",
    "AnyOf",
    "BackendIn",
    "BackendVerifier",
    "Claims",
    "CodeMeasurement",
    "DebugForbidden",
    "Evidence",
    "FreshWithin",
    "MeasurementIn",
    "MinSecurityVersion",
    "Policy",
    "Quoter",
    "ReportDataMatches",
    "ReportParser",
    "RtmrsIn",
    "SessionPublicKeys",
    "SignerIs",
    "SnpTcbAtLeast",
    "SnpTcbMinimum",
    "TcbEvaluationAtLeast",
    "TcbStatusAtLeast",
    "VerifiedEvidence",
    "Verifier",
    "VmplIs",
    "measure_installed_package",
    "measure_tree",
]
