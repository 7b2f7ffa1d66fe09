"""The agreement as data: parties, enclave policy, approval rules and output policy.

The objects here are the *normal form* of an agreement: defaults are filled in, lists that
stand for sets are sets, ``"all"`` is spelled out as the parties it means. Two files that
mean the same thing therefore give equal objects and the same digest
(:mod:`accord.agreement.canonical`).

An :class:`Agreement` is not yet trusted: its signatures are
:attr:`Agreement.unverified_signatures`. Only
:func:`accord.agreement.signing.verify_signatures` turns it into a
:class:`~accord.agreement.signing.SignedAgreement`.
"""

from __future__ import annotations

import datetime as dt
import functools
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypeVar

from accord.agreement import canonical
from accord.agreement.display import describe_character, find_unsafe_character
from accord.agreement.rules import ApprovalPolicy, ApprovalRule
from accord.attest.claims import SIMULATED, check_backend
from accord.attest.hardware_policy import (
    SnpTcbAtLeast,
    SnpTcbMinimum,
    TcbEvaluationAtLeast,
    VmplIs,
)
from accord.attest.tcb import (
    DEFAULT_MIN_TCB_STATUS,
    check_advisory_id,
    check_min_tcb_status,
    tcb_status_rank,
)
from accord.crypto.keys import VerifyKey
from accord.errors import UsageError

if TYPE_CHECKING:
    from accord.agreement.signing import SignedAgreement

__all__ = [
    "DCAP_BACKENDS",
    "EARLIEST_CREATED",
    "LATEST_CREATED",
    "Agreement",
    "BackendPolicy",
    "EnclavePolicy",
    "OutputPolicy",
    "Party",
    "created_problem",
]

EARLIEST_CREATED: Final = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
"""The earliest creation time an agreement may carry."""
LATEST_CREATED: Final = dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)
"""The latest creation time an agreement may carry (the last instant Python can represent)."""


