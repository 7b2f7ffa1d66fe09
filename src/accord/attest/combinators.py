"""Policy composition: :class:`AllOf` and :class:`AnyOf`; an empty list is refused as misuse."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from accord.attest._policy_base import Policy, Rule, apply_policy
from accord.attest.claims import Claims
from accord.errors import UsageError, VerificationError

__all__ = ["AllOf", "AnyOf"]


def _children(policies: Sequence[Policy], name: str) -> tuple[Policy, ...]:
    children = tuple(policies)
    if not children:
        raise UsageError(
            f"{name}([]) was given no policies: an empty list is misuse, not a policy",
            hint=f"Pass at least one policy to {name}.",
        )
    for child in children:
        if not isinstance(child, Policy):
            raise UsageError(f"{name} was given {child!r}, which has no verify(claims) method")
    return children


def _numbered(failures: Sequence[VerificationError]) -> str:
    return "; ".join(f"({index}) {failure.message}" for index, failure in enumerate(failures, 1))


@dataclass(frozen=True)
class AllOf(Rule):
    """Accept only when every child policy accepts; lists every failure otherwise."""

    policies: tuple[Policy, ...]

    def __init__(self, policies: Sequence[Policy]) -> None:
        object.__setattr__(self, "policies", _children(policies, "AllOf"))

    def verify(self, claims: Claims) -> None:
        """Refuse the claims if any child refuses them."""
        self._evaluate(claims)

    def _evaluate(self, claims: Claims) -> bool:
        failures: list[VerificationError] = []
        explicit = False
        for child in self.policies:
            try:
                explicit = apply_policy(child, claims) or explicit
            except VerificationError as failure:
                failures.append(failure)
        if len(failures) == 1:
            raise failures[0]
        if failures:
            raise VerificationError(
                f"{len(failures)} of {len(self.policies)} policy checks failed: "
                f"{_numbered(failures)}"
            )
        return explicit


@dataclass(frozen=True)
class AnyOf(Rule):
    """Accept when at least one child policy accepts; lists each child's failure otherwise."""

    policies: tuple[Policy, ...]

    def __init__(self, policies: Sequence[Policy]) -> None:
        object.__setattr__(self, "policies", _children(policies, "AnyOf"))

    def verify(self, claims: Claims) -> None:
        """Refuse the claims if every child refuses them."""
        self._evaluate(claims)

    def _evaluate(self, claims: Claims) -> bool:
        failures: list[VerificationError] = []
        accepted = False
        for child in self.policies:
            try:
                if apply_policy(child, claims):
                    return True
                accepted = True
            except VerificationError as failure:
                failures.append(failure)
        if accepted:
            return False
        if len(failures) == 1:
            raise failures[0]
        raise VerificationError(
            f"none of the {len(self.policies)} alternative policies accepts the evidence: "
            f"{_numbered(failures)}"
        )
