"""Policies: small objects that accept the claims of verified evidence or raise saying why not.

Each policy has one method, ``verify(claims) -> None``, that raises
:class:`~accord.errors.VerificationError` naming what differs. Policies compose with
:class:`AllOf` (every child must accept) and :class:`AnyOf` (at least one must); an empty list
is refused as misuse when the combinator is built. Policies see only :class:`Claims` that a
backend verifier authenticated, never the unsigned fields of evidence.

``simulated`` evidence is accepted only when the policy *explicitly* allows it: the branch
of the policy that accepted it must contain a :class:`BackendIn` naming ``"simulated"``
(see :func:`apply_policy`). A policy such as ``MeasurementIn([...])`` alone therefore never
accepts simulated evidence, which anyone can forge.

For SGX and TDX platforms, :class:`TcbStatusAtLeast` and :class:`AdvisoriesAllowed` judge the
TCB status and advisories that Intel's collateral assigns (see :mod:`accord.attest.tcb`), and
:class:`RtmrsIn` the runtime measurement registers of a TD. The rules on Intel's collateral
release and on the SEV-SNP reported TCB and VMPL are in :mod:`accord.attest.hardware_policy`.

``AllOf``, ``AnyOf``, ``Policy`` and ``apply_policy`` are re-exported here from
:mod:`accord.attest.combinators` and :mod:`accord.attest._policy_base`.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from accord.attest._fields import Clock, check_hex, format_time, short_hex, utc_now
from accord.attest._policy_base import Policy, Rule, apply_policy
from accord.attest.claims import (
    MEASUREMENT_MAX_BYTES,
    MEASUREMENT_MIN_BYTES,
    REPORT_DATA_BYTES,
    SIMULATED,
    Claims,
    check_backend,
)
from accord.attest.combinators import AllOf, AnyOf
from accord.attest.insecure import warn_insecure
from accord.attest.tcb import (
    REVOKED,
    check_advisory_id,
    check_min_tcb_status,
    tcb_status_rank,
)
from accord.errors import UsageError, VerificationError

__all__ = [
    "RTMR_COUNT",
    "AdvisoriesAllowed",
    "AllOf",
    "AllowDebugEnclaves",
    "AnyOf",
    "BackendIn",
    "DebugForbidden",
    "FreshWithin",
    "MeasurementIn",
    "MinSecurityVersion",
    "Policy",
    "ReportDataMatches",
    "RtmrsIn",
    "SignerIs",
    "TcbStatusAtLeast",
    "apply_policy",
]

DEFAULT_CLOCK_SKEW: Final = timedelta(seconds=60)
RTMR_COUNT: Final = 4
_RTMR_HEX_DIGITS: Final = 96


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _text_items(values: Iterable[str], what: str) -> tuple[str, ...]:
    if isinstance(values, str | bytes):
        raise UsageError(f"{what} must be a list of strings, not a single string")
    items = tuple(values)
    for item in items:
        if not isinstance(item, str):
            raise UsageError(f"each {what} must be a string, got {item!r}")
    if not items:
        raise UsageError(
            f"a policy needs at least one accepted {what}; an empty list accepts nothing"
        )
    return items


@dataclass(frozen=True)
class BackendIn(Rule):
    """Accept evidence only from the listed backends; the only way to allow ``simulated``.

    Parameters
    ----------
    backends
        Accepted backend names (``"simulated"``, ``"sgx-dcap"``, ``"tdx"``, ``"sev-snp"``).
    source
        Who set this list, for messages (``"agreement"`` gives "the agreement accepts ...").
    """

    backends: tuple[str, ...]
    source: str = "policy"

    def __init__(self, backends: Iterable[str], *, source: str = "policy") -> None:
        items = _text_items(backends, "backend")
        for name in items:
            check_backend(name)
        object.__setattr__(self, "backends", tuple(dict.fromkeys(items)))
        object.__setattr__(self, "source", source)

    def verify(self, claims: Claims) -> None:
        """Refuse claims from a backend that is not listed."""
        if claims.backend not in self.backends:
            hint = None
            if claims.backend == SIMULATED:
                hint = (
                    "Simulated evidence gives no protection against the host; it is accepted "
                    "only where the agreement lists 'simulated' explicitly, for development."
                )
            raise VerificationError(
                f"evidence from backend {claims.backend!r} is not accepted: the {self.source} "
                f"accepts only {', '.join(self.backends)}",
                hint=hint,
            )

    def _evaluate(self, claims: Claims) -> bool:
        self.verify(claims)
        return SIMULATED in self.backends


@dataclass(frozen=True)
class MeasurementIn(Rule):
    """Accept only the listed code measurements (hex; case-insensitive).

    Parameters
    ----------
    measurements
        Accepted measurements, e.g. from ``accord measure`` or a hardware build.
    source
        Who set this list, for messages (``"agreement"`` gives "the agreement's 2 ...").
    """

    measurements: tuple[str, ...]
    source: str = "policy"

    def __init__(self, measurements: Iterable[str], *, source: str = "policy") -> None:
        items = tuple(
            check_hex(
                item.lower(),
                "measurement",
                min_bytes=MEASUREMENT_MIN_BYTES,
                max_bytes=MEASUREMENT_MAX_BYTES,
                error=UsageError,
            )
            for item in _text_items(measurements, "measurement")
        )
        object.__setattr__(self, "measurements", tuple(dict.fromkeys(items)))
        object.__setattr__(self, "source", source)

    def verify(self, claims: Claims) -> None:
        """Refuse claims whose measurement is not listed."""
        if claims.measurement not in self.measurements:
            accepted = _plural(len(self.measurements), "accepted measurement")
            raise VerificationError(
                f"measurement {short_hex(claims.measurement)} is not one of the "
                f"{self.source}'s {accepted}",
                hint=(
                    f"The enclave runs code measured as {claims.measurement}. Trust it only if "
                    "that is a release you reviewed; then add it to the accepted measurements."
                ),
            )


@dataclass(frozen=True)
class SignerIs(Rule):
    """Accept only code signed by ``signer`` (SGX MRSIGNER; hex, case-insensitive)."""

    signer: str

    def __post_init__(self) -> None:
        value = self.signer.lower() if isinstance(self.signer, str) else self.signer
        check_hex(
            value,
            "signer",
            min_bytes=MEASUREMENT_MIN_BYTES,
            max_bytes=MEASUREMENT_MAX_BYTES,
            error=UsageError,
        )
        object.__setattr__(self, "signer", value)

    def verify(self, claims: Claims) -> None:
        """Refuse claims with another signer, or with none."""
        if claims.signer is None:
            raise VerificationError(
                f"{claims.backend} evidence names no signer, but the policy requires signer "
                f"{short_hex(self.signer)}"
            )
        if not hmac.compare_digest(claims.signer, self.signer):
            raise VerificationError(
                f"signer {short_hex(claims.signer)} is not the expected signer "
                f"{short_hex(self.signer)}"
            )


@dataclass(frozen=True)
class MinSecurityVersion(Rule):
    """Accept only code whose security version is at least ``minimum``."""

    minimum: int

    def __post_init__(self) -> None:
        if isinstance(self.minimum, bool) or not isinstance(self.minimum, int) or self.minimum < 0:
            raise UsageError(
                f"a minimum security version must be an integer >= 0, got {self.minimum!r}"
            )

    def verify(self, claims: Claims) -> None:
        """Refuse claims whose security version is below the minimum."""
        if claims.security_version < self.minimum:
            raise VerificationError(
                f"security version {claims.security_version} is below the minimum "
                f"{self.minimum}: the enclave runs an outdated release",
                hint="Ask the operator to deploy a release with a current security version.",
            )


@dataclass(frozen=True)
class DebugForbidden(Rule):
    """Refuse debug enclaves, whose memory the host can read (the safe default)."""

    def verify(self, claims: Claims) -> None:
        """Refuse claims of a debug enclave."""
        if claims.debug:
            raise VerificationError(
                f"the {claims.backend} enclave runs in debug mode, so the host can read its "
                "memory; the policy forbids debug enclaves",
                hint="Run the enclave in production (non-debug) mode.",
            )


@dataclass(frozen=True)
class AllowDebugEnclaves(Rule):
    """INSECURE: accept debug enclaves. Warns on every use; for development only."""

    def verify(self, claims: Claims) -> None:
        """Accept the claims and warn that debug enclaves protect nothing."""
        state = "a debug enclave" if claims.debug else "evidence (not from a debug enclave)"
        warn_insecure(
            f"AllowDebugEnclaves accepted {state}: the host can read a debug enclave's "
            "memory, so debug enclaves give NO protection; development only"
        )


@dataclass(frozen=True)
class ReportDataMatches(Rule):
    """Accept only claims whose report data equals ``expected`` (constant-time comparison)."""

    expected: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.expected, bytes) or len(self.expected) != REPORT_DATA_BYTES:
            raise UsageError(f"expected report data must be {REPORT_DATA_BYTES} bytes")

    def verify(self, claims: Claims) -> None:
        """Refuse claims whose report data differs."""
        if not hmac.compare_digest(claims.report_data, self.expected):
            raise VerificationError(
                f"the report data ({claims.report_data[:4].hex()}..) is not the expected "
                f"{REPORT_DATA_BYTES} bytes ({self.expected[:4].hex()}..)"
            )


@dataclass(frozen=True)
class FreshWithin(Rule):
    """Accept only evidence whose *signed* issue time is at most ``max_age`` old.

    Only ``simulated`` reports carry a signed time; hardware quotes do not, so this policy
    refuses them (fail closed): their freshness comes from the nonce the Verifier checks.
    Combine it with ``BackendIn(["simulated"])`` inside an :class:`AllOf` branch.

    Parameters
    ----------
    max_age
        The oldest evidence accepted.
    now
        The clock (injectable for tests); returns an aware datetime.
    max_clock_skew
        How far in the future an issue time may lie before it is refused.
    """

    max_age: timedelta
    now: Clock = field(default=utc_now, repr=False, compare=False)
    max_clock_skew: timedelta = DEFAULT_CLOCK_SKEW

    def __post_init__(self) -> None:
        if self.max_age <= timedelta(0) or self.max_clock_skew < timedelta(0):
            raise UsageError("FreshWithin needs a positive max_age and a non-negative clock skew")

    def verify(self, claims: Claims) -> None:
        """Refuse claims without a signed time, issued too long ago, or in the future."""
        if claims.issued_at is None:
            raise VerificationError(
                f"{claims.backend} evidence carries no signed issue time, so FreshWithin "
                "cannot judge its age",
                hint=(
                    "Hardware evidence is fresh because it binds the verifier's nonce; apply "
                    "FreshWithin only to simulated evidence, e.g. "
                    "AllOf([BackendIn(['simulated']), FreshWithin(...)])."
                ),
            )
        now = self.now()
        age = now - claims.issued_at
        if age > self.max_age:
            raise VerificationError(
                f"evidence issued at {format_time(claims.issued_at)} is {age} old, older than "
                f"the allowed {self.max_age}",
                hint="Ask the enclave for fresh evidence with a new nonce.",
            )
        if -age > self.max_clock_skew:
            raise VerificationError(
                f"evidence claims to be issued at {format_time(claims.issued_at)}, in the "
                f"future (now {format_time(now)})",
                hint="Check both clocks; evidence from the future is refused.",
            )


@dataclass(frozen=True)
class TcbStatusAtLeast(Rule):
    """Accept only platforms whose TCB status is ``minimum`` or better (SGX and TDX).

    The order is that of :data:`accord.attest.tcb.TCB_STATUSES`. ``Revoked``, a status
    Accord does not know, and claims without a TCB status (a backend that reports none)
    are always refused.

    Parameters
    ----------
    minimum
        The worst accepted status, e.g. ``"UpToDate"`` or ``"ConfigurationAndSWHardeningNeeded"``.
    """

    minimum: str

    def __post_init__(self) -> None:
        check_min_tcb_status(self.minimum)

    def verify(self, claims: Claims) -> None:
        """Refuse claims whose TCB status is worse than the minimum, unknown or absent."""
        status = claims.tcb_status
        if status is None:
            raise VerificationError(
                f"{claims.backend} evidence carries no TCB status, but the policy requires "
                f"at least {self.minimum}"
            )
        rank = tcb_status_rank(status)
        if status == REVOKED or rank is None:
            reason = "its keys are revoked" if status == REVOKED else "Accord does not know it"
            raise VerificationError(
                f"the platform's TCB status is {status!r}: {reason}, so it is never accepted"
            )
        minimum_rank = tcb_status_rank(self.minimum)
        if minimum_rank is not None and rank > minimum_rank:
            raise VerificationError(
                f"the platform's TCB status {status} is worse than the minimum "
                f"{self.minimum} the policy accepts",
                hint=(
                    "Ask the operator to update the platform's microcode, firmware or TDX "
                    "module (and relaunch the TD), then collect fresh evidence."
                ),
            )


@dataclass(frozen=True)
class AdvisoriesAllowed(Rule):
    """Accept only platforms whose security advisories are all in ``allowed``.

    An empty list (the default of an agreement) accepts only platforms with no advisory.

    Parameters
    ----------
    allowed
        Advisory ids the parties accept, e.g. ``["INTEL-SA-00615"]``.
    """

    allowed: frozenset[str]

    def __init__(self, allowed: Iterable[str]) -> None:
        if isinstance(allowed, str | bytes):
            raise UsageError("allowed advisories must be a list of ids, not a single string")
        object.__setattr__(self, "allowed", frozenset(check_advisory_id(item) for item in allowed))

    def verify(self, claims: Claims) -> None:
        """Refuse claims that name an advisory that is not allowed."""
        refused = [item for item in claims.advisory_ids if item not in self.allowed]
        if refused:
            listed = ", ".join(sorted(self.allowed)) or "none"
            raise VerificationError(
                f"the platform is affected by advisor{'y' if len(refused) == 1 else 'ies'} "
                f"{', '.join(refused)}, which the policy does not allow (allowed: {listed})",
                hint=(
                    "Read each advisory; if the enclave mitigates it or it does not matter "
                    "here, list it in allowed_advisories, otherwise have the platform updated."
                ),
            )


@dataclass(frozen=True)
class RtmrsIn(Rule):
    """Accept TDX evidence whose runtime measurement registers match one accepted entry.

    Each entry gives the expected value of RTMR0 to RTMR3 in order (96 hex digits), or
    None for a register it does not check. The claims carry the registers as the extras
    ``rtmr0`` .. ``rtmr3`` (see :class:`~accord.attest.backends.tdx.TdxVerifier`).

    Parameters
    ----------
    accepted
        The accepted entries, each a sequence of four values (hex or None).
    """

    accepted: tuple[tuple[str | None, ...], ...]

    def __init__(self, accepted: Iterable[Sequence[str | None]]) -> None:
        entries = []
        for entry in accepted:
            values = tuple(None if item is None else item.lower() for item in entry)
            if len(values) != RTMR_COUNT or all(item is None for item in values):
                raise UsageError(
                    "each accepted RTMR entry must give 4 values (RTMR0 to RTMR3), at least "
                    "one of them not None"
                )
            for index, item in enumerate(values):
                if item is not None:
                    check_hex(
                        item,
                        f"rtmr{index}",
                        min_bytes=_RTMR_HEX_DIGITS // 2,
                        max_bytes=_RTMR_HEX_DIGITS // 2,
                        error=UsageError,
                    )
            entries.append(values)
        if not entries:
            raise UsageError("RtmrsIn needs at least one accepted entry; an empty list is misuse")
        object.__setattr__(self, "accepted", tuple(dict.fromkeys(entries)))

    def verify(self, claims: Claims) -> None:
        """Refuse claims whose RTMRs match no accepted entry, or that carry no RTMRs."""
        actual = tuple(claims.extras.get(f"rtmr{index}") for index in range(RTMR_COUNT))
        if any(value is None for value in actual):
            raise VerificationError(
                f"{claims.backend} evidence carries no RTMR values, but the policy checks them"
            )
        for entry in self.accepted:
            if all(want is None or want == got for want, got in zip(entry, actual, strict=True)):
                return
        shown = ", ".join(f"rtmr{i}={short_hex(str(v))}" for i, v in enumerate(actual))
        count = len(self.accepted)
        entries = "1 accepted RTMR entry" if count == 1 else f"{count} accepted RTMR entries"
        raise VerificationError(
            f"the TD's runtime measurements ({shown}) match none of the policy's {entries}",
            hint=(
                "RTMR0-2 measure the TD's firmware configuration, kernel and command line; "
                "trust new values only after reviewing the image they come from."
            ),
        )