def created_problem(created: dt.datetime) -> str | None:
    """Say what is wrong with an agreement's creation time, or return None if nothing is.

    The time must carry a time zone and lie, converted to UTC, between
    :data:`EARLIEST_CREATED` and :data:`LATEST_CREATED`; a local time whose conversion to
    UTC leaves the years Python can represent (``0001-01-01T00:30:00+01:00``) is refused
    rather than overflowing when the digest is computed.
    """
    if not isinstance(created, dt.datetime) or created.utcoffset() is None:
        return "it must be a date-time with a time zone"
    try:
        utc = created.astimezone(dt.UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST_CREATED <= utc <= LATEST_CREATED:
        return (
            "it must lie between 2000-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z "
            "when converted to UTC"
        )
    return None


DCAP_BACKENDS: Final = frozenset({"sgx-dcap", "tdx"})
"""The backends whose platforms Intel judges with a TCB status and advisories."""
RTMR_COUNT: Final = 4
_RTMR_HEX_DIGITS: Final = 96
_OUT_OF_DATE_RANK: Final = tcb_status_rank("OutOfDate")

_V = TypeVar("_V")


def _frozen_mapping(items: Mapping[str, _V]) -> Mapping[str, _V]:
    return types.MappingProxyType(dict(sorted(items.items())))


@dataclass(frozen=True)
class Party:
    """A party of the agreement.

    Parameters
    ----------
    name
        The party name (as in its party card).
    verify_key
        The party's Ed25519 public signing key.
    tls_certificate_fingerprint
        SHA-256 (lower-case hex) of the DER encoding of the party's TLS certificate.
    contact
        Optional free text: how to reach the party's operators.
    """

    name: str
    verify_key: VerifyKey
    tls_certificate_fingerprint: str
    contact: str | None = None

    @property
    def signing_key_fingerprint(self) -> str:
        """SHA-256 (hex) of the raw signing public key, as party cards show it."""
        return self.verify_key.fingerprint


@dataclass(frozen=True)
class BackendPolicy:
    """What evidence from one attestation backend must show to be accepted.

    Parameters
    ----------
    backend
        One of :data:`accord.attest.claims.BACKENDS`.
    measurements
        Accepted code measurements (lower-case hex); evidence must match one of them.
    signer
        If set, the enclave signer (lower-case hex) the evidence must name.
    allow_debug
        Whether debug enclaves (whose memory the host can read) are accepted.
    min_security_version
        The lowest accepted security version number.
    min_tcb_status
        ``sgx-dcap`` and ``tdx`` only: the worst accepted platform TCB status (see
        :mod:`accord.attest.tcb`); None means the default,
        :data:`~accord.attest.tcb.DEFAULT_MIN_TCB_STATUS`, which is then filled in.
    allowed_advisories
        ``sgx-dcap`` and ``tdx`` only: Intel advisory ids accepted on the platform; a
        platform with any other advisory is refused.
    rtmrs
        ``tdx`` only: accepted values of RTMR0..RTMR3, each entry a 4-tuple of lower-case
        hex or None (not checked); empty means RTMRs are not checked.
    min_tcb_evaluation_data_number
        ``sgx-dcap`` and ``tdx`` only: the lowest accepted ``tcbEvaluationDataNumber`` of
        the collateral's TCB info and QE identity; None means not checked.
    min_tcb
        ``sev-snp`` only: the lowest accepted levels of the report's REPORTED_TCB; None
        means not checked.
    vmpl
        ``sev-snp`` only: the VMPL the report must be requested at; None means the
        default, 0, which is then filled in.
    """

    backend: str
    measurements: frozenset[str]
    signer: str | None = None
    allow_debug: bool = False
    min_security_version: int = 0
    min_tcb_status: str | None = None
    allowed_advisories: frozenset[str] = frozenset()
    rtmrs: tuple[tuple[str | None, ...], ...] = ()
    min_tcb_evaluation_data_number: int | None = None
    min_tcb: SnpTcbMinimum | None = None
    vmpl: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "measurements", frozenset(self.measurements))
        check_backend(self.backend)
        if not self.measurements:
            raise UsageError(f"a {self.backend} policy needs at least one accepted measurement")
        advisories = frozenset(check_advisory_id(item) for item in self.allowed_advisories)
        object.__setattr__(self, "allowed_advisories", advisories)
        if self.backend in DCAP_BACKENDS:
            status = self.min_tcb_status or DEFAULT_MIN_TCB_STATUS
            object.__setattr__(self, "min_tcb_status", check_min_tcb_status(status))
        elif self.min_tcb_status is not None or advisories:
            raise UsageError(
                f"a minimum TCB status and allowed advisories apply to sgx-dcap and tdx "
                f"evidence, not to {self.backend}"
            )
        object.__setattr__(self, "rtmrs", _normal_rtmrs(self.backend, self.rtmrs))
        self._check_platform_fields()

    def _check_platform_fields(self) -> None:
        """Check the fields that apply to one kind of platform (the rules check the values)."""
        if self.min_tcb_evaluation_data_number is not None:
            if self.backend not in DCAP_BACKENDS:
                raise UsageError(
                    "a minimum TCB evaluation data number applies to sgx-dcap and tdx "
                    f"evidence, not to {self.backend}"
                )
            TcbEvaluationAtLeast(self.min_tcb_evaluation_data_number)
        if self.backend != "sev-snp":
            if self.min_tcb is not None or self.vmpl is not None:
                raise UsageError(f"min_tcb and vmpl apply to sev-snp evidence, not {self.backend}")
            return
        if self.min_tcb is not None:
            SnpTcbAtLeast(self.min_tcb)
        object.__setattr__(self, "vmpl", VmplIs(0 if self.vmpl is None else self.vmpl).vmpl)

    @property
    def is_simulated(self) -> bool:
        """Whether this is the simulated backend, which gives no protection from the host."""
        return self.backend == SIMULATED

    def canonical_extras(self) -> dict[str, Any]:
        """Return the members of the canonical form that differ from their defaults.

        ``min_tcb_status`` (when not the default), ``allowed_advisories`` (sorted, when
        any), ``rtmrs`` (when any: a list of ``{"rtmr0": hex, ...}`` objects without
        the unchecked registers), ``min_tcb_evaluation_data_number`` (when set),
        ``min_tcb`` (when set: an object of the checked components) and ``vmpl`` (when
        not 0). Omitting defaults keeps the digest of every agreement written before these
        fields existed.
        """
        extras: dict[str, Any] = {}
        if self.min_tcb_status not in (None, DEFAULT_MIN_TCB_STATUS):
            extras["min_tcb_status"] = self.min_tcb_status
        if self.allowed_advisories:
            extras["allowed_advisories"] = sorted(self.allowed_advisories)
        if self.rtmrs:
            extras["rtmrs"] = [
                {f"rtmr{index}": value for index, value in enumerate(entry) if value is not None}
                for entry in self.rtmrs
            ]
        if self.min_tcb_evaluation_data_number is not None:
            extras["min_tcb_evaluation_data_number"] = self.min_tcb_evaluation_data_number
        if self.min_tcb is not None:
            extras["min_tcb"] = dict(self.min_tcb.items())
        if self.vmpl:
            extras["vmpl"] = self.vmpl
        return extras


