"""The Verifier: from evidence bytes to :class:`VerifiedEvidence`, or an error naming what differs.

:meth:`Verifier.verify` runs, in this order, and stops at the first failure:

1. **authenticity**: the backend's :class:`~accord.attest.claims.BackendVerifier` checks the
   raw report and extracts its claims; evidence of a backend with no configured verifier is
   refused, and so is evidence on which the backend verifier fails with anything but an
   Accord error ("the <backend> evidence could not be parsed: <ExceptionClass>", see
   :func:`~accord.attest.claims.refuse_unparseable`);
2. **description**: every field the unsigned evidence states must equal the authenticated
   claim (the wrapper is never trusted, only compared);
3. **binding**: the report data must equal ``expected.report_data(nonce)``, so the report
   was made for the session keys the enclave presents, for this agreement and session,
   after this verifier chose its nonce;
4. **policy**: the policy must accept the claims; ``simulated`` evidence additionally needs
   a policy that allows ``"simulated"`` explicitly, and every acceptance of it warns.

A party then uses ``verified.session_keys.hpke_public_key`` to release its data key.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final, NoReturn

from accord.attest._fields import Clock, check_utc, format_time, short_hex, utc_now
from accord.attest.binding import SessionPublicKeys
from accord.attest.claims import (
    SIMULATED,
    BackendVerifier,
    Claims,
    check_backend,
    refuse_unparseable,
)
from accord.attest.evidence import Evidence
from accord.attest.insecure import warn_insecure
from accord.attest.policy import Policy, apply_policy
from accord.errors import UsageError, VerificationError

__all__ = ["VerifiedEvidence", "Verifier"]

_TOKEN: Final = object()


class VerifiedEvidence:
    """Evidence that passed every check of a :class:`Verifier`; only a Verifier can make one.

    Constructing it directly raises :class:`TypeError`; it cannot be pickled or altered.
    """

    __slots__ = ("_claims", "_evidence", "_nonce", "_policy", "_session_keys", "_verified_at")

    _claims: Claims
    _evidence: Evidence
    _nonce: bytes
    _policy: Policy
    _session_keys: SessionPublicKeys
    _verified_at: datetime

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.pop("_token", None) is not _TOKEN or args:
            raise TypeError(
                "VerifiedEvidence cannot be constructed directly; it is returned by "
                "accord.attest.Verifier.verify after every check passed"
            )
        for name, value in kwargs.items():
            object.__setattr__(self, f"_{name}", value)

    @property
    def claims(self) -> Claims:
        """The authenticated claims (backend, measurement, signer, security version, ...)."""
        return self._claims

    @property
    def evidence(self) -> Evidence:
        """The evidence as received (its raw report is what was authenticated)."""
        return self._evidence

    @property
    def session_keys(self) -> SessionPublicKeys:
        """The enclave session's public keys that the report data binds."""
        return self._session_keys

    @property
    def nonce(self) -> bytes:
        """The verifier's nonce that the report data binds."""
        return self._nonce

    @property
    def policy(self) -> Policy:
        """The policy that accepted the claims."""
        return self._policy

    @property
    def verified_at(self) -> datetime:
        """The time at which the backend verifier judged the report."""
        return self._verified_at

    @property
    def simulated(self) -> bool:
        """True for ``simulated`` evidence, which gives no protection against the host."""
        return self._claims.backend == SIMULATED

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("VerifiedEvidence is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("VerifiedEvidence is immutable")

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("VerifiedEvidence cannot be pickled; send the evidence and verify it again")

    def __copy__(self) -> VerifiedEvidence:
        return self

    def __deepcopy__(self, memo: Any) -> VerifiedEvidence:
        return self

    def __repr__(self) -> str:
        return (
            f"VerifiedEvidence(backend={self._claims.backend!r}, "
            f"measurement={short_hex(self._claims.measurement)!r}, "
            f"session_id={self._session_keys.session_id!r}, "
            f"verified_at={format_time(self._verified_at)!r})"
        )


class Verifier:
    """Checks evidence against session keys, a nonce and a policy.

    Parameters
    ----------
    policy
        The policy the claims must satisfy (e.g. built from the agreement).
    backends
        Backend name to :class:`~accord.attest.claims.BackendVerifier`; evidence of any
        other backend is refused. See :func:`accord.attest.backends.default_backend_verifiers`.
    now
        The clock giving the default verification time (injectable for tests).
    """

    def __init__(
        self,
        *,
        policy: Policy,
        backends: Mapping[str, BackendVerifier],
        now: Clock = utc_now,
    ) -> None:
        if not isinstance(policy, Policy):
            raise UsageError(f"policy {policy!r} has no verify(claims) method")
        for name, backend_verifier in backends.items():
            check_backend(name)
            if not callable(getattr(backend_verifier, "verify_raw", None)):
                raise UsageError(f"the verifier given for {name!r} has no verify_raw method")
        self._policy = policy
        self._backends: Mapping[str, BackendVerifier] = MappingProxyType(dict(backends))
        self._now = now

    @property
    def policy(self) -> Policy:
        """The policy this verifier applies."""
        return self._policy

    def verify(
        self,
        evidence: Evidence | bytes,
        *,
        nonce: bytes,
        expected: SessionPublicKeys,
        at: datetime | None = None,
    ) -> VerifiedEvidence:
        """Verify ``evidence`` and return it as :class:`VerifiedEvidence`.

        Parameters
        ----------
        evidence
            The evidence, as wire bytes or as a parsed :class:`Evidence`.
        nonce
            The fresh random nonce this verifier sent to the enclave (16 to 64 bytes).
        expected
            The session public keys the enclave presented with the evidence.
        at
            When to judge certificates and collateral; the clock's time by default.

        Returns
        -------
        VerifiedEvidence
            The authenticated claims, the session keys they bind, and the accepting policy.

        Raises
        ------
        VerificationError
            If any check fails; the message names the check and what differs.
        UsageError
            If the nonce has a wrong size or the arguments have wrong types.
        """
        if not isinstance(expected, SessionPublicKeys):
            raise UsageError("expected must be the SessionPublicKeys the enclave presented")
        expected_report_data = expected.report_data(nonce)
        when = check_utc(self._now() if at is None else at, "at", error=UsageError)
        if isinstance(evidence, bytes):
            evidence = Evidence.from_bytes(evidence)
        elif not isinstance(evidence, Evidence):
            raise UsageError(f"evidence must be bytes or Evidence, not {type(evidence).__name__}")
        claims = self._authenticate(evidence, when)
        _compare_description(evidence, claims)
        if not hmac.compare_digest(claims.report_data, expected_report_data):
            raise VerificationError(
                "the report data does not bind the presented session keys and nonce "
                f"(agreement {short_hex(expected.agreement_digest)}, session "
                f"{short_hex(expected.session_id)}): a host substituting its own key, replaying "
                "old evidence, or evidence made for another agreement or session",
                hint=(
                    "Release nothing to this enclave; ask it for fresh evidence with a new "
                    "nonce, and check that it runs the agreement you signed."
                ),
            )
        simulated_allowed = apply_policy(self._policy, claims)
        if claims.backend == SIMULATED:
            if not simulated_allowed:
                raise VerificationError(
                    "simulated evidence is refused: the policy does not explicitly allow the "
                    "backend 'simulated' (BackendIn must list it on the branch that accepts "
                    "the evidence); simulated attestation gives NO protection against the host",
                    hint="List 'simulated' in the accepted backends for development only.",
                )
            warn_insecure(
                f"accepted simulated attestation evidence (measurement "
                f"{short_hex(claims.measurement)}): simulated attestation gives NO protection "
                "against the host: development only"
            )
        return VerifiedEvidence(
            _token=_TOKEN,
            claims=claims,
            evidence=evidence,
            session_keys=expected,
            nonce=bytes(nonce),
            policy=self._policy,
            verified_at=when,
        )

    def _authenticate(self, evidence: Evidence, at: datetime) -> Claims:
        backend_verifier = self._backends.get(evidence.backend)
        if backend_verifier is None:
            raise VerificationError(
                f"no verifier for {evidence.backend} evidence is configured",
                hint=(
                    "Pass a verifier for this backend to Verifier(backends=...); "
                    "accord.attest.backends.default_backend_verifiers() has one for every "
                    "backend Accord supports."
                ),
            )
        claims = refuse_unparseable(
            evidence.backend,
            lambda: backend_verifier.verify_raw(evidence.raw, aux=evidence.aux, at=at),
        )
        if not isinstance(claims, Claims):
            raise UsageError(
                f"the {evidence.backend} verifier returned {type(claims).__name__}, not Claims"
            )
        if claims.backend != evidence.backend:
            raise VerificationError(
                f"the {evidence.backend} verifier authenticated a {claims.backend} report: "
                "the evidence names the wrong backend"
            )
        return claims


def _shown(value: object) -> str:
    if isinstance(value, str):
        return short_hex(value)
    if isinstance(value, bytes):
        return f"{value[:4].hex()}.."
    if isinstance(value, datetime):
        return format_time(value)
    return repr(value)


def _compare_description(evidence: Evidence, claims: Claims) -> None:
    """Refuse evidence whose unsigned fields state something other than the signed report."""
    stated: list[tuple[str, object, object]] = [
        ("measurement", evidence.measurement, claims.measurement),
        ("signer", evidence.signer, claims.signer),
        ("security_version", evidence.security_version, claims.security_version),
        ("debug", evidence.debug, claims.debug),
    ]
    if claims.issued_at is not None:
        stated.append(("issued_at", evidence.issued_at, claims.issued_at))
    for name, said, signed in stated:
        if said is not None and said != signed:
            raise _description_error(name, said, signed)
    if not hmac.compare_digest(evidence.report_data, claims.report_data):
        raise _description_error("report_data", evidence.report_data, claims.report_data)


def _description_error(name: str, said: object, signed: object) -> VerificationError:
    return VerificationError(
        f"evidence field {name!r} says {_shown(said)} but the authenticated report says "
        f"{_shown(signed)}: the unsigned description was altered, only the signed report counts",
        hint="Do not trust this evidence; whoever relayed it changed it.",
    )