def _normal_rtmrs(
    backend: str, rtmrs: tuple[tuple[str | None, ...], ...]
) -> tuple[tuple[str | None, ...], ...]:
    """Check RTMR entries and return them de-duplicated, in a canonical order."""
    if rtmrs and backend != "tdx":
        raise UsageError(f"RTMR values apply to tdx evidence, not to {backend}")
    entries: set[tuple[str | None, ...]] = set()
    for entry in rtmrs:
        values = tuple(entry)
        if len(values) != RTMR_COUNT or all(value is None for value in values):
            raise UsageError("each accepted RTMR entry needs 4 values, at least one not None")
        for value in values:
            if value is not None and (
                len(value) != _RTMR_HEX_DIGITS
                or value != value.lower()
                or not all(char in "0123456789abcdef" for char in value)
            ):
                raise UsageError(f"an RTMR value must be {_RTMR_HEX_DIGITS} lower-case hex digits")
        entries.add(values)
    return tuple(sorted(entries, key=lambda item: tuple(value or "" for value in item)))


@dataclass(frozen=True)
class EnclavePolicy:
    """Which enclaves the parties accept.

    Parameters
    ----------
    backends
        Per accepted backend, its policy.
    max_evidence_age_seconds
        Evidence older than this is refused.
    """

    backends: Mapping[str, BackendPolicy]
    max_evidence_age_seconds: int = 300

    def __post_init__(self) -> None:
        object.__setattr__(self, "backends", _frozen_mapping(self.backends))
        if not self.backends:
            raise UsageError("an enclave policy must accept at least one backend")
        if SIMULATED in self.backends and len(self.backends) > 1:
            raise UsageError("simulated evidence cannot be accepted together with hardware")
        for name, policy in self.backends.items():
            if policy.backend != name:
                raise UsageError(f"the policy for {name!r} is for {policy.backend!r}")

    @property
    def allows_simulated(self) -> bool:
        """Whether simulated evidence is accepted (development only, no protection)."""
        return SIMULATED in self.backends

    def for_backend(self, backend: str) -> BackendPolicy:
        """Return the policy for ``backend``.

        Raises
        ------
        UsageError
            If the agreement does not accept evidence from ``backend``.
        """
        try:
            return self.backends[backend]
        except KeyError:
            raise UsageError(
                f"the agreement does not accept {backend!r} evidence; it accepts "
                f"{', '.join(self.backends) or 'none'}"
            ) from None

    def warnings(self) -> list[str]:
        """Return what a reader must be warned about (simulated or debug enclaves)."""
        found = []
        for policy in self.backends.values():
            if policy.is_simulated:
                found.append(
                    "simulated evidence is accepted: it gives NO protection against the "
                    "host; use this agreement for development only"
                )
            elif policy.allow_debug:
                found.append(
                    f"debug {policy.backend} enclaves are accepted: the host can read "
                    "their memory; use this agreement for development only"
                )
            rank = None if policy.min_tcb_status is None else tcb_status_rank(policy.min_tcb_status)
            if rank is not None and _OUT_OF_DATE_RANK is not None and rank >= _OUT_OF_DATE_RANK:
                found.append(
                    f"{policy.backend} platforms with TCB status {policy.min_tcb_status} are "
                    "accepted: they run microcode or firmware with known vulnerabilities"
                )
        return found


@dataclass(frozen=True)
class OutputPolicy:
    """Who may receive which results.

    Parameters
    ----------
    models
        Parties that may receive a trained model in the clear (``release_model``).
    metrics
        Parties that receive evaluation metrics.
    feature_importance
        Parties that receive feature importance scores.
    predictions
        For each data owner, the parties that receive predictions on that owner's data.
        An owner missing from the mapping gets its own predictions only.
    """

    models: frozenset[str] = frozenset()
    metrics: frozenset[str] = frozenset()
    feature_importance: frozenset[str] = frozenset()
    predictions: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("models", "metrics", "feature_importance"):
            object.__setattr__(self, name, frozenset(getattr(self, name)))
        owners = {owner: frozenset(to) for owner, to in self.predictions.items()}
        object.__setattr__(self, "predictions", _frozen_mapping(owners))

    def prediction_recipients(self, data_owner: str) -> frozenset[str]:
        """Return the parties that may receive predictions on ``data_owner``'s data."""
        return self.predictions.get(data_owner, frozenset({data_owner}))

    def may_receive_model(self, party: str) -> bool:
        """Whether ``party`` may receive a trained model in the clear."""
        return party in self.models


@dataclass(frozen=True)
class Agreement:
    """A parsed, normalised agreement whose signatures have not been checked.

    Parameters
    ----------
    name
        The collaboration's name.
    created
        When the agreement was written (time-zone aware).
    parties
        The parties, sorted by name.
    enclave
        The enclave policy.
    approvals
        The approval rules.
    outputs
        The output policy.
    description
        Optional free text.
    unverified_signatures
        Party name to signature bytes, as read from ``[signatures]``; not part of the
        signed content and not checked until :meth:`verify_signatures`.
    source
        Where the agreement was read from, for messages; not part of the content.
    """

    name: str
    created: dt.datetime
    parties: tuple[Party, ...]
    enclave: EnclavePolicy
    approvals: ApprovalPolicy
    outputs: OutputPolicy
    description: str | None = None
    unverified_signatures: Mapping[str, bytes] = field(default_factory=dict, compare=False)
    source: str = field(default="agreement", compare=False)

    def __post_init__(self) -> None:
        problem = created_problem(self.created)
        if problem is not None:
            raise UsageError(f"the creation time of {self.source} is refused: {problem}")
        for what, text in (
            ("name", self.name),
            ("description", self.description),
            *((f"contact of party {party.name!r}", party.contact) for party in self.parties),
        ):
            index = None if text is None else find_unsafe_character(text, allowed="\t\n")
            if text is not None and index is not None:
                raise UsageError(
                    f"the {what} of {self.source} contains {describe_character(text[index])}, "
                    "an invisible or control character that can make it display otherwise "
                    "than it is signed"
                )
        parties = tuple(sorted(self.parties, key=lambda party: party.name))
        object.__setattr__(self, "parties", parties)
        object.__setattr__(
            self, "unverified_signatures", _frozen_mapping(self.unverified_signatures)
        )
        self._check_consistency()

    def _check_consistency(self) -> None:
        """Refuse what the parser refuses with line numbers, for agreements built in code."""
        for what, values in (
            ("name", [party.name for party in self.parties]),
            ("signing key", [party.signing_key_fingerprint for party in self.parties]),
            ("TLS certificate", [party.tls_certificate_fingerprint for party in self.parties]),
        ):
            if len(set(values)) != len(values):
                raise UsageError(f"two parties of {self.source} have the same {what}")
        names = frozenset(self.party_names)
        outputs = self.outputs
        named = [
            ("an approval rule", self.approvals.default.among),
            *((f"the rule for {op}", rule.among) for op, rule in self.approvals.operations.items()),
            ("the model recipients", outputs.models),
            ("the metrics recipients", outputs.metrics),
            ("the feature importance recipients", outputs.feature_importance),
            ("the prediction owners", frozenset(outputs.predictions)),
            *(("the prediction recipients", to) for to in outputs.predictions.values()),
        ]
        for what, among in named:
            if not among <= names:
                raise UsageError(
                    f"{what} of {self.source} name(s) {', '.join(sorted(among - names))}, "
                    "who are not parties"
                )

    @functools.cached_property
    def canonical_bytes(self) -> bytes:
        """The canonical JSON of the content (see :mod:`accord.agreement.canonical`)."""
        return canonical.canonical_bytes(self)

    @functools.cached_property
    def digest(self) -> str:
        """SHA-256 (hex) of :attr:`canonical_bytes`: the collaboration's identifier."""
        return canonical.digest_of(self.canonical_bytes)

    @property
    def party_names(self) -> tuple[str, ...]:
        """The party names, sorted."""
        return tuple(party.name for party in self.parties)

    def party(self, name: str) -> Party:
        """Return the party called ``name``.

        Raises
        ------
        UsageError
            If no party has that name.
        """
        for party in self.parties:
            if party.name == name:
                return party
        raise UsageError(
            f"{self.source}: {name!r} is not a party of this agreement; its parties are "
            f"{', '.join(self.party_names) or 'none yet'}"
        )

    def rule_for(self, operation: str) -> ApprovalRule:
        """Return the approval rule of ``operation`` (see :class:`ApprovalPolicy`)."""
        return self.approvals.rule_for(operation)

    def verify_signatures(self) -> SignedAgreement:
        """Check that every party signed this content; see :func:`signing.verify_signatures`."""
        from accord.agreement.signing import verify_signatures  # a cycle: signing uses this module

        return verify_signatures(self)
